"""Serving the chat page and its assets: safe paths, content types, gzip, validators, headers.
adapters/assets.py finds and reads the files."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.utils import formatdate, parsedate_to_datetime
from pathlib import PurePosixPath
from typing import Final

from chat.reply import Reply, text

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
}
DIRECT_URL_META = b'<meta name="chat-direct-url" content="">'
SIGN_IN_META = b'<meta name="chat-sign-in" content="">'
MAX_LENGTH_META = b'<meta name="chat-max-message-length" content="">'
# Types worth compressing: text. PNG, ICO and WOFF2 are already compressed, and gzip would
# spend CPU for nothing (the size check below would throw the result away anyway).
COMPRESSIBLE_TYPES: Final = frozenset(
    {
        "text/html",
        "text/javascript",
        "text/css",
        "text/plain",
        "application/json",
        "application/manifest+json",
        "image/svg+xml",
    }
)
# Under about a kilobyte a response fits in one TCP segment either way: gzip would save nothing
# the visitor notices and cost a decompression (and the Vary, and a second cache entry).
MIN_GZIP_BYTES: Final = 1024
# The gzip variant must be at least this fraction smaller to be worth a second representation.
MIN_GZIP_SAVING: Final = 0.1
# An Accept-Encoding weight as RFC 9110 spells it: 0, 0.xxx, 1 or 1.000.
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


def security_headers(service_origin: str | None) -> dict[str, str]:
    """No inline script or style anywhere; the page may talk only to us and our service."""
    connect = "'self'" + (f" {service_origin}" if service_origin else " wss:")
    policy = (
        "default-src 'self'; "
        f"connect-src {connect}; "
        "img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


def path_parts(requested: str) -> tuple[str, ...] | None:
    """The path segments of a requested asset, or None for anything suspicious.

    Rejects absolute paths, `..`, hidden files, backslashes and NUL outright rather than
    normalising them: no legitimate asset needs them. Whether the file exists, and stays under
    the static root once symlinks are followed, is for the caller to check on disk.
    """
    if not requested or "\\" in requested or "\x00" in requested:
        return None
    path = PurePosixPath(requested)
    if path.is_absolute() or any(part.startswith(".") for part in path.parts):  # `.`, `..` too
        return None
    return path.parts


def render_index(
    page: bytes,
    direct_url: str | None,
    sign_in: tuple[str, ...] = (),
    max_length: int | None = None,
) -> bytes:
    """Advertise the lazy-auth client URL, or the sign-in providers, when they are enabled,
    and the configured message length limit (the compose counter's yardstick)."""
    if max_length is not None:
        # An int from chat.settings: nothing to escape, and never a caller's text.
        meta = f'<meta name="chat-max-message-length" content="{int(max_length)}">'.encode()
        page = page.replace(MAX_LENGTH_META, meta, 1)
    if sign_in:
        providers = html.escape(" ".join(sign_in))
        page = page.replace(
            SIGN_IN_META, f'<meta name="chat-sign-in" content="{providers}">'.encode(), 1
        )
    if not direct_url:
        return page
    meta = f'<meta name="chat-direct-url" content="{html.escape(direct_url)}">'.encode()
    return page.replace(DIRECT_URL_META, meta, 1)


@dataclass(frozen=True)
class Gzipped:
    """The gzip-coded representation of an asset: its own bytes, so its own strong ETag."""

    body: bytes
    etag: str


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str
    last_modified: float
    gzipped: Gzipped | None = None  # None: served as is to everyone (tiny, or does not shrink)


def _etag(body: bytes, suffix: str = "") -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + suffix + '"'


def make_asset(body: bytes, suffix: str, mtime: float) -> Asset:
    content_type = CONTENT_TYPES.get(suffix.lower(), "application/octet-stream")
    return Asset(body, content_type, _etag(body), mtime)


def worth_compressing(asset: Asset) -> bool:
    """Whether to try gzip at all: text, and big enough for the saving to matter."""
    media_type = asset.content_type.split(";", 1)[0].strip().lower()
    return media_type in COMPRESSIBLE_TYPES and len(asset.body) >= MIN_GZIP_BYTES


def with_gzip(asset: Asset, compressed: bytes) -> Asset:
    """The asset with `compressed` as its gzip variant, or unchanged when that does not pay.

    The variant's ETag hashes its own bytes (and says `-gz` for whoever reads logs): a strong
    validator names exact bytes, so a copy in one coding never validates the other.
    """
    if len(compressed) > len(asset.body) * (1 - MIN_GZIP_SAVING):
        return asset
    return replace(asset, gzipped=Gzipped(compressed, _etag(compressed, "-gz")))


def _qvalue(params: list[str]) -> float | None:
    """The q of one Accept-Encoding element (1 when absent), or None when it is malformed."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() != "q":
            continue
        value = value.strip()
        if not _QVALUE.fullmatch(value):  # a q we cannot read: the element says nothing
            return None
        return float(value)
    return 1.0


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether to send the gzip coding, by RFC 9110 section 12.5.3.

    No header: identity (the RFC allows any coding, but a client that says nothing may be a
    script or a probe that cannot decode). `gzip` (or its alias `x-gzip`) names it; otherwise
    `*` covers it; q=0 refuses. Identity wins only if the client prefers it outright (a higher
    q, by name or by `*`): an unlisted identity is acceptable but no preference. Malformed
    elements are skipped rather than failing the request.
    """
    if accept_encoding is None:
        return False
    ranked: dict[str, float] = {}
    for element in accept_encoding.split(","):
        coding, *params = element.split(";")
        coding = coding.strip().lower()
        q = _qvalue(params)
        if not coding or q is None:
            continue
        if coding == "x-gzip":
            coding = "gzip"
        ranked[coding] = max(q, ranked.get(coding, 0.0))  # a repeated coding: its best q
    star = ranked.get("*")
    gzip_q = ranked.get("gzip", star if star is not None else 0.0)
    identity_q = ranked.get("identity", star if star is not None else 0.0)
    return gzip_q > 0 and gzip_q >= identity_q


def asset(
    name: str,
    body: bytes,
    mtime: float,
    lazy_url: str | None,
    sign_in: tuple[str, ...],
    max_length: int | None = None,
) -> Asset:
    """The asset a file becomes: the page is rendered for the settings, the rest served as is."""
    if name == "index.html":
        body = render_index(body, lazy_url, sign_in, max_length)
    return make_asset(body, PurePosixPath(name).suffix, mtime)


def _not_modified(etag: str, last_modified: float, request_headers: Mapping[str, str]) -> bool:
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        # Weak comparison, as RFC 9110 asks for If-None-Match: a proxy that weakens our tag
        # (some do when they touch the coding) still revalidates.
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = request_headers.get("if-modified-since")
    if since:
        try:
            return int(last_modified) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError, OverflowError):
            return False
    return False


