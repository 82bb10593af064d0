"""HTTP connection hygiene over real sockets: the emulator serves through devstack/httpserver.py
(header and keep-alive timeouts, issue 11 item 5), with nosniff on every answer and no request
bytes echoed in errors (item 6)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devstack.emulator import Emulator
from devstack.emulator.__main__ import parse_args
from tests.support.raw_http import dribble_headers

from .emu_helpers import HUB, call, client_url, emulator, recv_json

JSON = "json.webpubsub.azure.v1"


@contextlib.asynccontextmanager
async def opened(emu: Emulator) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def read_until_closed(reader: asyncio.StreamReader, within: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    return await asyncio.wait_for(reader.read(), within)


async def test_the_emulator_closes_dribbling_and_silent_clients() -> None:
    """Wired to devstack/httpserver.py (whose rules tests/httpserver checks in full)."""
    async with emulator(header_timeout=0.6, keepalive_timeout=1.5) as emu:
        base = f"http://127.0.0.1:{emu.port}"
        raw, sent = await dribble_headers(base, every=0.2, path="/api/health")
        assert raw.startswith(b"HTTP/1.1 408 ") and sent >= 2
        async with opened(emu) as (r, _):
            assert await read_until_closed(r) == b""  # silent: the keep-alive timeout


async def test_websockets_outlive_both_timeouts() -> None:
    async with (
        emulator(keepalive_timeout=0.3, header_timeout=0.3) as emu,
        aiohttp.ClientSession() as http,
    ):
        from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

        async with WebPubSubServiceClient.from_connection_string(
            emu.connection_string, hub=HUB
        ) as service:
            ws = await http.ws_connect(await client_url(service), protocols=[JSON], autoping=False)
            await recv_json(ws)
            await asyncio.sleep(1.2)  # idle well past both timeouts
            await ws.send_str('{"type":"ping"}')
            assert (await recv_json(ws))["type"] == "pong"
            await ws.close()


def test_timeouts_are_command_line_flags() -> None:
    args = parse_args(["--header-timeout", "5", "--keepalive-timeout", "7.5"])
    assert (args.header_timeout, args.keepalive_timeout) == (5.0, 7.5)
    defaults = parse_args([])
    assert (defaults.header_timeout, defaults.keepalive_timeout) == (30.0, 130.0)
    for bad in ("0", "-1", "x"):
        with pytest.raises(SystemExit):
            parse_args(["--header-timeout", bad])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/health"),
        ("GET", "/nothing-here"),
        ("GET", "/client/hubs/Chat"),
        ("POST", "/api/hubs/Chat/:send"),
        ("GET", "/api/hubs/Chat/nope"),
        ("PATCH", "/api/hubs/Chat/:send"),
    ],
)
async def test_every_answer_has_nosniff(emu, http, method: str, path: str) -> None:
    async with http.request(method, f"{emu.endpoint}{path}") as resp:
        assert resp.headers.get("X-Content-Type-Options") == "nosniff", resp.status


SECRET = "Bearer sekrit-token-value"


@pytest.mark.parametrize(
    "request_bytes",
    [
        # Over the emulator's 32 KiB field limit (the full table is in tests/httpserver).
        b"GET / HTTP/1.1\r\nAuthorization: " + SECRET.encode() + b"x" * 40000 + b"\r\n\r\n",
        b"GET /" + b"sekrit" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["huge-header", "huge-line"],
)
async def test_malformed_requests_get_a_bare_400_without_echo(emu, caplog, request_bytes) -> None:
    async with opened(emu) as (r, w):
        w.write(request_bytes)
        data = await read_until_closed(r)
    head = data.partition(b"\r\n\r\n")[0]
    assert head.split(b" ")[1] in (b"400", b"413", b"414", b"431")
    assert b"sekrit" not in data
    assert b"x-content-type-options: nosniff" in head.lower()
    for record in caplog.records:
        assert record.exc_info is None
        assert "sekrit" not in record.getMessage()


async def test_a_header_field_may_be_larger_than_aiohttps_default(emu, http) -> None:
    """The SDK signs the full URL, so a long filter= makes a long Authorization header."""
    headers = {"X-Long": "a" * 20000}  # aiohttp's default limit is 8190
    async with http.get(f"{emu.endpoint}/api/health", headers=headers) as resp:
        assert resp.status == 200


async def test_rest_errors_do_not_echo_request_values(emu, http) -> None:

    checks = [
        ("POST", "/:send", "api-version=sekrit"),
        ("HEAD", "/permissions/sekrit/connections/c", "targetName=g"),
        ("POST", "/:send", "api-version=2024-12-01&filter=sekrit%20eq%20'a'"),
    ]
    for method, path, query in checks:
        status, _, body = await call(
            http, emu, method, path, query=query, data=b"x", headers={"Content-Type": "text/plain"}
        )
        assert status == 400, (path, query)
        assert b"sekrit" not in body
    status, _, body = await call(
        http, emu, "POST", "/:send", data=b"x", headers={"Content-Type": "image/sekrit"}
    )
    assert status == 415 and b"sekrit" not in body
    status, _, body = await call(http, emu, "PUT", "/groups/g/connections/sekrit")
    assert status == 404 and b"sekrit" not in body
