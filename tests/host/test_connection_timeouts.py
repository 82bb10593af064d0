"""Item: the host serves through devstack/httpserver.py, with its timeouts from the command line.

The timeouts themselves (Kestrel's rules, on raw sockets) are tested in tests/httpserver; here,
that `python -m devstack.host` is wired to them: a dribbling client gets 408, a silent one is
closed, and the flags are parsed and refused as they should be.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from devstack.host.cli import parse_args
from devstack.httpserver import ConnectionTimeouts
from tests.host.helpers import FIXTURE_APPS, HostProcess, start_host_process
from tests.support.raw_http import connect, dribble_headers, parse_response, read_until_closed

SHORT = 0.4  # the header timeout under test


async def test_cli_flags_set_both_timeouts(host_process: list[HostProcess]) -> None:
    host = await asyncio.to_thread(
        start_host_process,
        FIXTURE_APPS / "basic",
        "--request-headers-timeout",
        str(SHORT),
        "--keep-alive-timeout",
        "1.5",
    )
    host_process.append(host)
    raw, sent = await dribble_headers(host.base_url, every=SHORT / 4, path="/api/echo/x")
    response = parse_response(raw)
    assert (response.status, response.headers["connection"]) == (408, "close")
    assert sent >= 2  # the clock was not reset by each line
    reader, writer = await connect(host.base_url)
    try:
        assert await read_until_closed(reader) == b""  # silent: closed at the keep-alive timeout
    finally:
        writer.close()
    assert await asyncio.to_thread(host.stop, signal.SIGTERM) == 0


def test_cli_timeout_flags_parse_and_refuse_nonsense(capsys: pytest.CaptureFixture) -> None:
    assert parse_args([]).timeouts == ConnectionTimeouts(30, 130)
    options = parse_args(["--request-headers-timeout", "5", "--keep-alive-timeout", "7.5"])
    assert options.timeouts == ConnectionTimeouts(request_headers=5, keep_alive=7.5)
    for flag, value in [("--keep-alive-timeout", "0"), ("--request-headers-timeout", "soon")]:
        with pytest.raises(SystemExit) as exit_info:
            parse_args([flag, value])
        assert exit_info.value.code == 2
        assert flag in capsys.readouterr().err
