"""tools/install-system-packages.sh says what it will install, and why, before installing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .tools import REPO

INSTALLER = REPO / "tools" / "install-system-packages.sh"


def run_with_only(tmp_path: Path, tools: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the installer with a PATH that holds only `tools` (name -> script body)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in tools.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    bash = shutil.which("bash")
    assert bash
    return subprocess.run(
        [bash, str(INSTALLER)],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_nothing_missing_says_nothing(tmp_path: Path) -> None:
    result = run_with_only(
        tmp_path,
        {
            "chromium": "exit 0",
            "shellcheck": "exit 0",
            "node": "exit 0",
            "npm": "exit 0",
            "id": "echo 0",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""


def test_names_each_missing_package_and_why_without_root(tmp_path: Path) -> None:
    # `apt-get` here would record that it ran: without root it must not be called.
    marker = tmp_path / "apt-ran"
    result = run_with_only(
        tmp_path, {"shellcheck": "exit 0", "id": "echo 1000", "apt-get": f"touch {marker}"}
    )
    assert result.returncode == 0, result.stderr
    assert "chromium: the browser tests" in result.stdout
    assert "nodejs: the page's JavaScript unit tests" in result.stdout
    assert "npm: make azurite installs the pinned Azurite" in result.stdout
    assert "shellcheck" not in result.stdout
    assert "sudo apt-get update && sudo apt-get install -y chromium nodejs npm" in result.stderr
    assert not marker.exists()


def test_as_root_it_announces_before_installing(tmp_path: Path) -> None:
    log = tmp_path / "apt.log"
    result = run_with_only(
        tmp_path,
        {
            "chromium": "exit 0",
            "node": "exit 0",
            "npm": "exit 0",
            "id": "echo 0",
            # apt-get only records its arguments.
            "apt-get": f'echo "$@" >> {log}',
        },
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("shellcheck: tests/deploy lints") < out.index("Installing with apt-get")
    assert log.read_text().splitlines() == [
        "update -qq",
        "install -y -qq --no-install-recommends shellcheck",
    ]
    assert "Installed: shellcheck" in out
    assert os.access(INSTALLER, os.X_OK)
