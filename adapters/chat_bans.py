"""Chat-wide bans' rows (issue 19) in the `chatstate` table, and this instance's copy of them.

PartitionKey `chatban`, RowKey = the account's key (adapters.table_store.user_key): account,
userId, until (epoch seconds; 0: until lifted), by. Expired rows are ignored at use and
replaced by the next ban; an unban deletes the row. PartitionKey `chataudit`, RowKey = the
event's stable id: one audit row per chat-wide ban or unban, inserted before the change.

Negotiate and connect read through `until`: one table read per account per chat.chat_bans.TTL_S
on each instance, none in between; `apply` drops the account's copy at once.
"""

from __future__ import annotations

import math

from adapters.table_store import TableStore, user_key
from chat import chat_bans
from chat.plan import ChatBan

MAX_CACHED = 10_000  # accounts this instance remembers a (non-)ban for


class ChatBans:
    def __init__(self, store: TableStore) -> None:
        self.store = store
        # account -> (read at, until or None): oldest first, bounded.
        self._cache: dict[str, tuple[float, float | None]] = {}

    async def until(self, account: str, now: float) -> float | None:
        """Until when the account is banned from the chat (math.inf: until lifted; None: no
        ban row), at most chat_bans.TTL_S old. StoreUnavailable when it cannot be read."""
        cached = self._cache.get(account)
        if cached is not None and 0.0 <= now - cached[0] < chat_bans.TTL_S:
            return cached[1]
        query = f"PartitionKey eq '{chat_bans.PARTITION}' and RowKey eq '{user_key(account)}'"
        rows, _ = await self.store.query_state("read chat ban", query, {}, ["until"], 1)
        until = _until(rows[0].get("until")) if rows else None
        self._cache.pop(account, None)
        self._cache[account] = (now, until)
        while len(self._cache) > MAX_CACHED:
            self._cache.pop(next(iter(self._cache)))
        return until

    def forget(self, account: str) -> None:
        self._cache.pop(account, None)

    async def apply(self, effect: ChatBan) -> bool:
        """The audit row first, then the ban row (or its deletion); False: the audit row was
        there (a retried event), the change is made again all the same."""
        first = await self.store.create_state(effect.audit, "audit chat ban")
        key = user_key(effect.account)
        try:
            if effect.until is None:
                await self.store.delete_state(chat_bans.PARTITION, key, "lift chat ban")
            else:
                fields = {
                    "PartitionKey": chat_bans.PARTITION,
                    "RowKey": key,
                    "account": effect.account,
                    "userId": effect.user_id,
                    "until": 0.0 if math.isinf(effect.until) else effect.until,
                    "by": str(effect.audit.get("by", "")),
                }
                await self.store.upsert_state(fields, "save chat ban")
        finally:
            self.forget(effect.account)
        return first


def _until(raw: object) -> float | None:
    value = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else 0.0
    return math.inf if value == 0.0 else value
