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
    # The reporter is named explicitly: Node's default changed (TAP up to 22, `spec` from 23), and
    # the summary below is TAP's. The verdict is the exit code; the summary only proves that
    # tests ran at all (a runner that finds nothing also exits 0).
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", *files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, f"node --test failed (exit {result.returncode}):\n{output}"
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) > 0, f"no JS test ran:\n{output}"
