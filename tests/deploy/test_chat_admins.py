"""Issue 19's admins on both deployment routes: `CHAT_ADMINS` reaches the app's `ChatAdmins`
setting through scripts/deploy.sh (fake `az`) and through azd (main.parameters.json -> Bicep,
only with sign-in), leaves with sign-in, and the docs say how to find your own `<idp>:<id>`."""

from __future__ import annotations

import json
from pathlib import Path

from pycep import BicepParser

from .fakecloud import FakeCloud
from .test_deploy_sign_in import SIGN_IN, only, run

ROOT = Path(__file__).resolve().parents[2]
ADMINS = "aad:0c1f2e3d-0000-4000-8000-000000000001,github:12345"


def test_the_script_sets_chat_admins_with_sign_in_and_drops_it_without(tmp_path: Path) -> None:
    cloud = FakeCloud.create(tmp_path)
    run(cloud, **SIGN_IN, CHAT_ADMINS=ADMINS)
    settings = only(cloud.state, "functionapp/")["appSettings"]
    assert settings["ChatAdmins"] == ADMINS
    # Moderation needs sign-in: turning it off takes the admins away with it.
    run(cloud, CHAT_SIGN_IN="off", CHAT_ADMINS=ADMINS)
    assert "ChatAdmins" not in only(cloud.state, "functionapp/")["appSettings"]


def test_the_script_sets_no_admins_when_none_are_given(tmp_path: Path) -> None:
    cloud = FakeCloud.create(tmp_path)
    run(cloud, **SIGN_IN)
    assert only(cloud.state, "functionapp/")["appSettings"].get("ChatAdmins", "") == ""


def test_azd_passes_chat_admins_to_the_bicep_and_on_to_the_app() -> None:
    values = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    assert values["chatAdmins"]["value"] == "${CHAT_ADMINS=}"  # `azd env set CHAT_ADMINS ...`
    main = BicepParser().parse(file_path=ROOT / "infra" / "main.bicep")
    assert main["parameters"]["chatAdmins"]["default"] == ""
    resources = BicepParser().parse(file_path=ROOT / "infra" / "resources.bicep")
    assert resources["parameters"]["chatAdmins"]["default"] == ""
    assert "ChatAdmins" in (ROOT / "infra" / "resources.bicep").read_text()


def test_the_docs_say_how_to_find_your_own_account() -> None:
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    for words in (
        "azd env set CHAT_ADMINS",
        "CHAT_ADMINS=",
        "/.auth/me",
        "az ad signed-in-user show",
    ):
        assert words in deploy, words
    assert "ChatAdmins" in (ROOT / "docs" / "settings.md").read_text()
    script = (ROOT / "scripts" / "deploy.sh").read_text()
    assert "CHAT_ADMINS" in script and "/.auth/me" in script
