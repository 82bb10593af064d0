"""The presence sweep's state in `chatstate`: pending marks and the re-check cursor.

- PartitionKey "pending", RowKey "<room>|<user key>": a presence change in that room that was
  not announced (a notice budget was spent), with `room`, `user` and `due` (epoch seconds).
  All marks share one partition so the sweep finds the due ones with one query, which
  returns nothing when all is quiet; the sweep deletes a mark once the room knows the truth.
- PartitionKey "sweep", RowKey "recheck": where the last run's look at users recorded as
  present stopped (a continuation of a query over the "presence|<room>" records).

Writes of marks are plain upserts: a mark only says "look again"; the sweep reads the truth.
"""

from __future__ import annotations

from adapters.table_store import TableStore, user_key
from chat.presence import ROOM_WIDE
from chat.sweep import Mark

PENDING = "pending"
PRESENCE_PREFIX = "presence|"
RECHECK = ("sweep", "recheck")


def _mark_key(room: str, user: str) -> str:
    # A whole room's mark is "<room>|*", as no key hash is.
    return f"{room}|{'*' if user == ROOM_WIDE else user_key(user)}"


def _fields(room: str, user: str, due: float) -> dict[str, object]:
    key = {"PartitionKey": PENDING, "RowKey": _mark_key(room, user)}
    return key | {"room": room, "user": user, "due": float(due)}


class PresenceMarks:
    def __init__(self, store: TableStore) -> None:
        self.store = store

    async def mark(self, room: str, user: str, due: float) -> None:
        """Leave (or move) the mark for a change the room was not told."""
        await self.store.upsert_state(_fields(room, user, due), "mark presence")

    async def due(self, now: float, limit: int) -> list[Mark]:
        """Marks due by `now`, at most `limit` (one query on the marks' partition)."""
        rows, _ = await self.store.query_state(
            "read presence marks",
            "PartitionKey eq @pk and due le @now",
            {"pk": PENDING, "now": float(now)},
            ["room", "user", "due"],
            limit,
        )
        return [
            Mark(row["room"], row["user"], float(row.get("due", 0.0)), row["etag"])
            for row in rows
            if isinstance(row.get("room"), str) and isinstance(row.get("user"), str)
        ]

    async def clear(self, mark: Mark) -> bool:
        """Delete the mark unless it was written again since it was read (then False)."""
        key = _mark_key(mark.room, mark.user)
        return await self.store.delete_state_if(PENDING, key, mark.etag, "clear presence mark")

    async def postpone(self, mark: Mark, due: float) -> None:
        """Move a mark's due time, unless it was written again (or cleared) since it was
        read: that mark stands."""
        fields = _fields(mark.room, mark.user, due)
        await self.store.update_state_if(fields, mark.etag, "postpone presence mark")

    async def present_in_room(self, room: str, limit: int) -> list[str]:
        """Users the room was last told are present (at most `limit`): one partition query."""
        rows, _ = await self.store.query_state(
            "read room presence",
            "PartitionKey eq @pk and present eq true",
            {"pk": PRESENCE_PREFIX + room},
            ["user"],
            limit,
        )
        return [row["user"] for row in rows if isinstance(row.get("user"), str)]

    async def present_users(self, before: float, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (room, user) recorded as present and not written since `before`,
        resuming where the previous call stopped and starting over at the end."""
        cursor = await self.store.read_state(*RECHECK, "read presence re-check cursor")
        token = _token(cursor)
        rows, after = await self.store.query_state(
            "read present users",
            "PartitionKey gt @low and PartitionKey lt @high and present eq true "
            "and updated lt @before",
            {"low": PRESENCE_PREFIX, "high": "presence}", "before": float(before)},  # '}' > '|'
            ["PartitionKey", "user"],
            limit,
            continuation=token,
            one_page=True,  # one page per run; the service may answer an empty page with a token
        )
        found = [
            (str(row.get("PartitionKey", ""))[len(PRESENCE_PREFIX) :], row.get("user"))
            for row in rows
        ]
        if _token_keys(after) != _token_keys(token):
            next_pk, next_rk = _token_keys(after)
            fields = {"PartitionKey": RECHECK[0], "RowKey": RECHECK[1]}
            fields |= {"next_pk": next_pk, "next_rk": next_rk}
            await self.store.upsert_state(fields, "save presence re-check cursor")
        return [(room, user) for room, user in found if room and isinstance(user, str)]


def _token(cursor: dict[str, object] | None) -> dict[str, str] | None:
    if cursor is None:
        return None
    pk, rk = str(cursor.get("next_pk") or ""), str(cursor.get("next_rk") or "")
    return {"PartitionKey": pk, "RowKey": rk} if pk or rk else None


def _token_keys(token: object) -> tuple[str, str]:
    if isinstance(token, dict):
        return str(token.get("PartitionKey") or ""), str(token.get("RowKey") or "")
    return "", ""
