"""Identity, in one place: who is calling, who sent an event, and the user ids they carry. Pure.

`caller(headers, query, settings)` decides who is calling for negotiate and any other route that
acts for a user; `viewer(headers, settings)` is the same rule for routes that only read and let
anonymous callers in while sign-in is off (the history endpoint). Both raise the typed refusals
of chat/errors.py (400 for an unusable identity, 401 when sign-in is required and missing):

* `ChatSignIn=off`: a signed-in principal's name when App Service Authentication is on, else the
  name in `?id=` (anyone can claim any name, as in the official samples).
* `ChatSignIn=required`: only the principal headers the platform sets count; `?id=` is ignored
  and a caller without them gets 401.

How the user id, the name shown and the identity provider relate in sign-in mode: the Web
PubSub user id is `<idp>:<id>:<name>`, e.g. `github:1234567:alice` or
`aad:6f1c…:alice@contoso.com`. The provider and its id make it unique (two providers can both
have an "alice"; the id differs, and so does the prefix); the name rides along so the webhook,
which only sees `ce-userId`, can show it. The user id sits in the access token's `sub`, which
this app signs, so nobody can forge it, and the service repeats it in every event. In the id
and the name, `%`, `:` and `,` are percent-encoded: `:` separates the parts, and a `,` in a
header means the header was repeated (chat/cloudevents.py refuses it). Own messages are
recognised by the whole user id, never by the name.

Who sent an event: `sender(ce-userId, settings)` gives the fields a broadcast carries about its
sender (`from`, and in sign-in mode `userId`, `idp`, and `lookalike` when the provider's name
mixes scripts with look-alike letters); `validate_name` is the rule for a chosen name, wherever
it comes from (`?id=`, a lazy-auth connect query, ce-userId, an off-mode principal).

The principal headers App Service Authentication ("Easy Auth") sets, read by `read_principal`
(the only parser of them): `X-MS-CLIENT-PRINCIPAL` (base64 of a JSON object `{auth_typ,
claims: [{typ, val}], name_typ, role_typ}`) and `X-MS-CLIENT-PRINCIPAL-ID`, `-NAME`, `-IDP`.
Azure's front end sets them itself and drops any a caller sends, so their presence means the
identity is vouched for. The values are bounded and checked all the same: a local host without
the emulation passes a caller's own headers through, and a hostile value must give a clear
400, never a 500. Text rules (control characters, invisible characters, look-alikes, lone
surrogates) are chat/text_rules.py's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote

from chat import bounded_json, text_rules
from chat.errors import BadRequest, Unauthorized
from chat.settings import Settings

SIGN_IN_REQUIRED = "sign-in required: sign in first (this chat only accepts signed-in users)"
RESERVED = "names of the form provider:id:name are kept for signed-in users"

HEADER = "x-ms-client-principal"
ID_HEADER = "x-ms-client-principal-id"
NAME_HEADER = "x-ms-client-principal-name"
IDP_HEADER = "x-ms-client-principal-idp"
_HEADERS = (HEADER, ID_HEADER, NAME_HEADER, IDP_HEADER)

# Entra principals with many group claims reach a few KB; 64 KB of base64 is far beyond any
# real one and small enough to decode on every call.
MAX_ENCODED_LENGTH = 64 * 1024
MAX_NAME_LENGTH = 256  # a provider's name: e-mail addresses may be 254 characters long
MAX_ID_LENGTH = 128  # Entra object ids are GUIDs, GitHub's are numbers
MAX_CHOSEN_LENGTH = 64  # a name chosen in the chat (sign-in off)
# Provider names: aad, github, google, facebook, x, twitter, apple, or a custom OpenID Connect
# provider's configured name.
IDP_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
# Longest signed-in user id: provider, and id and name with every character escaped.
MAX_USER_ID_LENGTH = 32 + 1 + 3 * MAX_ID_LENGTH + 1 + 3 * MAX_NAME_LENGTH

# Claim types, in the order they are tried when a header does not carry the value.
_NAME_CLAIMS = (
    "name",
    "preferred_username",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "email",
)
_ID_CLAIMS = (
    "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "oid",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "sub",
)


class Caller(NamedTuple):  # a NamedTuple: negotiate builds one per call, and it is cheap
    user_id: str  # the Web PubSub user id: what the service and the webhook know us by
    name: str  # what other people see
    idp: str | None = None  # the identity provider; None for a chosen (unverified) name


@dataclass(frozen=True)
class Principal:
    """What the principal headers say; a field is None when no header or claim carries it."""

    idp: str | None
    id: str | None
    name: str | None


# --- the principal headers: the one parser ----------------------------------------------------


def _present(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be text")
    if len(value) > MAX_ENCODED_LENGTH:
        raise BadRequest(f"{name} is too long")
    return value


def _blank(value: str | None) -> bool:
    return not (value and value.strip())


def _decode_claims(encoded: str) -> tuple[str | None, dict[str, list[str]], str | None]:
    """(auth_typ, claims by type, name_typ) from the base64 JSON header."""
    try:
        # Bounded: size checked before decoding, RecursionError caught, depth limited.
        document = bounded_json.loads_base64(encoded.strip(), max_bytes=MAX_ENCODED_LENGTH * 3 // 4)
    except bounded_json.InvalidJson as error:
        raise BadRequest(f"{HEADER} is not usable base64 JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadRequest(f"{HEADER} is not a JSON object")
    claims = document.get("claims", [])
    if not isinstance(claims, list):
        raise BadRequest(f"{HEADER} claims must be a list")
    by_type: dict[str, list[str]] = {}
    for claim in claims:
        if not (
            isinstance(claim, dict)
            and isinstance(claim.get("typ"), str)
            and isinstance(claim.get("val"), str)
        ):
            raise BadRequest(f"{HEADER} claims must be objects with text typ and val")
        by_type.setdefault(claim["typ"], []).append(claim["val"])
    fields: list[str | None] = []
    for key in ("auth_typ", "name_typ", "role_typ"):
        value = document.get(key)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{HEADER} {key} must be text")
        fields.append(value)
    return fields[0], by_type, fields[1]


def _first_claim(by_type: Mapping[str, list[str]], types: tuple[str | None, ...]) -> str | None:
    for claim_type in types:
        for value in by_type.get(claim_type or "", ()):
            if value.strip():
                return value
    return None


def read_principal(headers: Mapping[str, str], *, name_only: bool = False) -> Principal | None:
    """The principal headers, read; None when none of them is present at all.

    The -ID, -NAME and -IDP headers win; the claims in X-MS-CLIENT-PRINCIPAL fill in what they
    lack (the platform always sends all four; the fallbacks keep partial shapes usable). The
    claims are decoded only then, and with `name_only` only for a missing name: the chat
    needs nothing else from them (no roles), and what is not read cannot hurt. Raises
    BadRequest when a value that is read is unusable. `headers` must be case-insensitive
    (func.HttpRequest.headers) or use lower-case names.
    """
    # Most callers carry none of them. `in` first: a missed `.get` on the worker's
    # case-insensitive headers raises and catches a KeyError, the costliest step of
    # negotiate's own work for an anonymous caller.
    if not any(name in headers for name in _HEADERS):
        return None
    encoded = _present(headers, HEADER)
    idp = _present(headers, IDP_HEADER)
    user_id = _present(headers, ID_HEADER)
    name = _present(headers, NAME_HEADER)
    if encoded is not None and not encoded.strip():
        encoded = None  # an empty header carries nothing to decode
    if encoded is None and idp is None and user_id is None and name is None:
        return None
    needed = (name,) if name_only else (idp, user_id, name)
    if encoded is not None and any(_blank(value) for value in needed):
        auth_typ, by_type, name_typ = _decode_claims(encoded)
        if _blank(idp):
            idp = auth_typ
        if _blank(user_id):
            user_id = _first_claim(by_type, _ID_CLAIMS)
        if _blank(name):
            name = _first_claim(by_type, (name_typ, *_NAME_CLAIMS))
    return Principal(
        idp=None if _blank(idp) else idp,
        id=None if _blank(user_id) else user_id,
        name=None if _blank(name) else name,
    )


def check_name(value: str) -> str:
    """A provider's name for the user, trimmed, or BadRequest."""
    return _checked_text(value, "user name", MAX_NAME_LENGTH)


