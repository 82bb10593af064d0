"""App Service Authentication ("Easy Auth") as the local host emulates it: the pure parts.

What Azure's front end does for a Function app with authentication on, and what this module
reproduces (shapes from the App Service documentation, see docs/sign-in.md):

* a signed session cookie, `AppServiceAuthSession`, set after sign-in;
* on every request to a function: drop any `X-MS-CLIENT-PRINCIPAL*` / `X-MS-TOKEN-*` header
  the caller sent, then add `X-MS-CLIENT-PRINCIPAL` (base64 JSON with `auth_typ`, `claims`,
  `name_typ`, `role_typ`), `-ID`, `-NAME` and `-IDP` for a signed-in caller;
* `globalValidation`: `unauthenticatedClientAction` (AllowAnonymous, RedirectToLoginPage,
  Return401, Return403) and `excludedPaths`.

No I/O here; devstack/host/easy_auth_routes.py serves the `/.auth/*` endpoints around it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

logger = logging.getLogger(__name__)

COOKIE = "AppServiceAuthSession"
# Set to "True" in the app's environment by App Service when authentication is on.
AUTH_ENABLED_VARIABLE = "WEBSITE_AUTH_ENABLED"
PRINCIPAL_HEADERS = (
    "x-ms-client-principal",
    "x-ms-client-principal-id",
    "x-ms-client-principal-name",
    "x-ms-client-principal-idp",
)
# Every provider App Service offers a /.auth/login/<provider> route for.
KNOWN_PROVIDERS = ("aad", "github", "google", "facebook", "x", "twitter", "apple")
ACTIONS = ("AllowAnonymous", "RedirectToLoginPage", "Return401", "Return403")
MAX_COOKIE_LENGTH = 4096
MAX_NAME_LENGTH = 1024  # the form's limit; the app applies its own, stricter rules
MAX_ID_LENGTH = 256
MAX_ROLES = 50

NAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
NAMEID_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
ROLE_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


@dataclass(frozen=True)
class Config:
    """The emulated `authsettingsV2` settings that matter locally."""

    providers: tuple[str, ...] = ("aad", "github")
    unauthenticated_action: str = "AllowAnonymous"
    redirect_to_provider: str = "aad"
    excluded_paths: tuple[str, ...] = ()
    session_seconds: int = 8 * 3600  # App Service's default cookie lifetime is 8 hours


@dataclass(frozen=True)
class Session:
    idp: str
    id: str
    name: str
    roles: tuple[str, ...] = ()
    expires: float = 0.0


class FormError(ValueError):
    """The sign-in form was filled in wrongly; the reason is shown on the form."""


def default_id(idp: str, name: str) -> str:
    """A stable id for a name, shaped like the provider's: the same person gets the same id."""
    digest = hashlib.sha256(f"{idp}\n{name}".encode()).digest()
    if idp == "aad":
        return str(uuid.UUID(bytes=digest[:16], version=4))
    if idp in ("github", "facebook", "x", "twitter"):
        return str(int.from_bytes(digest[:5], "big"))
    return digest[:12].hex()


def _has_line_breaks_or_nul(text: str) -> bool:
    # Such characters cannot travel in a real HTTP header value.
    return any(ch in text for ch in "\r\n\x00")


def session_from_form(idp: str, form: Mapping[str, str], now: float, config: Config) -> Session:
    """What the local sign-in form's fields make, or FormError saying what to fix."""
    name = (form.get("name") or "").strip()
    if not name:
        raise FormError("Enter the user name the provider would report.")
    if len(name) > MAX_NAME_LENGTH or _has_line_breaks_or_nul(name):
        raise FormError(f"The user name must be one line of at most {MAX_NAME_LENGTH} characters.")
    user_id = (form.get("id") or "").strip() or default_id(idp, name)
    if len(user_id) > MAX_ID_LENGTH or _has_line_breaks_or_nul(user_id):
        raise FormError(f"The user id must be one line of at most {MAX_ID_LENGTH} characters.")
    roles = tuple(
        dict.fromkeys(
            r.strip() for r in (form.get("roles") or "").replace("\n", ",").split(",") if r.strip()
        )
    )
    if len(roles) > MAX_ROLES or any(_has_line_breaks_or_nul(r) for r in roles):
        raise FormError(f"At most {MAX_ROLES} roles, comma-separated.")
    return Session(idp, user_id, name, roles, now + config.session_seconds)


