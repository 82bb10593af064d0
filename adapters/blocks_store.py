"""Blocks in Table Storage (issue 19; docs/storage.md, "Blocks").

One row per (blocker, blocked) in `chatstate`: PartitionKey `blocks|<32 hex of the blocker's
account>`, RowKey `<32 hex of the blocked account>`, with the blocked person's `userId`,
`name`, `idp` (as last blocked) and `time`. "Whom do I block" is one partition query;
"does X block Y" one point read. The rules are chat/blocks.py's; this module only reads and
writes.
"""

from __future__ import annotations

from typing import Any

from adapters.table_store import TableStore
from chat import blocks

_SELECT = ["RowKey", "userId", "name", "idp", "time"]


class BlocksStore:
    def __init__(self, store: TableStore) -> None:
        self.store = store

    async def listed(self, account: str) -> list[dict[str, Any]]:
        rows, _ = await self.store.query_state(
            "read blocks",
            "PartitionKey eq @pk",
            {"pk": blocks.partition(account)},
            select=_SELECT,
            limit=blocks.MAX_BLOCKS,
        )
        return rows

    async def save(self, entity: dict[str, Any]) -> None:
        await self.store.upsert_state(entity, "save block")

    async def drop(self, account: str, blocked_key: str) -> None:
        await self.store.delete_state(blocks.partition(account), blocked_key, "drop block")

    async def blocks(self, account: str, blocked_key: str) -> bool:
        row = await self.store.read_state(blocks.partition(account), blocked_key, "read block")
        return row is not None
