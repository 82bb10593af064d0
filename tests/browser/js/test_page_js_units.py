"""Runs the page's pure-JS unit tests (chat-core, chat-connection) under Node's built-in runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_node_unit_tests_pass() -> None:
    node = shutil.which("node")
    assert node, "node (>= 20) is needed for the page's JS unit tests"
    result = subprocess.run(
        [node, "--test", *sorted(str(p) for p in HERE.glob("*.test.js"))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
