"""Serving the chat page and its assets: safe paths, content types, validators, headers. Pure:
adapters/assets.py finds and reads the files."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import PurePosixPath

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


def render_index(page: bytes, direct_url: str | None, sign_in: tuple[str, ...] = ()) -> bytes:
    """Advertise the lazy-auth client URL, or the sign-in providers, when they are enabled."""
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
class Asset:
    body: bytes
    content_type: str
    etag: str
    last_modified: float


def make_asset(body: bytes, suffix: str, mtime: float) -> Asset:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    content_type = CONTENT_TYPES.get(suffix.lower(), "application/octet-stream")
    return Asset(body, content_type, etag, mtime)


def asset(
    name: str, body: bytes, mtime: float, lazy_url: str | None, sign_in: tuple[str, ...]
) -> Asset:
    """The asset a file becomes: the page is rendered for the settings, the rest served as is."""
    if name == "index.html":
        body = render_index(body, lazy_url, sign_in)
    return make_asset(body, PurePosixPath(name).suffix, mtime)


def _not_modified(asset: Asset, request_headers: Mapping[str, str]) -> bool:
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or asset.etag in tags
    since = request_headers.get("if-modified-since")
    if since:
        try:
            return int(asset.last_modified) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError, OverflowError):
            return False
    return False


def respond(
    asset: Asset | None, method: str, request_headers: Mapping[str, str], extra: dict[str, str]
) -> Reply:
    """200 with the asset, 304 when the client's copy is current, 404 when there is none."""
    if asset is None:
        return text(404, "not found", extra)
    headers = {
        **extra,
        "ETag": asset.etag,
        "Last-Modified": formatdate(asset.last_modified, usegmt=True),
        # Revalidate every time: cheap with validators, and a deploy is never served stale.
        "Cache-Control": "no-cache",
    }
    if _not_modified(asset, request_headers):
        return Reply(304, headers=headers)
    body = b"" if method.upper() == "HEAD" else asset.body
    return Reply(200, body, asset.content_type, headers)
