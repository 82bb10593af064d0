"""Read positions and unread counts (issue 17). Pure.

A read position is the newest message a person has seen in a room, as a position in the
room's history: (the row key's 13-digit group, the stored `time`, the id), the same order
chat.history shows a room in. It only moves forward, so a stale tab that reports an older
message cannot make read messages unread again.

Unread is counted from the newest rows of the room (one bounded read, UNREAD_READ rows),
capped at UNREAD_CAP: past that the count is "100+" anyway, so no read is ever unbounded.
Unread mentions are counted in the same rows: past the window (more than UNREAD_READ newer
rows) an older mention is not counted.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from chat import connection_state, history
from chat.plan import Failed, MarkRead, Outcomes, Plan, SendToUser, after, done
from chat.reply import Reply

UNREAD_CAP = 100
# One more than the cap, plus the rest of a busy boundary second (history.GROUP_SLACK): a
# window cut inside the read position's own second still counts its later rows.
UNREAD_READ = UNREAD_CAP + 1 + history.GROUP_SLACK

Position = tuple[str, str, str]  # (key group, stored time, id)


def position(row: dict[str, Any]) -> Position:
    key = str(row.get("RowKey", ""))
    stored, _ = history._position(row) if len(key) > history.PREFIX else ("", "")
    return key[: history.PREFIX], stored, str(row.get("id", ""))


def joined_at(epoch_s: float) -> Position:
    """The position just before anything said after `epoch_s` (a room joined with no read
    position yet counts what came since the join as unread)."""
    whole_ms = int(epoch_s) * 1000
    return history.row_key(whole_ms, "")[: history.PREFIX], history.iso_time(epoch_s), ""


def window_end(mark: Position) -> str:
    """The row-key bound below which lie the mark's own second and every later one (keys are
    inverted times: newer is smaller; "." sorts after the "-" that ends a key's group), so
    a window read below it holds every row `newer` than the mark, and the rows of the mark's
    second before it (the newest message is among them when nothing came after the mark)."""
    return min(mark[0] + ".", history.END)


def newer(a: Position, b: Position) -> bool:
    """Is `a` later in the room than `b`? Groups are inverted times: smaller is newer."""
    if a[0] != b[0]:
        return a[0] < b[0]
    return (a[1], a[2]) > (b[1], b[2])


def advances(new: Position, old: Position | None) -> bool:
    return old is None or newer(new, old)


def _after(
    rows: list[dict[str, Any]], mark: Position | None, user: str | None
) -> list[dict[str, Any]]:
    """The messages among `rows` after `mark`, not the user's own (their `userId` in sign-in
    mode, else their name)."""
    return [
        row
        for row in history.visible(history.Page("", 1), rows)
        if (user is None or row.get("userId", row.get("from")) != user)
        and (mark is None or newer(position(row), mark))
    ]


def unread(rows: list[dict[str, Any]], mark: Position | None, user: str | None = None) -> int:
    """How many of the room's newest rows (as read: UNREAD_READ of them) are after `mark`,
    not counting the user's own."""
    return min(len(_after(rows, mark, user)), UNREAD_CAP)


def mentions(rows: list[dict[str, Any]], mark: Position | None, user: str) -> int:
    """How many of the unread rows (the same window, the same rule) mention `user`: their
    `mentions` (JSON text, chat/history.py) holds the user's id. Capped like unread."""
    count = 0
    for row in _after(rows, mark, user):
        listed = history._json(row.get("mentions"), list) or []
        count += user in listed
    return min(count, UNREAD_CAP)


def last_time(rows: list[dict[str, Any]]) -> str | None:
    """The stored time of the newest message among the rows, None when there are none."""
    shown = history.visible(history.Page("", 1), rows)
    return str(history.in_order(shown)[0].get("time")) if shown else None


def frame(room: str, message_id: str) -> dict[str, Any]:
    return {"type": "read", "room": room, "id": message_id}


# --- the decision: a `read` frame -------------------------------------------------------------


def read(
    user: str, connection_id: str, room: str, message_id: str, state: dict[str, Any], now: float
) -> Plan:
    """Move the position forward; then tell the user's other connections (another tab or
    device clears its badge at once). Advisory: a failure is logged, the sender gets 204."""
    move = MarkRead(user, room, message_id, now)
    return after(partial(_moved, user, connection_id, room, message_id, state), move)


def _moved(
    user: str,
    connection_id: str,
    room: str,
    message_id: str,
    state: dict[str, Any],
    outcomes: Outcomes,
) -> Plan:
    (moved,) = outcomes
    reply = Reply(204, headers={connection_state.HEADER: connection_state.encode(state)})
    if isinstance(moved, Failed):
        return done(reply, read="failed")
    if moved is not True:
        return done(reply, read="kept")
    # Connection ids are the service's (no quote in them), escaped all the same.
    others = "connectionId ne '" + connection_id.replace("'", "''") + "'"
    return done(reply, SendToUser(user, frame(room, message_id), filter=others), read="moved")
