"""Catch-up (issue 17): a room's messages from a moment on, oldest first, paged forward. Pure.

`GET /api/rooms/{room}/messages?since=<RFC 3339>&limit=N`: the messages from that second on,
at most N, and `next`, a cursor to pass as `since` to continue (null at the end).

Row keys hold inverted whole seconds, so "from S on" is one key range, read newest first.
Reading the whole range could be unbounded (a `since` a year back), so it is read in time
windows from S forward (WINDOW_S, doubling each time): a reconnect after seconds or minutes is
one query, and a `since` long ago costs about log2(its age / WINDOW_S) queries for the empty
windows, each window read whole (its rows are put in the order the room saw them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chat import history

WINDOW_S = 64
# A key-time this far ahead of the handler's clock is never written (history.row_time).
FUTURE_S = history.CE_TIME_FUTURE_MS // 1000 + 1
_MS_CEILING = 10**13 - 1
_RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)", re.ASCII
)


@dataclass(frozen=True)
class Since:
    """From the whole second `second_ms` on; with `after`, only what follows that position
    of that second (a cursor from `next`)."""

    room: str
    limit: int
    second_ms: int
    after: tuple[str, str] | None = None  # (stored time, id) within the second


@dataclass(frozen=True)
class Window:
    """Keys of the seconds [start_ms, end_ms): `RowKey gt after and RowKey lt below`."""

    start_ms: int
    end_ms: int

    @property
    def below(self) -> str:
        return f"{_MS_CEILING - self.start_ms:013d}."

    @property
    def after(self) -> str:
        return f"{_MS_CEILING - self.end_ms:013d}."


def parse(room: str, since: str, limit_raw: str | None) -> Since:
    limit = history.parse_query(room, {"limit": limit_raw or ""}).limit
    value = since.strip()
    if _RFC3339.fullmatch(value):
        try:
            moment = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise history.BadQuery("since is not an RFC 3339 time") from None
        if moment.tzinfo is None:  # the pattern requires an offset; kept for safety
            moment = moment.replace(tzinfo=UTC)
        ms = int(moment.timestamp()) * 1000
        if not 0 <= ms <= _MS_CEILING:
            raise history.BadQuery("since is out of range")
        return Since(room, limit, ms)
    try:
        cursor = history.parse_cursor(value)
    except history.BadQuery:
        raise history.BadQuery(
            "since must be an RFC 3339 time (2026-01-31T12:00:00Z) or a next cursor"
        ) from None
    if cursor.position is None:
        raise history.BadQuery("since is not a cursor returned by catch-up")
    return Since(room, limit, _MS_CEILING - int(cursor.group), cursor.position)


def windows(query: Since, now_s: float) -> list[Window]:
    """The windows from `since` to just past now (FUTURE_S: keys may run that far ahead)."""
    end_ms = (int(now_s) + FUTURE_S) * 1000
    out: list[Window] = []
    start, width = query.second_ms, WINDOW_S * 1000
    while start <= end_ms:
        out.append(Window(start, start + width))
        start, width = start + width, width * 2
    return out or [Window(query.second_ms, query.second_ms + 1000)]


def kept(query: Since, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The window's messages after the cursor, oldest first."""
    visible = history.visible(history.Page(query.room, 1), rows)
    group = f"{_MS_CEILING - query.second_ms:013d}"
    if query.after is not None:
        visible = [
            row
            for row in visible
            if row["RowKey"][: history.PREFIX] != group or history._position(row) > query.after
        ]
    return list(reversed(history.in_order(visible)))


def body(query: Since, oldest_first: list[dict[str, Any]]) -> dict[str, Any]:
    """`{"room", "messages", "next"}`: at most `limit`, and a cursor when more were read."""
    shown = oldest_first[: query.limit]
    cursor = None
    if len(oldest_first) > query.limit and shown:
        last = shown[-1]
        stored, message_id = history._position(last)
        cursor = history.Cursor(last["RowKey"][: history.PREFIX], position=(stored, message_id))
    return {
        "room": query.room,
        "messages": [history.from_entity(row) for row in shown],
        "next": cursor.encode() if cursor else None,
    }
