"""The aiohttp application (client endpoint + REST API + health) and its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from aiohttp import web

from .audiences import ServedOrigins
from .clientendpoint import ClientEndpoint
from .config import EmulatorConfig
from .events import Events
from .httpserver import HttpLimits, add_nosniff, handler_factory, track_requests
from .hub import Registry
from .rest import RestApi
from .upstream import Upstream, close_quietly

log = logging.getLogger("devstack.emulator")


async def _health(request: web.Request) -> web.Response:
    return web.Response(status=200, text="" if request.method == "HEAD" else "OK")


async def _empty_hub(request: web.Request) -> web.Response:
    return web.Response(status=400, text="The hub name is missing.")


def build_app(config: EmulatorConfig) -> tuple[web.Application, ClientEndpoint, Upstream, Events]:
    upstream = Upstream(config)
    events = Events(config, upstream)
    registry = Registry()
    clients = ClientEndpoint(config, registry, events)
    rest = RestApi(config, registry, clients)
    # The REST body limit is enforced by aiohttp too (413) so huge bodies are never buffered.
    app = web.Application(client_max_size=config.max_rest_body_bytes, middlewares=[track_requests])
    app.on_response_prepare.append(add_nosniff)
    app.router.add_get("/api/health", _health)
    app.router.add_get("/health", _health)
    app.router.add_get("/client/hubs/{hub}", clients.handle)
    app.router.add_get("/client/hubs/", _empty_hub)
    app.router.add_route("*", "/api/{tail:.*}", rest.handle)
    return app, clients, upstream, events


class Emulator:
    """A running emulator; ``port`` is the bound port (useful when binding port 0)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.app, self.clients, self.upstream, self.events = build_app(config)
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.port = config.port

    @property
    def endpoint(self) -> str:
        return f"http://{self.config.advertised_host}:{self.port}"

    @property
    def connection_string(self) -> str:
        return f"Endpoint={self.endpoint};AccessKey={self.config.access_key};Version=1.0;"

    def client_url(self, hub: str) -> str:
        return f"ws://{self.config.advertised_host}:{self.port}/client/hubs/{hub}"

    @property
    def health_url(self) -> str:
        return f"{self.endpoint}/api/health"

    async def start(self) -> None:
        # access_log=None: aiohttp's access log would print client URLs with access_token.
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=3.0)
        await self._runner.setup()
        try:
            # Binding the socket ourselves gives the real port when port 0 was asked for.
            family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
            sock = socket.create_server((self.config.host, self.config.port), family=family)
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        self.port = sock.getsockname()[1]
        self.clients.origins = ServedOrigins.of(
            self.port, self.config.advertised_host, self.config.host
        )
        # Our own listener (not web.SockSite) so each connection gets EmulatorRequestHandler,
        # which adds the header read timeout aiohttp lacks.
        limits = HttpLimits(
            header_timeout=self.config.header_timeout,
            keepalive_timeout=self.config.keepalive_timeout,
        )
        assert self._runner.server is not None  # set by setup()
        factory = handler_factory(self._runner.server, limits)
        self._listener = await asyncio.get_running_loop().create_server(factory, sock=sock)

    async def stop(self) -> None:
        """Close clients, let disconnected events go out briefly, then stop (bounded)."""
        await self.clients.shutdown()
        for hub in self.clients.registry.hubs.values():
            for conn in hub.all():
                if conn.recovery_task is not None:
                    conn.recovery_task.cancel()
        await self.events.drain(timeout=2.0)
        # Closing the upstream session fails in-flight handler calls fast, so no request
        # handler keeps the shutdown waiting on a slow event handler.
        await close_quietly(self.upstream)
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()  # closes the connections it still tracks
            self._runner = None
        if self._listener is not None:
            await self._listener.wait_closed()
            self._listener = None


@contextlib.asynccontextmanager
async def run_emulator(
    config: EmulatorConfig | None = None, **overrides: Any
) -> AsyncIterator[Emulator]:
    """``async with run_emulator(port=0) as emu:`` -> a started emulator, stopped on exit."""
    config = replace(config or EmulatorConfig(), **overrides)
    emulator = Emulator(config)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
