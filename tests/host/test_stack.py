"""`python -m devstack` for real: both children healthy, chat URL printed, clean stops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from devstack.stack_wiring import (
    DEFAULT_ACCESS_KEY,
    STORAGE_KEY,
    StackOptions,
    azurite_command,
    emulator_command,
    emulator_env,
    host_command,
    host_env,
)
from tests.support.processes import ProcessOutput, spawn, stop_process
from tests.support.stack import LocalStack, free_port
from tests.support.waiting import until

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]


def status_of(url: str, method: str = "GET") -> int | None:
    # Only loopback URLs of the stack under test are requested.
    request = urllib.request.Request(url, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


@pytest.fixture
def runners() -> Iterator[list[subprocess.Popen[str]]]:
    """`python -m devstack` processes, each in its own process group, all killed at teardown."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the runner and its children
        process.wait(5)


def start_runner(
    runners: list[subprocess.Popen[str]], *args: str
) -> tuple[subprocess.Popen[str], ProcessOutput]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # Azurite on a free port with nothing on disk: never the default 10002 or the repo's folder.
    storage = ["--storage-port", str(free_port()), "--storage-in-memory"]
    process, output = spawn(
        [sys.executable, "-m", "devstack", *args, *storage],
        env=env,
        cwd=str(ROOT),
        new_session=True,
    )
    runners.append(process)
    return process, output


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stack_starts_both_and_ctrl_c_stops_both(runners: list[subprocess.Popen[str]]) -> None:
    emulator_port, host_port = free_port(), free_port()
    runner, output = start_runner(
        runners, "--emulator-port", str(emulator_port), "--host-port", str(host_port)
    )
    output.wait_for(
        re.escape(f"Chat:              http://localhost:{host_port}/api/index"), 30, runner
    )
    assert status_of(f"http://127.0.0.1:{emulator_port}/api/health", "HEAD") == 200
    assert status_of(f"http://127.0.0.1:{host_port}/admin/host/status") == 200
    # The host got the emulator's connection string: negotiate hands out emulator URLs.
    with urllib.request.urlopen(
        f"http://127.0.0.1:{host_port}/api/negotiate?id=alice", timeout=10
    ) as response:
        assert f"ws://localhost:{emulator_port}/client/hubs/Sample_ChatApp?access_token=" in (
            response.read().decode()
        )
    # Both children's logs are forwarded with a prefix; the banner names the table store.
    assert "[host] " in output.text and "[emulator] " in output.text
    assert re.search(
        r"Table storage: +http://127\.0\.0\.1:\d+/devstoreaccount1 \(Azurite", output.text
    )
    host_pid = int(re.search(r"\[host\] .*Host started on .* \(pid (\d+)\)", output.text)[1])

    assert stop_process(runner, signal.SIGINT, timeout=15) == 0
    output.join()
    assert "[stack] stopped" in output.text
    assert "Application is shutting down..." in output.text  # the host stopped cleanly
    assert "devstack.emulator: Stopping" in output.text  # so did the emulator
    assert not group_alive(runner.pid)  # no child left behind
    with pytest.raises(ProcessLookupError):
        os.kill(host_pid, 0)
    assert status_of(f"http://127.0.0.1:{emulator_port}/api/health", "HEAD") is None
    assert status_of(f"http://127.0.0.1:{host_port}/admin/host/status") is None


@pytest.mark.parametrize("busy", ["emulator", "host"])
def test_busy_port_is_one_line_before_starting_anything(
    runners: list[subprocess.Popen[str]], busy: str
) -> None:
    emulator_port, host_port = free_port(), free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", emulator_port if busy == "emulator" else host_port))
        blocker.listen()
        runner, output = start_runner(
            runners, "--emulator-port", str(emulator_port), "--host-port", str(host_port)
        )
        assert runner.wait(20) == 1
        output.join()
    lines = output.text.strip().splitlines()
    port = emulator_port if busy == "emulator" else host_port
    assert len(lines) == 1, output.text
    assert f"port {port}" in lines[0] and "already in use" in lines[0]


def test_a_dying_child_stops_the_other(runners: list[subprocess.Popen[str]]) -> None:
    runner, output = start_runner(
        runners, "--emulator-port", str(free_port()), "--host-port", str(free_port())
    )
    output.wait_for("Chat: ", 30, runner)
    host_pid = int(re.search(r"Host started on .* \(pid (\d+)\)", output.text)[1])
    os.kill(host_pid, signal.SIGKILL)
    assert runner.wait(20) == 1
    output.join()
    assert "the host exited unexpectedly" in output.text
    assert "devstack.emulator: Stopping" in output.text
    assert not group_alive(runner.pid)


