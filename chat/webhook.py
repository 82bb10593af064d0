"""What to do with an authenticated upstream event that needs no I/O: pure decisions.

`decide` answers `connect` (who the connection is, and the lobby's groups) and refuses event
types the app does not serve. `connected`, `disconnected` and the `message` user event touch
the service and the store: adapters/chat_events.py carries them out. The stable id and the
refusal's shape live here, shared by both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from chat import bounded_json, identity, rooms
from chat.cloudevents import CONNECT, USER_PREFIX, CloudEvent
from chat.errors import BadRequest
from chat.reply import Reply, json_reply, text
from chat.settings import Settings

MESSAGE = USER_PREFIX + "message"
# A connect event carries the client's query, headers, claims and certificates.
CONNECT_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Outcome:
    reply: Reply
    notes: dict[str, str] = field(default_factory=dict)  # for the log line, never secrets


def stable_id(event: CloudEvent) -> str:
    """The same for every retry of one event, different for every other event."""
    seed = f"{event.connection_id}\n{event.type}\n{event.id}".encode()
    return hashlib.sha256(seed).hexdigest()[:24]


def rejection(reason: str) -> dict[str, str]:
    return {"type": "system", "event": "rejected", "message": reason}


def decide(event: CloudEvent, body: bytes, settings: Settings) -> Outcome:
    if event.type == CONNECT:
        return _connect(event, body, settings)
    # Not echoed back to the caller: the log line names the type.
    return Outcome(text(400, "unsupported event type"))


def _connect(event: CloudEvent, body: bytes, settings: Settings) -> Outcome:
    if settings.sign_in:
        # Only tokens negotiate issued to a signed-in user: no lazy auth, no chosen names
        # (not even from tokens issued before sign-in was turned on).
        if identity.parse_user_id(event.user_id) is None:
            return Outcome(text(401, identity.SIGN_IN_REQUIRED))
        return Outcome(json_reply(200, {"groups": lobby_groups(event.user_id or "")}))
    if event.user_id:
        # The client holds a token we signed for this user: keep what it says. Every
        # connection starts in the lobby, joined here so that `connected` finds it there.
        return Outcome(json_reply(200, {"groups": lobby_groups(event.user_id)}))
    if not settings.lazy_auth:
        return Outcome(text(401, "missing user id (connect through negotiate)"))
    try:
        request = bounded_json.loads(body or b"{}", max_bytes=CONNECT_MAX_BYTES)
    except bounded_json.InvalidJson as error:
        return Outcome(text(400, f"connect body is not usable JSON: {error}"))
    query = request.get("query") if isinstance(request, dict) else None
    try:
        user = identity.from_connect_query(query or {})
    except BadRequest as error:
        return Outcome(text(401, str(error)))
    if identity.is_reserved(user):
        return Outcome(text(401, identity.RESERVED))
    return Outcome(json_reply(200, {"userId": user, "groups": lobby_groups(user)}))


def lobby_groups(user: str) -> list[str]:
    return [rooms.group(rooms.LOBBY), rooms.presence_group(rooms.LOBBY, user)]
