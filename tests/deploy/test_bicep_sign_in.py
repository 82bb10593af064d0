"""Sign-in (CHAT_SIGN_IN=required) in the Bicep: App Service Authentication with Microsoft Entra ID,
the app registration from the Microsoft Graph extension, and the settings the app reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from chat import settings as chat_settings

from .bicep_eval import FACTS, app_settings

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's (or module's) properties, unwrapping `= if (condition) { ... }`."""
    config = resource["config"]
    return config["config"] if "condition" in config else config


def condition(resource: dict[str, Any]) -> Any:
    return resource["config"].get("condition")


def var(doc: dict[str, Any], name: str) -> Any:
    return doc["variables"][name]["value"]


@pytest.fixture(scope="module")
def main() -> dict[str, Any]:
    return parse(INFRA / "main.bicep")


@pytest.fixture(scope="module")
def res() -> dict[str, Any]:
    return parse(INFRA / "resources.bicep")


@pytest.fixture(scope="module")
def sign_in() -> dict[str, Any]:
    return parse(INFRA / "sign-in.bicep")


def accessor(*path: str) -> dict[str, Any]:
    """pycep's shape for a.b.c."""
    node: Any = path[-1]
    for part in reversed(path[:-1]):
        node = {
            "operator": {
                "type": "property_accessor",
                "operands": {"operand_1": part, "operand_2": node},
            }
        }
    return node


def test_the_switch_is_a_parameter_from_the_azd_environment(main: dict, res: dict) -> None:
    for doc in (main, res):
        param = doc["parameters"]["chatSignIn"]
        assert param["default"] == "off"
        allowed = next(d["argument"] for d in param["decorators"] if d["type"] == "allowed")
        assert allowed == ["off", "required"]
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert values["chatSignIn"]["value"] == "${CHAT_SIGN_IN=off}"
    module = main["modules"]["resources"]["config"]
    assert module["params"]["chatSignIn"] == "chatSignIn"
    assert main["outputs"]["CHAT_SIGN_IN"]["value"] == "chatSignIn"
    assert values["chatAdmins"]["value"] == "${CHAT_ADMINS=}"
    assert module["params"]["chatAdmins"] == "chatAdmins"


def test_app_settings_carry_the_mode(res: dict) -> None:
    assert var(res, "commonSettings")["ChatSignIn"] == "chatSignIn"
    assert var(res, "signInRequired") == {
        "operator": {
            "type": "equals",
            "operands": {"operand_1": "chatSignIn", "operand_2": "required"},
        }
    }
    assert var(res, "signInSettings") == {
        "ChatSignInProviders": "aad",
        "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID": accessor("identity", "properties", "clientId"),
        "ChatAdmins": "chatAdmins",  # issue 19: admins are accounts; moderation needs sign-in
    }
    (settings,) = (
        v for v in res["resources"].values() if v["type"] == "Microsoft.Web/sites/config"
    )
    union = body(settings)["properties"]["function"]["parameters"]
    assert union["arg_3"] == {
        "operator": {
            "type": "conditional",
            "operands": {
                "condition": "signInRequired",
                "true_value": "signInSettings",
                "false_value": {},
            },
        }
    }


def test_the_sign_in_module_runs_only_when_required(res: dict) -> None:
    module = res["modules"]["signIn"]
    assert module["type"] == "local" and (INFRA / module["detail"]["path"]).is_file()
    assert condition(module) == "signInRequired"
    config = body(module)
    assert config["params"] == {
        "functionAppName": accessor("functionApp", "name"),
        "resourceToken": "resourceToken",
        "identityPrincipalId": accessor("identity", "properties", "principalId"),
    }
    assert config["dependsOn"] == ["appSettings"]


def test_the_graph_extension_is_declared_and_pinned(sign_in: dict) -> None:
    assert "microsoftGraphV1" in sign_in["extensions"]
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    assert config["extensions"]["microsoftGraphV1"] == (
        "br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0"
    )


