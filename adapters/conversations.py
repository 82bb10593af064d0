"""A person's conversations, read positions and the room directory in Table Storage (issue 17).

Rows (all in `chatstate`; docs/storage.md, "Conversations"):
- `mine|<user key>` / <room>: a room the user joined, or a direct conversation they are in,
  with their read position (`readGroup`, `readTime`, `readId`) once they have read in it;
- `rooms` / <room>: when the room last had a message (`lastMessageTime`), for the directory.
Unread counts read the newest rows of each room from `chatmessages` (chat.read_marks).
The rules are chat's (chat/read_marks.py, chat/directory.py); this module only reads and writes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from adapters.table_store import MAX_CONFLICT_RETRIES, TableStore, user_key
from chat import catch_up, directory, history, read_marks, rooms
from chat.storage_settings import MESSAGES_TABLE, STATE_TABLE

if TYPE_CHECKING:
    from azure.data.tables.aio import TableClient

    from adapters.instance_memory import ListedRooms

log = logging.getLogger("chat")
DIRECTORY = "rooms"
# "No more than 15 discrete comparisons are permitted within a $filter string" (Microsoft
# Learn, Querying tables and entities); Azurite does not enforce it.
KEYS_PER_QUERY = 14
_WINDOW_SELECT = ["RowKey", "id", "time", "userId", "from", "mentions"]
_MARK = ("readGroup", "readTime", "readId")
_MINE_SELECT = ("RowKey", "kind", "joined", *_MARK, "withUserId", "withName", "withIdp")


def mine(user: str) -> str:
    return f"mine|{user_key(user)}"


class Conversations:
    def __init__(self, store: TableStore, listed: ListedRooms | None = None) -> None:
        self.store = store
        self.listed = listed  # this instance's guess of each user's rooms (my_rooms)

    async def _state(self) -> TableClient:
        return await self.store.table(STATE_TABLE)

    async def _messages(self) -> TableClient:
        return await self.store.table(MESSAGES_TABLE)

    # --- joined rooms -----------------------------------------------------------------------
    async def keep_joined(self, user: str, room: str, now: float, **extra: Any) -> bool:
        """Create the row (True), or leave it as it is, read position and all (False)."""
        from azure.core.exceptions import ResourceExistsError

        kind = "dm" if rooms.is_direct(room) else "room"
        fields = {"PartitionKey": mine(user), "RowKey": room, "kind": kind}
        fields |= {"joined": history.iso_time(now), **extra}

        async def create() -> bool:
            try:
                await (await self._state()).create_entity(fields)
            except ResourceExistsError:
                return False
            return True

        return await self.store.call("keep joined room", create)

    async def forget_joined(self, user: str, room: str) -> None:
        async def delete() -> None:
            await (await self._state()).delete_entity(mine(user), room)  # 404: no error

        await self.store.call("forget joined room", delete)

    async def is_in(self, user: str, room: str) -> bool:
        """Is the user one of a direct conversation's two participants (has its row)?"""
        row = await self.store.read_state(mine(user), room, "read conversation")
        return row is not None and row.get("kind") == "dm"

    async def joined(self, user: str) -> list[dict[str, Any]]:
        rows, _ = await self.store.query_state(
            "read conversations",
            "PartitionKey eq @pk",
            {"pk": mine(user)},
            select=[*_MINE_SELECT],
            limit=1000,
        )
        return rows

    # --- read positions ---------------------------------------------------------------------
    async def window(
        self, room: str, since: read_marks.Position | None = None
    ) -> list[dict[str, Any]]:
        """The room's newest rows (key order), enough to count unread up to the cap; with a
        read position, only the rows of its second and after (what could be unread): a room
        with 3 unread returns a few rows, not UNREAD_READ."""
        end = read_marks.window_end(since) if since is not None else history.END

        async def read() -> list[dict[str, Any]]:
            table = await self._messages()
            rows: list[dict[str, Any]] = []
            pages = table.query_entities(
                "PartitionKey eq @room and RowKey lt @end",
                parameters={"room": room, "end": end},
                results_per_page=read_marks.UNREAD_READ,
                select=_WINDOW_SELECT,
            ).by_page()
            async for page in pages:
                async for entity in page:
                    rows.append(dict(entity))
                break  # one page: UNREAD_READ rows at most
            return rows[: read_marks.UNREAD_READ]

        return await self.store.call("read room window", read)

    async def mark_read(self, user: str, room: str, message_id: str, now: float) -> bool:
        """Move the read position to the message, if it is forward (ETag: two devices reading
        at once both end at the newer of the two)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )

        rows = await self.window(room)
        found = [row for row in rows if row.get("id") == message_id]
        if not found:
            return False  # not among the newest: unread is capped there anyway
        new = read_marks.position(found[0])
        fields = {"PartitionKey": mine(user), "RowKey": room, "readGroup": new[0]}
        fields |= {"readTime": new[1], "readId": new[2]}

        async def move() -> bool:
            table = await self._state()
            for _ in range(MAX_CONFLICT_RETRIES):
                try:
                    entity = await table.get_entity(mine(user), room)
                except ResourceNotFoundError:
                    if rooms.is_direct(room):
                        return False  # only its two participants have a row
                    try:
                        kind = {"kind": "room", "joined": history.iso_time(now)}
                        await table.create_entity(fields | kind)
                    except ResourceExistsError:
                        continue
                    return True
                old = _mark(entity)
                if not read_marks.advances(new, old):
                    return False
                try:
                    await table.update_entity(
                        fields,
                        etag=entity.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                except (ResourceModifiedError, ResourceNotFoundError):
                    continue  # another device moved it meanwhile: compare with theirs
                return True
            return False

        return await self.store.call("move read position", move)

    async def my_rooms(self, user: str) -> dict[str, Any]:
        # The rooms' activity rows are read beside the user's list, for the rooms the user's
        # last request on this instance listed: one round trip instead of two. Rooms the
        # guess missed (joined elsewhere since, or no guess yet) are read after the list.
        guess = self.listed.get(user) if self.listed is not None else ()
        if guess:
            rows, guessed = await asyncio.gather(self.joined(user), self.activity(list(guess)))
        else:
            rows, guessed = await self.joined(user), {}
        by_room = {str(row["RowKey"]): row for row in rows}
        by_room.setdefault(rooms.LOBBY, {"RowKey": rooms.LOBBY, "kind": "room"})
        names = list(by_room)
        listed = tuple(name for name in names if not rooms.is_direct(name))
        if self.listed is not None:
            self.listed.keep(user, listed)
        activity = await self._activity_of(listed, guess, guessed)
        marks: dict[str, read_marks.Position | None] = {}
        for room, row in by_room.items():
            mark = _mark(row)
            if mark is None and isinstance(row.get("joined"), str):
                mark = read_marks.joined_at(_epoch(row["joined"]))
            marks[room] = mark
        # A room's activity row says when it may last have had a message: a room quiet since
        # the read position costs no read of its messages (DMs have none: always read).
        counted = [room for room in names if self._may_count(room, marks[room], activity)]
        windows = dict(
            zip(
                counted,
                await asyncio.gather(*(self.window(r, marks[r]) for r in counted)),
                strict=True,
            )
        )
        entries = []
        for room in names:
            row, mark, window = by_room[room], marks[room], windows.get(room)
            last = _str(activity.get(room, {}).get("lastMessageTime"))
            entry: dict[str, Any] = {
                "room": room,
                "kind": "dm" if rooms.is_direct(room) else "room",
                # A window holds the mark's second on: nothing shown there, the activity row's.
                "lastMessageTime": (read_marks.last_time(window) if window else None) or last,
                "unread": read_marks.unread(window, mark, user) if window and mark else 0,
                "mentions": read_marks.mentions(window, mark, user) if window and mark else 0,
            }
            if row.get("withUserId"):
                entry["with"] = {
                    "userId": row["withUserId"],
                    "name": row.get("withName", ""),
                    "idp": row.get("withIdp", ""),
                }
            entries.append(entry)
        return directory.conversations(entries)

    async def _activity_of(
        self, names: tuple[str, ...], guess: tuple[str, ...], guessed: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """The activity rows of `names`: those of guessed rooms as read beside the list (a
        guessed room without a row has none), the rest read now. Rooms left since are not
        in `names`, so their rows are dropped."""
        known = set(guess)
        missed = [name for name in names if name not in known]
        fresh = await self.activity(missed) if missed else {}
        wanted = set(names)
        return {name: row for name, row in (guessed | fresh).items() if name in wanted}

    @staticmethod
    def _may_count(
        room: str, mark: read_marks.Position | None, activity: dict[str, dict[str, Any]]
    ) -> bool:
        if mark is None:
            return False
        if rooms.is_direct(room):
            return True
        until = _str(activity.get(room, {}).get("activeUntil"))
        return directory.may_have_unread(until, mark[1])

    # --- the directory ----------------------------------------------------------------------
    async def note_activity(self, room: str, when: str, now: float) -> None:
        fields = {"PartitionKey": DIRECTORY, "RowKey": room, "lastMessageTime": when}
        fields["activeUntil"] = directory.active_until(now)
        await self.store.upsert_state(fields, "note room activity")

    async def activity(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """The directory rows of these rooms: one query per 14 names, all at once (Table
        Storage allows at most 15 comparisons in a filter: the partition's, and 14 keys)."""

        async def chunk(part: list[str]) -> list[dict[str, Any]]:
            keys = " or ".join(f"RowKey eq @r{n}" for n in range(len(part)))
            parameters = {"pk": DIRECTORY} | {f"r{n}": name for n, name in enumerate(part)}
            rows, _ = await self.store.query_state(
                "read room activity",
                f"PartitionKey eq @pk and ( {keys} )",  # spaces: the SDK splits on them
                parameters,
                select=["RowKey", "lastMessageTime", "activeUntil"],
                limit=len(part),
            )
            return rows

        parts = [names[i : i + KEYS_PER_QUERY] for i in range(0, len(names), KEYS_PER_QUERY)]
        found = await asyncio.gather(*(chunk(part) for part in parts))
        return {str(row["RowKey"]): row for rows in found for row in rows}

    async def listing(self, limit: int) -> dict[str, Any]:
        activity_rows, _ = await self.store.query_state(
            "read directory",
            "PartitionKey eq @pk",
            {"pk": DIRECTORY},
            select=["RowKey", "lastMessageTime"],
            limit=5000,
        )
        # Everyone present now, over every room: one query of the presence records.
        present_rows, _ = await self.store.query_state(
            "read presence",
            "PartitionKey ge @lo and PartitionKey lt @hi and present eq true",
            {"lo": "presence|", "hi": "presence}"},
            select=["PartitionKey"],
            limit=20000,
        )
        activity = {str(r["RowKey"]): str(r.get("lastMessageTime") or "") for r in activity_rows}
        present: dict[str, int] = {}
        for row in present_rows:
            room = str(row["PartitionKey"]).removeprefix("presence|")
            present[room] = present.get(room, 0) + 1
        return directory.listing(activity, present, limit)

    # --- catch-up ---------------------------------------------------------------------------
    async def since(self, query: catch_up.Since, now: float) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            table = await self._messages()
            collected: list[dict[str, Any]] = []
            for window in catch_up.windows(query, now):
                rows: list[dict[str, Any]] = []
                pages = table.query_entities(
                    "PartitionKey eq @room and RowKey gt @after and RowKey lt @below",
                    parameters={"room": query.room, "after": window.after, "below": window.below},
                    results_per_page=history.WHOLE,
                    select=list(history.SELECT),
                ).by_page()
                async for page in pages:
                    async for entity in page:
                        rows.append(dict(entity) | {"PartitionKey": query.room})
                collected += catch_up.kept(query, rows)
                if len(collected) > query.limit:
                    break
            return catch_up.body(query, collected)

        return await self.store.call("read catch-up", read)


def _mark(row: Any) -> read_marks.Position | None:
    group, stored, seen = row.get("readGroup"), row.get("readTime"), row.get("readId")
    if isinstance(group, str) and isinstance(stored, str) and isinstance(seen, str):
        return group, stored, seen
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _epoch(iso: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
