"""Fixtures for the reliability suite: the app in process against a recording service
and a real (throwaway) Azurite for the history."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

import function_app
from tests.support.access_keys import HUB, PRIMARY, connection_string
from tests.support.azurite import Azurite


@dataclass
class LiveApp:
    """function_app configured against a local service stand-in that counts broadcasts.

    Hypothesis runs examples synchronously, so the app and the stand-in share one event loop
    that each example drives with run_until_complete.
    """

    loop: asyncio.AbstractEventLoop
    endpoint: str = ""
    broadcasts: list[bytes] = field(default_factory=list)

    def call(self, function, request):
        return self.loop.run_until_complete(asyncio.wait_for(function(request), timeout=10))


@pytest.fixture(scope="module")
def live_app(azurite: Azurite) -> Iterator[LiveApp]:
    loop = asyncio.new_event_loop()
    live = LiveApp(loop)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if request.path.endswith("/:send"):
            live.broadcasts.append(body)
        if request.method == "GET" and request.path.endswith("/connections"):
            return web.json_response({"value": []})  # list_connections: nobody there
        return web.Response(status=202)

    async def start() -> web.AppRunner:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        live.endpoint = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return runner

    runner = loop.run_until_complete(start())
    with pytest.MonkeyPatch.context() as patch:
        for name in list(function_app.os.environ):
            if name.startswith(("WebPubSub", "Chat")):
                patch.delenv(name)
        patch.setenv("WebPubSubConnectionString", connection_string(live.endpoint))
        patch.setenv("WebPubSubHub", HUB)
        patch.setenv("ChatRateLimitMessages", "10000")
        patch.setenv("ChatStorage", azurite.connection_string)
        function_app.runtime.reset()
        try:
            yield live
        finally:
            loop.run_until_complete(function_app.runtime.close())
            function_app.runtime.reset()
    loop.run_until_complete(runner.cleanup())
    loop.close()


__all__ = ["HUB", "PRIMARY", "LiveApp", "live_app"]
