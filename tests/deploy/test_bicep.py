"""Parse every Bicep file (pycep) and assert what the deployment depends on.

pycep turns Bicep into JSON. Identifiers and string literals both come back as plain strings, so
where a value is a reference (a parameter or variable) the test names that reference and then
checks the variable it points to.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from chat import settings as chat_settings
from chat import storage_settings

from .bicep_eval import HOST, app_settings

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"

ROLES = {
    "storageBlobDataOwnerRole": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storageQueueDataContributorRole": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storageTableDataContributorRole": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "monitoringMetricsPublisherRole": "3913510d-42f4-4e42-8a64-420c390055eb",
    "keyVaultSecretsUserRole": "4633458b-17de-408a-b874-0445c86b69e6",
    "webPubSubServiceOwnerRole": "12cf5a90-567b-43ae-8102-96cf46c7d9b4",
}
# Settings the Flex Consumption plan rejects or ignores: the runtime is set in functionAppConfig,
# the package comes from the deployment container, the build flag is azd's/func's business.
FLEX_DEPRECATED = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTOVERVNET",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
    "linuxFxVersion",
    "AzureWebJobsStorage",  # key-based; identity-based storage uses AzureWebJobsStorage__*
}


def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


@pytest.fixture(scope="module")
def main() -> dict[str, Any]:
    return parse(INFRA / "main.bicep")


@pytest.fixture(scope="module")
def res() -> dict[str, Any]:
    return parse(INFRA / "resources.bicep")


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's properties, unwrapping `= if (condition) { ... }`."""
    config = resource["config"]
    return config["config"] if "condition" in config else config


def condition(resource: dict[str, Any]) -> Any:
    return resource["config"].get("condition")


def var(doc: dict[str, Any], name: str) -> Any:
    return doc["variables"][name]["value"]


def of_type(doc: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in doc["resources"].items() if v["type"] == type_}


