"""Fixtures for the emulator tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from devstack.emulator import Emulator

from .emu_helpers import HUB, Upstream, emulator


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    recorder = Upstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    recorder.url = f"http://127.0.0.1:{port}"
    yield recorder
    await runner.cleanup()


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with emulator() as running:
        yield running


@pytest.fixture
async def service(emu: Emulator) -> AsyncIterator[WebPubSubServiceClient]:
    client = WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB)
    yield client
    await client.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
