"""Waiting for a condition instead of sleeping and hoping it came true.

Where a test has an event to await it awaits it. Where the only signal is state (the emulator has
noticed a dropped socket, a connection is gone), `until` polls that state with a deadline, so a
slow machine makes the test slower, never wrong, and a condition that never comes true fails
with a message rather than an assertion on stale state.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

POLL_INTERVAL_S = 0.02


async def until(
    condition: Callable[[], bool | Awaitable[bool]], *, timeout: float = 5.0, what: str = ""
) -> None:
    """Return once `condition()` (sync or async) is true; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"not true after {timeout} s: {what or condition}")
        await asyncio.sleep(POLL_INTERVAL_S)