def test_the_app_registration_has_no_secret_and_the_real_callback(sign_in: dict) -> None:
    resources = sign_in["resources"]
    registration = body(resources["registration"])
    assert resources["registration"]["type"] == "Microsoft.Graph/applications"
    assert registration["uniqueName"] == "registrationName"
    assert var(sign_in, "registrationName") == "chat-sign-in-${resourceToken}"
    assert registration["signInAudience"] == "AzureADMyOrg"
    assert registration["web"]["redirectUris"] == ["callbackUrl"]
    # The host name is read from the deployed app (Flex host names are not <app>.azurewebsites.net).
    assert var(sign_in, "callbackUrl") == (
        "https://${functionApp.properties.defaultHostName}/.auth/login/aad/callback"
    )
    assert registration["web"]["implicitGrantSettings"] == {
        "enableIdTokenIssuance": False,
        "enableAccessTokenIssuance": False,
    }
    assert "passwordCredentials" not in registration
    credential = body(resources["federatedCredential"])
    assert resources["federatedCredential"]["type"] == (
        "Microsoft.Graph/applications/federatedIdentityCredentials"
    )
    assert credential == {
        "name": "${registration.uniqueName}/app-identity",
        "audiences": ["api://AzureADTokenExchange"],
        "issuer": "issuer",
        "subject": "identityPrincipalId",
    }
    assert var(sign_in, "issuer") == (
        "${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0"
    )
    assert body(resources["servicePrincipal"])["appId"] == accessor("registration", "appId")


def test_app_service_authentication_settings(sign_in: dict, res: dict) -> None:
    auth = sign_in["resources"]["authSettings"]
    assert auth["type"] == "Microsoft.Web/sites/config"
    config = body(auth)
    assert (config["parent"], config["name"]) == ("functionApp", "authsettingsV2")
    props = config["properties"]
    assert props["platform"] == {"enabled": True}
    assert props["globalValidation"] == {
        "requireAuthentication": True,
        "unauthenticatedClientAction": "RedirectToLoginPage",  # pages; scripts get 401
        "redirectToProvider": "azureactivedirectory",
        "excludedPaths": ["/api/eventhandler"],
    }
    assert props["httpSettings"] == {"requireHttps": True}
    aad = props["identityProviders"]["azureActiveDirectory"]
    assert aad["enabled"] is True
    assert aad["registration"] == {
        "clientId": accessor("registration", "appId"),
        "openIdIssuer": "issuer",
        "clientSecretSettingName": "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID",
    }
    # The secret setting it names is set by resources.bicep in sign-in mode.
    assert aad["registration"]["clientSecretSettingName"] in var(res, "signInSettings")
    assert props["login"] == {"tokenStore": {"enabled": False}}
    assert config["dependsOn"] == ["federatedCredential", "servicePrincipal"]


def test_the_excluded_path_is_the_apps_webhook_route(app_functions: dict) -> None:
    """Web PubSub calls the webhook with no user: its route must be the one excluded."""
    host = json.loads((REPO / "host.json").read_text())
    prefix = host.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    route = app_functions["eventhandler"].get_trigger().route
    assert f"/{prefix}/{route}" == "/api/eventhandler"


def test_the_deployed_settings_turn_sign_in_on_in_the_app(res: dict, sign_in: dict) -> None:
    settings = app_settings(res, chatSignIn="required")
    # App Service sets WEBSITE_AUTH_ENABLED itself once authsettingsV2 turns the platform on.
    app = chat_settings.load({**settings, "WEBSITE_AUTH_ENABLED": "True"})
    assert app.sign_in and app.sign_in_providers == ("aad",)
    assert not app.lazy_auth  # lazy auth cannot coexist with sign-in (load would refuse it)
    # App Service signs in as the app's identity: the setting the auth settings name holds its id.
    aad = body(sign_in["resources"]["authSettings"])["properties"]["identityProviders"]
    name = aad["azureActiveDirectory"]["registration"]["clientSecretSettingName"]
    assert settings[name] == FACTS["identity.properties.clientId"]


def test_by_default_the_deployed_settings_leave_sign_in_off(res: dict) -> None:
    settings = app_settings(res)
    assert not chat_settings.load(settings).sign_in
    assert "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID" not in settings
