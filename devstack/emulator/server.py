"""The aiohttp application (client endpoint + REST API + health) and its lifecycle."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from devstack.httpserver import NOSNIFF, ConnectionTimeouts, start_server

from .audiences import ServedOrigins
from .clientendpoint import ClientEndpoint
from .config import EmulatorConfig
from .events import Events
from .host_allowlist import host_is_served
from .hub import Registry
from .rest import RestApi
from .upstream import Upstream, close_quietly

log = logging.getLogger("devstack.emulator")

# Kestrel's limits, which the service has: request line 8 KiB, headers 32 KiB. A field gets the
# whole 32 KiB because the SDK signs the full URL, so a long ``filter=`` makes a long
# Authorization header.
MAX_LINE_SIZE = 8192
MAX_FIELD_SIZE = 32768
SHUTDOWN_TIMEOUT_S = 3.0


async def _add_nosniff(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer, errors and 404s included, is not to be sniffed."""
    response.headers.update(NOSNIFF)


def _only_served_hosts(clients: ClientEndpoint) -> Middleware:
    """Middleware: refuse (421) a request whose Host header does not name this emulator.

    Applies to every route (REST, client endpoint, health, 404s); see host_allowlist.py.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origins = clients.origins
        if host_is_served(request.headers.getall(hdrs.HOST, []), origins):
            return await handler(request)
        # The Host value is the caller's: neither logged nor echoed.
        log.info("refused a request whose Host header does not name this emulator (421)")
        return web.Response(
            status=421,
            text="Misdirected Request: the Host header must name this emulator (localhost, "
            f"127.0.0.1, [::1] or its --advertised-host) and its port {origins.port}.\n",
        )

    return middleware


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
    app = web.Application(
        client_max_size=config.max_rest_body_bytes, middlewares=[_only_served_hosts(clients)]
    )
    app.on_response_prepare.append(_add_nosniff)
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
        timeouts = ConnectionTimeouts(self.config.header_timeout, self.config.keepalive_timeout)
        # Binding the socket ourselves gives the real port when port 0 was asked for.
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.create_server((self.config.host, self.config.port), family=family)
        self.port = sock.getsockname()[1]
        self.clients.origins = ServedOrigins.of(
            self.port, self.config.advertised_host, self.config.host
        )
        try:
            self._runner = await start_server(
                self.app,
                sock,
                timeouts,
                max_line_size=MAX_LINE_SIZE,
                max_field_size=MAX_FIELD_SIZE,
                shutdown_timeout=SHUTDOWN_TIMEOUT_S,
            )
        except BaseException:
            sock.close()
            raise

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
        if self._runner is not None:
            await self._runner.cleanup()  # stops listening, closes the connections it tracks
            self._runner = None


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
