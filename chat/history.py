"""The history table's layout: row keys, cursors, entities, and how a page is read and put in
order.

Pure. One table of messages: PartitionKey = room, RowKey = inverted milliseconds (13 digits)
of the event's `ce-time`, in whole seconds, + "-" + id, so the newest message sorts first and
a retried event (same ce-id, hence the same id, and the same ce-time) has the same key: one
plain insert is idempotent by itself, answering 409 to the retry.

`ce-time` has whole-second resolution, so within one key prefix (a "group": every row whose
key starts with the same 13 digits) the key orders rows by id, not by arrival. Each row also
keeps `time`, the handler's clock when it was stored (the time the message was broadcast
with), and a page is put in order when it is read: groups newest first by key, the rows of a
group newest first by (`time`, id). A page therefore needs the whole of its boundary group,
and a cursor may point inside a group (its prefix, the last shown row's stored time and id).

Rows of the earlier layout (keys from the handler's clock, each with a marker row
`~id-<id>`) read the same way: their groups are single milliseconds. Markers sort after
every digit, so no read of messages reaches them; an event whose `ce-time` is missing or
unusable is still stored that way (see `row_time`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chat import reactions, text_rules

# 10^13 ms is the year 2286: inverted times keep 13 digits (zero-padded) until then.
_MS_CEILING = 10**13 - 1
PREFIX = 13  # digits of a row key's time: the rows sharing them form a group
ROW_KEY = re.compile(r"\d{13}-[0-9a-f]{24}", re.ASCII)
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MARKER_PREFIX = "~id-"
END = MARKER_PREFIX[0]  # every message key sorts below it, every marker above
# A ce-time this far from the handler's clock is not trusted for a key: a key in the future
# would hold a message at the top of history until that time came; the past side covers
# the service's retries of an event (seconds to minutes) with room to spare.
CE_TIME_FUTURE_MS = 60_000
CE_TIME_PAST_MS = 3_600_000
# The first read of a page takes this many rows beyond limit + 1, so the rest of the
# boundary group usually comes in the same round trip: a second of up to 9 messages (the
# flood limit allows a user 2 a second, so that is several people writing at full speed).
# A busier boundary second costs a second query for the rest of it. Each row read costs
# about as much as it would in the page (0.05-0.1 ms on Azurite), a second query about 4 ms.
GROUP_SLACK = 8
WHOLE = 1000  # the service's largest page: reads of a whole group use it
_SENT = ("RowKey", "id", "from", "message", "time", "userId", "idp", "lookalike")
# What acting on a message (chat/edits.py, chat/reactions.py) adds to its row; the page reads
# them with the row itself, so a page with edits and reactions costs the same queries.
ACTED = ("editedAt", "deleted", "replyTo", "mentions", "reactions", reactions.REV)
SELECT: tuple[str, ...] = _SENT + ACTED
# Finding a message by id (no index row: see adapters/table_store.find_message) reads at most
# this many pages of the room's partition, newest first (the service scans up to 1,000 rows
# for each).
FIND_PAGES = 8

_WITHIN = re.compile(r"(\d{13})-(\d{17})-([0-9a-f]{24})", re.ASCII)
# `time` as iso_time writes it: such strings sort as the times they stand for.
_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
_NO_TIME = "0" * 17  # the stamp of a row whose time is unreadable (it sorts oldest)
_GROUP = re.compile(r"\d{13}", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadQuery(ValueError):
    """A history request we refuse with 400; the text says why."""


@dataclass(frozen=True)
class Cursor:
    """Where the previous page stopped. One of:
    - `row`: a row key (the earlier layout's cursor): older than that key;
    - `group` alone: older than every row of that group;
    - `group` and `position` (stored time, id): the rows of the group older than that one,
      then the older groups. In the cursor the time is its 17 digits (yyyyMMddHHmmssfff).
    """

    group: str
    row: str | None = None
    position: tuple[str, str] | None = None

    def encode(self) -> str:
        if self.row is not None:
            return self.row
        if self.position is None:
            return self.group
        stored, message_id = self.position
        return f"{self.group}-{_stamp(stored)}-{message_id}"


@dataclass(frozen=True)
class Page:
    room: str
    limit: int
    before: Cursor | None = None


@dataclass(frozen=True)
class Read:
    """One range query of the room's partition: keys in (after, below), newest first;
    at most `top` rows, or all of them when `top` is None."""

    after: str | None
    below: str
    top: int | None


def row_key(epoch_ms: int, message_id: str) -> str:
    return f"{_MS_CEILING - epoch_ms:013d}-{message_id}"


def row_time(ce_time_ms: int | None, now_ms: int) -> tuple[int, bool]:
    """The time for a message's row key, and whether it is the event's own (the same on a
    retry). Always a whole second: the service's ce-time has that resolution, and one group
    size keeps every message of a second in one group, ordered by when it was stored, whatever
    resolution a service sends and wherever the time came from. A missing, malformed or
    implausible ce-time gives the handler's clock instead: such a row needs a marker to stay
    idempotent (the earlier layout's way)."""
    stable = ce_time_ms is not None and (
        -CE_TIME_PAST_MS <= ce_time_ms - now_ms <= CE_TIME_FUTURE_MS
    )
    chosen = ce_time_ms if stable and ce_time_ms is not None else now_ms
    return chosen - chosen % 1000, stable


def iso_time(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


SENDER_KEYS = ("userId", "idp")
# False on a message no reply has quoted yet (chat/replies.py sets it before a reply is
# stored): deleting it need not search for replies. A row without it (stored before the mark
# existed) is searched.
REPLIED = "replied"
# Sign-in mode: set (true) when the sender's provider name mixes scripts with look-alike letters.
LOOKALIKE = "lookalike"


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
        **({LOOKALIKE: True} if message.get(LOOKALIKE) is True else {}),
        **_acted_entity(message),
        REPLIED: False,
    }


def _acted_entity(message: dict[str, Any]) -> dict[str, Any]:
    """A new message's reply and mentions, as row properties (JSON text)."""
    fields: dict[str, Any] = {}
    if isinstance(message.get("replyTo"), dict):
        fields["replyTo"] = json.dumps(message["replyTo"], ensure_ascii=False)
        # Filterable: deleting the original finds its replies and takes its text out of them.
        fields["replyToId"] = message["replyTo"].get("id", "")
    if message.get("mentions"):
        fields["mentions"] = json.dumps(message["mentions"], ensure_ascii=False)
    return fields


def _json(value: Any, kind: type) -> Any:
    """A JSON property as stored, or None when absent or not what this app writes."""
    if not isinstance(value, str):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, kind) else None


def tombstone(entity: dict[str, Any]) -> dict[str, Any]:
    """A deleted message's row: who and when stay (the thread still reads in order), the text,
    its reply, mentions and reactions go; storage keeps none of it."""
    kept = ("PartitionKey", "RowKey", "id", "from", "time", *SENDER_KEYS, LOOKALIKE, "ops")
    return {key: entity[key] for key in kept if key in entity} | {"deleted": True}


def find_filter(
    room: str, message_id: str, newer_than_ms: int | None
) -> tuple[str, dict[str, str]]:
    """A parameterised filter for one message of the room by id: messages only (below the
    markers), and with `newer_than_ms`, only keys of that time or later."""
    parameters = {"room": room, "id": message_id, "below": END}
    if newer_than_ms is not None:
        # Newer rows have smaller inverted times: every key of newer_than_ms's second or later
        # sorts below this prefix.
        parameters["below"] = f"{_MS_CEILING - newer_than_ms + 1:013d}"
    return "PartitionKey eq @room and RowKey lt @below and id eq @id", parameters


def replies_filter(room: str, message_id: str, below: str) -> tuple[str, dict[str, str]]:
    """A parameterised filter for the replies to a message: newer rows (keys below its own)."""
    parameters = {"room": room, "id": message_id, "below": below}
    return "PartitionKey eq @room and RowKey lt @below and replyToId eq @id", parameters


def unquoted(entity: dict[str, Any]) -> dict[str, Any] | None:
    """A reply's row once its original is deleted: the quote says so, with no text of it
    (None: the row quotes nothing, or no text)."""
    quoted = _json(entity.get("replyTo"), dict)
    if quoted is None or quoted.get("deleted") is True:
        return None
    kept = {k: quoted[k] for k in ("id", "from", "userId") if k in quoted}
    return entity | {"replyTo": json.dumps(kept | {"deleted": True}, ensure_ascii=False)}


def marker(message: dict[str, Any], row: str) -> dict[str, Any]:
    """The row that claims a message id in its room (and points at the message's row)."""
    return {"PartitionKey": message["room"], "RowKey": MARKER_PREFIX + message["id"], "row": row}


def from_entity(entity: dict[str, Any]) -> dict[str, Any]:
    """The message as it was broadcast, repaired: a lone surrogate stored before the text rules
    refused them (chat/text_rules.py) is served as U+FFFD, so the row never breaks its page.
    As it is now: edited text with `editedAt`, a tombstone without text, `replyTo`,
    `mentions` and `reactions` (chat/reactions.py's whole-state form)."""
    sent = {
        "id": _text(entity["id"]),
        "room": _text(entity["PartitionKey"]),
        "from": _text(entity["from"]),
        "time": _text(entity["time"]),
        **{key: _text(entity[key]) for key in SENDER_KEYS if isinstance(entity.get(key), str)},
        **({LOOKALIKE: True} if entity.get(LOOKALIKE) is True else {}),
    }
    if entity.get("deleted") is True:
        return sent | {"deleted": True}
    message = sent | {"message": _text(entity.get("message", ""))}
    if isinstance(entity.get("editedAt"), str):
        message["editedAt"] = entity["editedAt"]
    reply_to = _json(entity.get("replyTo"), dict)
    if reply_to is not None:
        message["replyTo"] = {k: _text(v) for k, v in reply_to.items()}
    mentions = _json(entity.get("mentions"), list)
    if mentions:
        message["mentions"] = [_text(m) for m in mentions if isinstance(m, str)]
    stored = _json(entity.get("reactions"), list)
    if stored:
        message["reactions"] = reactions.public(reactions.parse(stored))
    if reactions.revision(entity):  # orders this state against a later `reactions` frame
        message[reactions.REV] = reactions.revision(entity)
    return message


def _text(value: Any) -> Any:
    return text_rules.repair(value) if isinstance(value, str) else value


# --- the request ------------------------------------------------------------------------------


def parse_cursor(value: str) -> Cursor:
    if ROW_KEY.fullmatch(value):
        return Cursor(value[:PREFIX], row=value)
    if _GROUP.fullmatch(value):
        return Cursor(value)
    within = _WITHIN.fullmatch(value)
    if within is not None:
        stored = _unstamp(within[2])
        if stored is not None:
            return Cursor(within[1], position=(stored, within[3]))
    raise BadQuery("before is not a cursor returned by this endpoint")


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
    return Page(room, limit, None if before is None else parse_cursor(before))


# --- reading a page ---------------------------------------------------------------------------


def read_filter(room: str, read: Read) -> tuple[str, dict[str, str]]:
    """A parameterised filter for one read of the room's partition."""
    parameters = {"room": room, "below": read.below}
    if read.after is None:
        return "PartitionKey eq @room and RowKey lt @below", parameters
    parameters["after"] = read.after
    return "PartitionKey eq @room and RowKey gt @after and RowKey lt @below", parameters


def reads(page: Page) -> Generator[Read, list[dict[str, Any]], None]:
    """The reads a page takes, each sent the rows it returned (newest first by key).

    At most three: the rest of the cursor's group when the cursor is inside one (all of it);
    then limit + 1 + GROUP_SLACK rows, less what the first read kept; then, when the boundary
    group may go on past those, the rest of that group (all of it). A page thus reads what it
    shows, one more row, up to GROUP_SLACK rows beyond, and the rest of its boundary group.
    """
    cursor, limit = page.before, page.limit
    kept = 0
    if cursor is None:
        after = None
    elif cursor.row is not None:
        after = cursor.row
    else:
        if cursor.position is not None:
            rows = yield Read(cursor.group + "-", cursor.group + ".", None)
            kept = len(visible(page, rows))
            if kept > limit:
                return
        after = cursor.group + "."  # '.' sorts after '-': past every key of the group
    main = Read(after, END, limit + 1 + GROUP_SLACK - kept)
    rows = yield main
    assert main.top is not None
    if len(rows) < main.top:
        return  # the room has no more
    # The limit-th row of the page (in key order) is in the group that ends the page; when
    # the last row read is in that group too, the group may go on beyond it.
    fresh = visible(page, rows)
    if not 0 < limit - kept <= len(fresh):
        return
    boundary = fresh[limit - kept - 1]["RowKey"][:PREFIX]
    last = rows[-1]["RowKey"]
    if last[:PREFIX] == boundary:
        yield Read(last, boundary + ".", None)


def _stored(entity: dict[str, Any]) -> str:
    """The handler's clock when the row was stored: its `time`, in iso_time's form (which
    sorts as the times it stands for); "" (oldest) when unreadable."""
    value = entity.get("time")
    if isinstance(value, str) and _CANONICAL.fullmatch(value):
        return value  # every row this app writes: no parsing
    try:
        moment = datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        canonical = iso_time(moment.timestamp())
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return canonical if _CANONICAL.fullmatch(canonical) else ""


def _stamp(stored: str) -> str:
    """A stored time as the cursor writes it: its digits."""
    if not stored:
        return _NO_TIME
    return "".join(
        stored[a:b] for a, b in ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19), (20, 23))
    )


