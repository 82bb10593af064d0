"""Helpers for the emulator tests: a recording upstream handler and emulator factories."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from devstack.emulator import Emulator, EmulatorConfig, hubs_from_dict, run_emulator

HUB = "Chat"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> str:
        return self.headers.get("ce-eventName", "")


Responder = Callable[[Recorded], Awaitable[web.StreamResponse] | web.StreamResponse]


@dataclass
class Upstream:
    """An aiohttp event handler that records every request and answers per event name."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    responders: dict[str, Responder] = field(default_factory=dict)
    options_status: int = 200
    allowed_origin: str | None = "*"
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def events(self, name: str | None = None) -> list[Recorded]:
        return [
            r for r in self.requests if r.method == "POST" and (name is None or r.event == name)
        ]

    async def wait_for(self, name: str, count: int = 1, timeout: float = 5.0) -> list[Recorded]:
        async with asyncio.timeout(timeout):
            async with self.arrived:
                await self.arrived.wait_for(lambda: len(self.events(name)) >= count)
        return self.events(name)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rec = Recorded(
            request.method,
            request.path,
            dict(request.query),
            {k: v for k, v in request.headers.items()},
            await request.read(),
        )
        self.requests.append(rec)
        async with self.arrived:
            self.arrived.notify_all()
        if request.method in ("OPTIONS", "GET"):
            if request.method == "OPTIONS" and self.options_status != 200:
                return web.Response(status=self.options_status)
            headers = {}
            if self.allowed_origin is not None:
                headers["WebHook-Allowed-Origin"] = self.allowed_origin
            return web.Response(status=200, headers=headers)
        responder = self.responders.get(rec.event)
        if responder is None:
            return web.Response(status=200)
        result = responder(rec)
        if asyncio.iscoroutine(result):
            result = await result
        return result  # type: ignore[return-value]


def handler_hubs(
    url: str,
    *,
    system: tuple[str, ...] = ("connect", "connected", "disconnected"),
    pattern: str = "*",
    anonymous: str = "deny",
    hub: str = HUB,
) -> dict[str, Any]:
    return hubs_from_dict(
        {
            hub: {
                "EventHandlers": [
                    {
                        "UrlTemplate": url + "/api/{hub}/{event}",
                        "SystemEvents": list(system),
                        "EventPattern": pattern,
                    }
                ],
                "AnonymousConnectPolicy": anonymous,
            }
        }
    )


FAST = {"retry_delays": (0.05, 0.1, 0.15), "host": "127.0.0.1", "port": 0}


@contextlib.asynccontextmanager
async def emulator(**overrides: Any) -> AsyncIterator[Emulator]:
    settings = {**FAST, **overrides}
    async with run_emulator(EmulatorConfig(), **settings) as emu:
        yield emu


async def client_url(service: WebPubSubServiceClient, **kwargs: Any) -> str:
    token = await service.get_client_access_token(**kwargs)
    return token["url"]


async def recv_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    import json

    return json.loads(msg.data)


CLOSED_TYPES = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def expect_close(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> int | None:
    """Read until the socket closes; returns the close code."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
            ):
                return ws.close_code
            if msg.type == aiohttp.WSMsgType.ERROR:
                return ws.close_code


def detached(emu: Emulator, connection_id: str, hub: str = HUB) -> bool:
    """The emulator has noticed the connection's socket is gone and keeps it for recovery."""
    conn = emu.clients.registry.find(hub, connection_id)
    return conn is not None and conn.ws is None


def rest_token(emu: Emulator, url: str, *, key: str | None = None, exp_delta: int = 60) -> str:
    payload = {"aud": url, "exp": int(time.time()) + exp_delta}
    return jwt.encode(payload, key or emu.config.access_key, algorithm="HS256")


async def call(
    http: aiohttp.ClientSession,
    emu: Emulator,
    method: str,
    path: str,
    *,
    query: str = "api-version=2024-12-01",
    token_url: str | None = None,
    **kwargs,
) -> tuple[int, dict[str, str], bytes]:
    url = f"{emu.endpoint}/api/hubs/{HUB}{path}" + (f"?{query}" if query else "")
    headers = dict(kwargs.pop("headers", {}))
    headers.setdefault("Authorization", f"Bearer {rest_token(emu, token_url or url)}")
    async with http.request(method, url, headers=headers, **kwargs) as resp:
        return resp.status, dict(resp.headers), await resp.read()
