"""The history table's layout: row keys, cursors, entities and the history query's parameters.

Pure. One table of messages: PartitionKey = room, RowKey = inverted milliseconds + "-" + id,
so the newest message sorts first and a page of history is one ordered range query.
Beside each message, in the same partition, a marker row "~id-<id>" makes the insert
idempotent: both are created in one entity-group transaction, so a retried event (same id)
fails as a whole with 409 and is neither stored nor sent twice. "~" sorts after every digit,
so markers never appear in a page (the query stops below them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# 10^13 ms is the year 2286: inverted times keep 13 digits (zero-padded) until then.
_MS_CEILING = 10**13 - 1
ROW_KEY = re.compile(r"\d{13}-[0-9a-f]{24}")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MARKER_PREFIX = "~id-"


class BadQuery(ValueError):
    """A history request we refuse with 400; the text says why."""


@dataclass(frozen=True)
class Page:
    room: str
    limit: int
    before: str | None  # a row key: return messages older than this one


def row_key(epoch_ms: int, message_id: str) -> str:
    return f"{_MS_CEILING - epoch_ms:013d}-{message_id}"


def iso_time(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


SENDER_KEYS = ("userId", "idp")


def to_entity(message: dict[str, Any], epoch_ms: int) -> dict[str, Any]:
    """A broadcast chat message as a table entity (property names are the JSON keys)."""
    return {
        "PartitionKey": message["room"],
        "RowKey": row_key(epoch_ms, message["id"]),
        "id": message["id"],
        "from": message["from"],
        "message": message["message"],
        "time": message["time"],
        # Sign-in mode: who sent it (chat/identity.py), so history lines can be told as own.
        **{key: message[key] for key in SENDER_KEYS if key in message},
    }


def marker(message: dict[str, Any], row: str) -> dict[str, Any]:
    """The row that claims a message id in its room (and points at the message's row)."""
    return {"PartitionKey": message["room"], "RowKey": MARKER_PREFIX + message["id"], "row": row}


def from_entity(entity: dict[str, Any]) -> dict[str, Any]:
    """The message exactly as it was broadcast."""
    return {
        "id": entity["id"],
        "room": entity["PartitionKey"],
        "from": entity["from"],
        "message": entity["message"],
        "time": entity["time"],
        **{key: entity[key] for key in SENDER_KEYS if isinstance(entity.get(key), str)},
    }


def parse_query(room: str, params: dict[str, str]) -> Page:
    """`limit` (1-200, default 50) and `before` (a cursor from an earlier page)."""
    raw_limit = params.get("limit", "").strip()
    if not raw_limit:
        limit = DEFAULT_LIMIT
    elif raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 6:
        limit = int(raw_limit)
        if not 1 <= limit <= MAX_LIMIT:
            raise BadQuery(f"limit must be from 1 to {MAX_LIMIT}")
    else:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    before = params.get("before")
    if before is not None and not ROW_KEY.fullmatch(before):
        raise BadQuery("before is not a cursor returned by this endpoint")
    return Page(room, limit, before or None)


def query_filter(page: Page) -> tuple[str, dict[str, str]]:
    """A parameterised filter: the room's partition, older than the cursor when there is one."""
    markers = MARKER_PREFIX[0]
    if page.before is None:
        return "PartitionKey eq @room and RowKey lt @markers", {
            "room": page.room,
            "markers": markers,
        }
    return "PartitionKey eq @room and RowKey gt @before and RowKey lt @markers", {
        "room": page.room,
        "before": page.before,
        "markers": markers,
    }


def page_body(room: str, newest_first: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """The response: oldest to newest, and the cursor of the next (older) page or null.

    `newest_first` holds up to limit + 1 entities; the extra one only says there is more.
    """
    shown = newest_first[:limit]
    more = len(newest_first) > limit
    return {
        "room": room,
        "messages": [from_entity(entity) for entity in reversed(shown)],
        "next": shown[-1]["RowKey"] if more and shown else None,
    }
