"""Locate the external checkers; a missing one fails the test with the command that installs it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# checkov pins packaging<24, which the test venv's pytest cannot use, so it lives in its own venv.
CHECKOV_VENV = REPO / ".venv" / "tools" / "checkov"
CHECKOV_INSTALL = (
    f"python3 -m venv {CHECKOV_VENV.relative_to(REPO)} && "
    f"{(CHECKOV_VENV / 'bin' / 'pip').relative_to(REPO)} install checkov==3.3.30"
)
SHELLCHECK_INSTALL = "apt-get install -y shellcheck"
# The real az CLI, only to parse the scripts' command lines (tests/deploy/az_cli_check.py).
AZURE_CLI_VENV = REPO / ".venv" / "tools" / "azure-cli"
AZURE_CLI_INSTALL = "make .venv/tools/azure-cli/bin/az"


def checkov() -> str:
    candidates = [os.environ.get("CHECKOV", ""), str(CHECKOV_VENV / "bin" / "checkov")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("checkov")
    if found:
        return found
    pytest.fail(f"checkov is not installed; install it with: {CHECKOV_INSTALL}", pytrace=False)


def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if not found:
        pytest.fail(
            f"shellcheck is not installed; install it with: {SHELLCHECK_INSTALL}", pytrace=False
        )
    return found


def azure_cli_python() -> str:
    """The interpreter of the venv that holds azure-cli ($AZURE_CLI_PYTHON, or the Makefile's)."""
    for candidate in (
        os.environ.get("AZURE_CLI_PYTHON", ""),
        str(AZURE_CLI_VENV / "bin" / "python"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(f"azure-cli is not installed; install it with: {AZURE_CLI_INSTALL}", pytrace=False)