def test_wiring_matches_the_contract() -> None:
    options = StackOptions(emulator_port=8080, host_port=7071)
    assert options.connection_string == (
        f"Endpoint=http://localhost:8080;AccessKey={DEFAULT_ACCESS_KEY};Version=1.0;"
    )
    assert options.chat_url == "http://localhost:7071/api/index"
    env = emulator_env(options, {"PATH": "/bin"})
    prefix = "WebPubSub__Hubs__Sample_ChatApp__"
    assert env[f"{prefix}EventHandlers__0__UrlTemplate"] == (
        "http://localhost:7071/api/eventhandler"
    )
    assert [env[f"{prefix}EventHandlers__0__SystemEvents__{i}"] for i in range(3)] == [
        "connect",
        "connected",
        "disconnected",
    ]
    assert env[f"{prefix}EventHandlers__0__EventPattern"] == "*"
    assert env[f"{prefix}AnonymousConnectPolicy"] == "allow"
    assert emulator_command(options)[1:] == [
        "-m", "devstack.emulator", "--host", "127.0.0.1", "--port", "8080",
    ]  # fmt: skip
    assert env["WebPubSub__AccessKey"] == DEFAULT_ACCESS_KEY  # not on the command line
    henv = host_env(options, {"WebPubSubConnectionString": "from the caller"})
    assert henv["WebPubSubConnectionString"] == options.connection_string
    assert henv["WebPubSubHub"] == "Sample_ChatApp"
    assert henv["ChatLazyAuth"] == "true"
    assert henv["ChatStorage"] == (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={STORAGE_KEY};TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
    )
    assert azurite_command(options)[1:] == [
        "--tableHost", "127.0.0.1", "--tablePort", "10002", "--disableTelemetry",
        "--skipApiVersionCheck", "--silent", "--location", str(ROOT / ".azurite"),
    ]  # fmt: skip
    assert azurite_command(replace(options, storage_dir=None))[-1] == "--inMemoryPersistence"
    assert host_command(options)[1:6] == ["-m", "devstack.host", "--host", "127.0.0.1", "--port"]


def test_support_helper_kills_and_restarts_each_side() -> None:
    with LocalStack() as stack:
        assert status_of(f"{stack.emulator_url}/api/health", "HEAD") == 200
        stack.kill_emulator()
        assert not stack.is_running("emulator")
        assert status_of(f"{stack.emulator_url}/api/health", "HEAD") is None
        assert status_of(f"{stack.host_base_url}/admin/host/status") == 200  # host unaffected
        stack.start_emulator()
        assert status_of(f"{stack.emulator_url}/api/health", "HEAD") == 200
        stack.restart_host(signal.SIGTERM)
        assert status_of(f"{stack.host_base_url}/admin/host/status") == 200
        assert stack.log("host").count("Host started on") == 2
    assert not stack.is_running("emulator") and not stack.is_running("host")


def test_a_child_failing_at_startup_stops_everything(runners: list[subprocess.Popen[str]]) -> None:
    # The emulator refuses a key shorter than 32 bytes and exits during startup.
    runner, output = start_runner(
        runners,
        "--emulator-port", str(free_port()), "--host-port", str(free_port()),
        "--access-key", "too-short",
    )  # fmt: skip
    assert runner.wait(30) == 1
    output.join()
    assert "devstack: the emulator exited during startup" in output.text
    assert "Chat: " not in output.text
    # Its children were waited for; what they started may take a moment more to go (seen
    # once on a loaded machine), and the group must then be empty.
    gone = until(lambda: not group_alive(runner.pid), timeout=15, what="the stack's group gone")
    asyncio.run(gone)


def test_busy_storage_port_names_its_flag(runners: list[subprocess.Popen[str]]) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        runner, output = spawn(
            [sys.executable, "-m", "devstack", "--emulator-port", str(free_port()),
             "--host-port", str(free_port()), "--storage-port", str(port), "--storage-in-memory"],
            env=dict(os.environ, PYTHONUNBUFFERED="1"), cwd=str(ROOT), new_session=True,
        )  # fmt: skip
        runners.append(runner)
        assert runner.wait(20) == 1
        output.join()
    assert f"port {port} (Azurite Table service) is already in use" in output.text
    assert "--storage-port" in output.text
