"""The webhook, called as the worker calls it, with broadcasts checked on the wire."""

from __future__ import annotations

import json

import pytest

import function_app
from chat import connection_state, rooms

from .conftest import (
    HUB,
    PRIMARY,
    SECONDARY,
    RecordingService,
    connection_string,
    event_request,
)

CONNECT = "azure.webpubsub.sys.connect"
CONNECTED = "azure.webpubsub.sys.connected"
DISCONNECTED = "azure.webpubsub.sys.disconnected"
MESSAGE = "azure.webpubsub.user.message"


async def call(request):
    return await function_app.eventhandler(request)


# --- abuse protection ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["OPTIONS", "GET"])
@pytest.mark.parametrize(
    ("origin", "status", "allowed"),
    [
        ("127.0.0.1", 200, "127.0.0.1"),
        ("127.0.0.1 ", 200, "127.0.0.1"),
        ("evil.webpubsub.azure.com", 400, None),
        ("*", 400, None),
        ("", 400, None),
        (None, 400, None),
    ],
)
async def test_abuse_protection(app, method: str, origin, status: int, allowed) -> None:
    headers = {} if origin is None else {"WebHook-Request-Origin": origin}
    import azure.functions as func

    request = func.HttpRequest(method, "http://h/api/eventhandler", headers=headers, body=b"")
    response = await call(request)
    assert response.status_code == status
    assert response.headers.get("WebHook-Allowed-Origin") == allowed
    if status == 400:
        assert b"WebHook-Request-Origin" in response.get_body()
    assert app.requests == []


async def test_extra_allowed_origin(app_with) -> None:
    app_with(ChatAllowedOrigins="mychat.webpubsub.azure.com")
    import azure.functions as func

    request = func.HttpRequest(
        "OPTIONS",
        "http://h/",
        headers={"WebHook-Request-Origin": "MyChat.webpubsub.azure.com"},
        body=b"",
    )
    response = await call(request)
    assert response.headers["WebHook-Allowed-Origin"] == "mychat.webpubsub.azure.com"


# --- authentication: every refusal has no side effect ----------------------------------------


REFUSALS = [
    ("forged signature", {"signature_header": "sha256=" + "0" * 64}, 401),
    ("signed with another key", {"keys": ("not-our-key-0123456789",)}, 401),
    ("missing signature", {"drop": ("ce-signature",)}, 401),
    ("empty signature", {"signature_header": ""}, 401),
    ("malformed signature", {"signature_header": "sha256=xyz"}, 401),
    ("foreign origin", {"origin": "evil.example"}, 401),
    ("missing origin", {"origin": None}, 401),
    ("wrong hub", {"hub": "otherhub"}, 400),
    ("missing ce-type", {"drop": ("ce-type",)}, 400),
    ("missing ce-id", {"drop": ("ce-id",)}, 400),
    ("missing ce-hub", {"drop": ("ce-hub",)}, 400),
    ("missing ce-connectionId", {"drop": ("ce-connectionId",)}, 400),
]


