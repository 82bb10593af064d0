"""ChatSignIn=required through the registered functions, with real func.HttpRequest objects."""

from __future__ import annotations

import base64
import json

import azure.functions as func
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import function_app
from chat import rooms
from chat.errors import ChatError
from chat.identity import caller, parse_user_id
from chat.settings import Settings, SettingsError, load

from .conftest import SIGN_IN, RecordingService, connection_string, event_request
from .negotiate_requests import decode, request

PLATFORM = {
    "WebPubSubConnectionString": "Endpoint=http://h;AccessKey=k;",
    "WEBSITE_AUTH_ENABLED": "True",
}
OFF = Settings(endpoint="http://h", access_keys=("k",), hub="Sample_ChatApp")
REQUIRED = Settings(endpoint="http://h", access_keys=("k",), hub="Sample_ChatApp", sign_in=True)


OID = "6f1c2a34-0b8e-4d3c-9a51-2f0e7c1d9b44"
LONG_EMAIL = "a.very.long.first.name.and.surname.for.testing@subdivision.contoso.example"
CONNECT = "azure.webpubsub.sys.connect"
CONNECTED = "azure.webpubsub.sys.connected"
MESSAGE = "azure.webpubsub.user.message"


def principal_headers(idp: str, user: str, name: str) -> dict[str, str]:
    claims = {
        "auth_typ": idp,
        "claims": [{"typ": "name", "val": name}],
        "name_typ": "name",
        "role_typ": "roles",
    }
    return {
        "X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(claims).encode()).decode(),
        "X-MS-CLIENT-PRINCIPAL-ID": user,
        "X-MS-CLIENT-PRINCIPAL-NAME": name,
        "X-MS-CLIENT-PRINCIPAL-IDP": idp,
    }


