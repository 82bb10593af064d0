"""Host test helpers: fixture apps, an in-process host on a free port, the CLI as a process."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from devstack.host.app_loader import MODULE_NAME, HttpFunction, load_app
from devstack.host.invoker import Invoker
from devstack.host.listener import bind_listener
from devstack.host.server import KeyPolicy, create_app
from devstack.host.timers import TimerFunction, TimerRunner, index_timers
from devstack.httpserver import ConnectionTimeouts, start_server
from tests.support.processes import ProcessOutput, spawn, stop_process

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_APPS = Path(__file__).resolve().parent / "fixture_apps"
STARTED = re.compile(r"Host started on (http://\S+) ")


@contextlib.contextmanager
def isolated_import() -> Iterator[None]:
    """Load a fixture app without leaving it as `function_app` for other test areas."""
    saved_module = sys.modules.get(MODULE_NAME)
    saved_path = list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = saved_path
        if saved_module is None:
            sys.modules.pop(MODULE_NAME, None)
        else:
            sys.modules[MODULE_NAME] = saved_module


def load_fixture(name: str, route_prefix: str = "api") -> list[HttpFunction]:
    with isolated_import():
        return load_app(FIXTURE_APPS / name, route_prefix)


def load_fixture_with_timers(name: str) -> tuple[list[HttpFunction], list[TimerFunction]]:
    others: list = []
    with isolated_import():
        functions = load_app(FIXTURE_APPS / name, "api", others)
    return functions, index_timers(others)


@dataclass
class InProcessHost:
    base_url: str
    session: aiohttp.ClientSession


async def start_in_process(
    functions: list[HttpFunction],
    keys: KeyPolicy | None = None,
    threads: int = 4,
    *,
    timeouts: ConnectionTimeouts | None = None,
    max_body_bytes: int | None = None,
    timers: list[TimerFunction] | None = None,
) -> tuple[web.AppRunner, str, ThreadPoolExecutor]:
    """The host as `python -m devstack.host` serves it, in this process on a free port.

    `timers` can be run by hand (POST /admin/functions/<name>); their schedules do not run.
    """
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="function")
    limits = {} if max_body_bytes is None else {"max_body_bytes": max_body_bytes}
    timer_runner = TimerRunner(timers or [], str(FIXTURE_APPS), executor)
    app = create_app(
        functions,
        Invoker(FIXTURE_APPS, executor),
        keys or KeyPolicy(),
        **limits,
        timers=timer_runner,
    )
    app.on_cleanup.append(lambda _app: timer_runner.stop())
    listener = bind_listener("127.0.0.1", 0)
    port = listener.getsockname()[1]
    runner = await start_server(app, listener, timeouts or ConnectionTimeouts())
    return runner, f"http://127.0.0.1:{port}", executor


@dataclass
class HostProcess:
    process: subprocess.Popen[str]
    output: ProcessOutput
    base_url: str

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        code = stop_process(self.process, sig, timeout)
        self.output.join()
        return code

    @property
    def text(self) -> str:
        return self.output.text


def host_command(app_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "devstack.host", "--app-dir", str(app_dir), *args]


def host_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_host_to_exit(app_dir: Path, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        host_command(app_dir, *args)
        if "--port" in args
        else host_command(app_dir, "--port", "0", *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=host_env(),
        cwd=ROOT,
        check=False,
    )


def start_host_process(
    app_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    port: int | None = 0,
    timeout: float = 20,
) -> HostProcess:
    """Start `python -m devstack.host --port <port>` and wait for its start line.

    port=None passes no --port, so the host picks local.settings.json's or 7071.
    """
    if port is not None:
        args = ("--port", str(port), *args)
    process, output = spawn(host_command(app_dir, *args), env=env or host_env(), cwd=str(ROOT))
    try:
        found = output.wait_for(STARTED, timeout, process)
    except AssertionError:
        stop_process(process, signal.SIGKILL)
        raise
    return HostProcess(process, output, found.group(1))
