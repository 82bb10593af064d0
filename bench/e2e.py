"""End to end through the local stack (emulator + Functions host, as `make run` wires them).

For 50, 200 and 500 connected page-style clients (plain WebSockets, lazy auth): the latency
from one client's send to every client's receipt (p50, p95, p99) and the sustained messages
per second, each against the floor: the same fan-out sent straight through the service's
REST API (send_to_all from the SDK, as the app does) with no webhook hop.

The emulator and the host run in their own processes; the clients and the driver share the
benchmark process (bare asyncio protocols), all on the same machine.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import probes, procs, wsclient
from bench.report import median, percentile, table

SIZES = (50, 200, 500)
TARGET_P99_RATIO = 2.0
SENDERS = 20  # concurrent senders in the sustained phase


@dataclass
class Waiter:
    remaining: int
    last: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Tracker:
    """Notes when each marked message reaches each client; markers look like ~m123~."""

    def __init__(self) -> None:
        self.waiters: dict[bytes, Waiter] = {}
        self.frames = 0

    def expect(self, marker: bytes, clients: int) -> Waiter:
        waiter = self.waiters[marker] = Waiter(clients)
        return waiter

    def on_frame(self, _client: wsclient.Client, payload: bytes) -> None:
        self.frames += 1
        start = payload.find(b"~m")
        if start < 0:
            return
        end = payload.find(b"~", start + 2)
        waiter = self.waiters.get(payload[start : end + 1])
        if waiter is None:
            return
        waiter.remaining -= 1
        if waiter.remaining == 0:
            waiter.last = time.perf_counter()
            waiter.done.set()


class Stack:
    """The emulator and host children, started the way `python -m devstack` starts them."""

    def __init__(self, only_connect: bool = False) -> None:
        from devstack import stack_wiring as wiring

        # only_connect: the hub sends no connected/disconnected events (a floor for storms).
        self.only_connect = only_connect
        self.options = wiring.StackOptions(
            procs.free_port(), procs.free_port(), storage_port=procs.free_port(), storage_dir=None
        )
        self.wiring = wiring
        self._exit: list[Any] = []
        self.pids: dict[str, int] = {}  # process name -> pid, for CPU probes

    def __enter__(self) -> Stack:
        w, o = self.wiring, self.options
        storage = procs.azurite()
        self.storage_connection = storage.__enter__()
        self._exit.append(storage)
        # The emulator's per-event INFO lines are not part of what a service does; the host
        # keeps its normal logging (it is the app's real cost), discarded by procs.server.
        # BENCH_LOG_DIR=dir keeps both logs (the emulator's at INFO) to diagnose a run.
        logs = os.environ.get("BENCH_LOG_DIR")
        emulator = procs.server(
            [*w.emulator_command(o), "--log-level", "INFO" if logs else "WARNING"],
            o.emulator_health_url,
            self._emulator_env(),
            Path(logs, "emulator.log") if logs else None,
        )
        # The benchmark sends far faster than a person: lift the per-connection flood limit.
        host_env = w.host_env(o, os.environ) | {
            "ChatRateLimitMessages": "10000",
            "ChatStorage": self.storage_connection,
        }
        host = procs.server(
            w.host_command(o), o.host_health_url, host_env, Path(logs, "host.log") if logs else None
        )
        for name, context in (("emulator", emulator), ("host", host)):
            self.pids[name] = context.__enter__().pid
            self._exit.append(context)
        self.pids["azurite"] = next(iter(probes.child_pids("azurite")), 0)
        return self

    def _emulator_env(self) -> dict[str, str]:
        env = self.wiring.emulator_env(self.options, os.environ)
        if self.only_connect:
            handler = f"WebPubSub__Hubs__{self.options.hub}__EventHandlers__0__SystemEvents__"
            env = {k: v for k, v in env.items() if not k.startswith(handler)}
            env[handler + "0"] = "connect"
        return env

    def __exit__(self, *exc: object) -> None:
        for context in reversed(self._exit):
            context.__exit__(None, None, None)

    def client_url(self, user: str) -> str:
        return (
            f"ws://127.0.0.1:{self.options.emulator_port}/client/hubs/{self.options.hub}?id={user}"
        )


async def quiet(tracker: Tracker, idle: float = 0.5, limit: float = 60) -> None:
    """Wait until no frame has arrived for `idle` seconds (join notices settling)."""
    deadline = time.perf_counter() + limit
    seen = -1
    while tracker.frames != seen and time.perf_counter() < deadline:
        seen = tracker.frames
        await asyncio.sleep(idle)


async def _latencies(
    clients: list[wsclient.Client], service: Any, tracker: Tracker, samples: int, counter: Any
) -> dict[str, list[float]]:
    """One message in flight at a time; blocks of app and floor sends alternate."""
    n = len(clients)
    out: dict[str, list[float]] = {"app": [], "floor": []}
    block = 10
    for start in range(0, samples, block):
        for path in ("app", "floor"):
            for i in range(start, min(samples, start + block)):
                marker = f"~m{next(counter)}~".encode()
                waiter = tracker.expect(marker, n)
                began = time.perf_counter()
                if path == "app":
                    clients[i % n].send(marker)
                else:
                    await service.send_to_all(_chat(marker), content_type="application/json")
                await asyncio.wait_for(waiter.done.wait(), 30)
                out[path].append(waiter.last - began)
                del tracker.waiters[marker]
    return out


def _chat(marker: bytes) -> dict[str, str]:
    """The same shape and size as the app's broadcast of a chat message."""
    return {
        "id": "0123456789abcdef01234567",
        "from": "bench-user",
        "message": marker.decode(),
        "time": "2026-11-28T12:00:00.000Z",
    }


