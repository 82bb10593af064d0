"""Message rows through this instance's copy of the ones it recently stored, changed or read.

An edit, delete or reaction acts on a row it must first find, and finding one by id is a
filtered query of the room's partition (chat.history.find_filter). Most act on recent
messages, often sent or changed on the same instance: its copy of the row and ETag (kept from
the insert's or replace's answer) makes the find free. The copy can be stale (another instance
changed the row), and that is safe because every write stays conditional on the ETag: a stale
copy fails its write (412), the copy is dropped, and the decision reads the row and decides
again (chat/edits.py), as for any lost race. A decision that writes nothing asks `fresh`.

Bounded: the MAX_ROWS most recently used rows and MAX_CHARS characters of text properties
(a row holds up to about 64 KiB), the least recently used forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from adapters.table_store import TableStore
from chat import history
from chat.plan import Found

MAX_ROWS = 4096
MAX_CHARS = 4_000_000


def _size(entity: dict[str, Any]) -> int:
    return sum(len(v) for v in entity.values() if isinstance(v, str)) + 64


class MessageRows:
    def __init__(
        self, store: Callable[[], TableStore], rows: int = MAX_ROWS, chars: int = MAX_CHARS
    ) -> None:
        self._store = store  # the table store, made (or refused) when first needed
        self._rows: OrderedDict[tuple[str, str], tuple[dict[str, Any], str, int]] = OrderedDict()
        self._max_rows, self._max_chars, self._chars = rows, chars, 0

    def __len__(self) -> int:
        return len(self._rows)

    def forget(self) -> None:
        self._rows.clear()
        self._chars = 0

    async def add(self, entity: dict[str, Any], marker: dict[str, Any] | None) -> bool:
        """Store a message (False: a retried event's, there already)."""
        key = _key(entity)
        try:
            etag = await self._store().insert_message(entity, marker)
        except BaseException:
            self._drop(key)  # written or not: unknown
            raise
        if etag:
            self._keep(key, entity, etag)
        return etag is not None

    async def delete(self, entity: dict[str, Any], marker: dict[str, Any] | None) -> None:
        self._drop(_key(entity))
        await self._store().delete_message(entity, marker)

    async def find(
        self, room: str, message_id: str, newer_than_ms: int | None, fresh: bool
    ) -> Found | None:
        """The row and its ETag: this instance's copy (Found.cached) unless `fresh`, else the
        store's (then kept)."""
        key = (room, message_id)
        kept = None if fresh else self._rows.get(key)
        if kept is not None:
            self._rows.move_to_end(key)
            entity, etag, _ = kept
            below = history.find_filter(room, message_id, newer_than_ms)[1]["below"]
            if not str(entity.get("RowKey", "")) < below:
                return None  # keyed before the range asked for: the query finds nothing either
            return Found(dict(entity), etag, cached=True)
        found = await self._store().find_message(room, message_id, newer_than_ms)
        if found is None:
            self._drop(key)
        else:
            self._keep(key, found.entity, found.etag)
        return found

    async def update(self, entity: dict[str, Any], etag: str) -> bool:
        """Replace the row if it is still as `etag` says (False: it was not; the copy is
        dropped, so the decision's next find reads the store)."""
        key = _key(entity)
        try:
            written = await self._store().replace_message(entity, etag)
        except BaseException:
            self._drop(key)
            raise
        if written is None:
            self._drop(key)
            return False
        if written:
            self._keep(key, entity, written)
        else:
            self._drop(key)  # no ETag in the answer: nothing to write with next time
        return True

    def _keep(self, key: tuple[str, str] | None, entity: dict[str, Any], etag: str) -> None:
        if key is None:
            return
        self._drop(key)
        size = _size(entity)
        if size > self._max_chars // 16:
            return  # one huge row would push out many: read it when needed
        self._rows[key] = (dict(entity), etag, size)
        self._chars += size
        while len(self._rows) > self._max_rows or self._chars > self._max_chars:
            _, (_, _, dropped) = self._rows.popitem(last=False)
            self._chars -= dropped

    def _drop(self, key: tuple[str, str] | None) -> None:
        kept = self._rows.pop(key, None) if key is not None else None
        if kept is not None:
            self._chars -= kept[2]


def _key(entity: dict[str, Any]) -> tuple[str, str] | None:
    room, message_id = entity.get("PartitionKey"), entity.get("id")
    if isinstance(room, str) and isinstance(message_id, str):
        return room, message_id
    return None
