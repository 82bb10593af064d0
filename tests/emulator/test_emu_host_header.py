"""The caller's Host header never decides which token audience is accepted (issue 11, item 1).

A chat user's client token (what the app's negotiate returns) once became a REST admin token
when sent with ``Host: localhost:<port>/client/hubs/<hub>?``. These tests send crafted Host
values over raw sockets, so nothing in an HTTP client normalises them first. Crafted values are
now refused before any token is read (421, test_emu_host_allowlist.py); under each Host the
emulator does serve, the token is still refused for what it is (401).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import AsyncIterator

import jwt
import pytest
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from devstack.emulator import Emulator, hubs_from_dict
from devstack.emulator.__main__ import parse_args

from .emu_helpers import emulator

HUB = "Sample_ChatApp"
OTHER = "Other_Hub"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    hubs = hubs_from_dict({HUB: {}, OTHER: {}})
    async with emulator(hubs=hubs) as running:
        yield running


async def raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send one request exactly as written; return (status, whole response)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode("latin-1") + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    return int(data.split(b" ", 2)[1]), data


def crafted_hosts(port: int) -> list[str]:
    return [
        f"localhost:{port}/client/hubs/{HUB}?",
        f"localhost:{port}/client/hubs/{HUB}#",
        f"localhost:{port}%2Fclient%2Fhubs%2F{HUB}%3F",
        f"localhost:{port}/client/hubs/{OTHER}?",
        f"localhost:{port + 1}",
        f"mallory@localhost:{port}",
        f"localhost:{port}@evil.example",
        "",
    ]


def served_hosts(port: int) -> list[str]:
    return [f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"]


async def mallory_token(emu: Emulator, hub: str = HUB) -> str:
    async with WebPubSubServiceClient.from_connection_string(
        emu.connection_string, hub=hub
    ) as service:
        return (await service.get_client_access_token(user_id="mallory"))["token"]


async def test_exploit_client_token_as_rest_bearer_is_refused(emu: Emulator) -> None:
    token = await mallory_token(emu)
    body = b'"pwned"'
    expected = {host: 421 for host in crafted_hosts(emu.port)}
    expected.update({host: 401 for host in served_hosts(emu.port)})
    for host, status in expected.items():
        head = (
            f"POST /api/hubs/{HUB}/:send?api-version=2024-12-01 HTTP/1.1\r\n"
            f"Host: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        assert (await raw_request(emu.port, head, body))[0] == status, host


async def test_token_for_another_hub_is_refused_on_the_client_endpoint(emu: Emulator) -> None:
    token = await mallory_token(emu, OTHER)
    expected = {host: 421 for host in crafted_hosts(emu.port)}
    expected.update({host: 401 for host in served_hosts(emu.port)})
    for host, status in expected.items():
        key = base64.b64encode(os.urandom(16)).decode()
        head = (
            f"GET /client/hubs/{HUB}?access_token={token} HTTP/1.1\r\n"
            f"Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert (await raw_request(emu.port, head))[0] == status, host


async def test_own_tokens_still_work_whatever_loopback_name_is_used(emu: Emulator) -> None:
    token = await mallory_token(emu)
    for host in served_hosts(emu.port):
        key = base64.b64encode(os.urandom(16)).decode()
        head = (
            f"GET /client/hubs/{HUB}?access_token={token} HTTP/1.1\r\n"
            f"Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        status, _ = await raw_request(emu.port, head)
        assert status == 101, host


async def test_generated_token_names_the_emulator_not_the_host_header(emu: Emulator) -> None:
    """:generateToken builds the new token's audience from the emulator's endpoint.

    The request names the emulator as 127.0.0.1 (a Host it serves); the token still names the
    advertised endpoint, localhost.
    """
    path = f"/api/hubs/{HUB}/:generateToken"
    rest = jwt.encode(
        {"aud": f"http://localhost:{emu.port}{path}", "exp": int(time.time()) + 60},
        emu.config.access_key,
        algorithm="HS256",
    )
    head = (
        f"POST {path}?userId=a&api-version=2024-12-01 HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{emu.port}\r\nAuthorization: Bearer {rest}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    status, data = await raw_request(emu.port, head)
    assert status == 200
    token = json.loads(data.split(b"\r\n\r\n", 1)[1])["token"]
    aud = jwt.decode(token, options={"verify_signature": False})["aud"]
    assert aud.lower() == f"http://localhost:{emu.port}/client/hubs/{HUB}".lower()


async def test_advertised_host_is_an_accepted_audience() -> None:
    """A LAN name given with --advertised-host: its tokens work, other names' do not.

    Each case is (the name in the token's audience, the Host header sent, the status).
    """
    async with emulator(advertised_host="chat.example", hubs=hubs_from_dict({HUB: {}})) as emu:
        assert emu.connection_string.startswith(f"Endpoint=http://chat.example:{emu.port};")
        key = emu.config.access_key

        def token(host: str) -> str:
            aud = f"http://{host}:{emu.port}/client/hubs/{HUB}"
            return jwt.encode({"aud": aud, "exp": int(time.time()) + 60}, key, algorithm="HS256")

        cases = (
            ("chat.example", "chat.example", 101),
            ("localhost", "localhost", 101),
            ("localhost", "chat.example", 101),
            ("other.example", "localhost", 401),
            ("other.example", "chat.example", 401),
            ("other.example", "other.example", 421),  # not a name it serves
        )
        for audience, host, status in cases:
            ws_key = base64.b64encode(os.urandom(16)).decode()
            head = (
                f"GET /client/hubs/{HUB}?access_token={token(audience)} HTTP/1.1\r\n"
                f"Host: {host}:{emu.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {ws_key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            assert (await raw_request(emu.port, head))[0] == status, (audience, host)


def test_advertised_host_flag_takes_only_a_host_name() -> None:
    assert parse_args(["--advertised-host", "Chat.Example"]).advertised_host == "chat.example"
    assert parse_args([]).advertised_host == "localhost"
    for bad in ("a/b", "x@y", "h:1", "", "a?b"):
        with pytest.raises(SystemExit):
            parse_args(["--advertised-host", bad])
