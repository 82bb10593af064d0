"""Server processes for the benchmarks: start on a free port, wait for health, read memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - loopback only
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def server(
    command: Sequence[str],
    health_url: str,
    env: dict[str, str] | None = None,
    log_to: Path | None = None,
) -> Iterator[subprocess.Popen]:
    """A child process; its output is discarded (writing logs is not what is measured)
    unless `log_to` names a file for it, when a run is being diagnosed."""
    out = log_to.open("ab") if log_to is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        list(command),
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT if log_to is not None else subprocess.DEVNULL,
    )
    try:
        wait_healthy(health_url, process)
        yield process
    finally:
        stop(process)
        if log_to is not None:
            out.close()  # type: ignore[union-attr]


def stop(process: subprocess.Popen[Any]) -> None:
    """Terminate, then kill what does not end within 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def python() -> str:
    return sys.executable


@contextmanager
def azurite() -> Iterator[str]:
    """Azurite's Table service on a free port, in memory; yields its connection string."""
    from dataclasses import replace

    from devstack import stack_wiring as wiring

    options = replace(wiring.StackOptions(), storage_port=free_port(), storage_dir=None)
    process = subprocess.Popen(
        wiring.azurite_command(options),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", options.storage_port), 0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("Azurite did not start (run `make azurite`)") from None
                time.sleep(0.05)
        yield options.storage_connection_string
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
