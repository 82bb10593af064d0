"""Token validation: client access tokens, REST bearer tokens and reconnection tokens.

All tokens are HS256 JWTs signed with the access key's raw UTF-8 bytes (PyJWT treats a
``str`` key the same way). Which audiences are accepted is decided in ``audiences``: only the
emulator's own origins, and the exact resource (hub client endpoint or REST path).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import jwt

from .audiences import ServedOrigins, audience_matches, client_path, path_segments

CLOCK_SKEW_SECONDS = 300
RECONNECTION_ISSUER = "https://webpubsub.azure.com"
RECONNECTION_LIFETIME_SECONDS = 7 * 24 * 3600
MAX_GROUP_LENGTH = 1024
NAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"


class TokenError(Exception):
    """The token is missing or invalid (HTTP 401)."""


class ClaimError(Exception):
    """A claim has an invalid value (HTTP 400)."""


def _decode(token: str, key: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["exp"], "verify_aud": False, "verify_iss": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from exc
    except RecursionError as exc:
        # PyJWT parses the header and payload JSON; a deeply nested one is not a token.
        raise TokenError("token JSON nested too deeply") from exc


def validate_client_token(
    token: str, keys: list[str], origins: ServedOrigins, hub: str
) -> dict[str, Any]:
    """Return the claims of a valid client token for ``hub``; raise TokenError or ClaimError."""
    claims: dict[str, Any] | None = None
    error: TokenError | None = None
    for key in keys:
        try:
            claims = _decode(token, key)
            break
        except TokenError as exc:
            error = exc
    if claims is None:
        raise error or TokenError("no key")
    if not audience_matches(claims.get("aud"), origins, client_path(hub)):
        raise TokenError("audience mismatch")
    for group in as_list(claims.get("webpubsub.group")):
        if not group.strip() or len(group) > MAX_GROUP_LENGTH:
            raise ClaimError("Invalid group name in the webpubsub.group claim.")
    return claims


def validate_rest_token(
    token: str, keys: list[str], origins: ServedOrigins, raw_path: str
) -> dict[str, Any]:
    """Validate a REST bearer token whose aud is the request URL (query ignored).

    ``raw_path`` is the request's path as sent (still percent-encoded, no query).
    """
    claims: dict[str, Any] | None = None
    for key in keys:
        try:
            claims = _decode(token, key)
            break
        except TokenError:
            continue
    if claims is None:
        raise TokenError("invalid token")
    if not audience_matches(claims.get("aud"), origins, path_segments(raw_path)):
        raise TokenError("audience mismatch")
    return claims


def as_list(value: Any) -> list[str]:
    """A claim that may be one string or an array, as a list of strings."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def claims_for_connect(claims: Mapping[str, Any]) -> dict[str, list[str]]:
    """Claims as the connect event shows them: claim type -> array of strings."""
    out: dict[str, list[str]] = {}
    for name, value in claims.items():
        out[name] = as_list(value) if not isinstance(value, (int, float)) else [str(value)]
    return out


def issue_client_token(
    key: str,
    audience: str,
    *,
    user_id: str | None = None,
    roles: list[str] | None = None,
    groups: list[str] | None = None,
    minutes: float = 60,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"aud": audience, "iat": now, "exp": now + int(minutes * 60)}
    if user_id:
        payload["sub"] = user_id
    if roles:
        payload["role"] = roles
    if groups:
        payload["webpubsub.group"] = groups
    return jwt.encode(payload, key, algorithm="HS256")


def issue_reconnection_token(key: str, connection_id: str) -> str:
    now = int(time.time())
    payload = {
        "iss": RECONNECTION_ISSUER,
        "aud": connection_id,
        "iat": now,
        "exp": now + RECONNECTION_LIFETIME_SECONDS,
    }
    return jwt.encode(payload, key, algorithm="HS256")


def reconnection_token_valid(token: str, key: str, connection_id: str) -> bool:
    try:
        jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=connection_id,
            issuer=RECONNECTION_ISSUER,
            options={"require": ["exp", "aud", "iss"]},
        )
    except (jwt.PyJWTError, RecursionError):
        return False
    return True