@pytest.mark.parametrize("event_type", [CONNECT, CONNECTED, DISCONNECTED, MESSAGE])
@pytest.mark.parametrize(("case", "changes", "status"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_refused_calls_change_nothing(
    app: RecordingService, event_type: str, case: str, changes: dict, status: int
) -> None:
    response = await call(
        event_request(event_type, body=b"hello", content_type="text/plain", **changes)
    )
    assert response.status_code == status, case
    assert response.get_body()  # a reason, in words
    assert b"Traceback" not in response.get_body()
    assert "ce-connectionState" not in response.headers
    assert app.requests == []


LOBBY_GROUPS = ("r.lobby", rooms.presence_group("lobby", "alice"))


async def test_hub_is_compared_case_insensitively(app: RecordingService) -> None:
    app.connect("conn-1", "alice", *LOBBY_GROUPS)
    response = await call(event_request(CONNECTED, hub="SAMPLE_CHATAPP"))
    assert response.status_code == 200
    assert [n["event"] for n in app.broadcasts if n.get("type") == "system"] == ["joined"]


async def test_secondary_key_only(app_with, service: RecordingService) -> None:
    app_with(WebPubSubConnectionStringSecondary=connection_string(service.endpoint, SECONDARY))
    service.connect("conn-1", "alice", *LOBBY_GROUPS)
    response = await call(event_request(CONNECTED, keys=(SECONDARY,)))
    assert response.status_code == 200
    assert [n["event"] for n in service.broadcasts if n.get("type") == "system"] == ["joined"]


async def test_both_keys_in_one_header(app: RecordingService) -> None:
    response = await call(event_request(CONNECTED, keys=("retired-key-0123456789", PRIMARY)))
    assert response.status_code == 200


# --- connect ---------------------------------------------------------------------------------


def connect_body(query: dict) -> bytes:
    return json.dumps(
        {"claims": {}, "query": query, "headers": {}, "subprotocols": [], "clientCertificates": []}
    ).encode()


async def test_connect_keeps_the_token_user(app: RecordingService) -> None:
    response = await call(event_request(CONNECT, body=connect_body({"id": ["mallory"]})))
    assert response.status_code in (200, 204)
    assert b"mallory" not in response.get_body()
    assert only_the_count(app, "alice")


def only_the_count(service: RecordingService, user: str) -> bool:
    """connect's one call: the user's open connections, counted up to the cap (item 8)."""
    [listing] = service.requests
    return (listing.method, listing.path.split("/")[-2]) == (
        "GET",
        rooms.presence_group("lobby", user),
    )


async def test_connect_is_refused_at_the_per_user_cap(app_with, service: RecordingService) -> None:
    app_with(ChatMaxConnectionsPerUser="2")
    service.connect("tab-1", "alice", *LOBBY_GROUPS)
    second = await call(event_request(CONNECT, connection_id="tab-2"))
    assert second.status_code == 200
    service.connect("tab-2", "alice", *LOBBY_GROUPS)  # as the service does with the reply
    third = await call(event_request(CONNECT, connection_id="tab-3"))
    assert third.status_code == 403
    assert third.get_body() == (
        b"too many connections: a user may have at most 2 open at once "
        b"(close another tab or device, then reconnect)"
    )
    assert "ce-connectionState" not in third.headers
    listings = [r for r in service.requests if r.method == "GET"]
    assert [r.query["top"] for r in listings] == ["2", "2"]  # counted up to the cap, no more
    assert [r for r in service.requests if r.method != "GET"] == []
    # Another user is not affected, and a closed tab frees a place.
    assert (await call(event_request(CONNECT, connection_id="b-1", user="bob"))).status_code == 200
    service.disconnect("tab-1")
    assert (await call(event_request(CONNECT, connection_id="tab-3"))).status_code == 200


async def test_connect_fails_closed_when_the_count_cannot_be_read(
    app_with, service: RecordingService
) -> None:
    app_with()
    service.status = 500
    response = await call(event_request(CONNECT))
    assert response.status_code == 502
    assert b"Web PubSub" in response.get_body() and b"Traceback" not in response.get_body()


async def test_connect_without_user_is_refused_unless_lazy_auth(app: RecordingService) -> None:
    response = await call(event_request(CONNECT, user=None, body=connect_body({"id": ["carol"]})))
    assert response.status_code == 401
    assert b"missing user id" in response.get_body()


@pytest.mark.parametrize(
    ("query", "status", "user"),
    [
        ({"id": ["carol"]}, 200, "carol"),
        ({"id": ["  carol  "]}, 200, "carol"),
        ({}, 401, None),
        ({"id": [""]}, 401, None),
        ({"id": ["x" * 65]}, 401, None),
        ({"id": ["bad\u0000id"]}, 401, None),
    ],
)
async def test_lazy_auth_connect(
    app_with, service: RecordingService, query: dict, status: int, user
) -> None:
    app_with(ChatLazyAuth="true")
    response = await call(event_request(CONNECT, user=None, body=connect_body(query)))
    assert response.status_code == status
    if user:
        assert json.loads(response.get_body()) == {
            "userId": user,
            "groups": ["r.lobby", rooms.presence_group("lobby", user)],
        }
    else:
        assert response.get_body()
    if user:
        assert only_the_count(service, user)
    else:
        assert service.requests == []


async def test_lazy_auth_connect_bad_json(app_with) -> None:
    app_with(ChatLazyAuth="true")
    response = await call(event_request(CONNECT, user=None, body=b"{not json"))
    assert response.status_code == 400


# --- connected / disconnected ----------------------------------------------------------------


async def test_connected_announces_the_first_tab_and_sends_the_member_list(
    app: RecordingService,
) -> None:
    app.connect("conn-0", "bob", "r.lobby", rooms.presence_group("lobby", "bob"))
    app.connect("conn-1", "alice", *LOBBY_GROUPS)
    response = await call(event_request(CONNECTED, body=b"{}", content_type="application/json"))
    assert response.status_code == 200
    [notice] = [r for r in app.sends("groups")]
    assert notice.path == f"/api/hubs/{HUB}/groups/r.lobby/:send"
    assert notice.content_type.startswith("application/json")
    body = notice.json()
    assert {k: body[k] for k in ("type", "event", "room", "user", "message")} == {
        "type": "system",
        "event": "joined",
        "room": "lobby",
        "user": "alice",
        "message": "alice joined",
    }
    assert body["id"] and body["time"].endswith("Z")
    [snapshot] = app.sends("connections")
    assert snapshot.path == f"/api/hubs/{HUB}/connections/conn-1/:send"
    assert snapshot.json() == {"type": "presence", "room": "lobby", "users": ["bob", "alice"]}
    assert app.sends("hub") == []  # nothing goes to everyone any more


async def test_second_tab_is_not_announced_and_last_tab_leaving_is(app: RecordingService) -> None:
    app.connect("conn-1", "alice", *LOBBY_GROUPS)
    await call(event_request(CONNECTED))
    app.connect("conn-2", "alice", *LOBBY_GROUPS)
    await call(event_request(CONNECTED, connection_id="conn-2", ce_id="2"))
    app.disconnect("conn-1")
    await call(event_request(DISCONNECTED, ce_id="3"))
    assert [n["event"] for n in app.broadcasts if n.get("type") == "system"] == ["joined"]
    app.disconnect("conn-2")
    await call(event_request(DISCONNECTED, connection_id="conn-2", ce_id="4"))
    notices = [n for n in app.broadcasts if n.get("type") == "system"]
    assert [(n["event"], n["message"]) for n in notices] == [
        ("joined", "alice joined"),
        ("left", "alice left"),
    ]


# --- messages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        (b"hello world", "text/plain; charset=utf-8", "hello world"),
        ("gr\u00fc\u00df dich".encode(), "application/octet-stream", "gr\u00fc\u00df dich"),
        (b'"json string"', "application/json", "json string"),
        (b'{"message": "json object"}', "application/json", "json object"),
        (b"strip\x00 me\x07", "text/plain", "strip me"),
        (b"<script>alert(1)</script>", "text/plain", "<script>alert(1)</script>"),
    ],
)
async def test_message_is_broadcast(
    app: RecordingService, body: bytes, content_type: str, text: str
) -> None:
    response = await call(event_request(MESSAGE, body=body, content_type=content_type))
    assert response.status_code == 204
    [sent] = app.requests
    assert sent.path == f"/api/hubs/{HUB}/groups/r.lobby/:send"
    chat = sent.json()
    assert set(chat) == {"id", "room", "from", "message", "time"}
    assert chat["room"] == "lobby"
    assert chat["from"] == "alice"
    assert chat["message"] == text
    assert "type" not in chat
    assert chat["id"] and chat["time"]
    # the token the SDK sent was checked by the recorder: audience = the full request URL
    assert app.rejected_tokens == 0
    assert sent.claims["exp"] > 0


