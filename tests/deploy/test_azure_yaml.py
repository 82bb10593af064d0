"""azure.yaml: the service azd deploys and the hooks that wire the hub."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return yaml.safe_load((REPO / "azure.yaml").read_text())


def test_infra_points_at_the_bicep_entry_point(project: dict[str, Any]) -> None:
    infra = project["infra"]
    assert infra["provider"] == "bicep"
    assert (REPO / infra["path"] / f"{infra['module']}.bicep").is_file()
    assert (REPO / infra["path"] / f"{infra['module']}.parameters.json").is_file()


def test_one_python_function_service_rooted_at_the_repo(project: dict[str, Any]) -> None:
    assert set(project["services"]) == {"api"}
    api = project["services"]["api"]
    assert api == {"project": ".", "language": "python", "host": "function"}
    for required in ("function_app.py", "host.json", "requirements.txt", ".funcignore"):
        assert (REPO / api["project"] / required).is_file(), required


def test_service_name_matches_the_apps_azd_tag(project: dict[str, Any]) -> None:
    """azd finds the app to deploy to by its azd-service-name tag."""
    doc = BicepParser().parse(file_path=REPO / "infra" / "resources.bicep")
    (site,) = (r for r in doc["resources"].values() if r["type"] == "Microsoft.Web/sites")
    tag = site["config"]["tags"]["function"]["parameters"]["arg_2"]["'azd-service-name'"]
    assert tag in project["services"]


@pytest.mark.parametrize(
    ("hook", "args"),
    [("postdeploy", []), ("postprovision", ["--if-deployed"])],
)
def test_hooks_run_the_wiring_script(project: dict[str, Any], hook: str, args: list[str]) -> None:
    for platform in ("posix", "windows"):
        spec = project["hooks"][hook][platform]
        assert spec["continueOnError"] is False
        assert spec["interactive"] is False
        # An inline command (not a path) so the script runs under bash even where sh is dash.
        command = shlex.split(spec["run"])
        assert command == ["bash", "scripts/wire-hub.sh", *args]
        assert (REPO / command[1]).is_file()
    assert project["hooks"][hook]["posix"]["shell"] == "sh"
    assert project["hooks"][hook]["windows"]["shell"] == "pwsh"
