"""A storm of connections into one room, through the local stack (Azurite, emulator, host).

Ten people chat in the lobby, one message in flight at a time; the latency is from one
client's send until all ten have it. First idle, then while 1,000 connections (distinct
users, lazy auth) arrive at once: each is put in the lobby by its connect reply and its
`connected` event reconciles presence and sends a member list. Target: chat p99 during the
storm <= 3x the idle p99. Also counted: the presence notices one observer gets. Then, once
the room is quiet, the same chat in the room of 1,010: what the bigger room costs by itself.

The newcomers connect from a separate process (bench/stormclients.py), as they would from
other machines: when they shared the driver's event loop, their 1,000 handshakes delayed the
chatters' receive callbacks (driver loop lag p99 70-100 ms, max 330-610 ms), so part of what
was measured was the benchmark itself. The driver's loop lag, CPU per process and the
machine's CPU pressure during the storm are reported beside the latencies.

The same storm is then run against a floor: the same stack with the hub sending no
`connected`/`disconnected` events, so what remains is the emulator accepting the connections
and the connect webhook, with none of the app's presence work.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from typing import Any

from bench import probes, wsclient
from bench.e2e import Stack, Tracker, quiet
from bench.report import median, percentile, table

TARGET = 3.0
CHATTERS = 10
# STORM_IN_PROCESS=1: the newcomers share the driver's loop, as before (to show the artifact).
IN_PROCESS = os.environ.get("STORM_IN_PROCESS") == "1"


async def _storm_elsewhere(stack: Stack, size: int) -> asyncio.subprocess.Process:
    """Open the storm's connections from another process; return it once all are open."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.stormclients", stack.client_url("storm"), str(size),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    line = (await child.stdout.readline()).decode().strip()
    if not line.startswith("connected"):
        child.kill()
        await child.wait()
        raise RuntimeError(f"storm clients: {line or 'exited'}")
    return child


async def _one(clients: list[wsclient.Client], tracker: Tracker, counter: Any) -> float:
    marker = f"~m{next(counter)}~".encode()
    waiter = tracker.expect(marker, len(clients))
    began = time.perf_counter()
    clients[0].send(marker)
    await asyncio.wait_for(waiter.done.wait(), 60)
    del tracker.waiters[marker]
    return (waiter.last - began) * 1000


async def _measure(quick: bool) -> dict[str, Any]:
    app = await _storm(quick, only_connect=False)
    floor = await _storm(quick, only_connect=True)
    return app | {"floor": floor}


