"""Moderation's rows in the `chatstate` table, and this instance's short-lived copy of them.

PartitionKey `room|<room>` (one partition per room, so a join's or message's facts are one
query):
- RowKey `record`: owner (account), ownerId (user id shown), moderators (JSON
  [[account, user id], ...]), topic, slowModeSeconds. Created once by the first signed-in
  joiner (insert-only: of two first joiners exactly one wins); changed with ETag writes.
- RowKey `ban|<account key>` / `mute|<account key>`: account, userId, until (epoch seconds;
  0: until lifted), by. Expired rows are ignored at use and replaced by the next ban.
- RowKey `slow|<account key>`: next (epoch seconds): slow mode's next allowed message time,
  shared by the account's connections (ETag writes).
- RowKey `kick|<account key>`: at (epoch seconds): the account's last kick or ban from the
  room; its connections that joined before are out (their state still lists the room).
PartitionKey `audit|<room>`, RowKey = the event's stable id: one row per moderation command
(time, by, action, room, target, reason, detail), inserted before the change: a retried event
finds it (409) and sends no notice twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any

from adapters.table_store import TableStore, user_key
from chat import moderation, roles
from chat.plan import Failed, Moderate, ResolveReport

log = logging.getLogger(__name__)

MAX_CACHED = 10_000  # (room, account) pairs this instance remembers facts for
MAX_CONFLICT_RETRIES = 5
# GET /api/reports reads each listed report's message (one point read each) this many at a
# time: 200 reports take about 200 / 32 = 7 round trips, well inside the client's pool.
REPORTED_READS_AT_ONCE = 32
# Every column a moderation row holds (an empty select would select none of them).
COLUMNS = [
    "RowKey",
    "owner",
    "ownerId",
    "moderators",
    "topic",
    "slowModeSeconds",
    "until",
    "next",
    "at",
]


def _partition(room: str) -> str:
    return f"room|{room}"


def _escape(value: str) -> str:
    return value.replace("'", "''")


class ModerationStore:
    def __init__(self, store: TableStore) -> None:
        self.store = store
        # (room, account) -> (read at, facts): joins and messages read through it.
        self._cache: dict[tuple[str, str], tuple[float, moderation.Facts]] = {}

    # --- reads -------------------------------------------------------------------------------
    async def facts(self, room: str, account: str, now: float, fresh: bool) -> moderation.Facts:
        key = (room, account)
        cached = self._cache.get(key)
        if not fresh and cached is not None and now - cached[0] < moderation.FACTS_TTL_S:
            return cached[1]
        facts = await self._read(room, account)
        self._cache.pop(key, None)
        self._cache[key] = (now, facts)
        while len(self._cache) > MAX_CACHED:
            self._cache.pop(next(iter(self._cache)))
        return facts

    def forget_room(self, room: str) -> None:
        """A change made here counts at once on this instance (others: FACTS_TTL_S)."""
        for key in [k for k in self._cache if k[0] == room]:
            del self._cache[key]

    async def _read(self, room: str, account: str) -> moderation.Facts:
        k = user_key(account)
        query = (
            f"PartitionKey eq '{_escape(_partition(room))}' and (RowKey eq 'record' or "
            f"RowKey eq 'ban|{k}' or RowKey eq 'mute|{k}' or RowKey eq 'kick|{k}')"
        )
        rows, _ = await self.store.query_state("read moderation", query, {}, COLUMNS, 4)
        record = ban = mute = kicked = None
        for row in rows:
            if row.get("RowKey") == "record":
                record = _record(row)
            elif row.get("RowKey") == f"ban|{k}":
                ban = _until(row)
            elif row.get("RowKey") == f"mute|{k}":
                mute = _until(row)
            elif row.get("RowKey") == f"kick|{k}" and isinstance(row.get("at"), int | float):
                kicked = float(row["at"])
        return moderation.Facts(record, ban, mute, kicked)

    # --- writes ------------------------------------------------------------------------------
    async def claim(self, room: str, account: str, user_id: str) -> bool:
        fields = {
            "PartitionKey": _partition(room),
            "RowKey": "record",
            "owner": account,
            "ownerId": user_id,
            "moderators": "[]",
            "topic": "",
            "slowModeSeconds": 0,
        }
        won = await self.store.create_state(fields, "claim room")
        self.forget_room(room)
        return won

    async def apply(self, effect: Moderate) -> bool:
        """The audit row first, then the change; False when the audit row was there."""
        first = await self.store.create_state(effect.audit, "audit moderation")
        room, account = effect.room, effect.account
        try:
            if effect.action in (roles.KICK, roles.BAN) and account is not None:
                kick = {"PartitionKey": _partition(room), "RowKey": f"kick|{user_key(account)}"}
                await self.store.upsert_state(kick | {"at": effect.at}, "save kick")
            if effect.action in (roles.BAN, roles.MUTE) and account is not None:
                until = effect.until if effect.until is not None else math.inf
                await self.store.upsert_state(
                    {
                        "PartitionKey": _partition(room),
                        "RowKey": f"{effect.action}|{user_key(account)}",
                        "account": account,
                        "userId": effect.user_id or "",
                        "until": 0.0 if math.isinf(until) else until,
                        "by": effect.audit.get("by", ""),
                    },
                    f"save {effect.action}",
                )
            elif effect.action in (roles.UNBAN, roles.UNMUTE) and account is not None:
                kind = roles.BAN if effect.action == roles.UNBAN else roles.MUTE
                row = f"{kind}|{user_key(account)}"
                await self.store.delete_state(_partition(room), row, f"lift {kind}")
            elif effect.action in (roles.MOD, roles.SLOWMODE, roles.TOPIC):
                await self._change_record(effect)
        finally:
            self.forget_room(room)
        return first

    async def _change_record(self, effect: Moderate) -> None:
        for _ in range(MAX_CONFLICT_RETRIES):
            row = await self._row(effect.room, "record", "read room")
            fields: dict[str, Any] = {
                "PartitionKey": _partition(effect.room),
                "RowKey": "record",
                "owner": "",
                "ownerId": "",
                "moderators": "[]",
                "topic": "",
                "slowModeSeconds": 0,
            }
            fields |= {k: row[k] for k in fields if row is not None and k in row}
            etag = _etag(row)
            if effect.action == roles.MOD and effect.account is not None:
                mods = [m for m in _moderators(fields) if m[0] != effect.account]
                if effect.value is True:
                    mods.append((effect.account, effect.user_id or ""))
                fields["moderators"] = json.dumps(mods)
            elif effect.action == roles.SLOWMODE:
                fields["slowModeSeconds"] = int(effect.value or 0)
            elif effect.action == roles.TOPIC:
                fields["topic"] = str(effect.value or "")
            if etag is None:
                if await self.store.create_state(fields, "save room"):
                    return
            elif await self.store.update_state_if(fields, etag, "save room"):
                return
        from adapters.table_store import StoreUnavailable

        raise StoreUnavailable("save room: lost every race")

    # --- reports -----------------------------------------------------------------------------
    async def open_reports(self, limit: int) -> list[dict[str, Any]]:
        query = f"PartitionKey eq '{moderation.REPORTS}' and open eq true"
        columns = ["RowKey", "room", "id", "reporter", "reason", "time"]
        columns += ["messagePartition", "messageRow", "authorId", "authorName"]
        rows, _ = await self.store.query_state("read reports", query, {}, columns, limit)
        return rows

    async def reported_messages(
        self, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any] | Failed | None]:
        """Each report's message row as it is now (None: no such row), read concurrently by
        its PartitionKey and RowKey; a read that fails is Failed, never an exception."""
        from adapters.table_store import StoreUnavailable

        gate = asyncio.Semaphore(REPORTED_READS_AT_ONCE)

        async def read(row: dict[str, Any]) -> dict[str, Any] | Failed | None:
            address = moderation.message_address(row)
            if address is None:
                return Failed("the report does not say where its message is")
            async with gate:
                try:
                    return await self.store.message_at(*address)
                except StoreUnavailable as error:
                    log.warning("Reported message %s unreadable: %s", address, error)
                    return Failed(str(error))

        return list(await asyncio.gather(*(read(row) for row in rows)))

    async def file_report(self, entity: dict[str, Any]) -> bool:
        """One open report per person and message: False while theirs is open; a closed one
        is opened again (the message may have been edited since), an ETag race lost to
        another filing of it counts as open."""
        if await self.store.create_state(entity, "file report"):
            return True
        query = (
            f"PartitionKey eq '{_escape(entity['PartitionKey'])}' and "
            f"RowKey eq '{_escape(entity['RowKey'])}'"
        )
        rows, _ = await self.store.query_state("read report", query, {}, ["RowKey", "open"], 1)
        if not rows or rows[0].get("open") is not False:
            return False
        fields = entity | {"resolution": "", "resolvedBy": ""}
        return await self.store.update_state_if(fields, rows[0]["etag"], "reopen report")

    async def resolve(self, effect: ResolveReport) -> bool:
        query = f"PartitionKey eq '{moderation.REPORTS}' and RowKey eq '{_escape(effect.report)}'"
        rows, _ = await self.store.query_state("read report", query, {}, ["RowKey", "open"], 1)
        if not rows or rows[0].get("open") is not True:
            return False
        await self.store.create_state(effect.audit, "audit moderation")
        fields = {"PartitionKey": moderation.REPORTS, "RowKey": effect.report} | effect.fields
        # Merge (not replace): the report's own columns stay; an ETag race means the other
        # admin closed it first.
        return await self.store.update_state_if(fields, rows[0]["etag"], "resolve report")

    async def _row(self, room: str, row_key: str, what: str) -> dict[str, Any] | None:
        """One row with its "etag" (a point query: read_state's rows carry none)."""
        query = f"PartitionKey eq '{_escape(_partition(room))}' and RowKey eq '{row_key}'"
        rows, _ = await self.store.query_state(what, query, {}, COLUMNS, 1)
        return rows[0] if rows else None

    async def take_slot(self, room: str, account: str, seconds: int, now: float) -> float:
        """0.0 when the account may post now (and its next time is written), else the wait."""
        row_key = f"slow|{user_key(account)}"
        for _ in range(MAX_CONFLICT_RETRIES):
            row = await self._row(room, row_key, "read slow mode")
            following = float(row.get("next", 0.0)) if row is not None else 0.0
            if following > now:
                return following - now
            fields = {"PartitionKey": _partition(room), "RowKey": row_key, "next": now + seconds}
            etag = _etag(row)
            if etag is None:
                if await self.store.create_state(fields, "take slow mode"):
                    return 0.0
            elif await self.store.update_state_if(fields, etag, "take slow mode"):
                return 0.0
        return float(seconds)  # every race lost: others of this account are posting now


def _etag(row: dict[str, Any] | None) -> str | None:
    if row is None:
        return None
    etag = row.get("etag")
    return str(etag) if etag else None


def _moderators(row: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        raw = json.loads(str(row.get("moderators") or "[]"))
    except ValueError:
        return []
    if not isinstance(raw, list):
        return []
    return [
        (str(m[0]), str(m[1]))
        for m in raw
        if isinstance(m, list) and len(m) == 2 and all(isinstance(v, str) for v in m)
    ]


def _record(row: dict[str, Any]) -> roles.Record:
    slow = row.get("slowModeSeconds", 0)
    return roles.Record(
        owner=str(row.get("owner") or "") or None,
        owner_id=str(row.get("ownerId") or "") or None,
        moderators=tuple(_moderators(row)),
        topic=str(row.get("topic") or ""),
        slow_mode_s=int(slow) if isinstance(slow, int | float) else 0,
        etag=_etag(row),
    )


def _until(row: dict[str, Any]) -> float:
    until = row.get("until", 0.0)
    value = float(until) if isinstance(until, int | float) else 0.0
    return math.inf if value == 0.0 else value
