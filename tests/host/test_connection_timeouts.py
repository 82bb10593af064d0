"""Item: header and keep-alive timeouts like Azure's front end, with short values, on raw sockets.

Kestrel's rules: the request-headers timeout runs from a request's first byte until its headers
are complete and is not reset by each line; it ends in 408. The keep-alive timeout closes a
connection with no request in progress (new and silent, or idle after a response) silently.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable

import pytest

from devstack.host.cli import parse_args
from devstack.host.connection import ConnectionTimeouts
from tests.host.helpers import FIXTURE_APPS, HostProcess, load_fixture, start_host_process
from tests.host.helpers import start_in_process as start_host

from .raw_http import WAIT_S, connect, parse_response, read_response, read_until_closed, request

SHORT = 0.4  # the timeout under test
LONG = 60.0  # the other one: far beyond WAIT_S, so it can never be what closed the connection


@pytest.fixture
async def host_with() -> AsyncIterator[Callable]:
    stops = []

    async def start(timeouts: ConnectionTimeouts) -> str:
        runner, base, executor = await start_host(load_fixture("basic"), timeouts=timeouts)
        stops.append((runner, executor))
        return base

    yield start
    for runner, executor in stops:
        await runner.cleanup()
        executor.shutdown(wait=False, cancel_futures=True)


async def dribble_headers(base: str, every: float) -> tuple[bytes, int]:
    """Send a request line, then one header line every `every` s, never finishing the headers.

    Returns what the server sent before closing and how many lines went out before that.
    """
    reader, writer = await connect(base)
    closed = asyncio.create_task(read_until_closed(reader))
    writer.write(b"GET /api/echo/x HTTP/1.1\r\nHost: localhost\r\n")
    sent = 0
    try:
        async with asyncio.timeout(WAIT_S):
            while not closed.done():
                await asyncio.wait({closed}, timeout=every)  # pace the lines, stop on close
                if not closed.done():
                    writer.write(f"X-Line-{sent}: still coming\r\n".encode())
                    sent += 1
        return await closed, sent
    finally:
        writer.close()


async def test_a_client_that_sends_nothing_is_closed_at_the_keep_alive_timeout(
    host_with: Callable,
) -> None:
    base = await host_with(ConnectionTimeouts(request_headers=LONG, keep_alive=SHORT))
    reader, writer = await connect(base)
    try:
        assert await read_until_closed(reader) == b""  # closed without a word, as Kestrel
    finally:
        writer.close()


async def test_headers_dribbled_line_by_line_end_in_408_at_the_header_timeout(
    host_with: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    base = await host_with(ConnectionTimeouts(request_headers=SHORT, keep_alive=LONG))
    raw, sent = await dribble_headers(base, every=SHORT / 4)
    response = parse_response(raw)
    assert response.status == 408
    assert response.headers["connection"] == "close"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert sent >= 2  # each line arrived in time, yet the clock was not reset
    assert any("request headers not complete" in r.getMessage() for r in caplog.records)


async def test_an_idle_keep_alive_connection_is_closed(host_with: Callable) -> None:
    base = await host_with(ConnectionTimeouts(request_headers=LONG, keep_alive=SHORT))
    reader, writer = await connect(base)
    try:
        writer.write(request("GET", "/api/items/7"))
        response = await read_response(reader)
        assert (response.status, response.body) == (200, b"int:7")
        assert await read_until_closed(reader) == b""
    finally:
        writer.close()


async def test_the_header_clock_stops_once_headers_are_complete(host_with: Callable) -> None:
    base = await host_with(ConnectionTimeouts(request_headers=SHORT, keep_alive=LONG))
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


def test_timeouts_must_be_positive() -> None:
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="positive"):
            ConnectionTimeouts(request_headers=bad)
        with pytest.raises(ValueError, match="positive"):
            ConnectionTimeouts(keep_alive=bad)
    assert ConnectionTimeouts() == ConnectionTimeouts(request_headers=30, keep_alive=130)


async def test_cli_flags_set_both_timeouts(host_process: list[HostProcess]) -> None:
    host = await asyncio.to_thread(
        start_host_process,
        FIXTURE_APPS / "basic",
        "--request-headers-timeout",
        str(SHORT),
        "--keep-alive-timeout",
        "1.5",
    )
    host_process.append(host)
    raw, _ = await dribble_headers(host.base_url, every=SHORT / 4)
    assert parse_response(raw).status == 408
    reader, writer = await connect(host.base_url)
    try:
        assert await read_until_closed(reader) == b""
    finally:
        writer.close()
    assert await asyncio.to_thread(host.stop, signal.SIGTERM) == 0


def test_cli_timeout_flags_parse_and_refuse_nonsense(capsys: pytest.CaptureFixture) -> None:
    assert parse_args([]).timeouts == ConnectionTimeouts(30, 130)
    options = parse_args(["--request-headers-timeout", "5", "--keep-alive-timeout", "7.5"])
    assert options.timeouts == ConnectionTimeouts(request_headers=5, keep_alive=7.5)
    for flag, value in [("--keep-alive-timeout", "0"), ("--request-headers-timeout", "soon")]:
        with pytest.raises(SystemExit) as exit_info:
            parse_args([flag, value])
        assert exit_info.value.code == 2
        assert flag in capsys.readouterr().err


async def test_the_rest_of_an_unread_body_does_not_start_the_header_clock(
    host_with: Callable,
) -> None:
    # A 404 goes out before the POST's body has arrived; aiohttp drains the rest afterwards.
    base = await host_with(ConnectionTimeouts(request_headers=SHORT, keep_alive=LONG))
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
