"""Admission for system events: bounded work in flight, so a storm of arrivals queues, not the chat.

A thousand clients connecting at once would otherwise start a thousand ``connect`` webhooks and
then a thousand ``connected`` ones at the same moment. Every one of them shares the emulator's
event loop and the upstream HTTP pool with the user events of connections that are already
open, and the upstream (one Functions instance) gets a thousand invocations at once: a chat
message then waits behind the whole storm. The service is a distributed system whose handshake
capacity is sized per unit; one emulator process is not, so it admits new work at a bounded
rate instead:

* at most ``connect_limit`` ``connect`` calls are in flight at once; the other handshakes
  wait, with their upgrade request open, until a slot is free (nothing is refused or dropped);
* at most ``system_limit`` ``connected``/``disconnected`` calls are in flight at once; the
  others wait. One connection's system events still go out in the order they happened: its
  ``disconnected`` is never sent before its ``connected`` has been answered.

A slot is held for one HTTP attempt, not across the pause before a retry, so a handler that
is down does not keep the slots while the emulator waits to try it again.

User events are not gated: they belong to connections already admitted. A limit of 0 means
no limit (the behaviour before admission existed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol


class Gate(Protocol):
    """``async with gate:`` holds one slot (an asyncio.Semaphore, or no limit at all)."""

    async def __aenter__(self) -> object: ...

    async def __aexit__(self, *exc: object) -> object: ...


class _Unbounded:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def _gate(limit: int) -> Gate:
    if limit < 0:
        raise ValueError(f"an admission limit must be 0 (none) or more, not {limit}")
    return asyncio.Semaphore(limit) if limit else _Unbounded()


class EventGates:
    def __init__(self, connect_limit: int, system_limit: int) -> None:
        self.connect: Gate = _gate(connect_limit)
        self.system: Gate = _gate(system_limit)
        # The latest system event task of each connection, so the next one waits for it.
        self._latest: dict[str, asyncio.Task[None]] = {}

    def in_order(
        self, connection_id: str, send: Callable[[], Awaitable[None]]
    ) -> asyncio.Task[None]:
        """Start `send` as a task once the connection's earlier system event is done (`send`
        takes a ``system`` slot for each attempt itself); returns the task."""
        previous = self._latest.get(connection_id)
        task = asyncio.create_task(self._after(previous, send))
        self._latest[connection_id] = task
        task.add_done_callback(lambda done: self._forget(connection_id, done))
        return task

    async def _after(
        self, previous: asyncio.Task[None] | None, send: Callable[[], Awaitable[None]]
    ) -> None:
        if previous is not None:
            await asyncio.wait({previous})  # its outcome is its own; only the order matters
        await send()

    def _forget(self, connection_id: str, task: asyncio.Task[None]) -> None:
        if self._latest.get(connection_id) is task:
            del self._latest[connection_id]
