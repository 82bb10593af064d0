"""Every `az` command line the scripts run is one the real az CLI accepts.

The fake az (fake_az.py) answers whatever it is asked, so a misspelt command, a flag az does not
have or a missing required argument would pass every other deployment test and fail only against
Azure. Here each command line the scripts ran in this session (fakecloud.RECORDED_AZ_CALLS) is
parsed by the real azure-cli's own parser, offline and without running anything
(az_cli_check.py, in azure-cli's own venv). Commands from az extensions, which are not on PyPI,
are checked against az_extension_commands.py instead.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from . import az_extension_commands as ext
from .fakecloud import RECORDED_AZ_CALLS, FakeCloud
from .tools import azure_cli_python

pytestmark = pytest.mark.after_scripts

CHECKER = Path(__file__).with_name("az_cli_check.py")
ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ENV = {"CHAT_ENV_NAME": "chat-azcli", "CHAT_LOCATION": "westeurope"}


def parse_with_azure_cli(lines: list[list[str]], config_dir: Path) -> list[dict]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(config_dir),
        "AZURE_CONFIG_DIR": str(config_dir),
        # Nothing leaves the machine: no telemetry, no online error recommendations, and no
        # automatic `az extension add` when a command is not found.
        "AZURE_CORE_COLLECT_TELEMETRY": "no",
        "AZURE_CORE_ERROR_RECOMMENDATION": "off",
        "AZURE_EXTENSION_USE_DYNAMIC_INSTALL": "no",
        "AZURE_CORE_NO_COLOR": "true",
    }
    result = subprocess.run(
        [azure_cli_python(), str(CHECKER)],
        input=json.dumps(lines),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def first_line(error: str) -> str:
    return error.splitlines()[0] if error else error


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, ...]]:
    """The session's recorded calls; run alone, this module runs the main paths itself."""
    if not (RECORDED_AZ_CALLS.get("deploy.sh") and RECORDED_AZ_CALLS.get("teardown.sh")):
        cloud = FakeCloud.create(tmp_path_factory.mktemp("azcli"))
        for extra in ({}, {"WEB_PUBSUB_AUTH_MODE": "identity"}):
            result = cloud.run("deploy.sh", env={**ENV, **extra})
            assert result.returncode == 0, result.stderr[-3000:]
        result = cloud.run("teardown.sh", "--yes", "--purge", env=ENV)
        assert result.returncode == 0, result.stderr[-3000:]
    return set().union(*RECORDED_AZ_CALLS.values())


def test_every_az_call_in_the_scripts_is_a_real_command(
    recorded: set[tuple[str, ...]], tmp_path: Path
) -> None:
    core = sorted(c for c in recorded if not ext.is_extension_command(c))
    extension = sorted(c for c in recorded if ext.is_extension_command(c))
    results = parse_with_azure_cli([list(c) for c in core], tmp_path)
    problems = [
        f"az {' '.join(r['argv'])}\n    {first_line(r['error'])}" for r in results if r["error"]
    ]
    problems += [f"az {' '.join(c)}\n    {ext.check(c)}" for c in extension if ext.check(c)]
    assert not problems, "\n".join(problems)
    # Not vacuous: the main paths of the scripts were seen, through both routes.
    seen = {r["command"] for r in results}
    assert {
        "role assignment list",
        "role assignment create",
        "functionapp create",
        "functionapp deployment source config-zip",
        "functionapp function keys list",
        "keyvault secret set",
        "group delete",
        "keyvault purge",
    } <= seen, seen
    extension_commands = {" ".join(w for w in c if not w.startswith("-"))[:40] for c in extension}
    assert any(c.startswith("webpubsub hub create") for c in extension_commands), extension
    assert any(c.startswith("webpubsub create") for c in extension_commands), extension


def test_the_check_catches_what_az_would_refuse(tmp_path: Path) -> None:
    """The same checks, on command lines that real az refuses."""
    bad = [
        ["role", "assignment", "list", "--assignee-objectid", "x"],  # misspelt flag
        ["group", "create", "--name", "rg"],  # --location is required
        ["storage", "account", "create", "-g", "rg", "-n", "st", "--https-only", "maybe"],
    ]
    results = parse_with_azure_cli(bad, tmp_path)
    errors = [first_line(r["error"] or "") for r in results]
    assert "unrecognized arguments: --assignee-objectid x" in errors[0]
    assert "required: --location/-l" in errors[1]
    assert "'maybe' is not a valid value for '--https-only'" in errors[2]
    assert ext.check(["webpubsub", "hub", "create", "-g", "rg", "-n", "w"]) is not None
    assert ext.check(["webpubsub", "show", "-g", "rg", "-n", "w", "--bogus", "1"]) is not None
    assert (
        ext.check(
            [
                "webpubsub",
                "hub",
                "update",
                "-g",
                "r",
                "-n",
                "w",
                "--hub-name",
                "h",
                "--allow-anonymous",
                "maybe",
            ]
        )
        is not None
    )
    assert ext.check(["webpubsub", "restart", "-g", "rg", "-n", "w"]) is not None
    assert ext.check(["webpubsub", "show", "-g", "rg", "-n", "w", "--output", "tsv"]) is None


def readme_az_commands() -> list[list[str]]:
    """The `az` lines of the shell blocks in README.md and docs/*.md (continuations joined,
    comments dropped)."""
    found = []
    text = "\n".join(doc.read_text() for doc in DOCS)
    for block in re.findall(r"```(?:sh|bash)\n(.*?)```", text, re.DOTALL):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = re.sub(r"\s+#.*$", "", line.strip())
            if line.startswith("az "):
                found.append(shlex.split(line)[1:])
    return found


def test_the_readme_shows_real_az_commands(tmp_path: Path) -> None:
    """What the README and docs/ tell people to type is checked the same way as the scripts."""
    lines = readme_az_commands()
    assert any(line[:3] == ["webpubsub", "hub", "create"] for line in lines), lines
    core = [line for line in lines if not ext.is_extension_command(line)]
    results = parse_with_azure_cli(core, tmp_path)
    problems = [
        f"az {' '.join(r['argv'])}\n    {first_line(r['error'])}" for r in results if r["error"]
    ]
    problems += [
        f"az {' '.join(c)}\n    {ext.check(c)}" for c in lines if c not in core and ext.check(c)
    ]
    assert not problems, "\n".join(problems)
