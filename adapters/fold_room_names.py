"""Move history stored under mixed-case room names to their lowercase room (issue 17).

Room names became case-insensitive: the app reads and writes only lowercase partitions, so
rows written before under `Dev` would no longer be found. Run once after deploying:

    ChatStorage=<connection string> python -m adapters.fold_room_names

Each row is copied to the lowercase partition (same RowKey: the key holds the message's own
id, so rows of `Dev` and `dev` never collide), then deleted from the old one. Safe to run
again, or to interrupt: a copy that is already there (409) is kept, and the old row deleted.
One full scan of `chatmessages`, two writes per moved row. Presence rows under mixed-case
names need nothing: they are rewritten as people come and go, and the directory folds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from adapters.table_store import TableStore
from chat import storage_settings
from chat.storage_settings import MESSAGES_TABLE

log = logging.getLogger("chat")


async def fold(store: TableStore) -> int:
    """Move every row of a mixed-case partition; the number moved."""
    from azure.core.exceptions import ResourceExistsError

    async def run() -> int:
        table = await store.table(MESSAGES_TABLE)
        moved = 0
        mixed: list[dict[str, Any]] = []
        async for entity in table.list_entities():
            key = str(entity["PartitionKey"])
            if key != key.lower():
                mixed.append(dict(entity))
        for row in mixed:
            old = row["PartitionKey"]
            # 409: an earlier, interrupted run copied it already.
            with contextlib.suppress(ResourceExistsError):
                await table.create_entity(row | {"PartitionKey": old.lower()})
            await table.delete_entity(old, row["RowKey"])
            moved += 1
        return moved

    return await store.call("fold room names", run)


async def _main() -> None:
    settings = storage_settings.load(os.environ)
    store = TableStore(settings, timeout=30.0)
    try:
        moved = await fold(store)
    finally:
        await store.close()
    log.warning("Moved %d history rows to their lowercase rooms", moved)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_main())
