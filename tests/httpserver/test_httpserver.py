"""devstack/httpserver.py on raw sockets: Kestrel's header and keep-alive timeouts, quiet 400s.

Kestrel's rules: the request-headers timeout runs from a request's first byte until its headers
are complete and is not reset by each line; it ends in 408. The keep-alive timeout closes a
connection with no request in progress (new and silent, or idle after a response) silently.
Both devstack servers serve through this module; tests/host and tests/emulator check that each
one is wired to it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web

from devstack.httpserver import ConnectionTimeouts, request_timeout_bytes, start_server
from tests.support.raw_http import (
    WAIT_S,
    assert_quiet_400,
    connect,
    dribble_headers,
    parse_response,
    read_response,
    read_until_closed,
    request,
    send_raw,
)

SHORT = 0.4  # the timeout under test
LONG = 60.0  # the other one: far beyond WAIT_S, so it can never be what closed the connection
MARK = "zq7mark"  # appears in each hostile request; must never come back


async def _item(request: web.Request) -> web.Response:
    return web.Response(text=f"int:{request.match_info['n']}")


async def _body_length(request: web.Request) -> web.Response:
    return web.Response(text=str(len(await request.read())))


async def _echo_ws(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(autoping=False)
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data)
    return ws


def small_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/api/items/{n}", _item)
    app.router.add_post("/api/body-length", _body_length)
    app.router.add_get("/ws", _echo_ws)
    return app


@pytest.fixture
async def serve() -> AsyncIterator[Callable]:
    """`await serve(timeouts)` -> the base URL of a small app served by start_server."""
    runners: list[web.AppRunner] = []

    async def start(timeouts: ConnectionTimeouts) -> str:
        sock = socket.create_server(("127.0.0.1", 0))
        runners.append(await start_server(small_app(), sock, timeouts))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_a_client_that_sends_nothing_is_closed_at_the_keep_alive_timeout(
    serve: Callable,
) -> None:
    base = await serve(ConnectionTimeouts(request_headers=LONG, keep_alive=SHORT))
    reader, writer = await connect(base)
    try:
        assert await read_until_closed(reader) == b""  # closed without a word, as Kestrel
    finally:
        writer.close()


async def test_headers_dribbled_line_by_line_end_in_408_at_the_header_timeout(
    serve: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    base = await serve(ConnectionTimeouts(request_headers=SHORT, keep_alive=LONG))
    raw, sent = await dribble_headers(base, every=SHORT / 4, path="/api/items/1")
    response = parse_response(raw)
    assert response.status == 408
    assert response.headers["connection"] == "close"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert sent >= 2  # each line arrived in time, yet the clock was not reset
    assert any("request headers not complete" in r.getMessage() for r in caplog.records)


async def test_an_idle_keep_alive_connection_is_closed(serve: Callable) -> None:
    base = await serve(ConnectionTimeouts(request_headers=LONG, keep_alive=SHORT))
    reader, writer = await connect(base)
    try:
        writer.write(request("GET", "/api/items/7"))
        response = await read_response(reader)
        assert (response.status, response.body) == (200, b"int:7")
        assert await read_until_closed(reader) == b""
    finally:
        writer.close()


async def test_the_header_clock_stops_once_headers_are_complete(serve: Callable) -> None:
    base = await serve(ConnectionTimeouts(request_headers=SHORT, keep_alive=LONG))
    reader, writer = await connect(base)
    try:
        writer.write(request("POST", "/api/body-length", "Content-Length: 5"))
        await asyncio.sleep(SHORT * 3)  # the scenario: a body slower than the header timeout
        writer.write(b"hello")
        response = await read_response(reader)
        assert (response.status, response.body) == (200, b"5")
        # The next request on the same connection, after a pause longer than the header
        # timeout, is not cut off either: the clock starts at its own first byte.
        await asyncio.sleep(SHORT * 3)
        writer.write(request("GET", "/api/items/8"))
        response = await read_response(reader)
        assert (response.status, response.body) == (200, b"int:8")
    finally:
        writer.close()


async def test_blank_lines_between_requests_do_not_start_the_header_clock(
    serve: Callable,
) -> None:
    base = await serve(ConnectionTimeouts(request_headers=SHORT, keep_alive=LONG))
    reader, writer = await connect(base)
    try:
        for _ in range(6):  # blank lines for longer than the header timeout (RFC 9112 allows them)
            writer.write(b"\r\n")
            await writer.drain()
            await asyncio.sleep(SHORT / 2)
        writer.write(request("GET", "/api/items/3"))
        response = await read_response(reader)
        assert (response.status, response.body) == (200, b"int:3")
    finally:
        writer.close()


async def test_the_rest_of_an_unread_body_does_not_start_the_header_clock(
    serve: Callable,
) -> None:
    # A 404 goes out before the POST's body has arrived; aiohttp drains the rest afterwards.
    base = await serve(ConnectionTimeouts(request_headers=SHORT, keep_alive=LONG))
    reader, writer = await connect(base)
    try:
        writer.write(request("POST", "/api/nothing-here", "Content-Length: 100", body=b"x" * 10))
        assert (await read_response(reader)).status == 404
        writer.write(b"x" * 90)
        await asyncio.sleep(SHORT * 3)  # idle for longer than the header timeout
        writer.write(request("GET", "/api/items/9"))
        response = await read_response(reader)
        assert (response.status, response.body) == (200, b"int:9")
    finally:
        writer.close()


async def test_a_websocket_outlives_both_timeouts(serve: Callable) -> None:
    base = await serve(ConnectionTimeouts(request_headers=SHORT, keep_alive=SHORT))
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{base}/ws") as ws:
        await asyncio.sleep(SHORT * 3)  # idle well past both timeouts
        await ws.send_str("still here")
        assert await ws.receive_str(timeout=WAIT_S) == "still here"


def test_timeouts_must_be_positive() -> None:
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="positive"):
            ConnectionTimeouts(request_headers=bad)
        with pytest.raises(ValueError, match="positive"):
            ConnectionTimeouts(keep_alive=bad)
    assert ConnectionTimeouts() == ConnectionTimeouts(request_headers=30, keep_alive=130)


def test_the_408_is_written_like_kestrels() -> None:
    assert request_timeout_bytes(0) == (
        b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
        b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 0\r\n"
        b"X-Content-Type-Options: nosniff\r\n\r\n"
    )


SECRET = f"Bearer {MARK}-token-value"


@pytest.mark.parametrize(
    "raw",
    [
        f"G<script>{MARK}T / HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"HELLO / HTTP/1.1\r\nAuthorization: {SECRET}\r\n\r\n".encode(),
        f"GET /api/items/1 HTTP/1.1\r\nHost: x\r\nBad<b>{MARK}: 1\r\n\r\n".encode(),
        f"GET / HTTP/1.1\r\nBad Header {MARK}\r\n\r\n".encode(),
        f"GET /api/items/1 HTTP/1.1\r\nHost: x\r\nX: {MARK}{'a' * 9000}\r\n\r\n".encode(),
        f"GET /{MARK * 3000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"POST /api/body-length HTTP/1.1\r\nHost: x\r\nContent-Length: 1<i>{MARK}\r\n\r\n".encode(),
        f"GET /<b>{MARK} HTTP/9.9\r\n\r\n".encode(),
    ],
    ids=[
        "method",
        "unknown-method",
        "header-name",
        "header-without-colon",
        "long-header",
        "long-line",
        "content-length",
        "version",
    ],
)
async def test_malformed_http_gets_a_plain_400_that_quotes_nothing(
    serve: Callable, caplog: pytest.LogCaptureFixture, raw: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    base = await serve(ConnectionTimeouts())
    assert_quiet_400(await send_raw(base, raw), caplog.records, MARK)
