"""Run the deployment scripts against tests/deploy/fake_az.py (a fake `az` and `curl` on PATH)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jmespath

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
FAKE = Path(__file__).with_name("fake_az.py")

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"

# Every `az` command line any script ran in this test session, by script: test_az_cli_conformance
# checks them against the real azure-cli, so each scenario that runs a script adds its branches.
RECORDED_AZ_CALLS: dict[str, set[tuple[str, ...]]] = {}


@dataclass
class FakeCloud:
    root: Path

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def log_path(self) -> Path:
        return self.root / "calls.jsonl"

    @classmethod
    def create(cls, root: Path, **state: Any) -> FakeCloud:
        bin_dir = root / "bin"
        bin_dir.mkdir(parents=True)
        # `python -S` with only jmespath's directory on the path: each fake call starts in a few
        # milliseconds instead of scanning the whole virtualenv (deploy.sh makes ~80 calls).
        libs = Path(jmespath.__file__).resolve().parents[1]
        for tool in ("az", "curl"):
            shim = bin_dir / tool
            shim.write_text(
                f'#!/bin/sh\nPYTHONPATH="{libs}" exec "{sys.executable}" -S "{FAKE}" {tool} "$@"\n'
            )
            shim.chmod(0o755)
        cloud = cls(root)
        base = {
            "account": {"id": SUBSCRIPTION, "tenantId": "tenant-1", "user": {"type": "user"}},
            "user": {"id": "deployer-object-id"},
            "resources": {},
        }
        base.update(state)
        cloud.state = base
        cloud.log_path.write_text("")
        return cloud

    @property
    def state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text())

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(value))

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def az_calls(self, *words: str) -> list[list[str]]:
        n = len(words)
        return [c[1:] for c in self.calls() if c[0] == "az" and c[1 : 1 + n] == list(words)]

    def clear_log(self) -> None:
        self.log_path.write_text("")

    def run(
        self, script: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            "PATH": f"{self.root / 'bin'}:/usr/bin:/bin",
            "HOME": str(self.root),
            "FAKE_AZ_STATE": str(self.state_path),
            "FAKE_AZ_LOG": str(self.log_path),
            "WIRE_HUB_RETRY_DELAY": "0",
            "WIRE_HUB_RETRIES": "3",
            "PYTHON": sys.executable,
        }
        full_env.update(env or {})
        already = len(self.calls())
        result = subprocess.run(
            ["bash", str(SCRIPTS / script), *args],
            cwd=REPO,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        recorded = RECORDED_AZ_CALLS.setdefault(script, set())
        recorded.update(tuple(c[1:]) for c in self.calls()[already:] if c[0] == "az")
        return result


def option(call: list[str], name: str) -> list[str]:
    """Every value given after `name` in one logged call (multi-value options included)."""
    values: list[str] = []
    i = 0
    while i < len(call):
        if call[i] == name:
            i += 1
            while i < len(call) and not call[i].startswith("--"):
                values.append(call[i])
                i += 1
        else:
            i += 1
    return values


def env_for_wiring(rg: str, app: str, wps: str) -> dict[str, str]:
    return {
        "AZURE_RESOURCE_GROUP": rg,
        "AZURE_FUNCTION_APP_NAME": app,
        "AZURE_WEB_PUBSUB_NAME": wps,
        "AZURE_WEB_PUBSUB_HUB": "Sample_ChatApp",
    }
