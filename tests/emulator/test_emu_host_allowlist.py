"""DNS-rebinding defence: the emulator answers only Host headers that name it.

A page whose domain re-points to 127.0.0.1 reaches the emulator with its own name in `Host`,
and could sign REST tokens with the well-known default key; so every route (REST, client
endpoint, health, unknown paths) refuses other names with 421, nosniff and nothing echoed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time

import jwt
import pytest
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from devstack.emulator import Emulator, hubs_from_dict
from devstack.emulator.audiences import ServedOrigins
from devstack.emulator.host_allowlist import host_is_served

from .emu_helpers import HUB, emulator

SERVED = ServedOrigins.of(8080, "chat.example", "10.0.0.5")
WILDCARD_BOUND = ServedOrigins.of(8080, "localhost", "0.0.0.0")
ON_PORT_80 = ServedOrigins.of(80, "localhost", "127.0.0.1")


@pytest.mark.parametrize(
    ("headers", "origins", "served"),
    [
        (["localhost:8080"], SERVED, True),
        (["LocalHost:8080"], SERVED, True),
        (["127.0.0.1:8080"], SERVED, True),
        (["[::1]:8080"], SERVED, True),
        (["chat.example:8080"], SERVED, True),  # --advertised-host
        (["10.0.0.5:8080"], SERVED, True),  # the bind address
        (["localhost"], ON_PORT_80, True),  # no port means 80
        (["localhost"], SERVED, False),
        (["localhost:80"], SERVED, False),
        (["localhost:8081"], SERVED, False),
        (["evil.example:8080"], SERVED, False),  # the DNS-rebinding case
        (["localhost.evil.example:8080"], SERVED, False),
        (["localhost.:8080"], SERVED, False),
        (["0.0.0.0:8080"], WILDCARD_BOUND, False),  # a wildcard bind is not a name
        (["::1:8080"], SERVED, False),  # IPv6 without brackets
        (["[::2]:8080"], SERVED, False),
        (["localhost:"], SERVED, False),
        (["localhost:08080x"], SERVED, False),
        (["localhost:99999999"], SERVED, False),
        (["mallory@localhost:8080"], SERVED, False),
        (["localhost:8080@evil.example"], SERVED, False),
        (["localhost:8080/client/hubs/x?"], SERVED, False),
        (["localhost:8080%2F"], SERVED, False),
        (["localhost:8080#"], SERVED, False),
        (["localhost :8080"], SERVED, False),
        ([""], SERVED, False),
        ([], SERVED, False),  # no Host at all
        (["localhost:8080", "localhost:8080"], SERVED, False),  # repeated
        (["localhost:8080", "evil.example:8080"], SERVED, False),
    ],
)
def test_host_allowlist_table(headers: list[str], origins: ServedOrigins, served: bool) -> None:
    assert host_is_served(headers, origins) is served


async def raw_request(port: int, head: str) -> bytes:
    """Send one request exactly as written; return the whole response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode("latin-1"))
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


def requests_with(host_line: str, token: str) -> dict[str, str]:
    """One request per route kind, each with `host_line` ("Host: ..." or "") as written."""
    ws_key = base64.b64encode(os.urandom(16)).decode()
    return {
        "rest": f"POST /api/hubs/{HUB}/:send?api-version=2024-12-01 HTTP/1.1\r\n{host_line}"
        f"Authorization: Bearer {token}\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n",
        "client": f"GET /client/hubs/{HUB}?access_token={token} HTTP/1.1\r\n{host_line}"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {ws_key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n",
        "health": f"GET /api/health HTTP/1.1\r\n{host_line}Connection: close\r\n\r\n",
        "unknown": f"GET /nothing-here HTTP/1.1\r\n{host_line}Connection: close\r\n\r\n",
    }


async def rest_and_client_tokens(emu: Emulator) -> tuple[str, str]:
    """A valid REST bearer token for :send, and a valid client token."""
    aud = f"http://localhost:{emu.port}/api/hubs/{HUB}/:send"
    rest = jwt.encode({"aud": aud, "exp": int(time.time()) + 60}, emu.config.access_key, "HS256")
    async with WebPubSubServiceClient.from_connection_string(
        emu.connection_string, hub=HUB
    ) as service:
        client = (await service.get_client_access_token(user_id="a"))["token"]
    return rest, client


async def test_other_host_names_get_421_on_every_route() -> None:
    async with emulator(hubs=hubs_from_dict({HUB: {}})) as emu:
        rest, client = await rest_and_client_tokens(emu)
        refused_hosts = [
            f"Host: evil.example:{emu.port}\r\n",
            "Host: zq7mark.example\r\n",
            f"Host: localhost:{emu.port + 1}\r\n",
        ]
        for host_line in refused_hosts:
            for kind, head in requests_with(host_line, rest).items():
                if kind == "client":
                    head = head.replace(rest, client)
                data = await raw_request(emu.port, head)
                status_head, _, body = data.partition(b"\r\n\r\n")
                assert data.startswith(b"HTTP/1.1 421 "), (kind, host_line, data[:40])
                assert b"x-content-type-options: nosniff" in status_head.lower(), kind
                assert b"evil" not in data and b"zq7mark" not in data
                assert b"Misdirected Request" in body


async def test_a_missing_or_repeated_host_is_refused() -> None:
    async with emulator(hubs=hubs_from_dict({HUB: {}})) as emu:
        rest, client = await rest_and_client_tokens(emu)
        # HTTP/1.1 without Host, or with two, is refused (400) by aiohttp's parser already.
        for host_line in ("", f"Host: localhost:{emu.port}\r\nHost: localhost:{emu.port}\r\n"):
            for kind, head in requests_with(host_line, rest).items():
                if kind == "client":
                    head = head.replace(rest, client)
                data = await raw_request(emu.port, head)
                assert data.split(b" ", 2)[1] == b"400", (kind, host_line, data[:40])
        # HTTP/1.0 may omit Host; the emulator refuses it all the same.
        for path in (f"/api/hubs/{HUB}/:send?api-version=2024-12-01", "/api/health"):
            data = await raw_request(emu.port, f"GET {path} HTTP/1.0\r\n\r\n")
            assert data.split(b" ", 2)[1] == b"421", (path, data[:40])
            assert b"x-content-type-options: nosniff" in data.lower()


async def test_served_names_get_through_on_every_route() -> None:
    async with emulator(hubs=hubs_from_dict({HUB: {}})) as emu:
        rest, client = await rest_and_client_tokens(emu)
        expected = {"rest": b"202", "client": b"101", "health": b"200", "unknown": b"404"}
        for name in ("localhost", "127.0.0.1", "[::1]", "LOCALHOST"):
            for kind, head in requests_with(f"Host: {name}:{emu.port}\r\n", rest).items():
                if kind == "client":
                    head = head.replace(rest, client)
                data = await raw_request(emu.port, head)
                assert data.split(b" ", 2)[1] == expected[kind], (name, kind, data[:60])


async def test_advertised_host_and_bind_address_are_served() -> None:
    async with emulator(advertised_host="chat.example", host="127.0.0.2") as emu:
        for name, status in (
            ("chat.example", b"200"),
            ("127.0.0.2", b"200"),
            ("localhost", b"200"),
            ("other.example", b"421"),
        ):
            head = f"GET /api/health HTTP/1.1\r\nHost: {name}:{emu.port}\r\n\r\n"
            reader, writer = await asyncio.open_connection("127.0.0.2", emu.port)
            try:
                writer.write(head.encode())
                data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            finally:
                writer.close()
            assert data.split(b" ", 2)[1] == status, name
