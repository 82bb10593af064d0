"""scripts/deploy.sh and scripts/teardown.sh (the az-only route) against a fake `az` and `curl`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .fakecloud import FakeCloud, option

ENV = {"CHAT_ENV_NAME": "chat-test", "CHAT_LOCATION": "westeurope"}
ALLOWED_TOP = {"function_app.py", "host.json", "requirements.txt"}


def run_deploy(cloud: FakeCloud, **extra: str):
    return cloud.run("deploy.sh", env={**ENV, **extra})


def only(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    (value,) = (v for k, v in state["resources"].items() if k.startswith(prefix))
    return value


@pytest.fixture
def cloud(tmp_path: Path) -> FakeCloud:
    return FakeCloud.create(tmp_path)


@pytest.fixture
def deployed(cloud: FakeCloud) -> FakeCloud:
    result = run_deploy(cloud)
    assert result.returncode == 0, result.stderr[-3000:]
    return cloud


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[FakeCloud, str]:
    """One key-mode deployment shared by the tests that only read its outcome."""
    cloud = FakeCloud.create(tmp_path_factory.mktemp("first-run"))
    result = run_deploy(cloud)
    assert result.returncode == 0, result.stderr[-3000:]
    return cloud, result.stdout + result.stderr


def test_key_mode_deploys_everything(first_run: tuple[FakeCloud, str]) -> None:
    deployed, _ = first_run
    state = deployed.state
    kinds = sorted({k.split("/")[0] for k in state["resources"]})
    expected = ["group", "identity", "law", "appi", "storage", "container", "role", "webpubsub"]
    expected += ["table"]
    assert kinds == sorted([*expected, "keyvault", "secret", "functionapp", "hub"])
    tables = sorted(v["name"] for k, v in state["resources"].items() if k.startswith("table/"))
    assert tables == ["chatmessages", "chatstate"]  # created at deploy time
    app = only(state, "functionapp/")
    identity = only(state, "identity/")
    vault = only(state, "keyvault/")["name"]
    assert app["create_args"]["--runtime"] == "python"
    assert app["create_args"]["--runtime-version"] == "3.12"
    assert app["create_args"]["--deployment-storage-auth-type"] == "UserAssignedIdentity"
    assert app["identity"]["userAssignedIdentities"] == {identity["id"]: {}}
    assert app["properties"]["keyVaultReferenceIdentity"] == identity["id"]
    assert app["properties"]["httpsOnly"] is True
    settings = app["appSettings"]
    assert settings == {
        "AzureWebJobsStorage__accountName": only(state, "storage/")["name"],
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": identity["clientId"],
        # The chat's tables, reached with the app's identity (Storage Table Data Contributor).
        "ChatStorage__tableServiceUri": (
            f"https://{only(state, 'storage/')['name']}.table.core.windows.net"
        ),
        "ChatStorage__credential": "managedidentity",
        "ChatStorage__clientId": identity["clientId"],
        "APPLICATIONINSIGHTS_CONNECTION_STRING": only(state, "appi/")["connectionString"],
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": (
            f"ClientId={identity['clientId']};Authorization=AAD"
        ),
        "AZURE_CLIENT_ID": identity["clientId"],
        "WebPubSubHub": "Sample_ChatApp",
        "WebPubSubConnectionString": (
            f"@Microsoft.KeyVault(VaultName={vault};SecretName=webpubsub-connection-string)"
        ),
        "WebPubSubConnectionStringSecondary": (
            f"@Microsoft.KeyVault(VaultName={vault};SecretName=webpubsub-connection-string-secondary)"
        ),
    }
    secret = state["resources"][f"secret/{vault}/webpubsub-connection-string"]["value"]
    assert secret.startswith(
        f"Endpoint=https://{only(state, 'webpubsub/')['hostName']};AccessKey=PRIMARY"
    )
    assert only(state, "storage/")["allowSharedKeyAccess"] is False
    assert only(state, "webpubsub/")["disableLocalAuth"] is False
    assert only(state, "appi/")["properties"]["DisableLocalAuth"] is True


def test_roles_granted(first_run: tuple[FakeCloud, str]) -> None:
    deployed, _ = first_run
    state = deployed.state
    principal = only(state, "identity/")["principalId"]
    roles = {
        (v["roleDefinitionName"], v["scope"].split("/")[-2])
        for k, v in state["resources"].items()
        if k.startswith("role/") and v["principalId"] == principal
    }
    assert roles == {
        ("Storage Blob Data Owner", "storageAccounts"),
        ("Storage Queue Data Contributor", "storageAccounts"),
        ("Storage Table Data Contributor", "storageAccounts"),
        ("Monitoring Metrics Publisher", "components"),
        ("Key Vault Secrets User", "vaults"),
    }
    deployer = [
        v
        for k, v in state["resources"].items()
        if k.startswith("role/") and v["principalId"] == "deployer-object-id"
    ]
    assert [(v["roleDefinitionName"], v["principalType"]) for v in deployer] == [
        ("Key Vault Secrets Officer", "User")
    ]


def test_role_checks_never_look_the_principal_up_in_graph(
    first_run: tuple[FakeCloud, str],
) -> None:
    """A managed identity made seconds ago is not in Microsoft Graph yet (azure-cli #32943).

    `--assignee` resolves the principal through Graph (the fake az fails as az does for anything
    but the signed-in user), and so does filling in principal names; both are avoided.
    """
    deployed, _ = first_run
    lists = deployed.az_calls("role", "assignment", "list")
    assert len(lists) >= 6
    for call in lists:
        assert "--assignee" not in call, call
        assert option(call, "--assignee-object-id"), call
        assert option(call, "--fill-principal-name") == ["false"], call
    for call in deployed.az_calls("role", "assignment", "create"):
        assert "--assignee" not in call and option(call, "--assignee-principal-type"), call


def test_publishes_only_the_runtime_files_with_remote_build(
    first_run: tuple[FakeCloud, str],
) -> None:
    deployed, _ = first_run
    app = only(deployed.state, "functionapp/")
    assert app["deploy_args"]["--build-remote"] == "true"
    files = app["deployed_files"]
    assert set(files) >= ALLOWED_TOP
    assert any(f.startswith("chat/") for f in files) and any(f.startswith("static/") for f in files)
    assert "adapters/table_store.py" in files
    for name in files:
        # __pycache__: the bytecode for Python 3.12, where the deploying machine has one.
        top = name.split("/")[0]
        assert name in ALLOWED_TOP or top in {"chat", "adapters", "static", "__pycache__"}, name


def test_wires_the_hub_to_the_real_host(first_run: tuple[FakeCloud, str]) -> None:
    deployed, _ = first_run
    state = deployed.state
    app = only(state, "functionapp/")
    (handler,) = only(state, "hub/")["properties"]["eventHandlers"]
    assert (
        handler["urlTemplate"]
        == f"https://{app['defaultHostName']}/api/eventhandler?code={app['keys']['event_handler']}"
    )
    assert handler["systemEvents"] == ["connect", "connected", "disconnected"]
    assert handler["userEventPattern"] == "*"
    assert only(state, "hub/")["properties"]["anonymousConnectPolicy"] == "deny"


def test_secrets_never_reach_a_command_line_or_the_terminal(
    first_run: tuple[FakeCloud, str],
) -> None:
    cloud, output = first_run
    state = cloud.state
    vault = only(state, "keyvault/")["name"]
    secrets = [
        state["resources"][f"secret/{vault}/{n}"]["value"]
        for n in ("webpubsub-connection-string", "webpubsub-connection-string-secondary")
    ]
    access_keys = [s.split("AccessKey=")[1].split(";")[0] for s in secrets]
    log = cloud.log_path.read_text()
    for key in access_keys:
        assert key not in log
        assert key not in output
    function_key = only(state, "functionapp/")["keys"]["event_handler"]
    assert function_key not in output


def test_second_run_changes_nothing(deployed: FakeCloud) -> None:
    before = deployed.state
    deployed.clear_log()
    result = run_deploy(deployed)
    assert result.returncode == 0, result.stderr[-3000:]
    after = deployed.state
    creates = [
        c
        for c in deployed.calls()
        if c[0] == "az" and "create" in c[1:5] and c[1:3] != ["hub", "create"]
    ]
    assert creates == []
    assert not deployed.az_calls("keyvault", "secret", "set")  # same value: no new secret version

    def resources(state: dict[str, Any]) -> dict[str, Any]:
        return {
            k: {kk: vv for kk, vv in v.items() if kk != "deploy_args"}
            for k, v in state["resources"].items()
        }

    assert resources(after) == resources(before)


def test_identity_mode(cloud: FakeCloud) -> None:
    result = run_deploy(cloud, WEB_PUBSUB_AUTH_MODE="identity", WEB_PUBSUB_SKU="Standard_S1")
    assert result.returncode == 0, result.stderr[-3000:]
    state = cloud.state
    wps = only(state, "webpubsub/")
    assert wps["sku"] == {"name": "Standard_S1"}
    assert wps["disableLocalAuth"] is True
    settings = only(state, "functionapp/")["appSettings"]
    assert settings["WebPubSubEndpoint"] == f"https://{wps['hostName']}"
    assert "WebPubSubConnectionString" not in settings
    assert not any(k.startswith(("keyvault/", "secret/")) for k in state["resources"])
    principal = only(state, "identity/")["principalId"]
    owners = [
        v
        for k, v in state["resources"].items()
        if k.startswith("role/") and v["roleDefinitionName"] == "Web PubSub Service Owner"
    ]
    assert [(o["principalId"], o["scope"]) for o in owners] == [(principal, wps["id"])]


def test_switching_to_identity_mode_drops_the_connection_strings(deployed: FakeCloud) -> None:
    result = run_deploy(deployed, WEB_PUBSUB_AUTH_MODE="identity")
    assert result.returncode == 0, result.stderr[-3000:]
    settings = only(deployed.state, "functionapp/")["appSettings"]
    assert "WebPubSubEndpoint" in settings
    assert not {"WebPubSubConnectionString", "WebPubSubConnectionStringSecondary"} & set(settings)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"WEB_PUBSUB_SKU": "Premium_P1"}, "WEB_PUBSUB_SKU must be Free_F1 or Standard_S1"),
        ({"WEB_PUBSUB_AUTH_MODE": "sas"}, "WEB_PUBSUB_AUTH_MODE must be key or identity"),
        ({"CHAT_LOCATION": ""}, "CHAT_LOCATION is not set"),
        ({"CHAT_ENV_NAME": "Bad_Name"}, "CHAT_ENV_NAME must be"),
    ],
)
def test_bad_input_is_refused_before_anything_is_created(
    cloud: FakeCloud, extra: dict[str, str], message: str
) -> None:
    result = run_deploy(cloud, **extra)
    assert result.returncode == 1
    assert message in result.stderr
    assert not cloud.state["resources"]


def test_teardown_then_redeploy(deployed: FakeCloud) -> None:
    vault = only(deployed.state, "keyvault/")["name"]
    down = deployed.run("teardown.sh", "--yes", env=ENV)
    assert down.returncode == 0, down.stderr
    assert deployed.state["resources"] == {}
    assert deployed.state["deleted_vaults"] == [vault]
    # the soft-deleted vault is recovered, not re-created (which Azure would refuse)
    again = run_deploy(deployed)
    assert again.returncode == 0, again.stderr[-3000:]
    assert deployed.az_calls("keyvault", "recover")
    # and teardown --purge leaves nothing behind
    purge = deployed.run("teardown.sh", "--yes", "--purge", env=ENV)
    assert purge.returncode == 0, purge.stderr
    assert deployed.state["deleted_vaults"] == []
    assert option(deployed.az_calls("keyvault", "purge")[0], "--name") == [vault]


def test_teardown_needs_confirmation_without_a_terminal(cloud: FakeCloud) -> None:
    assert cloud.run("deploy.sh", env={**ENV, "WEB_PUBSUB_SKU": "bad"}).returncode == 1
    assert cloud.run("teardown.sh", env=ENV).returncode == 0  # nothing there: no question
    state = cloud.state
    state["resources"]["group/rg-chat-test"] = {"name": "rg-chat-test", "id": "/subscriptions/x/rg"}
    cloud.state = state
    result = cloud.run("teardown.sh", env=ENV)
    assert result.returncode == 1
    assert "pass --yes" in result.stderr
    assert cloud.state["resources"]


def test_teardown_of_nothing_is_fine(cloud: FakeCloud) -> None:
    result = cloud.run("teardown.sh", "--yes", env=ENV)
    assert result.returncode == 0, result.stderr
    assert "nothing to delete" in result.stderr