def check_id(value: str) -> str:
    """A provider's id for the user, trimmed, or BadRequest."""
    return _checked_text(value, "user id", MAX_ID_LENGTH)


def _checked_text(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise BadRequest(f"the signed-in principal has an empty {what}")
    if len(text) > limit:
        raise BadRequest(f"the signed-in principal's {what} is too long (at most {limit})")
    if text_rules.has_control(text):
        raise BadRequest(f"the signed-in principal's {what} contains control characters")
    return text


@dataclass(frozen=True)
class SignedIn:
    idp: str  # lower-case provider name, e.g. "aad" or "github"
    id: str  # the provider's id for the user: unique within that provider only
    name: str  # what the provider calls the user; not unique, even within a provider


def signed_in(headers: Mapping[str, str]) -> SignedIn | None:
    """The signed-in user the principal headers vouch for; None when there are none at all.

    BadRequest when they are present but name no usable provider, id or name.
    """
    principal = read_principal(headers)
    if principal is None:
        return None
    idp = (principal.idp or "").strip().lower()
    if not IDP_PATTERN.match(idp):
        raise BadRequest("the signed-in principal names no usable identity provider")
    if principal.id is None:
        raise BadRequest("the signed-in principal carries no user id")
    if principal.name is None:
        raise BadRequest("the signed-in principal carries no user name")
    return SignedIn(idp=idp, id=check_id(principal.id), name=check_name(principal.name))


# --- chosen names (sign-in off) ---------------------------------------------------------------


def validate_name(raw: str | None) -> str:
    """A chosen name (the user id while sign-in is off), trimmed, or BadRequest.

    The one rule for `?id=`, a lazy-auth connect query, an off-mode principal's name and
    ce-userId.
    """
    user = (raw or "").strip()
    if not user:
        raise BadRequest("missing user id")
    if len(user) > MAX_CHOSEN_LENGTH:
        raise BadRequest(f"user id is too long (at most {MAX_CHOSEN_LENGTH} characters)")
    # Printable ASCII (most ids) needs no per-character Unicode look-up.
    if not (user.isascii() and user.isprintable()):
        problem = text_rules.name_problem(user)
        if problem is not None:
            raise BadRequest(f"user id {problem}")
    if "," in user:
        # The Functions host joins a repeated ce-userId header with ",": an id holding one
        # could not be told apart from two, so events would be refused (cloudevents.py).
        raise BadRequest("user id must not contain a comma")
    return user


def from_connect_query(query: object) -> str:
    """The `id` a lazy-auth client put in its connect URL (`query` values are arrays)."""
    values = query.get("id") if isinstance(query, dict) else None
    if isinstance(values, list):
        values = values[0] if values else None
    if values is not None and not isinstance(values, str):
        raise BadRequest("missing user id")
    return validate_name(values)


# --- signed-in user ids -----------------------------------------------------------------------


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A").replace(",", "%2C")


def encode_user_id(idp: str, provider_id: str, name: str) -> str:
    return f"{idp}:{_escape(provider_id)}:{_escape(name)}"


def parse_user_id(value: str | None) -> Caller | None:
    """The signed-in caller a user id stands for; None when it is not one of ours."""
    if not value or len(value) > MAX_USER_ID_LENGTH or value.count(":") != 2:
        return None
    return _parsed_user_id(value)


@lru_cache(maxsize=1024)
def _parsed_user_id(value: str) -> Caller | None:
    """Cached (bounded; a Caller is immutable): a DM alone asks about its sender and its
    recipient eight times (their accounts, the block filter, the webhook's own check), and
    each parse unescapes and checks both parts again."""
    idp, encoded_id, encoded_name = value.split(":")
    if not IDP_PATTERN.match(idp):
        return None
    try:
        provider_id = unquote(encoded_id, errors="strict")
        name = unquote(encoded_name, errors="strict")
    except UnicodeDecodeError:
        return None
    if _escape(provider_id) != encoded_id or _escape(name) != encoded_name:
        return None  # not the canonical form we sign: someone else made it
    try:
        check_id(provider_id)
        name = check_name(name)
    except BadRequest:
        return None
    if name != unquote(encoded_name):
        return None  # surrounding white space: never signed by us
    return Caller(user_id=value, name=name, idp=idp)


def is_reserved(chosen: str) -> bool:
    """Whether a chosen name looks like a signed-in user id.

    Refused even while sign-in is off: a token issued for such a name stays valid for
    ChatTokenLifetimeMinutes, and must not pass as a signed-in user once sign-in is turned on.
    """
    return chosen.count(":") >= 2 and parse_user_id(chosen) is not None


def shown_name(name: str, provider_id: str) -> str:
    """A provider's name as others see it (chat/text_rules.py's display hygiene): it cannot
    be refused at sign-in, so it is cleaned; the provider's id stands in when nothing visible
    is left. Cut to MAX_NAME_LENGTH again: NFC may lengthen a few characters, and the name
    must still pass `check_name` when the user id is read back."""
    return text_rules.display_name(name)[:MAX_NAME_LENGTH].strip() or provider_id


# --- who is calling ---------------------------------------------------------------------------


def caller(headers: Mapping[str, str], query: Mapping[str, str], settings: Settings) -> Caller:
    """Who is calling a route that acts for a user; BadRequest or Unauthorized otherwise."""
    if not settings.sign_in:
        return _chosen(headers, query.get("id"))
    return _signed_in_caller(headers)


def viewer(headers: Mapping[str, str], settings: Settings) -> Caller | None:
    """Who is calling a route that only reads: `caller`'s rule, except that an anonymous
    caller (None) is let in while sign-in is off. `?id=` is not read: a name anyone may
    claim says nothing about who reads."""
    if settings.sign_in:
        return _signed_in_caller(headers)
    name = _principal_name(headers)
    return None if name is None else _chosen_caller(name)


def _chosen(headers: Mapping[str, str], query_id: str | None) -> Caller:
    """Sign-in off: a signed-in principal's name when App Service Authentication is on, else
    the name in `?id=` (anyone can claim any name, as in the official samples)."""
    return _chosen_caller(_principal_name(headers) or query_id)


def _principal_name(headers: Mapping[str, str]) -> str | None:
    """Sign-in off: the principal's name, None without one; BadRequest for a principal that
    is there but names nobody."""
    principal = read_principal(headers, name_only=True)
    if principal is None or principal.name is not None:
        return None if principal is None else principal.name
    if (headers.get(HEADER) or "").strip():
        raise BadRequest("the signed-in principal carries no user name")
    return None


def _chosen_caller(name: str | None) -> Caller:
    chosen = validate_name(name)
    if is_reserved(chosen):
        raise BadRequest(RESERVED)
    return Caller(chosen, chosen)  # positional: negotiate's hot path, keywords cost more


def _signed_in_caller(headers: Mapping[str, str]) -> Caller:
    """Sign-in required: only the principal headers the platform sets count."""
    user = signed_in(headers)
    if user is None:
        raise Unauthorized(SIGN_IN_REQUIRED)
    name = shown_name(user.name, user.id)
    return Caller(user_id=encode_user_id(user.idp, user.id, name), name=name, idp=user.idp)


# --- who sent this event ----------------------------------------------------------------------


def sender(user_id: str | None, settings: Settings) -> dict[str, str | bool] | None:
    """The fields a broadcast carries about its sender; None when sign-in mode must refuse it.

    Off: `{"from": user id}` as before (chosen names were judged by `validate_name`).
    Required: `from` is the name shown, `userId` the id to compare with one's own, `idp` the
    provider (so two "alice"s can be told apart), and `lookalike: true` when the provider's
    name mixes scripts with look-alike letters (the page warns; a provider's name cannot be
    refused). The name is cleaned again here: tokens issued before the cleaning stay valid
    for their lifetime.
    """
    if not settings.sign_in:
        return {"from": user_id or "someone"}
    known = _signed_in_sender(user_id)
    if known is None:
        return None
    user, shown, lookalike = known
    fields: dict[str, str | bool] = {"from": shown, "userId": user.user_id, "idp": user.idp or ""}
    if lookalike:
        fields["lookalike"] = True
    return fields  # a fresh dict per call: callers add to it and take from it


@lru_cache(maxsize=1024)
def _signed_in_sender(user_id: str | None) -> tuple[Caller, str, bool] | None:
    """Cached: every message and notice of a user asks again, and the Unicode look-ups of a
    non-ASCII name (scripts, confusables) cost far more than the rest of the decision."""
    user = parse_user_id(user_id)
    if user is None:
        return None
    shown = shown_name(user.name, user.user_id)
    return user, shown, text_rules.is_lookalike(shown)
