"""Web PubSub upstream calls in CloudEvents binary mode: the handshake and authentication.

Everything here is pure: headers in, a CloudEvent or a Reply out. No side effect happens
before `authenticate` has accepted a call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chat import identity, signature
from chat.errors import BadRequest
from chat.reply import Reply, text
from chat.settings import Settings

CONNECT = "azure.webpubsub.sys.connect"
CONNECTED = "azure.webpubsub.sys.connected"
DISCONNECTED = "azure.webpubsub.sys.disconnected"
USER_PREFIX = "azure.webpubsub.user."

REQUIRED_HEADERS = ("ce-type", "ce-id", "ce-hub", "ce-connectionid")
ORIGIN_HEADER = "webhook-request-origin"
# Headers the service sends once, whose values never hold a comma (user ids may not: see
# identity.validate_name). The Functions host hands the worker one string per header name, joining
# repeats with ","; a comma in one of these therefore means it was sent more than once, and
# no guess about which copy counts is safe. (ce-signature is a list by design; a repeated
# ce-hub or origin already fails its exact comparison.)
SINGLE_VALUED = (
    "ce-type",
    "ce-id",
    "ce-connectionid",
    "ce-userid",
    "ce-eventname",
    "ce-connectionstate",  # base64: never a comma
)


@dataclass(frozen=True)
class CloudEvent:
    type: str
    id: str
    hub: str
    connection_id: str
    event_name: str
    user_id: str | None
    connection_state: str | None
    # When the event occurred (RFC 3339), as the service stamped it; the same on a retry.
    time: str | None = None


def _origin(headers: Mapping[str, str]) -> str | None:
    """The service host in WebHook-Request-Origin, lower-cased; None when absent or blank."""
    value = (headers.get(ORIGIN_HEADER) or "").strip().lower()
    return value or None


def validate_webhook(headers: Mapping[str, str], settings: Settings) -> Reply:
    """The abuse-protection handshake (OPTIONS, or GET when OPTIONS is not served).

    Only our own service's host is allowed, and it is echoed back exactly: never `*`,
    which would let any Web PubSub resource deliver events to this app.
    """
    origin = _origin(headers)
    if origin is None:
        return text(400, "missing WebHook-Request-Origin header")
    if origin not in settings.allowed_origins:
        return text(400, "WebHook-Request-Origin is not an allowed Web PubSub host")
    return Reply(200, headers={"WebHook-Allowed-Origin": origin})


def authenticate(headers: Mapping[str, str], settings: Settings) -> CloudEvent | Reply:
    """Check origin, headers, signature and hub, in that order; a Reply means 'refuse'."""
    origin = _origin(headers)
    if origin is None or origin not in settings.allowed_origins:
        return text(401, "request origin is not allowed")
    for name in REQUIRED_HEADERS:
        if not (headers.get(name) or "").strip():
            return text(400, f"missing CloudEvents header {name}")
    connection_id = headers["ce-connectionid"]
    # In identity mode the app holds no key, so the signature cannot be checked; the
    # function key on the webhook URL carries that weight (logged loudly at start-up).
    if not settings.identity_mode and not signature.verify(
        headers.get("ce-signature"), settings.access_keys, connection_id
    ):
        return text(401, "invalid or missing ce-signature")
    if headers["ce-hub"].strip().lower() != settings.hub.lower():
        return text(400, "this app does not serve that hub")
    for name in SINGLE_VALUED:
        if "," in (headers.get(name) or ""):
            return text(400, f"CloudEvents header {name} was sent more than once")
    user = headers.get("ce-userid") or None
    if user is not None:
        refusal = _user_id_refusal(user, settings)
        if refusal is not None:
            return refusal
    return CloudEvent(
        type=headers["ce-type"].strip(),
        id=headers["ce-id"].strip(),
        hub=headers["ce-hub"].strip(),
        connection_id=connection_id,
        event_name=(headers.get("ce-eventname") or "").strip(),
        user_id=user,
        connection_state=headers.get("ce-connectionstate"),
        time=headers.get("ce-time"),
    )


def _user_id_refusal(user: str, settings: Settings) -> Reply | None:
    """ce-userId reaches broadcasts and the page: it must pass the rules negotiate applies."""
    if settings.sign_in and identity.parse_user_id(user) is not None:
        # negotiate's rule in sign-in mode (chat/identity.py); other ids fall through to the
        # chosen-name rules, and the webhook refuses them as not signed in.
        return None
    try:
        checked = identity.validate_name(user)
    except BadRequest as error:
        return text(400, f"ce-userId is not a valid user id: {error}")
    if checked != user:
        return text(400, "ce-userId is not a valid user id: it has surrounding white space")
    return None
