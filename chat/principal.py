"""The signed-in caller, as App Service Authentication ("Easy Auth") describes it. Pure.

When Easy Auth fronts the app, Azure's front end signs people in and sets these request headers
itself, dropping any a caller sends, so the app can trust them:

* `X-MS-CLIENT-PRINCIPAL`: base64 of a JSON object `{auth_typ, claims: [{typ, val}], name_typ,
  role_typ}`;
* `X-MS-CLIENT-PRINCIPAL-ID`, `-NAME`, `-IDP`: the provider's user id, the human-readable name
  (an e-mail address or UPN for Microsoft Entra ID, the login for GitHub) and the provider.

`decode` reads them into a `Principal`. The values are bounded and checked even though the
platform sets them: a local host without the emulation passes a caller's own headers through,
and a hostile value must give a clear 400, never a 500.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from chat import bounded_json

HEADER = "x-ms-client-principal"
ID_HEADER = "x-ms-client-principal-id"
NAME_HEADER = "x-ms-client-principal-name"
IDP_HEADER = "x-ms-client-principal-idp"

# Entra principals with many group claims reach a few KB; 64 KB of base64 is far beyond any
# real one and small enough to decode on every call.
MAX_ENCODED_LENGTH = 64 * 1024
MAX_NAME_LENGTH = 256  # e-mail addresses may be 254 characters long
MAX_ID_LENGTH = 128  # Entra object ids are GUIDs, GitHub's are numbers
# Provider names: aad, github, google, facebook, x, twitter, apple, or a custom OpenID Connect
# provider's configured name.
IDP_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
# Cc control characters, Cf invisible format characters (bidi overrides among them), line and
# paragraph separators: none belongs in a name shown to other people. Cs: a lone surrogate (JSON
# "\ud800" decodes to one) cannot even be encoded as UTF-8.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}

# Claim types, in the order they are tried when a header does not carry the value.
_NAME_CLAIMS = (
    "name",
    "preferred_username",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
)
_ID_CLAIMS = (
    "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "oid",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "sub",
)


class PrincipalError(ValueError):
    """The principal headers are present but unusable; the reason is shown to the caller."""


@dataclass(frozen=True)
class Principal:
    idp: str  # lower-case provider name, e.g. "aad" or "github"
    id: str  # the provider's id for the user: unique within that provider only
    name: str  # what the provider calls the user; not unique, even within a provider


def _present(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PrincipalError(f"{name} must be text")
    if len(value) > MAX_ENCODED_LENGTH:
        raise PrincipalError(f"{name} is too long")
    return value


def check_name(value: str) -> str:
    """A principal's name, trimmed, or PrincipalError."""
    return _checked_text(value, "user name", MAX_NAME_LENGTH)


def check_id(value: str) -> str:
    """A principal's provider id, trimmed, or PrincipalError."""
    return _checked_text(value, "user id", MAX_ID_LENGTH)


def _checked_text(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise PrincipalError(f"the signed-in principal has an empty {what}")
    if len(text) > limit:
        raise PrincipalError(f"the signed-in principal's {what} is too long (at most {limit})")
    if not (text.isascii() and text.isprintable()) and any(
        unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in text
    ):
        raise PrincipalError(f"the signed-in principal's {what} contains control characters")
    return text


def _decode_claims(encoded: str) -> tuple[str | None, dict[str, list[str]], str | None, str | None]:
    """(auth_typ, claims by type, name_typ, role_typ) from the base64 JSON header."""
    try:
        # Bounded: size checked before decoding, RecursionError caught, depth limited.
        document = bounded_json.loads_base64(encoded.strip(), max_bytes=MAX_ENCODED_LENGTH * 3 // 4)
    except bounded_json.InvalidJson as error:
        raise PrincipalError(f"{HEADER} is not usable base64 JSON: {error}") from None
    if not isinstance(document, dict):
        raise PrincipalError(f"{HEADER} is not a JSON object")
    claims = document.get("claims", [])
    if not isinstance(claims, list):
        raise PrincipalError(f"{HEADER} claims must be a list")
    by_type: dict[str, list[str]] = {}
    for claim in claims:
        if not (
            isinstance(claim, dict)
            and isinstance(claim.get("typ"), str)
            and isinstance(claim.get("val"), str)
        ):
            raise PrincipalError(f"{HEADER} claims must be objects with text typ and val")
        by_type.setdefault(claim["typ"], []).append(claim["val"])
    fields = []
    for key in ("auth_typ", "name_typ", "role_typ"):
        value = document.get(key)
        if value is not None and not isinstance(value, str):
            raise PrincipalError(f"{HEADER} {key} must be text")
        fields.append(value)
    return fields[0], by_type, fields[1], fields[2]


def _first_claim(by_type: Mapping[str, list[str]], types: tuple[str | None, ...]) -> str | None:
    for claim_type in types:
        for value in by_type.get(claim_type or "", ()):
            if value.strip():
                return value
    return None


def decode(headers: Mapping[str, str]) -> Principal | None:
    """The signed-in caller, None when no principal header is present at all.

    The -ID, -NAME and -IDP headers win; the claims in X-MS-CLIENT-PRINCIPAL fill in what they
    lack (the platform always sends all four; the fallbacks keep partial shapes usable). The
    claims are decoded only then: the chat needs nothing else from them (no roles), and what is
    not read cannot hurt. Raises PrincipalError when a header that is needed is unusable.
    """
    encoded = _present(headers, HEADER)
    idp = _present(headers, IDP_HEADER)
    user_id = _present(headers, ID_HEADER)
    name = _present(headers, NAME_HEADER)
    if encoded is None and idp is None and user_id is None and name is None:
        return None
    by_type: dict[str, list[str]] = {}
    auth_typ = name_typ = None
    complete = all(value and value.strip() for value in (idp, user_id, name))
    if encoded is not None and not complete:
        auth_typ, by_type, name_typ, _ = _decode_claims(encoded)
    idp = (idp if idp and idp.strip() else auth_typ) or ""
    idp = idp.strip().lower()
    if not IDP_PATTERN.match(idp):
        raise PrincipalError("the signed-in principal names no usable identity provider")
    if not (user_id and user_id.strip()):
        user_id = _first_claim(by_type, _ID_CLAIMS)
    if not (name and name.strip()):
        name = _first_claim(by_type, (name_typ, *_NAME_CLAIMS))
    if user_id is None:
        raise PrincipalError("the signed-in principal carries no user id")
    if name is None:
        raise PrincipalError("the signed-in principal carries no user name")
    return Principal(idp=idp, id=check_id(user_id), name=check_name(name))
