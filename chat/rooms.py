"""Rooms: their names, the service groups that carry them, and the commands clients send.

Pure: a user event's body in, a Command out (or Rejected with a reason for the sender).
A frame that is not a JSON object with a `type` is a chat message to the lobby, so the
tutorial's page and clients keep working unchanged.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from chat import bounded_json, message_text, typing_notice
from chat.errors import Refused as Rejected  # the one refusal type (chat/errors.py)

LOBBY = "lobby"
MAX_ROOM_LENGTH = 64
ROOM_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A message's `tag`: a client's own label for one sent text, echoed back to it (on the
# broadcast and on a refusal) so a tab can tell its own lines from a same-named user's.
# Anything else is ignored, not refused: it is the client's hint, never the server's data.
TAG_PATTERN = re.compile(r"[0-9a-f]{1,16}")
# A connection may be in this many rooms at once (the lobby included): the list travels in
# its connection state on every event, and each room costs a group membership.
MAX_ROOMS_PER_CONNECTION = 20

JOIN, LEAVE, MESSAGE, TYPING = "join", "leave", "message", "typing"
# Moderation (chat/moderation.py reads the rest of the frame; chat/roles.py who may).
MODERATION = ("kick", "ban", "unban", "mute", "unmute", "slowmode", "topic", "mod", "report")
RESOLVE = "resolve"  # a report: no room in the frame
# ban and unban without a room (no "room", or null): the whole chat, admins only (issue 19).
CHAT_BAN, CHAT_UNBAN = "chatban", "chatunban"
# Acting on a stored message (chat/edits.py, chat/reactions.py): each names it by `id`.
EDIT, DELETE, REACT = "edit", "delete", "react"
# A message id as chat.events.stable_id makes it: checked before it reaches a table filter.
MESSAGE_ID = re.compile(r"[0-9a-f]{24}", re.ASCII)
MAX_EMOJI_CHARS = 64  # far above the longest RGI sequence (a family: 11 code points)
READ = "read"  # issue 17: the newest message its sender has seen in a room
DM = "dm"  # issue 17: a direct message (chat/direct.py)
BLOCKS = ("block", "unblock")  # issue 19: no room (chat/blocks.py)
COMMANDS = (JOIN, LEAVE, MESSAGE, TYPING, EDIT, DELETE, REACT, READ, DM)
# A direct conversation's name (chat/direct.py): never joined as a room.
DIRECT_PATTERN = re.compile(r"dm-[0-9a-f]{32}", re.ASCII)

# Group names. Room names hold no ".", so "r.<room>" and "p2.<room>.<hash>" cannot collide.
ROOM_GROUP_PREFIX = "r."
# Per-user presence groups carry a hash of the user id, not the id: a signed-in user id may be
# 1,186 characters long and the service takes group names of at most 1,024. "p2.", not the
# earlier "p." (which held the user id itself): no chosen name can make a new group's name
# equal an old group's, while connections made before the change are still in old groups.
PRESENCE_GROUP_PREFIX = "p2."
MAX_GROUP_LENGTH = 1024  # the service's limit for a group name
_USER_HASH_HEX = 32  # 128 bits of SHA-256: no two users share a group by chance


class InvalidRoom(ValueError):
    """The reason is meant for the person who sent the name."""


@dataclass(frozen=True)
class Command:
    kind: str
    room: str
    text: str | None = None  # raw text of a chat message (cleaned by the caller's policy)
    message_id: str | None = None  # edit, delete, react, read: the message; message: its replyTo
    emoji: str | None = None  # react: as sent (chat/emoji.py judges it)
    frame: dict[str, Any] | None = None  # a moderation command's whole frame
    tag: str | None = None  # the client's tag of a chat message, when it is a usable one
    to: str | None = None  # `dm`: the recipient's user id (room: "" until the sender is known)


def validate(raw: object) -> str:
    """The room name, lowercase, or InvalidRoom: 1-64 characters of A-Z a-z 0-9 _ - (no
    trimming). Names are case-insensitive: `Dev`, `DEV` and `dev` are the room `dev`."""
    if not isinstance(raw, str) or not raw:
        raise InvalidRoom("missing room name")
    if len(raw) > MAX_ROOM_LENGTH:
        raise InvalidRoom(f"room name is too long (at most {MAX_ROOM_LENGTH} characters)")
    if not ROOM_PATTERN.fullmatch(raw):
        raise InvalidRoom("room name may hold only letters A-Z a-z, digits, '_' and '-'")
    return raw.lower()


def is_direct(room: str) -> bool:
    """A direct conversation's name (`dm-<32 hex>`), not a room anyone may join."""
    return DIRECT_PATTERN.fullmatch(room) is not None


def group(room: str) -> str:
    """The Web PubSub group that carries a room's messages."""
    return ROOM_GROUP_PREFIX + room


def presence_group(room: str, user: str) -> str:
    """A group per (room, user): its connection count says whether the user is in the room.

    Always 3 + 64 + 1 + 32 = 100 characters at most, whatever the user id. The hash is the
    same on every instance and every deploy (SHA-256 of the id's UTF-8); `surrogatepass`
    only so that no text can make it raise (ids with lone surrogates are refused earlier).
    """
    digest = hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{PRESENCE_GROUP_PREFIX}{room}.{digest[:_USER_HASH_HEX]}"


