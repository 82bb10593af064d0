"""Start the local stack for tests: the same children, commands and wiring as `python -m devstack`.

`python -m devstack` supervises its two children and stops both when one dies, which is right
for `make run` but not for tests that kill one side on purpose. So this helper builds the very
same commands and environments (devstack.stack_wiring) on free ports, runs each child as its own
subprocess, and exposes per-child kill/start/restart. Every wait is bounded and every child is
killed on stop(), on leaving the `with` block, and at interpreter exit as a last resort.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from devstack.stack_wiring import (
    BIND_HOST,
    REPO_ROOT,
    StackOptions,
    azurite_command,
    emulator_command,
    emulator_env,
    host_command,
    host_env,
)
from tests.support.azurite import port_open, require_azurite
from tests.support.processes import ProcessOutput, spawn, stop_process

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 8.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((BIND_HOST, 0))
        return sock.getsockname()[1]


def _healthy(url: str, method: str) -> bool:
    # Only the stack's own loopback health URLs are requested here.
    request = urllib.request.Request(url, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=1) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[str]
    output: ProcessOutput


@dataclass
class LocalStack:
    """Azurite + emulator + Functions host on free loopback ports. Use as a context manager.

    Azurite keeps its data in a temporary folder of the stack, so stopping and starting the
    stack (or Azurite alone) keeps the history, as `make run` does with .azurite/.
    """

    options: StackOptions = field(default_factory=lambda: _fresh_options())
    extra_emulator_env: Mapping[str, str] = field(default_factory=dict)
    extra_host_env: Mapping[str, str] = field(default_factory=dict)
    startup_timeout: float = STARTUP_TIMEOUT_S
    _children: dict[str, _Child] = field(default_factory=dict, init=False)
    _logs: dict[str, list[str]] = field(default_factory=dict, init=False)

    # --- endpoints -------------------------------------------------------------------------
    @property
    def emulator_endpoint(self) -> str:
        """http://localhost:<port>, as in the connection string."""
        return self.options.emulator_endpoint

    @property
    def emulator_url(self) -> str:
        """http://127.0.0.1:<port>, for direct test traffic."""
        return f"http://{BIND_HOST}:{self.options.emulator_port}"

    @property
    def connection_string(self) -> str:
        return self.options.connection_string

    @property
    def access_key(self) -> str:
        return self.options.access_key

    @property
    def hub(self) -> str:
        return self.options.hub

    @property
    def client_url(self) -> str:
        """The hub's direct WebSocket URL on 127.0.0.1 (add ?id=<user> for lazy auth)."""
        return f"ws://{BIND_HOST}:{self.options.emulator_port}/client/hubs/{self.options.hub}"

    @property
    def host_base_url(self) -> str:
        """http://127.0.0.1:<port> of the Functions host (routes are under /api)."""
        return f"http://{BIND_HOST}:{self.options.host_port}"

    @property
    def chat_url(self) -> str:
        return f"{self.host_base_url}/api/index"

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalStack:
        try:
            self.start_storage()
            self.start_emulator()
            self.start_host()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for name in ("host", "emulator"):
            self._stop_child(name, signal.SIGTERM)
        # Azurite saves its data on SIGINT only (SIGTERM would lose the last seconds).
        self._stop_child("azurite", signal.SIGINT)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start_storage(self) -> None:
        require_azurite()
        self._start_child("azurite", azurite_command(self.options), dict(os.environ))
        child = self._children["azurite"]
        deadline = time.monotonic() + self.startup_timeout
        while not port_open(self.options.storage_port):
            if child.process.poll() is not None or time.monotonic() > deadline:
                log = child.output.text
                self._stop_child("azurite", signal.SIGKILL)
                raise RuntimeError(f"Azurite did not start:\n{log}")
            time.sleep(0.05)

    def kill_storage(self, sig: int = signal.SIGKILL) -> None:
        self._stop_child("azurite", sig)

    def start_emulator(self) -> None:
        env = emulator_env(self.options, os.environ) | dict(self.extra_emulator_env)
        self._start_child("emulator", emulator_command(self.options), env)
        self._wait_healthy("emulator", self.options.emulator_health_url, "HEAD")

    def start_host(self) -> None:
        env = host_env(self.options, os.environ) | dict(self.extra_host_env)
        self._start_child("host", host_command(self.options), env)
        self._wait_healthy("host", self.options.host_health_url, "GET")

    def kill_emulator(self, sig: int = signal.SIGKILL) -> None:
        """Stop the emulator (SIGKILL by default: a crash; pass SIGTERM for a clean stop)."""
        self._stop_child("emulator", sig)

    def kill_host(self, sig: int = signal.SIGKILL) -> None:
        self._stop_child("host", sig)

    def restart_emulator(self, sig: int = signal.SIGKILL) -> None:
        self.kill_emulator(sig)
        self.start_emulator()

    def restart_host(self, sig: int = signal.SIGKILL) -> None:
        self.kill_host(sig)
        self.start_host()

    def is_running(self, name: str) -> bool:
        child = self._children.get(name)
        return child is not None and child.process.poll() is None

    def log(self, name: str) -> str:
        """Everything the child printed, across restarts ('emulator' or 'host')."""
        earlier = "".join(self._logs.get(name, []))
        child = self._children.get(name)
        return earlier + (child.output.text if child else "")

    # --- internals -------------------------------------------------------------------------
    def _start_child(self, name: str, command: list[str], env: dict[str, str]) -> None:
        if self.is_running(name):
            raise RuntimeError(f"the {name} is already running")
        self._retire(name)
        process, output = spawn(command, env=env, cwd=str(REPO_ROOT))
        self._children[name] = _Child(name, process, output)

    def _wait_healthy(self, name: str, url: str, method: str) -> None:
        child = self._children[name]
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                break
            if _healthy(url, method):
                return
            time.sleep(0.05)
        log = child.output.text
        self._stop_child(name, signal.SIGKILL)
        raise RuntimeError(f"the {name} did not become healthy at {url}:\n{log}")

    def _stop_child(self, name: str, sig: int) -> None:
        child = self._children.get(name)
        if child is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            stop_process(child.process, sig, STOP_TIMEOUT_S)
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait(5)
        child.output.join()

    def _retire(self, name: str) -> None:
        child = self._children.pop(name, None)
        if child is not None:
            self._logs.setdefault(name, []).append(child.output.text)


def _fresh_options() -> StackOptions:
    folder = tempfile.mkdtemp(prefix="chat-azurite-")
    return StackOptions(
        free_port(), free_port(), storage_port=free_port(), storage_dir=Path(folder)
    )


@contextlib.contextmanager
def local_stack(**overrides: object) -> Iterator[LocalStack]:
    """`with local_stack() as stack:`; overrides are StackOptions fields or LocalStack fields."""
    option_fields = {
        "access_key",
        "hub",
        "app_dir",
        "emulator_port",
        "host_port",
        "sign_in",
        "sign_in_action",
        "storage_port",
        "storage_dir",
    }
    options = replace(
        _fresh_options(), **{k: v for k, v in overrides.items() if k in option_fields}
    )
    stack = LocalStack(options, **{k: v for k, v in overrides.items() if k not in option_fields})
    try:
        with stack:
            yield stack
    finally:
        if options.storage_dir is not None and options.storage_dir.name.startswith("chat-azurite-"):
            shutil.rmtree(options.storage_dir, ignore_errors=True)
