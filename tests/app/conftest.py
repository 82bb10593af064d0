"""Fixtures for calling the registered functions with real func.HttpRequest objects.

Broadcasts are checked on the wire: the connection string points at a local aiohttp server
that records what the real SDK sends and checks its bearer token like the service does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import azure.functions as func
import jwt
import pytest
from aiohttp import web

import function_app
from chat import signature

# Re-exported: the app's tests take them from here with the fixtures.
from tests.support.access_keys import HUB, PRIMARY, SECONDARY, connection_string  # noqa: F401


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
    rejected_tokens: int = 0

    @property
    def broadcasts(self) -> list[object]:
        return [r.json() for r in self.requests if r.path.endswith("/:send")]


@pytest.fixture
async def service() -> AsyncIterator[RecordingService]:
    recorder = RecordingService(endpoint="")

    async def handle(request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, PRIMARY, algorithms=["HS256"], audience=str(request.url))
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


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Set the app's settings for one test; every test starts from a clean environment."""
    for name in list(function_app.os.environ):
        if name.startswith(("WebPubSub", "Chat")):
            monkeypatch.delenv(name)

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        function_app.runtime.reset()

    yield apply
    function_app.runtime.reset()


@pytest.fixture
async def app(configure, service: RecordingService) -> AsyncIterator[RecordingService]:
    """The app configured against the recording service with default settings."""
    configure(WebPubSubConnectionString=connection_string(service.endpoint), WebPubSubHub=HUB)
    yield service
    if function_app.runtime._service is not None:
        await function_app.runtime._service.close()


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
) -> func.HttpRequest:
    """A CloudEvents request as the service sends it, signed unless told otherwise."""
    name = ce_type.rsplit(".", 1)[-1]
    headers = {
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": ce_type,
        "ce-source": f"/hubs/{hub}/client/{connection_id}",
        "ce-id": ce_id,
        "ce-time": "2026-11-28T12:00:00Z",
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