async def _storm(quick: bool, only_connect: bool) -> dict[str, Any]:
    wsclient.raise_open_file_limit()
    storm_size = 250 if quick else 1000
    idle_samples = 30 if quick else 100
    tracker = Tracker()
    notices = {"joined": 0, "left": 0}

    def observe(client: wsclient.Client, payload: bytes) -> None:
        tracker.on_frame(client, payload)
        if client.tag == 0 and b'"system"' in payload:
            event = json.loads(payload).get("event")
            if event in notices:
                notices[event] += 1

    counter = itertools.count()
    with Stack(only_connect=only_connect) as stack:
        urls = [stack.client_url(f"chatter{i:02d}") for i in range(CHATTERS)]
        chatters = await wsclient.connect_many(urls, observe)
        await asyncio.sleep(2)  # their own joins settle
        for _ in range(10):
            await _one(chatters, tracker, counter)  # warm the path
        idle = [await _one(chatters, tracker, counter) for _ in range(idle_samples)]
        before = dict(notices)

        cpu = probes.CpuMeter({**stack.pids, "driver": os.getpid()})
        lag = probes.LoopLag()
        pressure = probes.CpuPressure()
        pressure.start()
        cpu.start()
        lag.start()
        began = time.perf_counter()
        if IN_PROCESS:
            storm_urls = [stack.client_url(f"storm{i:04d}") for i in range(storm_size)]
            storm = asyncio.create_task(wsclient.connect_many(storm_urls, None, batch=storm_size))
        else:
            storm = asyncio.create_task(_storm_elsewhere(stack, storm_size))
        during: list[float] = []
        while not storm.done() or len(during) < idle_samples:
            during.append(await _one(chatters, tracker, counter))
            if time.perf_counter() - began > 300:
                break
        arrived = await storm
        storm_s = time.perf_counter() - began
        driver_lag = lag.stop()
        cpu_share = cpu.stop()
        stalled = pressure.stop()
        # The room is now 100 times bigger: how much of the storm's cost is just that? Wait
        # until the stack is idle (the queued connected events are done) before measuring.
        await quiet(tracker, idle=1.0)
        settling_s = await probes.idle([stack.pids["emulator"], stack.pids["host"]])
        settled = [await _one(chatters, tracker, counter) for _ in range(idle_samples)]
        if IN_PROCESS:
            for client in arrived:
                client.close()
        else:
            cpu_share["storm clients (total s)"] = round(probes.cpu_seconds(arrived.pid), 2)
            arrived.stdin.close()
            await arrived.wait()
        for client in chatters:
            client.close()
    storm_notices = {k: notices[k] - before[k] for k in notices}
    return {
        "storm_connections": storm_size,
        "idle": {"p50_ms": median(idle), "p99_ms": percentile(idle, 99), "samples": len(idle)},
        "storm": {
            "p50_ms": median(during),
            "p99_ms": percentile(during, 99),
            "samples": len(during),
            "seconds": storm_s,
        },
        "settled": {
            "p50_ms": median(settled),
            "p99_ms": percentile(settled, 99),
            "samples": len(settled),
            "waited_for_idle_s": round(settling_s, 1),
        },
        "settled_p99_ratio": percentile(settled, 99) / percentile(idle, 99),
        # Who was busy during the storm phase (1.0 = one core) and how late the driver's
        # own loop ran: if the driver lags, the latency it measures is partly its own.
        "cpu_during_storm": cpu_share,
        "driver_loop_lag": driver_lag,
        # Linux PSI: the share of the storm's time some task (ours or the machine's other
        # users') waited for a CPU.
        "cpu_pressure": stalled,
        "p99_ratio": percentile(during, 99) / percentile(idle, 99),
        "notices_seen_by_one_observer": storm_notices,
        "target_p99_ratio": TARGET,
    }


PROBE_HEADERS = [
    "stack", "storm s", "emulator", "host", "azurite", "driver", "storm clients (CPU s)",
    "driver lag p99 / max ms", "CPU pressure",
]  # fmt: skip


def run(quick: bool) -> tuple[dict[str, Any], list[str]]:
    data = asyncio.run(_measure(quick))
    rows = []
    for label, run_data in (("app", data), ("floor: no connected events", data["floor"])):
        idle, storm = run_data["idle"], run_data["storm"]
        rows.append([label, "idle", idle["samples"], idle["p50_ms"], idle["p99_ms"], "1.00", "-"])
        rows.append([
            "", f"{run_data['storm_connections']} connections arriving", storm["samples"],
            storm["p50_ms"], storm["p99_ms"], f"{run_data['p99_ratio']:.2f}",
            run_data["notices_seen_by_one_observer"]["joined"],
        ])  # fmt: skip
        settled = run_data["settled"]
        rows.append([
            "", f"{run_data['storm_connections']} connected, settled", settled["samples"],
            settled["p50_ms"], settled["p99_ms"], f"{run_data['settled_p99_ratio']:.2f}", "-",
        ])  # fmt: skip
    probe_rows = []
    for label, run_data in (("app", data), ("floor", data["floor"])):
        cpu, lag = run_data["cpu_during_storm"], run_data["driver_loop_lag"]
        probe_rows.append([
            label, f"{run_data['storm']['seconds']:.1f}", cpu["emulator"], cpu["host"],
            cpu["azurite"], cpu["driver"], cpu.get("storm clients (total s)", "-"),
            f"{lag['p99_ms']} / {lag['max_ms']}", run_data["cpu_pressure"],
        ])  # fmt: skip
    return data, [
        table(
            f"Chat latency in the lobby ({CHATTERS} people) while connections arrive "
            f"(ms; target: storm p99 <= {TARGET}x idle p99)",
            ["stack", "phase", "messages", "p50 ms", "p99 ms", "p99 vs idle", "joined notices"],
            rows,
        ),
        table(
            "Where the storm's time went: CPU per process (1.0 = one core busy) during the "
            "storm phase, the benchmark driver's own loop lag, and the machine's CPU pressure "
            "(share of the time some task waited for a CPU)",
            PROBE_HEADERS,
            probe_rows,
        ),
    ]
