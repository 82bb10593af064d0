"""Admission for system events: bounded work in flight, so a storm of arrivals queues, not the chat.

A thousand clients connecting at once would otherwise start a thousand ``connect`` webhooks and
then a thousand ``connected`` ones at the same moment. Every one of them shares the emulator's
event loop and the upstream HTTP pool with the user events of connections that are already
open, and the upstream (one Functions instance) gets a thousand invocations at once: a chat
message then waits behind the whole storm. The service is a distributed system whose handshake
capacity is sized per unit; one emulator process is not, so it admits new work at a bounded
rate instead:

* at most ``connect_limit`` handshakes run their ``connect`` event at once; the others wait,
  with their upgrade request open, until a slot is free (nothing is refused or dropped);
* at most ``system_limit`` ``connected``/``disconnected`` events are in flight at once; the
  others wait in order. One connection's system events still go out in the order they
  happened: its ``disconnected`` is never sent before its ``connected`` has been answered.

User events are not gated: they belong to connections already admitted. A limit of 0 means
no limit (the behaviour before admission existed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable


class _Unbounded:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def _gate(limit: int) -> asyncio.Semaphore | _Unbounded:
    if limit < 0:
        raise ValueError(f"an admission limit must be 0 (none) or more, not {limit}")
    return asyncio.Semaphore(limit) if limit else _Unbounded()


class EventGates:
    def __init__(self, connect_limit: int, system_limit: int) -> None:
        self._connect = _gate(connect_limit)
        self._system = _gate(system_limit)
        # The latest system event task of each connection, so the next one waits for it.
        self._latest: dict[str, asyncio.Task[None]] = {}

    @contextlib.asynccontextmanager
    async def connect_slot(self) -> AsyncIterator[None]:
        """Held while a handshake's connect event runs."""
        async with self._connect:
            yield

    def system_event(
        self, connection_id: str, send: Callable[[], Awaitable[None]]
    ) -> asyncio.Task[None]:
        """Start `send` as a task once the connection's earlier system event is done and a
        slot is free; returns the task."""
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
        async with self._system:
            await send()

    def _forget(self, connection_id: str, task: asyncio.Task[None]) -> None:
        if self._latest.get(connection_id) is task:
            del self._latest[connection_id]
