"""Races between instances, made as tight as they get: every store reads before any writes."""

from __future__ import annotations

import asyncio
from typing import Any


def read_announced_together(stores: list[Any]) -> None:
    """Make each store's `announced` read wait until all of them have read the record, so
    their conditional (ETag) writes of it are sure to race."""
    all_read = asyncio.Barrier(len(stores))
    for store in stores:
        read = store.announced

        async def announced(room: str, user: str, read: Any = read) -> Any:
            record = await read(room, user)
            await all_read.wait()
            return record

        store.announced = announced
