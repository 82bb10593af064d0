"""A TCP forwarding proxy that delays every chunk by D ms in each direction, so each HTTP round
trip through it gains about 2D: a store or service a network hop away, on localhost.

Bytes and their order are kept: each direction is one queue of (due time, chunk), written in the
order read, each chunk no sooner than D after it arrived (a pipeline, so chunks in flight do not
wait for each other). An end of stream is forwarded as a half-close after the same delay; a reset
closes both sides.

Run in its own process, so its event loop shares no GIL with the process measured:
`python -m bench.latency DELAY_MS HOST:PORT [HOST:PORT ...]` listens on a free loopback port
for each target and prints `{"ports": [...]}` (one line, in the targets' order) once it accepts.
`running()` starts and stops it; `added_round_trip_ms()` measures what it adds to an HTTP call;
`round_trip()` sets the delay so that what it adds is the round trip asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import selectors
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.procs import stop

log = logging.getLogger("bench")
CHUNK = 64 * 1024
QUEUED = 256  # chunks in flight per direction before reading pauses (back-pressure)
# select() cannot watch a descriptor numbered 1024 or more (FD_SETSIZE) and would stop the
# loop; two sockets a connection, so beyond this many a new connection is closed at once.
MAX_CONNECTIONS = 480


async def _carry(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy one direction, each chunk `delay` seconds after it was read; then half-close."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUED)

    async def read() -> None:
        try:
            while chunk := await reader.read(CHUNK):
                await queue.put((loop.time() + delay, chunk))
        finally:  # end of stream or a reset: either way, after the delay, no more bytes
            await queue.put((loop.time() + delay, b""))

    async def write() -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                    await writer.drain()
                return
            writer.write(chunk)
            await writer.drain()

    reading = asyncio.ensure_future(read())
    try:
        await write()
    except BaseException:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await reading
        raise
    await reading  # a reset while reading raises here: the connection closes both sides


async def _connection(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    target: tuple[str, int],
    delay: float,
) -> None:
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(*target)
    except OSError:
        client_writer.close()  # the target is down: the client sees its connection closed
        return
    directions = [
        asyncio.ensure_future(_carry(client_reader, upstream_writer, delay)),
        asyncio.ensure_future(_carry(upstream_reader, client_writer, delay)),
    ]
    try:
        # Both ends half-closed, or one failed (a reset): then neither is of use.
        _, pending = await asyncio.wait(directions, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        await asyncio.gather(*directions, return_exceptions=True)
    finally:
        for writer in (client_writer, upstream_writer):
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def serve(delay_ms: float, targets: list[tuple[str, int]]) -> None:
    delay = delay_ms / 1000
    servers = []
    active = [0]
    for target in targets:

        async def accept(r: asyncio.StreamReader, w: asyncio.StreamWriter, t=target) -> None:
            if active[0] >= MAX_CONNECTIONS:
                log.warning("latency proxy: %d connections open, one more closed", active[0])
                w.close()
                return
            active[0] += 1
            try:
                await _connection(r, w, t, delay)
            finally:
                active[0] -= 1

        servers.append(await asyncio.start_server(accept, "127.0.0.1", 0, backlog=1024))
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    sys.stdout.write(json.dumps({"ports": ports}) + "\n")
    sys.stdout.flush()
    await asyncio.gather(*(server.serve_forever() for server in servers))


def _target(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"a target is HOST:PORT, not {text!r}")
    return host, int(port)


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: python -m bench.latency DELAY_MS HOST:PORT [HOST:PORT ...]")
    try:
        delay_ms = float(argv[0])
    except ValueError:
        raise SystemExit(f"DELAY_MS is a number of milliseconds, not {argv[0]!r}") from None
    if not 0 <= delay_ms <= 10_000:
        raise SystemExit("DELAY_MS must be between 0 and 10000")
    # select() takes its timeout in microseconds, epoll in whole milliseconds (rounded up: a
    # 2.5 ms wait would be 3 ms or more); the proxy holds few sockets, well under select's 1024.
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=lambda: loop) as run:
        run.run(serve(delay_ms, [_target(t) for t in argv[1:]]))


@contextmanager
def running(delay_ms: float, targets: list[tuple[str, int]]) -> Iterator[list[int]]:
    """The proxy in its own process; yields the loopback port that stands for each target."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.latency", str(delay_ms), *(f"{h}:{p}" for h, p in targets)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the child exiting ends it too (EOF: "")
        if not line:
            raise RuntimeError(f"the latency proxy exited with {process.wait(10)}")
        yield json.loads(line)["ports"]
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def round_trip(rtt_ms: float, targets: list[tuple[str, int]]) -> Iterator[tuple[list[int], dict]]:
    """The proxy with each HTTP call through it `rtt_ms` slower, as measured on the first
    target (an HTTP server that answers any GET): started with half of it each way, then once
    more with that less its own overshoot (timer wake-ups, the extra hop: 0.5-1.5 ms on a busy
    2-core machine). Yields the ports and what was set and measured."""
    delay = rtt_ms / 2
    host, port = targets[0]
    with running(delay, targets) as ports:
        first = added_round_trip_ms(host, port, ports[0])
    delay = max(0.0, delay - (first - rtt_ms) / 2)
    with running(delay, targets) as ports:
        added = added_round_trip_ms(host, port, ports[0])
        yield (
            ports,
            {
                "rtt_ms": rtt_ms,
                "each_way_ms": round(delay, 3),
                "measured_added_ms": round(added, 3),
                "measured_at_half_each_way_ms": round(first, 3),
            },
        )


def added_round_trip_ms(host: str, direct_port: int, proxied_port: int, calls: int = 100) -> float:
    """Median of an HTTP GET on one kept-alive connection through the proxy, less direct."""

    def median_ms(port: int) -> float:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        samples = []
        try:
            for _ in range(calls + 5):
                t0 = time.perf_counter()
                connection.request("GET", "/api/health")
                connection.getresponse().read()
                samples.append(time.perf_counter() - t0)
        finally:
            connection.close()
        return statistics.median(samples[5:]) * 1000

    return median_ms(proxied_port) - median_ms(direct_port)


if __name__ == "__main__":
    main(sys.argv[1:])