def _unstamp(stamp: str) -> str | None:
    """The stored time a cursor's digits stand for; None when they are no time at all."""
    if stamp == _NO_TIME:
        return ""
    s = stamp
    stored = f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[8:10]}:{s[10:12]}:{s[12:14]}.{s[14:17]}Z"
    try:
        datetime.fromisoformat(stored)
    except ValueError:
        return None
    return stored


def _position(entity: dict[str, Any]) -> tuple[str, str]:
    return _stored(entity), entity["RowKey"][PREFIX + 1 :]


def visible(page: Page, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that belong on this page or later ones: messages (no markers, nothing else),
    and of the cursor's group only those older than its position."""
    cursor = page.before
    kept = []
    for row in rows:
        key = row.get("RowKey", "")
        if len(key) <= PREFIX or key[PREFIX] != "-" or not key[:PREFIX].isdigit():
            continue
        if (
            cursor is not None
            and cursor.position is not None
            and key[:PREFIX] == cursor.group
            and _position(row) >= cursor.position
        ):
            continue
        kept.append(row)
    return kept


def in_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first: groups by key, a group's rows by when they were stored, then by id."""
    by_arrival = sorted(rows, key=_position, reverse=True)
    return sorted(by_arrival, key=lambda row: row["RowKey"][:PREFIX])  # stable


def page_body(room: str, rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """The response: oldest to newest, and the cursor of the next (older) page or null.

    `rows` are the page's visible rows as `reads` gathered them: whatever the page shows, its
    whole boundary group, and when there are more, at least one row beyond what it shows.
    """
    ordered = in_order(rows)
    shown = ordered[:limit]
    cursor = None
    if len(ordered) > limit and shown:
        last, following = shown[-1], ordered[limit]
        group = last["RowKey"][:PREFIX]
        if following["RowKey"][:PREFIX] == group:
            cursor = Cursor(group, position=_position(last)).encode()
        else:
            cursor = Cursor(group).encode()
    return {
        "room": room,
        "messages": [from_entity(entity) for entity in reversed(shown)],
        "next": cursor,
    }
