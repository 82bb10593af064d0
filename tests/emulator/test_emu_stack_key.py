"""A custom access key of `python -m devstack` never reaches a command line (issue 11, item 8).

The key is given through WebPubSub__AccessKey; the runner passes it to the emulator the same
way. Command lines are read from /proc, as `ps` shows them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.messaging.webpubsubservice import WebPubSubServiceClient

from devstack.stack_wiring import ACCESS_KEY_ENV, DEFAULT_ACCESS_KEY
from tests.support.processes import spawn, stop_process
from tests.support.stack import free_port

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parents[2]
CUSTOM_KEY = "CustomKeyForThisTestOnly-0123456789abcdefXYZ"


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (after the parenthesised command name) is the parent pid.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry.name))
    return kids


def command_line(pid: int) -> str:
    return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_custom_key_goes_through_the_environment_not_argv() -> None:
    emulator_port, host_port = free_port(), free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1", **{ACCESS_KEY_ENV: CUSTOM_KEY})
    runner, output = spawn(
        [sys.executable, "-m", "devstack", "--emulator-port", str(emulator_port),
         "--host-port", str(host_port),
         # Azurite on a free port, nothing on disk: never 10002 or the repo's .azurite/.
         "--storage-port", str(free_port()), "--storage-in-memory"],
        env=env, cwd=str(ROOT), new_session=True,
    )  # fmt: skip
    try:
        # The runner's own banner line, printed once both children are healthy (the host's
        # function list shows the same URL earlier).
        chat_line = r"Chat: +" + re.escape(f"http://localhost:{host_port}/api/index")
        output.wait_for(chat_line, 30, runner)
        commands = [command_line(runner.pid)] + [command_line(p) for p in children_of(runner.pid)]
        assert any("devstack.emulator" in c for c in commands), commands
        assert all(CUSTOM_KEY not in c for c in commands), commands
        # The emulator really uses the custom key: the SDK signs with it and is accepted;
        # the well-known default key is refused.
        endpoint = f"Endpoint=http://localhost:{emulator_port};Version=1.0;AccessKey="
        with WebPubSubServiceClient.from_connection_string(
            endpoint + CUSTOM_KEY, hub="Sample_ChatApp"
        ) as service:
            service.send_to_all("hi", content_type="text/plain")
        with (
            WebPubSubServiceClient.from_connection_string(
                endpoint + DEFAULT_ACCESS_KEY, hub="Sample_ChatApp"
            ) as service,
            pytest.raises(ClientAuthenticationError),
        ):
            service.send_to_all("hi", content_type="text/plain")
    finally:
        stop_process(runner, signal.SIGINT, timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runner.pid, signal.SIGKILL)
        output.join()
    assert CUSTOM_KEY not in output.text  # nor in either child's log
