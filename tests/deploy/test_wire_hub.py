"""scripts/wire-hub.sh (the azd postdeploy/postprovision hook) against a fake `az` and `curl`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .fakecloud import FakeCloud, env_for_wiring, option

RG = "rg-chat"
APP = "func-abc123"
WPS = "wps-abc123"
HOST = "func-abc123-h7d2b9fkc0.westeurope-01.azurewebsites.net"  # not <app>.azurewebsites.net
KEY = "fn-key-Zm9vYmFy"


def deployed_world(*, functions: bool = True, hub: bool = True) -> dict[str, Any]:
    sub = "/subscriptions/s/resourceGroups/rg-chat/providers"
    resources: dict[str, Any] = {
        f"group/{RG}": {"name": RG, "id": "/subscriptions/s/resourceGroups/rg-chat"},
        f"functionapp/{APP}": {
            "name": APP,
            "resourceGroup": RG,
            "id": f"{sub}/Microsoft.Web/sites/{APP}",
            "defaultHostName": HOST,
            "appSettings": {},
            "functions": [
                {"name": f"{APP}/negotiate", "invokeUrlTemplate": f"https://{HOST}/api/negotiate"},
                {"name": f"{APP}/index", "invokeUrlTemplate": None},
                {
                    "name": f"{APP}/event_handler",
                    "invokeUrlTemplate": f"https://{HOST}/api/eventhandler",
                },
            ]
            if functions
            else [],
            "keys": {"event_handler": KEY},
        },
        f"webpubsub/{WPS}": {
            "name": WPS,
            "resourceGroup": RG,
            "id": f"{sub}/Microsoft.SignalRService/webPubSub/{WPS}",
            "hostName": f"{WPS}.webpubsub.azure.com",
            "disableLocalAuth": False,
        },
    }
    if hub:  # as infra/resources.bicep leaves it: no handler, anonymous connects denied
        resources[f"hub/{WPS}/Sample_ChatApp"] = {
            "name": "Sample_ChatApp",
            "resourceGroup": RG,
            "properties": {"anonymousConnectPolicy": "deny", "eventHandlers": []},
        }
    return {"resources": resources}


@pytest.fixture
def cloud(tmp_path: Path) -> FakeCloud:
    return FakeCloud.create(tmp_path, **deployed_world())


def run_hook(cloud: FakeCloud, *args: str):
    return cloud.run("wire-hub.sh", *args, env=env_for_wiring(RG, APP, WPS))


def hub_of(cloud: FakeCloud) -> dict[str, Any]:
    return cloud.state["resources"][f"hub/{WPS}/Sample_ChatApp"]["properties"]


def test_wires_the_handler_with_real_host_function_key_and_events(cloud: FakeCloud) -> None:
    result = run_hook(cloud)
    assert result.returncode == 0, result.stderr
    assert hub_of(cloud) == {
        "anonymousConnectPolicy": "deny",
        "eventHandlers": [
            {
                "urlTemplate": f"https://{HOST}/api/eventhandler?code={KEY}",
                "userEventPattern": "*",
                "systemEvents": ["connect", "connected", "disconnected"],
            }
        ],
    }
    # the key was read for the function that serves the route, whatever its Python name
    (keys_call,) = cloud.az_calls("functionapp", "function", "keys", "list")
    assert option(keys_call, "--function-name") == ["event_handler"]
    # the existing hub was updated, not re-created, and the handshake hit the exact URL
    assert len(cloud.az_calls("webpubsub", "hub", "update")) == 1
    assert not cloud.az_calls("webpubsub", "hub", "create")
    curls = [c for c in cloud.calls() if c[0] == "curl"]
    assert curls and curls[-1][-1] == f"https://{HOST}/api/eventhandler?code={KEY}"
    assert f"WebHook-Request-Origin: {WPS}.webpubsub.azure.com" in curls[-1]
    assert "handshake OK" in result.stderr


def test_never_prints_the_function_key(cloud: FakeCloud) -> None:
    result = run_hook(cloud)
    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr
    assert "code=***" in result.stderr
    for call in cloud.az_calls("webpubsub", "hub"):
        if call[2] in ("update", "create"):
            assert option(call, "--output") == ["none"], call


def test_rerunning_is_safe_and_writes_the_same_settings(cloud: FakeCloud) -> None:
    assert run_hook(cloud).returncode == 0
    first = hub_of(cloud)
    second_run = run_hook(cloud)
    assert second_run.returncode == 0, second_run.stderr
    assert hub_of(cloud) == first
    updates = cloud.az_calls("webpubsub", "hub", "update")
    assert len(updates) == 2 and updates[0] == updates[1]


def test_creates_the_hub_when_it_does_not_exist(tmp_path: Path) -> None:
    cloud = FakeCloud.create(tmp_path, **deployed_world(hub=False))
    result = run_hook(cloud)
    assert result.returncode == 0, result.stderr
    (create,) = cloud.az_calls("webpubsub", "hub", "create")
    assert option(create, "--allow-anonymous") == ["false"]
    assert hub_of(cloud)["anonymousConnectPolicy"] == "deny"


def test_installs_the_webpubsub_extension_once(cloud: FakeCloud) -> None:
    assert run_hook(cloud).returncode == 0
    assert run_hook(cloud).returncode == 0
    assert len(cloud.az_calls("extension", "add")) == 1


def test_postprovision_before_any_code_is_a_clear_no_op(tmp_path: Path) -> None:
    cloud = FakeCloud.create(tmp_path, **deployed_world(functions=False))
    result = run_hook(cloud, "--if-deployed")
    assert result.returncode == 0, result.stderr
    assert "postdeploy hook will wire" in result.stderr
    assert hub_of(cloud)["eventHandlers"] == []
    assert not cloud.az_calls("webpubsub", "hub", "update")


def test_postprovision_after_a_deploy_rewires_the_reset_hub(cloud: FakeCloud) -> None:
    result = run_hook(cloud, "--if-deployed")
    assert result.returncode == 0, result.stderr
    assert hub_of(cloud)["eventHandlers"][0]["urlTemplate"].startswith(f"https://{HOST}/")


def test_postdeploy_without_the_function_fails_loudly(tmp_path: Path) -> None:
    cloud = FakeCloud.create(tmp_path, **deployed_world(functions=False))
    result = run_hook(cloud)
    assert result.returncode == 1
    assert "no function in 'func-abc123' serves /api/eventhandler" in result.stderr
    assert hub_of(cloud)["eventHandlers"] == []


def test_a_rejected_handshake_fails_the_hook(cloud: FakeCloud) -> None:
    # The app answers 401 when the key in the URL is not one of its keys (e.g. a rotated key).
    state = cloud.state
    state["resources"][f"functionapp/{APP}"]["keys"] = {"event_handler": KEY}
    cloud.state = state
    real = cloud.root / "bin" / "curl"
    real.write_text(real.read_text().replace('"$@"', '"$@" 2>/dev/null | sed "s/ 200 / 401 /"'))
    result = run_hook(cloud)
    assert result.returncode == 1
    assert "handshake failed (last HTTP status: 401)" in result.stderr
    assert KEY not in result.stderr


@pytest.mark.parametrize(
    "missing", ["AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME", "AZURE_WEB_PUBSUB_NAME"]
)
def test_missing_settings_are_named(cloud: FakeCloud, missing: str) -> None:
    env = env_for_wiring(RG, APP, WPS)
    env[missing] = ""
    result = cloud.run("wire-hub.sh", env=env)
    assert result.returncode == 1
    assert f"{missing} is not set" in result.stderr
    assert not cloud.calls()
