"""scripts/deploy.sh with CHAT_SIGN_IN (the az-only route to sign-in) against the fake `az`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from .bicep_eval import Scope
from .fakecloud import FakeCloud, option

INFRA = Path(__file__).resolve().parents[2] / "infra"
ENV = {"CHAT_ENV_NAME": "chat-test", "CHAT_LOCATION": "westeurope"}


def only(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    (value,) = (v for k, v in state["resources"].items() if k.startswith(prefix))
    return value


SIGN_IN = {"CHAT_SIGN_IN": "required"}


def run(cloud: FakeCloud, **extra: str):
    result = cloud.run("deploy.sh", env={**ENV, **extra})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory: pytest.TempPathFactory) -> FakeCloud:
    cloud = FakeCloud.create(tmp_path_factory.mktemp("sign-in"))
    run(cloud, **SIGN_IN)
    return cloud


def registration(state: dict[str, Any]) -> dict[str, Any]:
    (app,) = state["applications"].values()
    return app


def test_creates_a_secretless_app_registration_for_the_real_host(signed_in: FakeCloud) -> None:
    state = signed_in.state
    site = only(state, "functionapp/")
    identity = only(state, "identity/")
    app = registration(state)
    assert app["displayName"] == "chat-sign-in-" + site["name"].removeprefix("func-")
    assert app["signInAudience"] == "AzureADMyOrg"
    assert app["web"]["redirectUris"] == [
        f"https://{site['defaultHostName']}/.auth/login/aad/callback"
    ]
    assert app["web"]["enableIdTokenIssuance"] is False
    assert app["passwordCredentials"] == []  # no client secret anywhere
    assert app["federatedCredentials"] == [
        {
            "name": "app-identity",
            "issuer": "https://login.microsoftonline.com/tenant-1/v2.0",
            "subject": identity["principalId"],
            "audiences": ["api://AzureADTokenExchange"],
        }
    ]
    assert app["appId"] in state["servicePrincipals"]


def test_app_settings_and_authentication(signed_in: FakeCloud) -> None:
    state = signed_in.state
    site = only(state, "functionapp/")
    settings = site["appSettings"]
    assert settings["ChatSignIn"] == "required"
    assert settings["ChatSignInProviders"] == "aad"
    assert (
        settings["OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"] == only(state, "identity/")["clientId"]
    )
    props = site["authsettingsV2"]["properties"]
    aad = props["identityProviders"]["azureActiveDirectory"]
    assert aad["enabled"] is True
    assert aad["registration"] == {
        "clientId": registration(state)["appId"],
        "openIdIssuer": "https://login.microsoftonline.com/tenant-1/v2.0",
        "clientSecretSettingName": "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID",
    }


def test_the_hub_is_still_wired(signed_in: FakeCloud) -> None:
    hubs = [v for k, v in signed_in.state["resources"].items() if k.startswith("hub/")]
    assert hubs and hubs[0]["properties"]["eventHandlers"]


def test_a_second_run_reuses_the_registration(tmp_path: Path) -> None:
    cloud = FakeCloud.create(tmp_path)
    run(cloud, **SIGN_IN)
    first = cloud.state["applications"]
    cloud.clear_log()
    run(cloud, **SIGN_IN)
    assert cloud.state["applications"] == first
    for words in (("ad", "app", "create"), ("ad", "sp", "create")):
        assert not cloud.az_calls(*words), words
    assert not cloud.az_calls("ad", "app", "federated-credential", "create")


def test_turning_sign_in_off_removes_the_apps_settings(tmp_path: Path) -> None:
    cloud = FakeCloud.create(tmp_path)
    run(cloud, **SIGN_IN)
    run(cloud, CHAT_SIGN_IN="off")
    settings = only(cloud.state, "functionapp/")["appSettings"]
    assert not {
        "ChatSignIn",
        "ChatSignInProviders",
        "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID",
    } & set(settings)


def test_off_by_default_touches_no_directory(tmp_path: Path) -> None:
    cloud = FakeCloud.create(tmp_path)
    run(cloud)
    assert not cloud.az_calls("ad", "app")
    assert not cloud.az_calls("rest")
    assert "authsettingsV2" not in only(cloud.state, "functionapp/")


def test_a_bad_value_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    cloud = FakeCloud.create(tmp_path)
    result = cloud.run("deploy.sh", env={**ENV, "CHAT_SIGN_IN": "yes"})
    assert result.returncode == 1
    assert "CHAT_SIGN_IN must be off or required" in result.stderr
    assert not cloud.state["resources"]


def test_the_script_puts_the_auth_settings_the_bicep_declares(signed_in: FakeCloud) -> None:
    """One PUT of authsettingsV2 on the app, with the apiVersion and body of sign-in.bicep."""
    state = signed_in.state
    site = only(state, "functionapp/")
    (call,) = signed_in.az_calls("rest")
    assert option(call, "--method") == ["put"]
    resource = BicepParser().parse(file_path=INFRA / "sign-in.bicep")
    auth = resource["resources"]["authSettings"]
    assert option(call, "--url") == [
        f"https://management.azure.com{site['id']}/config/authsettingsV2"
        f"?api-version={auth['api_version']}"
    ]
    facts = {
        "registration.appId": registration(state)["appId"],
        "environment().authentication.loginEndpoint": "https://login.microsoftonline.com/",
        "tenant().tenantId": state["account"]["tenantId"],
    }
    declared = Scope(resource, {}, facts).eval(auth["config"]["properties"])
    assert json.loads(option(call, "--body")[0]) == {"properties": declared}
    assert declared["globalValidation"]["excludedPaths"] == ["/api/eventhandler"]


def test_teardown_deletes_the_registration(tmp_path: Path) -> None:
    cloud = FakeCloud.create(tmp_path)
    run(cloud, **SIGN_IN)
    result = cloud.run("teardown.sh", "--yes", env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert cloud.state["applications"] == {}
    assert cloud.state["servicePrincipals"] == {}
