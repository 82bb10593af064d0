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

import contextlib
from dataclasses import dataclass
from typing import Any

from adapters.table_store import TableStore, user_key
from chat.storage_settings import STATE_TABLE

PENDING = "pending"
# The `user` of a mark about a whole room: a crowd arrived past the room's notice budget, and
# the sweep compares the room's listing with its records instead of user by user. Empty, as
# no user id is (a chosen name could be "*"); its RowKey is "<room>|*", as no key hash is.
ROOM_WIDE = ""
PRESENCE_PREFIX = "presence|"


@dataclass(frozen=True)
class Mark:
    room: str
    user: str
    due: float
    etag: str


def _mark_key(room: str, user: str) -> str:
    return f"{room}|{'*' if user == ROOM_WIDE else user_key(user)}"


class PresenceMarks:
    def __init__(self, store: TableStore) -> None:
        self.store = store

    async def mark(self, room: str, user: str, due: float) -> None:
        """Leave (or move) the mark for a change the room was not told."""
        fields = {
            "PartitionKey": PENDING,
            "RowKey": _mark_key(room, user),
            "room": room,
            "user": user,
            "due": float(due),
        }

        async def upsert() -> None:
            table = await self.store._table(STATE_TABLE)
            await table.upsert_entity(fields)

        await self.store._call("mark presence", upsert)

    async def due(self, now: float, limit: int) -> list[Mark]:
        """Marks due by `now`, at most `limit` (one query on the marks' partition)."""

        async def read() -> list[Mark]:
            table = await self.store._table(STATE_TABLE)
            pages = table.query_entities(
                "PartitionKey eq @pk and due le @now",
                parameters={"pk": PENDING, "now": float(now)},
                results_per_page=limit,
                select=["room", "user", "due"],
            ).by_page()
            marks: list[Mark] = []
            async for page in pages:
                async for entity in page:
                    room, user = entity.get("room"), entity.get("user")
                    if isinstance(room, str) and isinstance(user, str):
                        etag = entity.metadata.get("etag") or ""
                        marks.append(Mark(room, user, float(entity.get("due", 0.0)), etag))
                if len(marks) >= limit:
                    break
            return marks[:limit]

        return await self.store._call("read presence marks", read)

    async def clear(self, mark: Mark) -> bool:
        """Delete the mark unless it was written again since it was read (then False)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        async def delete() -> bool:
            table = await self.store._table(STATE_TABLE)
            try:
                await table.delete_entity(
                    PENDING,
                    _mark_key(mark.room, mark.user),
                    etag=mark.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                return False
            except ResourceNotFoundError:
                return True
            return True

        return await self.store._call("clear presence mark", delete)

    async def postpone(self, mark: Mark, due: float) -> None:
        """Move a mark's due time, unless it was written again since it was read."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        fields = {
            "PartitionKey": PENDING,
            "RowKey": _mark_key(mark.room, mark.user),
            "room": mark.room,
            "user": mark.user,
            "due": float(due),
        }

        async def update() -> None:
            table = await self.store._table(STATE_TABLE)
            # Written again (or cleared) meanwhile: that mark stands.
            with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
                await table.update_entity(
                    fields, etag=mark.etag, match_condition=MatchConditions.IfNotModified
                )

        await self.store._call("postpone presence mark", update)

    async def present_in_room(self, room: str, limit: int) -> list[str]:
        """Users the room was last told are present (at most `limit`): one partition query."""

        async def read() -> list[str]:
            table = await self.store._table(STATE_TABLE)
            pages = table.query_entities(
                "PartitionKey eq @pk and present eq true",
                parameters={"pk": PRESENCE_PREFIX + room},
                results_per_page=limit,
                select=["user"],
            ).by_page()
            users: list[str] = []
            async for page in pages:
                async for entity in page:
                    if isinstance(entity.get("user"), str):
                        users.append(entity["user"])
                if len(users) >= limit:
                    break
            return users[:limit]

        return await self.store._call("read room presence", read)

    async def present_users(self, before: float, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (room, user) recorded as present and not written since `before`,
        resuming where the previous call stopped and starting over at the end."""

        async def read() -> list[tuple[str, str]]:
            table = await self.store._table(STATE_TABLE)
            token = await self._cursor(table)
            # Any: the Tables SDK's continuation token is a dict of keys at run time, where
            # azure-core's annotations say str (and its page iterator has no such attribute).
            query: Any = table.query_entities(
                "PartitionKey gt @low and PartitionKey lt @high and present eq true "
                "and updated lt @before",
                parameters={
                    "low": PRESENCE_PREFIX,
                    "high": "presence}",  # '}' sorts right after '|'
                    "before": float(before),
                },
                results_per_page=limit,
                select=["PartitionKey", "user"],
            )
            pages = query.by_page(continuation_token=token)
            found: list[tuple[str, str]] = []
            async for page in pages:
                async for entity in page:
                    room = str(entity.get("PartitionKey", ""))[len(PRESENCE_PREFIX) :]
                    user = entity.get("user")
                    if room and isinstance(user, str):
                        found.append((room, user))
                break  # one page per run; the service may answer an empty page with a token
            after = _token_keys(pages.continuation_token)
            if after != _token_keys(token):
                await table.upsert_entity(
                    {
                        "PartitionKey": "sweep",
                        "RowKey": "recheck",
                        "next_pk": after[0],
                        "next_rk": after[1],
                    }
                )
            return found[:limit]

        return await self.store._call("read present users", read)

    @staticmethod
    async def _cursor(table: Any) -> dict[str, str] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = await table.get_entity("sweep", "recheck")
        except ResourceNotFoundError:
            return None
        pk, rk = entity.get("next_pk", ""), entity.get("next_rk", "")
        return {"PartitionKey": pk, "RowKey": rk} if pk or rk else None


def _token_keys(token: object) -> tuple[str, str]:
    if isinstance(token, dict):
        return str(token.get("PartitionKey") or ""), str(token.get("RowKey") or "")
    return "", ""
