"""What `python -m devstack` starts: the child commands and the settings that wire them.

Pure (no I/O), so tests/support/stack.py can start the very same children on free ports.
The emulator calls the Functions host's /api/eventhandler for the hub's system events
(connect, connected, disconnected) and every user event, and accepts anonymous connects for
the lazy-auth flow; the host gets the emulator's connection string and ChatLazyAuth=true.
Azurite's Table service (pinned in devstack/azurite) keeps the chat history, under a
git-ignored folder of the repository so that it survives restarts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ACCESS_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
DEFAULT_HUB = "Sample_ChatApp"
DEFAULT_EMULATOR_PORT = 8080
DEFAULT_HOST_PORT = 7071
BIND_HOST = "127.0.0.1"
# The name people and the SDKs use; the emulator advertises it, and its WebHook-Request-Origin
# ("localhost") then matches the host of the connection string's endpoint.
PUBLIC_HOST = "localhost"
SYSTEM_EVENTS = ("connect", "connected", "disconnected")
SIGN_IN_PROVIDERS = "aad,github"
# The emulator reads its key from this variable (the official emulator's configuration key).
# The stack passes the key this way, never as --access-key: a command line is visible in ps.
ACCESS_KEY_ENV = "WebPubSub__AccessKey"
DEFAULT_STORAGE_PORT = 10002
DEFAULT_STORAGE_DIR = REPO_ROOT / ".azurite"
AZURITE_DIR = REPO_ROOT / "devstack" / "azurite"
AZURITE_BIN = AZURITE_DIR / "node_modules" / ".bin" / "azurite-table"
# Azurite's well-known development account (published in its README; not a secret).
STORAGE_ACCOUNT = "devstoreaccount1"
STORAGE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class StackOptions:
    emulator_port: int = DEFAULT_EMULATOR_PORT
    host_port: int = DEFAULT_HOST_PORT
    access_key: str = DEFAULT_ACCESS_KEY
    hub: str = DEFAULT_HUB
    app_dir: Path = REPO_ROOT
    # --sign-in: the host emulates App Service Authentication and the app requires it.
    sign_in: bool = False
    # What the host does with callers who have not signed in (unauthenticatedClientAction).
    # Anything but AllowAnonymous also excludes the webhook, as the deployment does.
    sign_in_action: str = "AllowAnonymous"
    storage_port: int = DEFAULT_STORAGE_PORT
    storage_dir: Path | None = DEFAULT_STORAGE_DIR  # None: in memory (lost on exit)

    @property
    def table_endpoint(self) -> str:
        return f"http://{BIND_HOST}:{self.storage_port}/{STORAGE_ACCOUNT}"

    @property
    def storage_connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={STORAGE_ACCOUNT};"
            f"AccountKey={STORAGE_KEY};TableEndpoint={self.table_endpoint};"
        )

    @property
    def emulator_endpoint(self) -> str:
        return f"http://{PUBLIC_HOST}:{self.emulator_port}"

    @property
    def connection_string(self) -> str:
        return f"Endpoint={self.emulator_endpoint};AccessKey={self.access_key};Version=1.0;"

    @property
    def client_url(self) -> str:
        """The hub's direct WebSocket URL (what lazy-auth clients open with ?id=<name>)."""
        return f"ws://{PUBLIC_HOST}:{self.emulator_port}/client/hubs/{self.hub}"

    @property
    def host_base_url(self) -> str:
        return f"http://{PUBLIC_HOST}:{self.host_port}"

    @property
    def event_handler_url(self) -> str:
        return f"{self.host_base_url}/api/eventhandler"

    @property
    def chat_url(self) -> str:
        return f"{self.host_base_url}/api/index"

    @property
    def emulator_health_url(self) -> str:
        return f"http://{BIND_HOST}:{self.emulator_port}/api/health"

    @property
    def host_health_url(self) -> str:
        return f"http://{BIND_HOST}:{self.host_port}/admin/host/status"


def _child_env(base: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    # Children must find the devstack package whatever the caller's working directory is,
    # and must not buffer their logs (they are forwarded line by line).
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + path if path else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def emulator_command(options: StackOptions, python: str = sys.executable) -> list[str]:
    return [
        python,
        "-m",
        "devstack.emulator",
        "--host",
        BIND_HOST,
        "--port",
        str(options.emulator_port),
    ]


def emulator_env(options: StackOptions, base: Mapping[str, str]) -> dict[str, str]:
    env = _child_env(base)
    env[ACCESS_KEY_ENV] = options.access_key
    prefix = f"WebPubSub__Hubs__{options.hub}__"
    handler = f"{prefix}EventHandlers__0__"
    env[f"{handler}UrlTemplate"] = options.event_handler_url
    for index, event in enumerate(SYSTEM_EVENTS):
        env[f"{handler}SystemEvents__{index}"] = event
    env[f"{handler}EventPattern"] = "*"
    env[f"{prefix}AnonymousConnectPolicy"] = "allow"
    return env


def azurite_command(options: StackOptions, binary: Path = AZURITE_BIN) -> list[str]:
    """Only the Table service; no telemetry (it would try to reach the internet)."""
    command = [
        str(binary),
        "--tableHost",
        BIND_HOST,
        "--tablePort",
        str(options.storage_port),
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--silent",
    ]
    if options.storage_dir is None:
        return [*command, "--inMemoryPersistence"]
    return [*command, "--location", str(options.storage_dir)]


def host_command(options: StackOptions, python: str = sys.executable) -> list[str]:
    return [
        python,
        "-m",
        "devstack.host",
        "--host",
        BIND_HOST,
        "--port",
        str(options.host_port),
        "--app-dir",
        str(options.app_dir),
        *(["--sign-in", "--sign-in-providers", SIGN_IN_PROVIDERS] if options.sign_in else []),
        *(
            ["--sign-in-action", options.sign_in_action, "--sign-in-exclude", "/api/eventhandler"]
            if options.sign_in and options.sign_in_action != "AllowAnonymous"
            else []
        ),
    ]


def host_env(options: StackOptions, base: Mapping[str, str]) -> dict[str, str]:
    env = _child_env(base)
    # Set in the environment, these win over local.settings.json (as with func start).
    env["WebPubSubConnectionString"] = options.connection_string
    env["WebPubSubHub"] = options.hub
    env["ChatLazyAuth"] = "true"
    env["ChatStorage"] = options.storage_connection_string
    if options.sign_in:
        # Lazy auth and chosen names end where real sign-in starts.
        env["ChatLazyAuth"] = "false"
        env["ChatSignIn"] = "required"
        env["ChatSignInProviders"] = SIGN_IN_PROVIDERS
    # Identity mode would bypass the emulator's key; the local stack is always key mode.
    env["WebPubSubEndpoint"] = ""
    env["WebPubSubConnectionStringSecondary"] = ""
    return env