async def test_sender_comes_from_ce_user_id_never_the_payload(app: RecordingService) -> None:
    body = json.dumps({"message": "hi", "from": "admin"}).encode()
    await call(event_request(MESSAGE, body=body, content_type="application/json", user="bob"))
    assert app.broadcasts[0]["from"] == "bob"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "text/plain", "empty"),
        (b"   \n  ", "text/plain", "empty"),
        (b"\x00\x01\x02", "text/plain", "empty"),
        (b"x" * 2001, "text/plain", "limit is 2000"),
        (b"x" * 100_000, "text/plain", "too long"),
        (b"\xff\xfe\xfd", "application/octet-stream", "UTF-8"),
        (b"{oops", "application/json", "JSON"),
        (b"<x/>", "application/xml", "content type"),
    ],
)
async def test_rejected_messages_reply_to_the_sender_only(
    app: RecordingService, body: bytes, content_type: str, reason: str
) -> None:
    response = await call(event_request(MESSAGE, body=body, content_type=content_type))
    assert response.status_code == 200  # a non-2xx would close a plain WebSocket client
    assert response.headers["Content-Type"].startswith("application/json")
    reply = json.loads(response.get_body())
    assert reply["type"] == "system" and reply["event"] == "rejected"
    assert reason in reply["message"]
    assert app.requests == []


