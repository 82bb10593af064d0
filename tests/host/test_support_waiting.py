"""tests/support/waiting.until: what other areas use instead of sleeping."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.waiting import until


async def test_until_returns_once_a_sync_condition_holds() -> None:
    flag = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, flag.set)
    await until(flag.is_set, timeout=5)
    assert flag.is_set()


async def test_until_awaits_an_async_condition() -> None:
    calls = []

    async def third_time() -> bool:
        calls.append(1)
        return len(calls) >= 3

    await until(third_time, timeout=5)
    assert len(calls) == 3


async def test_until_fails_with_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match=r"not true after 0\.1 s: the moon"):
        await until(lambda: False, timeout=0.1, what="the moon")