@pytest.fixture
def signed_in_app(app_with) -> RecordingService:
    """This module's sign-in mode offers two providers (the area's fixture: one)."""
    return app_with(**SIGN_IN, ChatSignInProviders="aad,github")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (False, ("aad",))),
        ({"ChatSignIn": "off"}, (False, ("aad",))),
        (
            {"ChatSignIn": " Required ", "ChatSignInProviders": "GitHub, aad"},
            (True, ("github", "aad")),
        ),
    ],
)
def test_mode_setting(env: dict, expected: tuple) -> None:
    settings = load({**PLATFORM, **env})
    assert (settings.sign_in, settings.sign_in_providers) == expected


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"ChatSignIn": "yes"}, "ChatSignIn"),
        ({"ChatSignInProviders": "aad,myspace"}, "ChatSignInProviders"),
        ({"ChatSignInProviders": " , "}, "ChatSignInProviders"),
        ({"ChatSignIn": "required", "ChatLazyAuth": "true"}, "ChatLazyAuth"),
    ],
)
def test_bad_mode_settings_name_the_setting(env: dict, name: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load({**PLATFORM, **env})
    assert caught.value.name == name


@pytest.mark.parametrize("value", [None, "", "False", "1"])
def test_sign_in_needs_the_platforms_authentication(value: str | None) -> None:
    """Without App Service Authentication in front, principal headers are whatever callers send."""
    env = {"WebPubSubConnectionString": "Endpoint=http://h;AccessKey=k;", "ChatSignIn": "required"}
    if value is not None:
        env["WEBSITE_AUTH_ENABLED"] = value
    with pytest.raises(SettingsError) as caught:
        load(env)
    assert caught.value.name == "ChatSignIn"
    assert "WEBSITE_AUTH_ENABLED" in caught.value.reason
    assert load({**env, "WEBSITE_AUTH_ENABLED": "True"}).sign_in
    assert not load({**env, "ChatSignIn": "off"}).sign_in


async def test_lazy_auth_with_sign_in_is_a_503(app_with) -> None:
    app_with(**SIGN_IN, ChatLazyAuth="true")
    response = await function_app.negotiate(request({"id": "alice"}))
    assert response.status_code == 503


@pytest.mark.parametrize("params", [{}, {"id": "mallory"}])
async def test_negotiate_without_a_principal_is_a_401(signed_in_app, params: dict) -> None:
    response = await function_app.negotiate(request(params))
    assert response.status_code == 401
    assert "sign-in required" in response.get_body().decode()
    assert signed_in_app.requests == []


async def test_negotiate_takes_the_user_from_the_principal(signed_in_app) -> None:
    response = await function_app.negotiate(
        request({"id": "mallory"}, principal_headers("aad", OID, LONG_EMAIL))
    )
    assert response.status_code == 200
    claims = decode(json.loads(response.get_body())["url"], signed_in_app.endpoint)
    assert claims["sub"] == f"aad:{OID}:{LONG_EMAIL}"


async def test_two_providers_with_the_same_name_are_two_users(signed_in_app) -> None:
    subs = []
    for idp, user in (("aad", OID), ("github", "583231")):
        response = await function_app.negotiate(request({}, principal_headers(idp, user, "alice")))
        subs.append(decode(json.loads(response.get_body())["url"], signed_in_app.endpoint)["sub"])
    assert subs == [f"aad:{OID}:alice", "github:583231:alice"]


async def test_a_broken_principal_is_a_400(signed_in_app) -> None:
    response = await function_app.negotiate(request({}, {"X-MS-CLIENT-PRINCIPAL": "e30"}))
    assert response.status_code == 400
    assert "base64" in response.get_body().decode()


@pytest.mark.parametrize(
    ("user", "status"),
    [
        (None, 401),  # lazy auth: a direct connect with no token user
        ("alice", 401),  # a token issued while sign-in was off
        ("github:583231:alice", 200),
    ],
)
async def test_connect(signed_in_app, user: str | None, status: int) -> None:
    response = await function_app.eventhandler(
        event_request(CONNECT, user=user, body=b'{"query": {"id": ["alice"]}}')
    )
    assert response.status_code == status
    if status == 401:
        assert "sign-in required" in response.get_body().decode()
    else:  # a signed-in connection starts in the lobby, like any other
        assert json.loads(response.get_body()) == {
            "groups": ["r.lobby", rooms.presence_group("lobby", user)]
        }


async def test_messages_carry_name_user_id_and_provider(signed_in_app) -> None:
    user = f"aad:{OID}:{LONG_EMAIL}"
    response = await function_app.eventhandler(
        event_request(MESSAGE, user=user, body=b"hello", content_type="text/plain")
    )
    assert response.status_code == 204
    [chat] = signed_in_app.broadcasts
    assert chat["from"] == LONG_EMAIL
    assert chat["userId"] == user
    assert chat["idp"] == "aad"
    assert chat["message"] == "hello"


async def test_presence_notices_carry_the_name(signed_in_app) -> None:
    user = "github:583231:alice"
    signed_in_app.connect("conn-1", user, "r.lobby", rooms.presence_group("lobby", user))
    await function_app.eventhandler(event_request(CONNECTED, user=user))
    [notice] = [b for b in signed_in_app.broadcasts if b.get("type") == "system"]
    # `user` stays the id (members are keyed by it); the message says the name.
    assert notice["user"] == user
    assert notice["message"] == "alice joined"
    assert (notice["userId"], notice["idp"]) == (user, "github")


async def test_a_connection_from_before_sign_in_cannot_chat(signed_in_app) -> None:
    response = await function_app.eventhandler(
        event_request(MESSAGE, user="alice", body=b"hello", content_type="text/plain")
    )
    assert response.status_code == 200
    assert "sign in first" in response.get_body().decode()
    assert signed_in_app.broadcasts == []


async def test_lazy_auth_cannot_claim_a_signed_in_id(configure, service: RecordingService) -> None:
    configure(WebPubSubConnectionString=connection_string(service.endpoint), ChatLazyAuth="true")
    response = await function_app.eventhandler(
        event_request(CONNECT, user=None, body=b'{"query": {"id": ["github:1:alice"]}}')
    )
    assert response.status_code == 401


def test_the_page_lists_the_providers(signed_in_app) -> None:
    page = function_app.index(
        func.HttpRequest("GET", "http://localhost/api/index", headers={}, body=b"")
    ).get_body()
    assert b'<meta name="chat-sign-in" content="aad github">' in page
    assert b'name="chat-direct-url" content=""' in page


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "x-ms-client-principal",
                "x-ms-client-principal-id",
                "x-ms-client-principal-name",
                "x-ms-client-principal-idp",
            ]
        ),
        st.one_of(
            st.text(max_size=300),
            st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
            st.recursive(
                st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                lambda inner: st.one_of(
                    st.lists(inner, max_size=4),
                    st.dictionaries(st.text(max_size=10), inner, max_size=4),
                ),
                max_leaves=20,
            ).map(lambda v: base64.b64encode(json.dumps(v).encode()).decode()),
        ),
    ),
    st.one_of(st.none(), st.text(max_size=80)),
)
def test_any_headers_give_a_caller_or_a_4xx(headers: dict, chosen: str | None) -> None:
    """Whatever arrives in the principal headers: a caller, or a 400 or 401 refusal (ChatError)."""
    query = {} if chosen is None else {"id": chosen}
    for mode in (OFF, REQUIRED):
        try:
            outcome = caller(headers, query, mode)
        except ChatError as error:
            assert error.status in (400, 401), error
            assert error.reason
        else:
            assert outcome.user_id and outcome.name
            if mode is REQUIRED:
                assert parse_user_id(outcome.user_id) == outcome