async def test_max_length_is_configurable(app_with, service: RecordingService) -> None:
    app_with(ChatMaxMessageLength="5")
    ok = await call(event_request(MESSAGE, body=b"12345", content_type="text/plain"))
    too_long = await call(
        event_request(MESSAGE, body=b"123456", content_type="text/plain", ce_id="2")
    )
    assert ok.status_code == 204
    assert "limit is 5" in json.loads(too_long.get_body())["message"]
    assert [b["message"] for b in service.broadcasts] == ["12345"]


async def test_anonymous_connection_cannot_chat(app: RecordingService) -> None:
    response = await call(event_request(MESSAGE, body=b"hi", content_type="text/plain", user=None))
    assert "anonymous" in json.loads(response.get_body())["message"]
    assert app.requests == []


async def test_rate_limit_round_trips_through_connection_state(
    app_with, service: RecordingService
) -> None:
    app_with(ChatRateLimitMessages="3", ChatRateLimitWindowSeconds="60")
    state = None
    outcomes = []
    for n in range(5):
        response = await call(
            event_request(
                MESSAGE,
                body=f"m{n}".encode(),
                content_type="text/plain",
                ce_id=str(n + 1),
                state=state,
            )
        )
        state = response.headers["ce-connectionState"]  # the service keeps and returns it
        outcomes.append(response.status_code)
    assert outcomes == [204, 204, 204, 200, 200]
    assert [b["message"] for b in service.broadcasts] == ["m0", "m1", "m2"]
    assert "rate" in connection_state.decode(state)
    # the limit is the user's: another connection of alice (no state yet) is refused too ...
    other = await call(
        event_request(MESSAGE, body=b"x", content_type="text/plain", connection_id="conn-2")
    )
    assert "too fast" in json.loads(other.get_body())["message"]
    # ... and bob is not affected
    bob = await call(
        event_request(
            MESSAGE, body=b"y", content_type="text/plain", connection_id="conn-3", user="bob"
        )
    )
    assert bob.status_code == 204
    assert [b["message"] for b in service.broadcasts] == ["m0", "m1", "m2", "y"]


async def test_flood_reply_explains(app_with) -> None:
    app_with(ChatRateLimitMessages="1", ChatRateLimitWindowSeconds="60")
    first = await call(event_request(MESSAGE, body=b"a", content_type="text/plain"))
    second = await call(
        event_request(
            MESSAGE,
            body=b"b",
            content_type="text/plain",
            ce_id="2",
            state=first.headers["ce-connectionState"],
        )
    )
    assert "too fast" in json.loads(second.get_body())["message"]


