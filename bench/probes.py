"""Where a benchmark's time goes: CPU per process (from /proc) and an event loop's lag.

Used by the storm benchmark to tell the stack's own work from the load generator's: a chat
message delayed because the driver's loop was busy is an artifact, not a server cost.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from bench.report import percentile

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def child_pids(name_part: str) -> list[int]:
    """This process's children whose command line contains `name_part`."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if ppid == me and name_part in cmdline:
            found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU share (1.0 = one core busy) of named processes between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._began: dict[str, float] = {}
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._began = {name: self._read(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self._t0
        return {
            name: round((self._read(pid) - self._began[name]) / wall, 2)
            for name, pid in self.pids.items()
        }

    @staticmethod
    def _read(pid: int) -> float:
        try:
            return cpu_seconds(pid)
        except (OSError, ValueError):
            return 0.0  # the process has gone


async def idle(
    pids: list[int], below: float = 0.05, window: float = 0.5, limit: float = 120
) -> float:
    """Wait until the processes together use less than `below` of a core over `window`
    seconds (their queued work is done); returns the seconds waited."""
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        before = sum(CpuMeter._read(pid) for pid in pids)
        await asyncio.sleep(window)
        if sum(CpuMeter._read(pid) for pid in pids) - before < below * window:
            break
    return time.perf_counter() - began


def cpu_stall_us() -> int | None:
    """Microseconds some runnable task has waited for a CPU since boot (Linux PSI), or None."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(some.rsplit("total=", 1)[1])


class CpuPressure:
    """Share of the time (0-1) something on the machine waited for a CPU: how shared it was."""

    def start(self) -> None:
        self._t0, self._stall = time.perf_counter(), cpu_stall_us()

    def stop(self) -> float | None:
        stall = cpu_stall_us()
        if stall is None or self._stall is None:
            return None
        return round((stall - self._stall) / 1e6 / (time.perf_counter() - self._t0), 2)


class LoopLag:
    """How late the running loop wakes a 10 ms sleeper: its own busyness, in ms."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append((time.perf_counter() - began - self.interval) * 1000)

    def start(self) -> None:
        self.samples = []
        self._task = asyncio.create_task(self._run())

    def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
        lags = self.samples or [0.0]
        return {"p99_ms": round(percentile(lags, 99), 1), "max_ms": round(max(lags), 1)}
