"""The room directory and a person's conversation list (issue 17). Pure.

The directory is kept from a row per room holding when it last had a message. The message
path writes it at most once per room per ACTIVITY_EVERY_S on each instance (`due`), never
once per message: its `lastMessageTime` may lag the newest message by that much.
"""

from __future__ import annotations

from typing import Any

from chat import history, rooms

ACTIVITY_EVERY_S = 10.0
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class BadQuery(ValueError):
    """A directory request refused with 400; the text says why."""


def due(last_written: float | None, now: float) -> bool:
    """Write the room's activity row now? Once per ACTIVITY_EVERY_S per room per instance."""
    return last_written is None or now - last_written >= ACTIVITY_EVERY_S


def active_until(now: float) -> str:
    """What a room's activity row promises: no message of the room is stored later than this
    until the row is written again. A message within ACTIVITY_EVERY_S of this instance's last
    write is not written (the throttle), so the promise covers that span, plus 2 s for the
    clock difference between instances."""
    return history.iso_time(now + ACTIVITY_EVERY_S + 2.0)


def may_have_unread(activity_until: str | None, since: str) -> bool:
    """Can the room hold a message after `since` (the read position's stored time, or the
    join)? No activity row: no message since this feature wrote them (rows joined after it
    was deployed count from the join). Both are iso_time strings, which sort as times."""
    return activity_until is not None and activity_until >= since


def parse_limit(raw: str | None) -> int:
    value = (raw or "").strip()
    if not value:
        return DEFAULT_LIMIT
    if value.isascii() and value.isdigit() and len(value) <= 6:
        limit = int(value)
        if 1 <= limit <= MAX_LIMIT:
            return limit
    raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}")


def listing(
    activity: dict[str, str], present: dict[str, int], limit: int
) -> dict[str, list[dict[str, Any]]]:
    """`{"rooms": [{"room", "members", "lastMessageTime"}]}`, most recently active first
    (rooms with no message yet last, the busiest first). Names are folded to lowercase (rows
    written before names were case-insensitive count for their lowercase room); direct
    conversations never appear."""
    last: dict[str, str] = {}
    for room, when in activity.items():
        name = room.lower()
        if when > last.get(name, ""):
            last[name] = when
    members: dict[str, int] = {}
    for room, count in present.items():
        members[room.lower()] = members.get(room.lower(), 0) + count
    names = {
        name
        for name in (*last, *members)
        if rooms.ROOM_PATTERN.fullmatch(name) and not rooms.is_direct(name)
    }
    ordered = sorted(names, key=lambda n: (last.get(n, ""), members.get(n, 0), n), reverse=True)
    return {
        "rooms": [
            {"room": n, "members": members.get(n, 0), "lastMessageTime": last.get(n)}
            for n in ordered[:limit]
        ]
    }


def conversations(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """`/api/me/rooms`: each entry {"room", "kind", "with"?, "lastMessageTime", "unread",
    "mentions"}, most recently active first."""
    ordered = sorted(
        entries, key=lambda e: (e.get("lastMessageTime") or "", e["room"]), reverse=True
    )
    out = []
    for entry in ordered:
        item = {
            "room": entry["room"],
            "kind": entry.get("kind", "room"),
            **({"with": entry["with"]} if entry.get("with") else {}),
            "lastMessageTime": entry.get("lastMessageTime"),
            "unread": entry.get("unread", 0),
            "mentions": entry.get("mentions", 0),
        }
        out.append(item)
    return {"rooms": out}