def respond(
    asset: Asset | None, method: str, request_headers: Mapping[str, str], extra: dict[str, str]
) -> Reply:
    """200 with the asset, 304 when the client's copy is current, 404 when there is none.

    The representation (gzip or as is) is chosen first, then the validators are compared with
    that one's ETag: a copy of the other coding is never answered 304. HEAD gets the headers a
    GET would, Content-Encoding included.
    """
    if asset is None:
        return text(404, "not found", extra)
    gzipped = asset.gzipped
    if gzipped is not None and not accepts_gzip(request_headers.get("accept-encoding")):
        gzipped = None
    etag, body = (gzipped.etag, gzipped.body) if gzipped is not None else (asset.etag, asset.body)
    headers = {
        **extra,
        "ETag": etag,
        "Last-Modified": formatdate(asset.last_modified, usegmt=True),
        # Revalidate every time: cheap with validators, and a deploy is never served stale.
        "Cache-Control": "no-cache",
    }
    if asset.gzipped is not None:
        # On the 304 too (RFC 9110 15.4.5): a cache must key both codings apart.
        headers["Vary"] = "Accept-Encoding"
    if _not_modified(etag, asset.last_modified, request_headers):
        return Reply(304, headers=headers)
    if gzipped is not None:
        headers["Content-Encoding"] = "gzip"
    return Reply(200, b"" if method.upper() == "HEAD" else body, asset.content_type, headers)