async def _sustained(
    clients: list[wsclient.Client], service: Any, tracker: Tracker, messages: int, counter: Any,
    path: str,
) -> float:  # fmt: skip
    """Messages per second until every client has every one of `messages` messages."""
    n = len(clients)
    senders = min(SENDERS, n)
    markers = [f"~m{next(counter)}~".encode() for _ in range(messages)]
    waiters = [tracker.expect(m, n) for m in markers]
    began = time.perf_counter()
    if path == "app":
        for i, marker in enumerate(markers):  # each sender's frames are queued at once
            clients[i % senders].send(marker)
    else:
        gate = asyncio.Semaphore(senders)

        async def send(marker: bytes) -> None:
            async with gate:
                await service.send_to_all(_chat(marker), content_type="application/json")

        await asyncio.gather(*(send(m) for m in markers))
    await asyncio.wait_for(asyncio.gather(*(w.done.wait() for w in waiters)), 120)
    elapsed = max(w.last for w in waiters) - began
    for marker in markers:
        del tracker.waiters[marker]
    return messages / elapsed


async def _measure(quick: bool) -> dict[str, Any]:
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

    wsclient.raise_open_file_limit()
    samples = 30 if quick else 200
    counter = itertools.count()
    tracker = Tracker()
    results: list[dict[str, Any]] = []
    with Stack() as stack:
        service = WebPubSubServiceClient.from_connection_string(
            stack.options.connection_string, hub=stack.options.hub
        )
        clients: list[wsclient.Client] = []
        async with service:
            await service.send_to_all(_chat(b"~warm~"), content_type="application/json")
            for size in SIZES:
                urls = [stack.client_url(f"user{i:03d}") for i in range(len(clients), size)]
                clients += await wsclient.connect_many(urls, tracker.on_frame, batch=50)
                await quiet(tracker)
                # Warm the webhook path (validation cache, connection pools) before timing.
                await _latencies(clients, service, tracker, 10, counter)
                lat = await _latencies(clients, service, tracker, samples, counter)
                messages = max(20, min(400, 40_000 // size)) // (4 if quick else 1)
                rates = {
                    path: await _sustained(clients, service, tracker, messages, counter, path)
                    for path in ("floor", "app")
                }
                row: dict[str, Any] = {"clients": size, "samples": samples, "messages": messages}
                for path in ("app", "floor"):
                    ms = [s * 1000 for s in lat[path]]
                    row[path] = {
                        "p50_ms": median(ms),
                        "p95_ms": percentile(ms, 95),
                        "p99_ms": percentile(ms, 99),
                        "messages_per_s": rates[path],
                    }
                row["p99_ratio"] = row["app"]["p99_ms"] / row["floor"]["p99_ms"]
                row["throughput_ratio"] = rates["app"] / rates["floor"]
                results.append(row)
        for client in clients:
            client.close()
    return {"sizes": results, "target_p99_ratio_at_200": TARGET_P99_RATIO}


def run(quick: bool) -> tuple[dict[str, Any], list[str]]:
    data = asyncio.run(_measure(quick))
    rows = []
    for r in data["sizes"]:
        app, floor = r["app"], r["floor"]
        rows.append([r["clients"], "app: client -> webhook -> store -> send_to_group",
                     app["p50_ms"], app["p95_ms"], app["p99_ms"], f"{r['p99_ratio']:.2f}",
                     app["messages_per_s"]])  # fmt: skip
        rows.append(["", "floor: REST send_to_all only", floor["p50_ms"], floor["p95_ms"],
                     floor["p99_ms"], "1.00", floor["messages_per_s"]])  # fmt: skip
    first = data["sizes"][0]
    latency = table(
        "End to end through the local stack: send -> every client received "
        f"(ms, {first['samples']} messages one at a time; sustained = messages/s until all "
        f"clients have all, {SENDERS} concurrent senders)",
        ["clients", "path", "p50 ms", "p95 ms", "p99 ms", "p99 vs floor", "sustained msg/s"],
        rows,
    )
    at_200 = next((r for r in data["sizes"] if r["clients"] == 200), None)
    note = (
        f"Target: p99 at 200 clients <= {TARGET_P99_RATIO}x the floor"
        + (f" (this run: {at_200['p99_ratio']:.2f}x)." if at_200 else ".")
        + " The emulator and the Functions host run in their own processes; clients and "
        "driver share the benchmark process (bare asyncio protocols), all on the same 2 cores."
    )
    return data, [latency + "\n\n" + note]
