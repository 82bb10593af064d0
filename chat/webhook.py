"""What to do with an authenticated upstream event: pure decisions, no I/O.

`decide` returns the reply for the service and, when everyone should hear about it, the JSON
to broadcast. function_app.py performs the broadcast and maps service failures to 502/503.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chat import connection_state, message_text, rate_limit, rooms, user_id
from chat.cloudevents import CONNECT, CONNECTED, DISCONNECTED, USER_PREFIX, CloudEvent
from chat.reply import Reply, json_reply, text
from chat.settings import Settings

MESSAGE = USER_PREFIX + "message"


@dataclass(frozen=True)
class Outcome:
    reply: Reply
    broadcast: dict[str, Any] | None = None
    notes: dict[str, str] = field(default_factory=dict)  # for the log line, never secrets


def stable_id(event: CloudEvent) -> str:
    """The same for every retry of one event, different for every other event."""
    seed = f"{event.connection_id}\n{event.type}\n{event.id}".encode()
    return hashlib.sha256(seed).hexdigest()[:24]


def _time(now: float) -> str:
    return (
        datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def rejection(reason: str) -> dict[str, str]:
    return {"type": "system", "event": "rejected", "message": reason}


def decide(
    event: CloudEvent, body: bytes, content_type: str | None, settings: Settings, now: float
) -> Outcome:
    if event.type == CONNECT:
        return _connect(event, body, settings)
    if event.type in (CONNECTED, DISCONNECTED):
        return _presence(event, now)
    if event.type == MESSAGE:
        return _message(event, body, content_type, settings, now)
    return Outcome(text(400, f"unsupported event type {event.type[:100]!r}"))


def _connect(event: CloudEvent, body: bytes, settings: Settings) -> Outcome:
    if event.user_id:
        # The client holds a token we signed for this user: keep what it says. Every
        # connection starts in the lobby, joined here so that `connected` finds it there.
        return Outcome(json_reply(200, {"groups": lobby_groups(event.user_id)}))
    if not settings.lazy_auth:
        return Outcome(text(401, "missing user id (connect through negotiate)"))
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return Outcome(text(400, "connect body is not valid JSON"))
    query = request.get("query") if isinstance(request, dict) else None
    try:
        user = user_id.from_connect_query(query or {})
    except user_id.InvalidUserId as error:
        return Outcome(text(401, str(error)))
    return Outcome(json_reply(200, {"userId": user, "groups": lobby_groups(user)}))


def lobby_groups(user: str) -> list[str]:
    return [rooms.group(rooms.LOBBY), rooms.presence_group(rooms.LOBBY, user)]


def _presence(event: CloudEvent, now: float) -> Outcome:
    user = event.user_id or "someone"
    joined = event.type == CONNECTED
    notice = {
        "type": "system",
        "event": "joined" if joined else "left",
        "user": user,
        "message": f"{user} {'joined' if joined else 'left'}",
        "id": stable_id(event),
        "time": _time(now),
    }
    return Outcome(Reply(200), broadcast=notice)


def _message(
    event: CloudEvent, body: bytes, content_type: str | None, settings: Settings, now: float
) -> Outcome:
    state = connection_state.decode(event.connection_state)
    capacity = settings.rate_limit_messages
    bucket = rate_limit.Bucket.from_state(state.get("rate"), capacity, now)
    allowed, bucket = rate_limit.take(bucket, capacity, settings.rate_limit_window_seconds, now)
    state["rate"] = bucket.to_state()
    headers = {connection_state.HEADER: connection_state.encode(state)}

    def refuse(reason: str, why: str) -> Outcome:
        return Outcome(json_reply(200, rejection(reason), headers), notes={"rejected": why})

    if not event.user_id:
        return refuse("Message not sent: anonymous connections cannot chat.", "anonymous")
    if not allowed:
        return refuse("Message not sent: you are sending too fast. Wait a moment.", "rate")
    # Room for 4-byte UTF-8 and JSON escapes; anything larger cannot be within the limit.
    max_bytes = settings.max_message_length * 6 + 1024
    try:
        raw = message_text.extract(body, content_type, max_bytes)
        message = message_text.clean(raw, settings.max_message_length)
    except message_text.Rejected as error:
        return refuse(str(error), "policy")
    chat = {"id": stable_id(event), "from": event.user_id, "message": message, "time": _time(now)}
    return Outcome(Reply(204, headers=headers), broadcast=chat)
