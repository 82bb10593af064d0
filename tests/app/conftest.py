"""Fixtures for calling the registered functions with real func.HttpRequest objects.

Broadcasts are checked on the wire: the connection string points at a local aiohttp server
that records what the real SDK sends and checks its bearer token like the service does. It
also keeps group memberships, so the SDK's list_connections gets real answers. History and
shared state go to a real (throwaway) Azurite, emptied before every test.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

import azure.functions as func
import jwt
import pytest
from aiohttp import web

import function_app
from adapters.runtime import Configured, Stateful
from chat import signature, storage_settings

# Re-exported: the app's tests take them from here with the fixtures.
from tests.support.access_keys import HUB, PRIMARY, SECONDARY, connection_string  # noqa: F401
from tests.support.azurite import Azurite


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: bytes
    claims: dict

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class RecordingService:
    """A stand-in for the service's REST API that keeps every request it accepts."""

    endpoint: str
    requests: list[Recorded] = field(default_factory=list)
    status: int = 202
    add_status: int | None = None  # when set: every add to a group answers it (and adds nothing)
    rejected_tokens: int = 0
    groups: dict[str, set[str]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # connection id -> user id

    @property
    def broadcasts(self) -> list[object]:
        return [r.json() for r in self.requests if r.path.endswith("/:send")]

    def sends(self, kind: str) -> list[Recorded]:
        """Sends of one kind: "groups", "connections" or "hub" (send_to_all)."""
        sends = [r for r in self.requests if r.path.endswith("/:send")]
        if kind == "hub":
            return [r for r in sends if r.path.count("/") == 4]
        return [r for r in sends if f"/{kind}/" in r.path]

    def connect(self, connection: str, user: str, *groups: str) -> None:
        """A connection the service holds (as after a connect reply with these groups)."""
        self.users[connection] = user
        for group in groups:
            self.groups.setdefault(group, set()).add(connection)

    def disconnect(self, connection: str) -> None:
        for members in self.groups.values():
            members.discard(connection)


@pytest.fixture
async def service() -> AsyncIterator[RecordingService]:
    recorder = RecordingService(endpoint="")

    async def handle(request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, PRIMARY, algorithms=["HS256"], options={"verify_aud": False})
            # The audience is the URL the SDK sent; aiohttp may re-quote characters such as
            # "'" in what it hands us, so both are compared unquoted.
            if unquote(str(claims.get("aud", ""))) != unquote(str(request.url)):
                raise jwt.InvalidAudienceError("audience is not this URL")
        except jwt.PyJWTError:
            recorder.rejected_tokens += 1
            return web.Response(status=401)
        recorder.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                request.headers.get("Content-Type", ""),
                await request.read(),
                claims,
            )
        )
        if recorder.status >= 400:
            return web.Response(status=recorder.status)
        parts = request.path.split("/")  # /api/hubs/<hub>/groups/<g>/connections[/<c>]
        if len(parts) >= 7 and parts[4] == "groups" and parts[6] == "connections":
            members = recorder.groups.setdefault(parts[5], set())
            if request.method == "GET":
                value = [
                    {"connectionId": c, "userId": recorder.users.get(c)} for c in sorted(members)
                ]
                top = int(request.query.get("top", "0") or 0)
                return web.json_response({"value": value[:top] if top else value})
            if request.method == "PUT":
                if recorder.add_status is not None:
                    return web.Response(status=recorder.add_status)
                members.add(parts[7])
                return web.Response(status=200)
            if request.method == "DELETE":
                members.discard(parts[7])
                return web.Response(status=204)
        users_group = len(parts) >= 8 and parts[4] == "users" and parts[6] == "groups"
        if users_group and request.method == "PUT":
            # Add a user to a group: every connection of theirs joins it (200, as the SDK wants).
            user = unquote(parts[5])
            members = recorder.groups.setdefault(unquote(parts[7]), set())
            members.update(c for c, u in recorder.users.items() if u == user)
            return web.Response(status=200)
        if users_group and request.method == "DELETE":
            # Remove a user from a group: every connection of theirs leaves it (the service
            # answers 204, which the SDK expects).
            user = unquote(parts[5])
            members = recorder.groups.setdefault(unquote(parts[7]), set())
            members.difference_update({c for c in members if recorder.users.get(c) == user})
            return web.Response(status=204)
        return web.Response(status=recorder.status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    recorder.endpoint = f"http://127.0.0.1:{port}"
    yield recorder
    await runner.cleanup()


def empty_tables(connection: str) -> None:
    """Drop the chat's tables so every test starts with no history and no shared state."""
    from azure.data.tables import TableServiceClient

    with TableServiceClient.from_connection_string(connection) as client:
        for name in (storage_settings.MESSAGES_TABLE, storage_settings.STATE_TABLE):
            client.delete_table(name)  # no error when it does not exist


@pytest.fixture
async def configure(monkeypatch: pytest.MonkeyPatch, azurite: Azurite) -> AsyncIterator:
    """Set the app's settings for one test; every test starts from a clean environment.

    ChatStorage points at the session's Azurite unless a test sets it (or "" to unset it).
    Afterwards, pass or fail, every client the app made is closed and its settings forgotten.
    """
    for name in list(os.environ):
        if name.startswith(("WebPubSub", "Chat", "AzureWebJobsStorage")):
            monkeypatch.delenv(name)
    empty_tables(azurite.connection_string)

    def apply(**values: str) -> None:
        values = {"ChatStorage": azurite.connection_string} | values
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        function_app.runtime.reset()

    try:
        yield apply
    finally:
        await function_app.runtime.close()
        function_app.runtime.reset()


@pytest.fixture
async def app(configure, service: RecordingService) -> AsyncIterator[RecordingService]:
    """The app configured against the recording service with default settings."""
    configure(WebPubSubConnectionString=connection_string(service.endpoint), WebPubSubHub=HUB)
    yield service


# Sign-in mode as App Service Authentication turns it on (the app refuses it otherwise).
SIGN_IN = {"ChatSignIn": "required", "WEBSITE_AUTH_ENABLED": "True"}


@pytest.fixture
def app_with(configure, service: RecordingService) -> Callable[..., RecordingService]:
    """app_with(**settings): the app configured against the recording service with these
    settings (and the defaults for the rest); it answers the recording service."""

    def apply(**settings: str) -> RecordingService:
        configure(WebPubSubConnectionString=connection_string(service.endpoint), **settings)
        return service

    return apply


@pytest.fixture
def signed_in_app(app_with: Callable[..., RecordingService]) -> RecordingService:
    """The app against the recording service in sign-in mode, with the default provider."""
    return app_with(**SIGN_IN)


def configured() -> Configured:
    """The app's parts as the current settings make them (the settings must be usable)."""
    parts = function_app.runtime.configured()
    assert parts is not None, "the app is not configured"
    return parts


def stateful() -> Stateful:
    """The app's parts that use the table store (ChatStorage must be usable)."""
    parts = configured().stateful
    assert parts is not None, "the app has no storage"
    return parts


def event_request(
    ce_type: str,
    *,
    body: bytes = b"",
    content_type: str | None = None,
    connection_id: str = "conn-1",
    user: str | None = "alice",
    ce_id: str = "1",
    hub: str = "sample_chatapp",
    keys: tuple[str, ...] = (PRIMARY,),
    origin: str | None = "127.0.0.1",
    state: str | None = None,
    signature_header: str | None = None,
    drop: tuple[str, ...] = (),
    method: str = "POST",
    ce_time: str | None = None,
) -> func.HttpRequest:
    """A CloudEvents request as the service sends it, signed unless told otherwise."""
    name = ce_type.rsplit(".", 1)[-1]
    headers = {
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": ce_type,
        "ce-source": f"/hubs/{hub}/client/{connection_id}",
        "ce-id": ce_id,
        "ce-time": ce_time or datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "ce-hub": hub,
        "ce-connectionId": connection_id,
        "ce-eventName": name,
        "ce-signature": signature_header
        if signature_header is not None
        else signature.header(keys, connection_id),
    }
    if origin is not None:
        headers["WebHook-Request-Origin"] = origin
    if user is not None:
        headers["ce-userId"] = user
    if state is not None:
        headers["ce-connectionState"] = state
    if content_type is not None:
        headers["Content-Type"] = content_type
    for header in drop:
        headers.pop(header)
    return func.HttpRequest(
        method, "http://localhost:7071/api/eventhandler", headers=headers, params={}, body=body
    )


def get_request(
    url: str, principal: tuple[str, str, str] | None = None, **route_params: str
) -> func.HttpRequest:
    """A GET to one of the app's routes; signed in, with the headers App Service Authentication
    adds for the principal (idp, user id, name)."""
    headers = {}
    if principal is not None:
        idp, user_id, name = principal
        headers = {
            "X-MS-CLIENT-PRINCIPAL-ID": user_id,
            "X-MS-CLIENT-PRINCIPAL-NAME": name,
            "X-MS-CLIENT-PRINCIPAL-IDP": idp,
        }
    return func.HttpRequest(
        "GET", url, headers=headers, params={}, route_params=route_params, body=b""
    )
