"""Fixtures for the host tests (helpers live in tests/host/helpers.py)."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.host.helpers import HostProcess, InProcessHost, load_fixture, start_in_process
from tests.support.processes import stop_process


@pytest.fixture
async def basic_host() -> AsyncIterator[InProcessHost]:
    runner, base, executor = await start_in_process(load_fixture("basic"))
    async with aiohttp.ClientSession() as session:
        yield InProcessHost(base, session)
    await runner.cleanup()
    executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def host_process() -> Iterator[list[HostProcess]]:
    """Collects started host processes and always stops them."""
    started: list[HostProcess] = []
    yield started
    for host in started:
        if host.process.poll() is None:
            stop_process(host.process, signal.SIGKILL)