async def test_a_name_with_a_comma_and_colon_survives_the_round_trip(signed_in_app) -> None:
    response = await function_app.negotiate(
        request({}, principal_headers("aad", OID, "Doe, John: Sales"))
    )
    sub = decode(json.loads(response.get_body())["url"], signed_in_app.endpoint)["sub"]
    assert sub == f"aad:{OID}:Doe%2C John%3A Sales"
    response = await function_app.eventhandler(
        event_request(MESSAGE, user=sub, body=b"hi", content_type="text/plain")
    )
    assert response.status_code == 204
    [chat] = signed_in_app.broadcasts
    assert (chat["from"], chat["userId"]) == ("Doe, John: Sales", sub)


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        ("aad:1:" + "x" * 300, "ce-userId is not a valid user id"),  # not a signed-in id
        ("aad:1:a,b", "sent more than once"),  # a raw comma: a repeated header
    ],
)
async def test_events_with_unusable_user_ids_are_refused(
    signed_in_app, user: str, reason: str
) -> None:
    response = await function_app.eventhandler(
        event_request(MESSAGE, user=user, body=b"hi", content_type="text/plain")
    )
    assert response.status_code == 400
    assert reason in response.get_body().decode()
    assert signed_in_app.broadcasts == []


def history_request(headers: dict | None = None) -> func.HttpRequest:
    return func.HttpRequest(
        "GET",
        "http://localhost:7071/api/rooms/lobby/messages",
        params={"id": "mallory"},
        headers=headers or {},
        route_params={"room": "lobby"},
        body=b"",
    )


async def test_history_follows_the_same_rule(signed_in_app) -> None:
    """GET /api/rooms/{room}/messages: 401 without a sign-in, like negotiate."""
    refused = await function_app.room_messages(history_request())
    assert refused.status_code == 401
    assert "sign-in required" in refused.get_body().decode()
    broken = await function_app.room_messages(history_request({"X-MS-CLIENT-PRINCIPAL": "e30"}))
    assert broken.status_code == 400
    allowed = await function_app.room_messages(
        history_request(principal_headers("github", "583231", "alice"))
    )
    assert allowed.status_code == 200
    assert json.loads(allowed.get_body())["room"] == "lobby"
