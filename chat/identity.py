"""Who is calling: the one rule every per-user route follows, and the user ids it hands out. Pure.

`caller(headers, query, settings)` decides it for negotiate, the history endpoint and any other
route that acts for a user:

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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import unquote

from chat import principal as principal_module
from chat import user_id as user_id_module
from chat.reply import Reply, text
from chat.settings import Settings

# What the page says for each provider (display only).
PROVIDER_LABELS = {
    "aad": "Microsoft",
    "github": "GitHub",
    "google": "Google",
    "facebook": "Facebook",
    "x": "X",
    "twitter": "X",
    "apple": "Apple",
}
SIGN_IN_REQUIRED = "sign-in required: sign in first (this chat only accepts signed-in users)"


RESERVED = "names of the form provider:id:name are kept for signed-in users"


class Caller(NamedTuple):  # a NamedTuple: negotiate builds one per call, and it is cheap
    user_id: str  # the Web PubSub user id: what the service and the webhook know us by
    name: str  # what other people see
    idp: str | None = None  # the identity provider; None for a chosen (unverified) name


# Longest signed-in user id: provider, and id and name with every character escaped.
MAX_USER_ID_LENGTH = (
    32 + 1 + 3 * principal_module.MAX_ID_LENGTH + 1 + 3 * principal_module.MAX_NAME_LENGTH
)


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A").replace(",", "%2C")


def encode_user_id(idp: str, provider_id: str, name: str) -> str:
    return f"{idp}:{_escape(provider_id)}:{_escape(name)}"


def parse_user_id(value: str | None) -> Caller | None:
    """The signed-in caller a user id stands for; None when it is not one of ours."""
    if not value or len(value) > MAX_USER_ID_LENGTH or value.count(":") != 2:
        return None
    idp, encoded_id, encoded_name = value.split(":")
    if not principal_module.IDP_PATTERN.match(idp):
        return None
    try:
        provider_id = unquote(encoded_id, errors="strict")
        name = unquote(encoded_name, errors="strict")
    except UnicodeDecodeError:
        return None
    if _escape(provider_id) != encoded_id or _escape(name) != encoded_name:
        return None  # not the canonical form we sign: someone else made it
    try:
        principal_module.check_id(provider_id)
        name = principal_module.check_name(name)
    except principal_module.PrincipalError:
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


def caller(
    headers: Mapping[str, str], query: Mapping[str, str], settings: Settings
) -> Caller | Reply:
    """The caller of a per-user route, or the 4xx reply to send instead.

    `headers` must be case-insensitive (func.HttpRequest.headers) or use lower-case names.
    """
    if not settings.sign_in:
        try:
            chosen = user_id_module.from_client_principal(headers) or user_id_module.validate(
                query.get("id")
            )
        except user_id_module.InvalidUserId as error:
            return text(400, str(error))
        if is_reserved(chosen):
            return text(400, RESERVED)
        return Caller(chosen, chosen)  # positional: negotiate's hot path, keywords cost more
    try:
        signed_in = principal_module.decode(headers)
    except principal_module.PrincipalError as error:
        return text(400, str(error))
    if signed_in is None:
        return text(401, SIGN_IN_REQUIRED, {"Cache-Control": "no-store"})
    return Caller(
        user_id=encode_user_id(signed_in.idp, signed_in.id, signed_in.name),
        name=signed_in.name,
        idp=signed_in.idp,
    )


def sender(user_id: str | None, settings: Settings) -> dict[str, str] | None:
    """The fields a broadcast carries about its sender; None when sign-in mode must refuse it.

    Off: `{"from": user id}` as before. Required: `from` is the name shown, `userId` the id to
    compare with one's own, `idp` the provider (so two "alice"s can be told apart).
    """
    if not settings.sign_in:
        return {"from": user_id or "someone"}
    signed_in = parse_user_id(user_id)
    if signed_in is None:
        return None
    return {"from": signed_in.name, "userId": signed_in.user_id, "idp": signed_in.idp or ""}
