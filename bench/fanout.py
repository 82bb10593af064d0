"""Emulator fan-out: deliveries per second broadcasting to 1,000 plain WebSocket clients,
against a bare aiohttp broadcast server on the same machine (the practical limit), and the
emulator's memory per idle connection at 5,000 connections.

Servers run in their own processes; the clients and the driver share this process (bare
asyncio protocols that only count bytes, so the receiving side stays cheap).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import jwt

from bench import procs, wsclient
from bench.report import median, table

HUB = "bench"
KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
PAYLOAD = ("x" * 90).encode()  # one ~100-byte chat line
IN_FLIGHT = 4  # broadcast requests the driver keeps open at once
TARGET_RATIO = 0.7
TARGET_KB = 50


class Target:
    """One broadcast server: where clients connect and how the driver triggers a broadcast."""

    def __init__(self, name: str, ws_url: str, send_url: str, headers: dict[str, str]) -> None:
        self.name, self.ws_url, self.send_url, self.headers = name, ws_url, send_url, headers
        self.clients: list[wsclient.Client] = []


def emulator_command(port: int) -> list[str]:
    return [procs.python(), "-m", "devstack.emulator", "--host", "127.0.0.1", "--port",
            str(port), "--access-key", KEY, "--log-level", "WARNING"]  # fmt: skip


EMULATOR_ENV = {f"WebPubSub__Hubs__{HUB}__AnonymousConnectPolicy": "allow"}


def emulator_target(port: int) -> Target:
    send = f"http://127.0.0.1:{port}/api/hubs/{HUB}/:send?api-version=2024-12-01"
    token = jwt.encode({"aud": send, "exp": int(time.time()) + 3600}, KEY, algorithm="HS256")
    return Target(
        "emulator",
        f"ws://127.0.0.1:{port}/client/hubs/{HUB}",
        send,
        {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )


def bare_target(port: int) -> Target:
    return Target(
        "bare aiohttp server",
        f"ws://127.0.0.1:{port}/ws",
        f"http://127.0.0.1:{port}/broadcast",
        {"Content-Type": "text/plain"},
    )


async def _broadcast_round(http: aiohttp.ClientSession, target: Target, messages: int) -> float:
    """Seconds from the first broadcast request until every client holds every message."""
    frame_bytes = 2 + len(PAYLOAD)
    goal = sum(c.bytes for c in target.clients) + messages * frame_bytes * len(target.clients)
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def send_one() -> None:
        async with gate, http.post(target.send_url, data=PAYLOAD, headers=target.headers) as r:
            assert r.status == 202, await r.text()

    started = time.perf_counter()
    sending = asyncio.gather(*(send_one() for _ in range(messages)))
    deadline = started + 120
    while sum(c.bytes for c in target.clients) < goal:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{target.name}: not every client got every message")
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - started
    await sending
    return elapsed


async def _throughput(clients: int, messages: int, rounds: int) -> dict[str, Any]:
    emu_port, bare_port = procs.free_port(), procs.free_port()
    with (
        procs.server(
            emulator_command(emu_port), f"http://127.0.0.1:{emu_port}/api/health", EMULATOR_ENV
        ),
        procs.server(
            [procs.python(), "-m", "bench.bareserver", str(bare_port)],
            f"http://127.0.0.1:{bare_port}/api/health",
        ),
    ):
        targets = [emulator_target(emu_port), bare_target(bare_port)]
        for target in targets:
            target.clients = await wsclient.connect_many([target.ws_url] * clients)
        await asyncio.sleep(0.5)
        rates: dict[str, list[float]] = {t.name: [] for t in targets}
        async with aiohttp.ClientSession() as http:
            for target in targets:  # warm-up: connection pools, first-call costs
                await _broadcast_round(http, target, 5)
            for _ in range(rounds):  # alternate, so machine noise lands on both alike
                for target in targets:
                    seconds = await _broadcast_round(http, target, messages)
                    rates[target.name].append(clients * messages / seconds)
        for target in targets:
            for client in target.clients:
                client.close()
    emulator, bare = median(rates["emulator"]), median(rates["bare aiohttp server"])
    return {
        "clients": clients,
        "messages_per_round": messages,
        "rounds": rounds,
        "emulator_deliveries_per_s": emulator,
        "bare_deliveries_per_s": bare,
        "ratio": emulator / bare,
        "target_ratio": TARGET_RATIO,
        "samples": rates,
    }


async def _memory(name: str, command: list[str], port: int, ws_url: str, connections: int,
                  env: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    with procs.server(command, f"http://127.0.0.1:{port}/api/health", env) as process:
        warm = await wsclient.connect_many([ws_url] * 50)  # first-connection allocations
        await asyncio.sleep(1.0)
        before = procs.rss_kib(process.pid)
        idle = await wsclient.connect_many([ws_url] * connections, batch=250)
        await asyncio.sleep(2.0)
        after = procs.rss_kib(process.pid)
        for client in warm + idle:
            client.close()
    per_kb = (after - before) * 1024 / 1000 / connections
    return {"server": name, "connections": connections, "rss_before_kib": before,
            "rss_after_kib": after, "kb_per_connection": per_kb}  # fmt: skip


async def _measure(quick: bool) -> dict[str, Any]:
    limit = wsclient.raise_open_file_limit()
    connections = 5000
    throughput = await _throughput(1000, 50 if quick else 200, 1 if quick else 5)
    emu_port, bare_port = procs.free_port(), procs.free_port()
    memory = [
        await _memory("emulator", emulator_command(emu_port), emu_port,
                      emulator_target(emu_port).ws_url, connections, EMULATOR_ENV),
        await _memory("bare aiohttp server", [procs.python(), "-m", "bench.bareserver",
                      str(bare_port)], bare_port, bare_target(bare_port).ws_url, connections),
    ]  # fmt: skip
    return {"open_file_limit": limit, "throughput": throughput, "memory": memory,
            "target_kb_per_connection": TARGET_KB}  # fmt: skip


def run(quick: bool) -> tuple[dict[str, Any], list[str]]:
    data = asyncio.run(_measure(quick))
    t = data["throughput"]
    throughput = table(
        f"Emulator fan-out: {t['clients']:,} plain WebSocket clients, {t['messages_per_round']} "
        f"broadcasts of ~100 B per round, median of {t['rounds']} rounds",
        ["server", "deliveries/s", "ratio", "target"],
        [
            ["emulator (REST send_to_all)", t["emulator_deliveries_per_s"], f"{t['ratio']:.2f}",
             f">= {TARGET_RATIO}"],
            ["bare aiohttp broadcast loop (the practical limit)", t["bare_deliveries_per_s"],
             "1.00", "-"],
        ],
    )  # fmt: skip
    memory = table(
        f"Memory per idle connection at {data['memory'][0]['connections']:,} connections "
        f"(RSS growth; open-file limit raised to {data['open_file_limit']:,})",
        ["server", "RSS before (MiB)", "RSS after (MiB)", "KB per connection", "target"],
        [
            [m["server"], m["rss_before_kib"] / 1024, m["rss_after_kib"] / 1024,
             m["kb_per_connection"], f"<= {TARGET_KB}" if m["server"] == "emulator" else "-"]
            for m in data["memory"]
        ],
    )  # fmt: skip
    note = (
        "Servers run in their own processes; the 1,000 clients and the driver share the "
        "benchmark process (asyncio protocols that only count bytes), on the same 2 cores."
    )
    return data, [throughput + "\n\n" + note, memory]
