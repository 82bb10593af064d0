"""bench/latency.py, the delaying proxy the in-process bench puts before Azurite and the sink
(`--rtt-ms`): on real sockets, the proxy in its own process, an asyncio server behind it."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bench import latency
from tests.support.waiting import until

DELAY_MS = 50.0  # big enough that a missing delay cannot pass for scheduling noise
DELAY_S = DELAY_MS / 1000


class Upstream:
    """Echoes what it reads, stamping when each chunk came; closes after the client's end.
    With `close_first` it says "bye" and closes at once instead."""

    def __init__(self, close_first: bool = False) -> None:
        self.close_first = close_first
        self.arrivals: list[tuple[float, bytes]] = []
        self.open = 0
        self.ends = 0  # connections whose client end (EOF) arrived

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        try:
            if self.close_first:
                writer.write(b"bye")
                await writer.drain()
                return
            while chunk := await reader.read(65536):
                self.arrivals.append((time.monotonic(), chunk))  # echoed right after: same time
                writer.write(chunk)
                await writer.drain()
            self.ends += 1
        finally:
            writer.close()
            self.open -= 1


@asynccontextmanager
async def proxied(upstream: Upstream, delay_ms: float = DELAY_MS) -> AsyncIterator[int]:
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    try:
        with latency.running(delay_ms, [("127.0.0.1", port)]) as ports:
            yield ports[0]
    finally:
        server.close()


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _exchange(port: int, payload: bytes) -> bytes:
    """Send all of it and half-close while reading everything back, until the proxy's EOF."""
    reader, writer = await _open(port)

    async def send() -> None:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    sending = asyncio.ensure_future(send())
    try:
        received = await asyncio.wait_for(reader.read(), 60)
    finally:
        await sending
        writer.close()
    return received


async def test_a_large_payload_comes_back_intact() -> None:
    payload = os.urandom(16 * 1024 * 1024)
    async with proxied(Upstream(), delay_ms=5) as port:
        received = await _exchange(port, payload)
    assert len(received) == len(payload)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


async def test_many_small_writes_keep_their_order_both_ways() -> None:
    upstream = Upstream()
    lines = [b"%06d\n" % n for n in range(5000)]
    async with proxied(upstream, delay_ms=2) as port:
        reader, writer = await _open(port)
        for line in lines:
            writer.write(line)
            await writer.drain()
        writer.write_eof()
        echoed = await asyncio.wait_for(reader.read(), 60)
        writer.close()
    assert b"".join(chunk for _, chunk in upstream.arrivals) == b"".join(lines)
    assert echoed == b"".join(lines)


async def test_every_chunk_is_delayed_in_each_direction() -> None:
    upstream = Upstream()
    async with proxied(upstream) as port:
        reader, writer = await _open(port)
        for n in range(5):
            sent = time.monotonic()
            writer.write(b"ping %d" % n)
            await writer.drain()
            reply = await asyncio.wait_for(reader.readexactly(6), 10)
            back = time.monotonic()
            assert reply == b"ping %d" % n
            arrived = upstream.arrivals[-1][0]
            assert arrived - sent >= DELAY_S, "client to target"
            assert back - arrived >= DELAY_S, "target to client"
            assert back - sent >= 2 * DELAY_S
        writer.close()


async def test_the_clients_end_reaches_the_target_and_the_targets_close_comes_back() -> None:
    upstream = Upstream()
    async with proxied(upstream) as port:
        reader, writer = await _open(port)
        writer.write(b"last words")
        await writer.drain()
        writer.write_eof()  # half-close: the target must see its end of stream
        await until(lambda: upstream.ends == 1, what="the target saw the client's end")
        assert await asyncio.wait_for(reader.read(), 10) == b"last words"  # then EOF
        writer.close()


async def test_a_client_that_closes_outright_ends_the_targets_connection() -> None:
    upstream = Upstream()
    async with proxied(upstream) as port:
        _, writer = await _open(port)
        await until(lambda: upstream.open == 1, what="the target has the connection")
        writer.close()
        await until(lambda: upstream.open == 0, what="the target's connection closed")


async def test_a_target_that_closes_ends_the_clients_connection() -> None:
    async with proxied(Upstream(close_first=True)) as port:
        reader, writer = await _open(port)
        assert await asyncio.wait_for(reader.read(), 10) == b"bye"  # and then EOF
        writer.close()


async def test_a_target_that_is_down_closes_the_client() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens there now
    with latency.running(DELAY_MS, [("127.0.0.1", port)]) as ports:
        reader, writer = await _open(ports[0])
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()


async def test_many_connections_at_once_each_keep_their_own_bytes() -> None:
    upstream = Upstream()
    count = 200
    async with proxied(upstream) as port:
        opened = [await _open(port) for _ in range(count)]
        await until(lambda: upstream.open == count, what="every connection reached the target")
        payloads = [b"%04d:" % n + os.urandom(32 * 1024) for n in range(count)]

        async def exchange(n: int) -> bytes:
            reader, writer = opened[n]
            writer.write(payloads[n])
            await writer.drain()
            writer.write_eof()
            received = await asyncio.wait_for(reader.read(), 60)
            writer.close()
            return received

        received = await asyncio.gather(*(exchange(n) for n in range(count)))
    assert received == payloads


async def test_connections_beyond_what_select_can_watch_are_closed_not_fatal() -> None:
    upstream = Upstream()
    async with proxied(upstream) as port:
        opened = [await _open(port) for _ in range(latency.MAX_CONNECTIONS)]
        await until(lambda: upstream.open == latency.MAX_CONNECTIONS, what="all at the target")
        reader, writer = await _open(port)  # one too many
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        for _, other in opened[:10]:
            other.close()

        async def served() -> bool:  # once the proxy has closed its side of those 10
            try:
                return await _exchange(port, b"still serving") == b"still serving"
            except OSError:  # reset, or not connected (ENOTCONN): closed as one too many
                return False

        await until(served, what="a new connection served again")
        for _, other in opened[10:]:
            other.close()


def test_the_proxy_refuses_bad_arguments() -> None:
    for argv, reason in (
        (["x", "127.0.0.1:1"], "DELAY_MS is a number"),
        (["-1", "127.0.0.1:1"], "between 0 and 10000"),
        (["5", "nohost"], "HOST:PORT"),
        (["5"], "usage"),
    ):
        with pytest.raises(SystemExit, match=reason):
            latency.main(argv)