async def test_garbage_connection_state_is_a_fresh_start(app: RecordingService) -> None:
    response = await call(
        event_request(MESSAGE, body=b"hi", content_type="text/plain", state="%%%not-base64")
    )
    assert response.status_code == 204


async def test_retry_of_the_same_event_is_broadcast_once(app: RecordingService) -> None:
    when = "2026-11-30T10:00:00.000Z"  # a retry carries its first delivery's ce-time
    for _ in range(3):
        response = await call(
            event_request(MESSAGE, body=b"once", content_type="text/plain", ce_id="7", ce_time=when)
        )
        assert response.status_code == 204
    assert [b["message"] for b in app.broadcasts] == ["once"]


async def test_stable_ids_differ_per_event_and_connection(app: RecordingService) -> None:
    await call(event_request(MESSAGE, body=b"a", content_type="text/plain", ce_id="1"))
    await call(event_request(MESSAGE, body=b"b", content_type="text/plain", ce_id="2"))
    await call(
        event_request(
            MESSAGE, body=b"c", content_type="text/plain", ce_id="1", connection_id="conn-9"
        )
    )
    ids = [b["id"] for b in app.broadcasts]
    assert len(set(ids)) == 3


@pytest.mark.parametrize(
    "event_type", ["azure.webpubsub.user.other", "azure.webpubsub.sys.x", "com.example.nonsense"]
)
async def test_unknown_event_types(app: RecordingService, event_type: str) -> None:
    response = await call(event_request(event_type, body=b"x", content_type="text/plain"))
    assert response.status_code == 400
    assert b"unsupported event type" in response.get_body()
    assert event_type.encode() not in response.get_body()  # no request bytes echoed
    assert response.headers["Content-Type"].startswith("text/plain")
    assert app.requests == []


# --- failures of the service -----------------------------------------------------------------


async def test_service_error_is_a_502_without_details(app: RecordingService, caplog) -> None:
    app.status = 500
    response = await call(event_request(MESSAGE, body=b"hi", content_type="text/plain", ce_id="42"))
    assert response.status_code == 502
    assert response.get_body() == b"could not reach the Web PubSub service"
    assert "ce-id=42" in caplog.text and "conn-1" in caplog.text


async def test_failed_broadcast_is_retried_not_remembered(app: RecordingService) -> None:
    app.status = 500
    when = "2026-11-30T10:00:00.000Z"
    first = event_request(MESSAGE, body=b"again", content_type="text/plain", ce_time=when)
    assert (await call(first)).status_code == 502
    app.status = 202
    app.requests.clear()
    retry = event_request(MESSAGE, body=b"again", content_type="text/plain", ce_time=when)
    assert (await call(retry)).status_code == 204
    assert [b["message"] for b in app.broadcasts] == ["again"]


async def test_unreachable_service_is_a_fast_503(configure) -> None:
    import socket
    import time

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    configure(WebPubSubConnectionString=connection_string(f"http://127.0.0.1:{port}"))
    started = time.monotonic()
    response = await call(
        event_request(MESSAGE, body=b"hi", content_type="text/plain", origin="127.0.0.1")
    )
    assert response.status_code == 503
    assert time.monotonic() - started < 10  # bounded by the client's timeout, not hanging


# --- misconfiguration ------------------------------------------------------------------------


async def test_unconfigured_app_answers_503_and_logs_once(configure, caplog) -> None:
    configure()  # no connection string at all
    first = await call(event_request(CONNECTED))
    second = await function_app.negotiate(
        __import__("azure.functions").functions.HttpRequest(
            "GET", "http://h/api/negotiate", params={"id": "a"}, body=b""
        )
    )
    assert first.status_code == second.status_code == 503
    assert b"not configured" in first.get_body()
    assert b"Traceback" not in first.get_body()
    assert caplog.text.count("WebPubSubConnectionString") == 1