# --- the session cookie: base64url(JSON) "." base64url(HMAC-SHA256) ---------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cookie(session: Session, key: bytes) -> str:
    payload = json.dumps(
        {
            "idp": session.idp,
            "id": session.id,
            "name": session.name,
            "roles": list(session.roles),
            "exp": session.expires,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    body = _b64(payload)
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def decode_cookie(value: str | None, key: bytes, now: float) -> Session | None:
    """The session a cookie holds; None when absent, tampered with, malformed or expired."""
    if not value or len(value) > MAX_COOKIE_LENGTH:
        return None
    body, _, mac = value.partition(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    try:
        data = json.loads(_unb64(body))
        session = Session(
            str(data["idp"]),
            str(data["id"]),
            str(data["name"]),
            tuple(str(r) for r in data["roles"]),
            float(data["exp"]),
        )
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    return session if session.expires > now else None


# --- the sign-in form's nonce: "<expiry>.<random>.<HMAC>", so only our own form can sign someone in
#
# The HMAC alone proves the host issued the nonce, not that this browser asked for it: anyone can
# fetch a form with curl and post its nonce from their own page (login CSRF, issue 15). So the form
# also sets the nonce in a cookie only this host's callback gets back, and the callback wants the
# posted nonce and the cookie's to be the same, unused and unexpired.

NONCE_SECONDS = 600
# The emulator's own name: Azure's nonce cookie is not documented (login.nonce in authsettingsV2).
NONCE_COOKIE = "AppServiceAuthNonce"
# Used nonces are remembered until they expire; this bounds that memory. Far beyond local use
# (16 sign-ins a second for 10 minutes); when full, sign-ins are refused rather than a used nonce
# forgotten early, which would let it be replayed.
MAX_USED_NONCES = 10_000
_NONCE_RANDOM = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _nonce_mac(key: bytes, expires: str, random: str) -> str:
    return _b64(hmac.new(key, f"nonce:{expires}.{random}".encode(), hashlib.sha256).digest())


def new_nonce(key: bytes, now: float) -> str:
    # The random part makes every form's nonce its own, so using one cannot use up another.
    expires, random = str(int(now) + NONCE_SECONDS), secrets.token_urlsafe(16)
    return f"{expires}.{random}.{_nonce_mac(key, expires, random)}"


def nonce_is_valid(value: str | None, key: bytes, now: float) -> bool:
    """A nonce this host issued that has not expired (a cross-site form post has none)."""
    parts = (value or "").split(".")
    if len(parts) != 3:
        return False
    expires, random, mac = parts
    if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
        return False
    if not _NONCE_RANDOM.fullmatch(random):
        return False
    expected = _nonce_mac(key, expires, random)
    return hmac.compare_digest(mac.encode(), expected.encode()) and int(expires) > now


class NonceLedger:
    """The nonces already used, each kept until it expires (from then on its expiry refuses it)."""

    def __init__(self, capacity: int = MAX_USED_NONCES) -> None:
        self._used: dict[str, int] = {}
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._used)

    def use(self, nonce: str, expires: int, now: float) -> bool:
        """True the first time; False for a nonce seen before or when no more can be held."""
        if nonce in self._used:
            return False
        if len(self._used) >= self._capacity:
            self._used = {used: until for used, until in self._used.items() if until > now}
            if len(self._used) >= self._capacity:
                logger.warning(
                    "Too many sign-ins in %d s: refusing until some expire", NONCE_SECONDS
                )
                return False
        self._used[nonce] = expires
        return True


def nonce_accepted(
    posted: str | None, cookie: str | None, key: bytes, now: float, ledger: NonceLedger
) -> bool:
    """The posted nonce is the one this browser's cookie holds, ours, unexpired and unused."""
    if not posted or not cookie:
        return False
    if not hmac.compare_digest(
        posted.encode("utf-8", "replace"), cookie.encode("utf-8", "replace")
    ):
        return False
    if not nonce_is_valid(posted, key, now):
        return False
    return ledger.use(posted, int(posted.partition(".")[0]), now)


# --- the callback's origin check --------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a bare http(s) origin; None for anything else, "null" included."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a non-numeric or out-of-range port, a broken IPv6 literal
        return None
    scheme = parts.scheme.lower()
    if (
        scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or "@" in parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
        or url.endswith(("?", "#"))
    ):
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def post_is_same_origin(origin: str | None, fetch_site: str | None, scheme: str, host: str) -> bool:
    """Whether a sign-in post came from a page of this very origin (scheme, host and port).

    A browser sets `Origin` and `Sec-Fetch-Site` itself; no page can forge them. The origin, not
    the site, is compared: another port on the same machine is the same site, gets SameSite
    cookies and can even set cookies for this host, so only the exact origin is trusted.
    `Origin: null` (sandboxed frames, data: URLs, pages with no-referrer) is refused. With neither
    header the caller is not a browser, so not anyone's victim: it still needs the nonce and its
    cookie, which prove it fetched the form itself.
    """
    if fetch_site is not None and fetch_site.strip().lower() != "same-origin":
        return False
    if origin is None:
        return True
    ours = _origin(f"{scheme}://{host}")
    return ours is not None and _origin(origin.strip()) == ours


# --- what the app sees ------------------------------------------------------------------------


def claims(session: Session) -> tuple[list[dict[str, str]], str]:
    """The claims App Service reports for this provider, and its name_typ."""
    if session.idp == "aad":
        items = [
            {"typ": "name", "val": session.name},
            {"typ": "preferred_username", "val": session.name},
            {"typ": EMAIL_CLAIM, "val": session.name},
            {"typ": OID_CLAIM, "val": session.id},
            {"typ": NAMEID_CLAIM, "val": session.id},
        ]
        name_typ = EMAIL_CLAIM
    else:
        items = [
            {"typ": NAMEID_CLAIM, "val": session.id},
            {"typ": NAME_CLAIM, "val": session.name},
        ]
        name_typ = NAME_CLAIM
    items.extend({"typ": ROLE_CLAIM, "val": role} for role in session.roles)
    return items, name_typ


def principal_headers(session: Session) -> dict[str, str]:
    items, name_typ = claims(session)
    document = {
        "auth_typ": session.idp,
        "claims": items,
        "name_typ": name_typ,
        "role_typ": ROLE_CLAIM,
    }
    encoded = base64.b64encode(json.dumps(document, ensure_ascii=False).encode()).decode()
    return {
        "x-ms-client-principal": encoded,
        "x-ms-client-principal-id": session.id,
        "x-ms-client-principal-name": session.name,
        "x-ms-client-principal-idp": session.idp,
    }


def is_platform_header(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("x-ms-client-principal") or lowered.startswith("x-ms-token-")


def forwarded_headers(headers: Mapping[str, str], session: Session | None) -> dict[str, str]:
    """The headers a function receives: the caller's own principal headers never get through."""
    kept = {name: value for name, value in headers.items() if not is_platform_header(name)}
    if session is not None:
        kept.update(principal_headers(session))
    return kept


def me(session: Session) -> list[dict[str, object]]:
    """The `/.auth/me` answer: one entry per provider signed in with."""
    items, _ = claims(session)
    return [{"provider_name": session.idp, "user_id": session.name, "user_claims": items}]


# --- globalValidation ------------------------------------------------------------------------


def is_excluded(path: str, excluded: tuple[str, ...]) -> bool:
    """Exact match, or a prefix for entries ending in `/*` (Azure's rule is not documented)."""
    lowered = path.lower()
    for entry in excluded:
        pattern = entry.lower()
        if pattern.endswith("/*"):
            if lowered.startswith(pattern[:-1]) or lowered == pattern[:-2]:
                return True
        elif lowered == pattern:
            return True
    return False


@dataclass(frozen=True)
class Refusal:
    status: int
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def unauthenticated(
    config: Config, path_and_query: str, headers: Mapping[str, str]
) -> Refusal | None:
    """What a caller without a session gets, or None to let the request through."""
    path = path_and_query.split("?", 1)[0]
    if config.unauthenticated_action == "AllowAnonymous" or is_excluded(
        path, config.excluded_paths
    ):
        return None
    if config.unauthenticated_action == "Return403":
        return Refusal(403)
    if config.unauthenticated_action == "Return401":
        return Refusal(401)
    # RedirectToLoginPage: script callers (X-Requested-With) get 401, browsers a redirect.
    if headers.get("x-requested-with", "").lower() == "xmlhttprequest":
        return Refusal(401)
    target = quote(path_and_query, safe="/")
    return Refusal(
        302,
        f"/.auth/login/{config.redirect_to_provider}?post_login_redirect_uri={target}",
    )


# Long enough for any page of the app with its query; a longer value is refused, not cut.
MAX_REDIRECT_LENGTH = 2048
# RFC 3986's reserved and unreserved characters, and "%" so escapes already there stay as they are.
_LOCATION_SAFE = "/?#[]@!$&'()*+,;=:%-._~"


def _is_plain_path(text: str) -> bool:
    """Starts with one "/" and holds no backslash, whitespace, control or format character.

    Browsers drop tabs and line breaks from URLs and read "\\" as "/", so "/<TAB>/evil.example"
    and "/\\evil.example" both become "//evil.example": another host. Unicode spaces, invisible
    format characters (zero-width, bidi overrides) and lone surrogates have no place in a path.
    """
    return (
        text.startswith("/")
        and not text.startswith("//")
        and not any(
            ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in text
        )
    )


def safe_redirect(value: str | None, default: str) -> str | None:
    """Where a redirect parameter may send the browser: a path on this site, or None to refuse.

    The one rule for every redirect parameter (post_login_redirect_uri in the form's query and in
    its post, post_logout_redirect_uri). `value` is the parameter as decoded once with its query
    or form; it must be a plain path (see _is_plain_path) as received and after every further
    percent-decoding, so "%5C", "%2F%2F" and escapes encoded twice cannot hide anything. Absolute
    URLs are refused too: App Service allows same-domain ones and login.allowedExternalRedirectUrls,
    which this emulator does not configure. The answer is percent-encoded to ASCII for Location.
    """
    if not value:
        return default
    if len(value) > MAX_REDIRECT_LENGTH:
        return None
    layer = value
    while True:
        if not _is_plain_path(layer):
            return None
        decoded = unquote(layer)  # each change shortens it, so this ends
        if decoded == layer:
            break
        layer = decoded
    return quote(value, safe=_LOCATION_SAFE)