def parse(body: bytes, content_type: str | None, max_bytes: int) -> Command:
    """Read one user event into a Command, or raise Rejected (with the room when known)."""
    if len(body) > max_bytes:
        raise Rejected("Message not sent: it is too long.")
    value = _json_object(body)
    if value is None or "type" not in value:
        try:
            text = message_text.extract(body, content_type, max_bytes)
        except Rejected as error:
            raise Rejected(error.reason, LOBBY) from None
        return Command(MESSAGE, LOBBY, text)
    kind = value.get("type")
    if kind == RESOLVE:
        return Command(kind, LOBBY, frame=value)
    if kind in ("ban", "unban") and value.get("room") is None:
        return Command(CHAT_BAN if kind == "ban" else CHAT_UNBAN, LOBBY, frame=value)
    if kind in BLOCKS:  # chat/blocks.py reads the frame's "user"
        return Command(kind, LOBBY, frame=value)
    if kind in MODERATION:
        try:
            room = validate(value.get("room"))
        except InvalidRoom as error:
            raise Rejected(f"Command {kind} refused: {error}.") from None
        return Command(kind, room, frame=value)
    if kind not in COMMANDS:
        shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
        raise Rejected(
            f"Unknown command {shown!r}: use join, leave, message, typing, edit, delete, react, "
            "read or dm."
        )
    if kind == DM:
        return _direct(value)
    try:
        room = validate(value.get("room"))
    except InvalidRoom as error:
        raise Rejected(f"Command {kind} refused: {error}.") from None
    if kind in (EDIT, DELETE, REACT):
        return _on_message(kind, room, value)
    if kind == JOIN and is_direct(room):
        raise Rejected(f"Could not join {room}: it is a direct conversation, not a room.", room)
    if kind == READ:
        seen = value.get("id")
        if not isinstance(seen, str) or not MESSAGE_ID.fullmatch(seen):
            raise Rejected('Command read refused: "id" must be a message id.', room)
        return Command(READ, room, message_id=seen)
    if kind == TYPING and is_direct(room):
        # chat/direct_typing.py reads the frame's "to" (the pair must name the room).
        return Command(TYPING, room, frame=value)
    if kind != MESSAGE:
        return Command(kind, room)
    message = value.get("message")
    if not isinstance(message, str):
        raise Rejected('Message not sent: "message" must be text.', room)
    reply_to = value.get("replyTo")
    if reply_to is not None and not (isinstance(reply_to, str) and MESSAGE_ID.fullmatch(reply_to)):
        raise Rejected('Message not sent: "replyTo" is not the id of a message.', room)
    return Command(MESSAGE, room, message, reply_to, tag=tag_of(value.get("tag")))


def tag_of(raw: object) -> str | None:
    """The client's tag if it is 1-16 lowercase hex digits, else None (ignored)."""
    return raw if isinstance(raw, str) and TAG_PATTERN.fullmatch(raw) else None


def _on_message(kind: str, room: str, value: dict[str, Any]) -> Command:
    """edit, delete, react: the message's id, and the new text or the emoji."""
    message_id = value.get("id")
    if not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
        raise Rejected(f'Not done: "id" is not the id of a message ({kind}).', room)
    if kind == EDIT:
        message = value.get("message")
        if not isinstance(message, str):
            raise Rejected('Not edited: "message" must be text.', room)
        return Command(kind, room, message, message_id)
    if kind == REACT:
        emoji = value.get("emoji")
        if not isinstance(emoji, str) or not emoji or len(emoji) > MAX_EMOJI_CHARS:
            raise Rejected('No reaction: "emoji" must be one emoji.', room)
        return Command(kind, room, None, message_id, emoji)
    return Command(kind, room, None, message_id)


def _direct(value: dict[str, Any]) -> Command:
    to, message = value.get("to"), value.get("message")
    if not isinstance(to, str) or not to or len(to) > 2048:
        raise Rejected('Message not sent: "to" must be a user id.')
    if not isinstance(message, str):
        raise Rejected('Message not sent: "message" must be text.')
    return Command(DM, "", message, to=to)


def _json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None for anything else (plain text, arrays, bad JSON)."""
    stripped = body.lstrip()
    if not stripped.startswith(b"{"):
        return None  # cheap: most plain chat text is never handed to the JSON parser
    try:
        value = bounded_json.loads(body, max_bytes=len(body))  # the caller bounded the size
    except bounded_json.InvalidJson:
        return None
    return value if isinstance(value, dict) else None


# --- which rooms a connection is in: kept in its connection state, so any instance knows ---


def rooms_of(state: dict[str, Any]) -> list[str]:
    """The rooms recorded in a connection's state; the lobby always, anything odd ignored."""
    raw = state.get("rooms")
    rooms = [LOBBY]
    if isinstance(raw, list):
        for room in raw[:MAX_ROOMS_PER_CONNECTION]:
            # Lowercase: a connection made before names were case-insensitive may hold `Dev`.
            if isinstance(room, str) and ROOM_PATTERN.fullmatch(room):
                room = room.lower()
                if room not in rooms:
                    rooms.append(room)
    return rooms


def with_room(state: dict[str, Any], room: str) -> dict[str, Any]:
    """The state after joining `room`; Rejected when the connection is in too many rooms."""
    rooms = rooms_of(state)
    if room not in rooms:
        if len(rooms) >= MAX_ROOMS_PER_CONNECTION:
            raise Rejected(
                f"Could not join {room}: a connection can be in at most "
                f"{MAX_ROOMS_PER_CONNECTION} rooms. Leave one first.",
                room,
            )
        rooms.append(room)
    return state | {"rooms": rooms[1:]}


def without_room(state: dict[str, Any], room: str, now: float) -> dict[str, Any]:
    """The state after leaving `room`. The room's typing time is kept while it still throttles
    (leaving and joining again must not reset it); older ones are dropped, so the state
    stays small however many rooms come and go."""
    rooms = [r for r in rooms_of(state)[1:] if r != room]
    return typing_notice.recent(state, now) | {"rooms": rooms}
