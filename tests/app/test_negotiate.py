"""negotiate: decode the token and check aud, sub, exp, roles; every bad-id case."""

from __future__ import annotations

import base64
import json
import time

import pytest

import function_app

from .conftest import HUB, RecordingService, connection_string
from .negotiate_requests import decode, request


async def test_token_claims(app: RecordingService) -> None:
    before = time.time()
    response = await function_app.negotiate(request({"id": "alice"}))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    url = json.loads(response.get_body())["url"]
    assert url.startswith(app.endpoint.replace("http", "ws") + f"/client/hubs/{HUB}?access_token=")
    claims = decode(url, app.endpoint)
    assert claims["sub"] == "alice"
    assert before + 59 * 60 <= claims["exp"] <= time.time() + 60 * 60 + 1
    assert not claims.get("role")  # the chat needs no roles
    assert "webpubsub.group" not in claims
    assert app.requests == []  # computed locally, no call to the service


async def test_token_lifetime_is_a_setting(configure, service: RecordingService) -> None:
    configure(
        WebPubSubConnectionString=connection_string(service.endpoint), ChatTokenLifetimeMinutes="5"
    )
    response = await function_app.negotiate(request({"id": "bob"}))
    claims = decode(json.loads(response.get_body())["url"], service.endpoint)
    assert claims["exp"] - time.time() <= 5 * 60 + 1


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "missing user id"),
        ({"id": ""}, "missing user id"),
        ({"id": "   "}, "missing user id"),
        ({"id": "x" * 65}, "too long"),
        ({"id": "bad\x00id"}, "control characters"),
        ({"id": "bad\nid"}, "control characters"),
        ({"id": "bad\u202eid"}, "control characters"),
    ],
)
async def test_bad_ids(app: RecordingService, params: dict, reason: str) -> None:
    response = await function_app.negotiate(request(params))
    assert response.status_code == 400
    assert reason in response.get_body().decode()


async def test_app_service_authentication_wins_over_id(app: RecordingService) -> None:
    response = await function_app.negotiate(
        request({"id": "mallory"}, {"X-MS-CLIENT-PRINCIPAL-NAME": "dana@contoso.com"})
    )
    assert decode(json.loads(response.get_body())["url"], app.endpoint)["sub"] == "dana@contoso.com"


async def test_client_principal_header(app: RecordingService) -> None:
    principal = {"auth_typ": "aad", "name_typ": "name", "claims": [{"typ": "name", "val": "Erin"}]}
    encoded = base64.b64encode(json.dumps(principal).encode()).decode()
    response = await function_app.negotiate(request({}, {"x-ms-client-principal": encoded}))
    assert decode(json.loads(response.get_body())["url"], app.endpoint)["sub"] == "Erin"


async def test_broken_client_principal_is_a_400(app: RecordingService) -> None:
    response = await function_app.negotiate(request({"id": "a"}, {"x-ms-client-principal": "%%"}))
    assert response.status_code == 400
