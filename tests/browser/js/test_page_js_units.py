"""Runs the page's pure-JS unit tests (chat-core, chat-connection) under Node's built-in runner."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_node_unit_tests_pass() -> None:
    node = shutil.which("node")
    assert node, "node (>= 20) is needed for the page's JS unit tests"
    files = sorted(str(p) for p in HERE.glob("*.test.js"))
    assert files, f"no *.test.js files in {HERE}"
    # The reporters are named: Node's default changed (TAP up to 22, `spec` from 23). The verdict
    # is the exit code. TAP on stdout gives the summary that proves tests ran at all (a runner that
    # finds nothing also exits 0); `spec` on stderr ends with a list of the failing tests.
    result = subprocess.run(
        [
            node,
            "--test",
            "--test-reporter=tap",
            "--test-reporter-destination=stdout",
            "--test-reporter=spec",
            "--test-reporter-destination=stderr",
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (
        f"node --test failed (exit {result.returncode}):\n{result.stderr[-8000:]}"
    )
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) > 0, f"no JS test ran:\n{result.stdout[-4000:]}"