def keys_and_strings(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            found.add(str(k).strip("'"))
            found |= keys_and_strings(v)
    elif isinstance(node, list):
        for v in node:
            found |= keys_and_strings(v)
    elif isinstance(node, str):
        found.add(node)
    return found


def test_every_bicep_file_parses() -> None:
    files = sorted(INFRA.rglob("*.bicep"))
    assert {f.name for f in files} >= {"main.bicep", "resources.bicep"}
    for f in files:
        assert parse(f), f


def test_modules_are_local_files(main: dict[str, Any]) -> None:
    for name, module in main["modules"].items():
        assert module["type"] == "local", f"{name} is a registry module"
        assert (INFRA / module["detail"]["path"]).is_file()


def test_parameters_sku_and_auth_mode(main: dict[str, Any], res: dict[str, Any]) -> None:
    assert main["globals"]["scope"]["value"] == "subscription"
    for doc in (main, res):
        sku = doc["parameters"]["webPubSubSku"]
        assert sku["default"] == "Free_F1"
        allowed = next(d["argument"] for d in sku["decorators"] if d["type"] == "allowed")
        assert allowed == ["Free_F1", "Standard_S1"]
        mode = doc["parameters"]["webPubSubAuthMode"]
        assert mode["default"] == "key"
        assert next(d["argument"] for d in mode["decorators"] if d["type"] == "allowed") == [
            "key",
            "identity",
        ]


def test_parameters_file_feeds_every_required_parameter(main: dict[str, Any]) -> None:
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(values) <= set(main["parameters"])
    required = {n for n, p in main["parameters"].items() if "default" not in p}
    assert required <= set(values)
    assert values["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert values["location"]["value"] == "${AZURE_LOCATION}"


def test_outputs_cover_what_the_hook_reads(main: dict[str, Any]) -> None:
    hook = (REPO / "scripts" / "wire-hub.sh").read_text()
    required = re.search(r"^require_env (.+)$", hook, re.M)
    assert required, "wire-hub.sh no longer declares its inputs with require_env"
    needed = set(required.group(1).split()) | {"AZURE_WEB_PUBSUB_HUB"}
    assert needed <= set(main["outputs"])


def test_flex_consumption_plan(res: dict[str, Any]) -> None:
    (plan,) = of_type(res, "Microsoft.Web/serverfarms").values()
    assert body(plan)["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert body(plan)["properties"]["reserved"] is True


def test_function_app_runtime_identity_and_deployment(res: dict[str, Any]) -> None:
    (site,) = of_type(res, "Microsoft.Web/sites").values()
    config = body(site)
    assert config["kind"] == "functionapp,linux"
    assert config["identity"]["type"] == "UserAssigned"
    assert list(config["identity"]["userAssignedIdentities"]) == ["'${identity.id}'"]
    assert config["tags"]["function"]["parameters"]["arg_2"] == {"'azd-service-name'": "api"}
    props = config["properties"]
    assert props["httpsOnly"] is True
    assert props["keyVaultReferenceIdentity"]["operator"]["operands"] == {
        "operand_1": "identity",
        "operand_2": "id",
    }
    app_config = props["functionAppConfig"]
    assert app_config["runtime"] == {"name": "python", "version": "3.12"}
    storage = app_config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert "linuxFxVersion" not in props["siteConfig"]


def test_app_settings_identity_based_storage_and_no_deprecated_flex_settings(
    res: dict[str, Any],
) -> None:
    (settings,) = (
        v for v in res["resources"].values() if v["type"] == "Microsoft.Web/sites/config"
    )
    assert body(settings)["name"] == "appsettings"
    union = body(settings)["properties"]["function"]
    assert union["type"] == "union"
    assert union["parameters"]["arg_1"] == "commonSettings"
    assert union["parameters"]["arg_2"]["operator"] == {
        "type": "conditional",
        "operands": {
            "condition": "isKeyMode",
            "true_value": "keyModeSettings",
            "false_value": "identityModeSettings",
        },
    }
    common = var(res, "commonSettings")
    assert common["AzureWebJobsStorage__credential"] == "managedidentity"
    # The chat's tables through the app's identity (the app reads ChatStorage__*).
    assert dotted(common["ChatStorage__tableServiceUri"]) == (
        "storage.properties.primaryEndpoints.table"
    )
    assert common["ChatStorage__credential"] == "managedidentity"
    assert dotted(common["ChatStorage__clientId"]) == "identity.properties.clientId"
    assert {"AzureWebJobsStorage__accountName", "AzureWebJobsStorage__clientId"} <= set(common)
    assert {"APPLICATIONINSIGHTS_CONNECTION_STRING", "AZURE_CLIENT_ID"} <= set(common)
    assert common["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"].endswith(";Authorization=AAD")
    assert common["WebPubSubHub"] == "hubName" and var(res, "hubName") == "Sample_ChatApp"
    names: set[str] = set()
    for name in ("commonSettings", "keyModeSettings", "identityModeSettings"):
        names |= set(var(res, name))
    names |= keys_and_strings(
        body(next(iter(of_type(res, "Microsoft.Web/sites").values())))["properties"]
    )
    assert not (names & FLEX_DEPRECATED)


def test_key_mode_reads_the_connection_strings_from_key_vault(res: dict[str, Any]) -> None:
    settings = var(res, "keyModeSettings")
    assert set(settings) == {"WebPubSubConnectionString", "WebPubSubConnectionStringSecondary"}
    for value in settings.values():
        assert re.fullmatch(
            r"@Microsoft\.KeyVault\(VaultName=\$\{keyVaultName\};SecretName=\$\{\w+\}\)", value
        )
    # the keys themselves appear only as Key Vault secret values
    secrets = of_type(res, "Microsoft.KeyVault/vaults/secrets")
    assert {body(s)["name"] for s in secrets.values()} == {
        "connectionStringSecretName",
        "secondaryConnectionStringSecretName",
    }
    for secret in secrets.values():
        assert condition(secret) == "isKeyMode"
        accessor = body(secret)["properties"]["value"]["operator"]
        assert accessor["operands"]["operand_1"]["operator"]["operands"]["func_name"] == "listKeys"
    (vault,) = of_type(res, "Microsoft.KeyVault/vaults").values()
    assert condition(vault) == "isKeyMode"
    assert body(vault)["properties"]["enableRbacAuthorization"] is True


def test_identity_mode_uses_the_endpoint(res: dict[str, Any]) -> None:
    assert var(res, "identityModeSettings") == {
        "WebPubSubEndpoint": "https://${webPubSub.properties.hostName}"
    }


def test_web_pubsub_and_hub(res: dict[str, Any]) -> None:
    (wps,) = of_type(res, "Microsoft.SignalRService/webPubSub").values()
    sku = body(wps)["sku"]
    assert sku["name"] == "webPubSubSku" and sku["capacity"] == 1
    assert var(res, "webPubSubTiers") == {"Free_F1": "Free", "Standard_S1": "Standard"}
    # disableLocalAuth = !isKeyMode: false in key mode, true in identity mode
    assert body(wps)["properties"]["disableLocalAuth"] == {
        "operator": {"type": "not", "operands": {"bool_value": "isKeyMode"}}
    }
    assert var(res, "isKeyMode") == {
        "operator": {
            "type": "equals",
            "operands": {"operand_1": "webPubSubAuthMode", "operand_2": "key"},
        }
    }
    (hub,) = of_type(res, "Microsoft.SignalRService/webPubSub/hubs").values()
    assert body(hub)["parent"] == "webPubSub"
    assert body(hub)["name"] == "hubName"
    # the handler is wired after deploy by scripts/wire-hub.sh (tests/deploy/test_wire_hub.py)
    assert body(hub)["properties"] == {"anonymousConnectPolicy": "deny", "eventHandlers": []}


def test_role_assignments(res: dict[str, Any]) -> None:
    for name, guid in ROLES.items():
        assert var(res, name) == guid, name
    assignments = {}
    for resource in of_type(res, "Microsoft.Authorization/roleAssignments").values():
        config = body(resource)
        props = config["properties"]
        role = props["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        assert props["principalType"] == "ServicePrincipal"
        assert props["principalId"]["operator"]["operands"]["operand_1"] == "identity"
        assignments[role] = (config["scope"], condition(resource))
    not_key_mode = {"operator": {"type": "not", "operands": {"bool_value": "isKeyMode"}}}
    assert assignments == {
        "storageBlobDataOwnerRole": ("storage", None),
        "storageQueueDataContributorRole": ("storage", None),
        "storageTableDataContributorRole": ("storage", None),
        "monitoringMetricsPublisherRole": ("appInsights", None),
        "keyVaultSecretsUserRole": ("keyVault", "isKeyMode"),
        "webPubSubServiceOwnerRole": ("webPubSub", not_key_mode),
    }


def test_storage_and_monitoring_take_entra_only(res: dict[str, Any]) -> None:
    (storage,) = of_type(res, "Microsoft.Storage/storageAccounts").values()
    props = body(storage)["properties"]
    assert props["allowSharedKeyAccess"] is False and props["allowBlobPublicAccess"] is False
    (appi,) = of_type(res, "Microsoft.Insights/components").values()
    assert body(appi)["properties"]["DisableLocalAuth"] is True


def dotted(value: Any) -> str:
    """pycep's nested property accessor as Bicep wrote it: a.b.c."""
    if isinstance(value, str):
        return value
    operands = value["operator"]["operands"]
    assert value["operator"]["type"] == "property_accessor"
    return f"{dotted(operands['operand_1'])}.{dotted(operands['operand_2'])}"


def test_chat_tables_are_created_at_deploy_time(res: dict[str, Any]) -> None:
    tables = of_type(res, "Microsoft.Storage/storageAccounts/tableServices/tables")
    assert sorted(body(t)["name"] for t in tables.values()) == sorted(
        [storage_settings.MESSAGES_TABLE, storage_settings.STATE_TABLE]
    )


def test_key_mode_settings_configure_the_app(res: dict[str, Any]) -> None:
    settings = app_settings(res, webPubSubAuthMode="key")
    app = chat_settings.load(settings)
    assert app.endpoint == f"https://{HOST}"
    assert app.access_keys == ("cHJpbWFyeQ==", "c2Vjb25kYXJ5")  # primary first, for rotation
    assert app.hub == "Test_Hub"
    assert not app.sign_in
    storage = storage_settings.load(settings)
    assert storage.table_endpoint == "https://sttoken.table.core.windows.net"
    assert storage.identity_mode and storage.client_id == "client-id-1"


def test_identity_mode_settings_configure_the_app(res: dict[str, Any]) -> None:
    settings = app_settings(res, webPubSubAuthMode="identity")
    assert not {"WebPubSubConnectionString", "WebPubSubConnectionStringSecondary"} & set(settings)
    app = chat_settings.load(settings)
    assert app.identity_mode and app.endpoint == f"https://{HOST}"
    assert app.hub == "Test_Hub"
    assert storage_settings.load(settings).client_id == "client-id-1"
