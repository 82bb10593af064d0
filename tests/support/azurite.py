"""Throwaway Azurite Table services for tests: free port, data in memory or in a temp folder.

Uses the pinned Azurite in devstack/azurite (installed by `make azurite`, which `make test`
runs). Without it the tests that need storage skip saying how to install it, except under
CI=true, where they fail: CI must install everything itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.stack_wiring import (
    AZURITE_BIN,
    BIND_HOST,
    REPO_ROOT,
    StackOptions,
    azurite_command,
)
from tests.support.processes import ProcessOutput, spawn, stop_process

STARTUP_TIMEOUT_S = 20.0


def require_azurite() -> None:
    if AZURITE_BIN.exists():
        return
    message = "Azurite is not installed: run `make azurite` (npm ci in devstack/azurite)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((BIND_HOST, 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((BIND_HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Azurite:
    """One Azurite Table service; `start()`/`stop()` may be repeated (same port, same data)."""

    port: int
    data_dir: Path | None = None  # None: in memory
    process: subprocess.Popen[str] | None = None
    output: ProcessOutput | None = None

    @property
    def options(self) -> StackOptions:
        return StackOptions(storage_port=self.port, storage_dir=self.data_dir)

    @property
    def connection_string(self) -> str:
        return self.options.storage_connection_string

    @property
    def table_endpoint(self) -> str:
        return self.options.table_endpoint

    def start(self) -> Azurite:
        require_azurite()
        command = azurite_command(self.options)
        self.process, self.output = spawn(command, env=dict(os.environ), cwd=str(REPO_ROOT))
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.output.text
                self.stop()
                raise RuntimeError(f"Azurite did not start on port {self.port}:\n{log}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                stop_process(self.process, signal.SIGINT)  # Azurite saves on SIGINT
            self.process = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
