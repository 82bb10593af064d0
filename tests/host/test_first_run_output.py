"""The way in (issue 20): the first `make run` says what it installs before the minute it takes,
and the stack's startup output ends with the page's URL, where the eye lands."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from devstack.stack import announce
from devstack.stack_wiring import StackOptions

ROOT = Path(__file__).resolve().parents[2]


def test_the_startup_output_ends_with_the_chat_url(caplog: pytest.LogCaptureFixture) -> None:
    options = StackOptions(emulator_port=8080, host_port=7071)
    with caplog.at_level(logging.INFO, logger="devstack"):
        announce(options)
    lines = [r.getMessage().removeprefix("[stack] ").strip() for r in caplog.records]
    last = [line for line in lines if line][-1]
    assert last == "==> The chat is ready: open http://localhost:7071/api/index (Ctrl+C stops it)"


def test_make_run_says_what_it_installs_before_doing_it() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # -n prints the recipes without running them; -B as on a fresh clone (nothing installed yet).
    result = subprocess.run(
        [make, "-n", "-B", "run"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    )
    recipe = result.stdout
    steps = [
        "First run: creating .venv",
        "-m venv .venv",
        "Installing Azurite",
        "npm ci",
        "Starting the chat",
        "-m devstack",
    ]
    at = [recipe.find(step) for step in steps]
    assert -1 not in at, (
        f"missing from `make -n run`: {[s for s, i in zip(steps, at, strict=True) if i < 0]}"
    )
    assert at == sorted(at), recipe
