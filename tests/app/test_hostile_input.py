"""Hostile input through the registered functions: deep nesting, huge or repeated headers.

Every case gets a 4xx or a refusal reply in words: never a 500, a traceback or a broadcast.
"""

from __future__ import annotations

import base64
import json

import azure.functions as func
import pytest

import function_app
from chat import bounded_json

from .conftest import RecordingService, event_request

CONNECT = "azure.webpubsub.sys.connect"
CONNECTED = "azure.webpubsub.sys.connected"
MESSAGE = "azure.webpubsub.user.message"


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def negotiate_request(headers: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest(
        "GET", "http://localhost:7071/api/negotiate", params={"id": "a"}, headers=headers, body=b""
    )


# --- the principal header on negotiate -------------------------------------------------------

PRINCIPALS = [
    ("2,000 [ (the issue's input)", b64("[" * 2000)),
    ("5,000 nested arrays", b64("[" * 5000 + "]" * 5000)),
    ("deep object", b64('{"a":' * 3000 + "1" + "}" * 3000)),
    ("deep claims", b64('{"claims":' + "[" * 2000 + "]" * 2000 + "}")),
    ("nested just past the depth limit", b64("[" * 40 + "]" * 40)),
    ("too large", b64(json.dumps({"claims": [], "pad": "x" * 100_000}))),
    ("not base64", "%%%"),
    ("base64 of garbage bytes", b64(b"\xff\xfe\x00")),
    ("a JSON string", b64('"alice"')),
]


@pytest.mark.parametrize(("case", "header"), PRINCIPALS, ids=[p[0] for p in PRINCIPALS])
async def test_hostile_client_principal_is_a_400(
    app: RecordingService, case: str, header: str
) -> None:
    response = await function_app.negotiate(negotiate_request({"x-ms-client-principal": header}))
    assert response.status_code == 400, case
    assert b"x-ms-client-principal" in response.get_body()
    assert b"Traceback" not in response.get_body()


# --- message bodies --------------------------------------------------------------------------

BODIES = [
    ("5,000 levels (the issue's input)", b"[" * 5000 + b"]" * 5000),
    ("5,000 unclosed", b"[" * 5000),
    ("deep under message", b'{"message":' + b"[" * 3000 + b"]" * 3000 + b"}"),
    ("deep objects", b'{"a":' * 2000 + b"1" + b"}" * 2000),
]


@pytest.mark.parametrize(("case", "body"), BODIES, ids=[b[0] for b in BODIES])
async def test_deep_json_message_is_refused_in_words(
    app: RecordingService, case: str, body: bytes
) -> None:
    response = await function_app.eventhandler(
        event_request(MESSAGE, body=body, content_type="application/json")
    )
    assert response.status_code == 200, case
    reply = json.loads(response.get_body())
    assert reply["event"] == "rejected"
    assert "JSON" in reply["message"]
    assert app.requests == []


@pytest.mark.parametrize(("case", "body"), BODIES, ids=[b[0] for b in BODIES])
async def test_deep_json_lazy_connect_is_a_400(
    configure, service: RecordingService, case: str, body: bytes
) -> None:
    from .conftest import connection_string

    configure(WebPubSubConnectionString=connection_string(service.endpoint), ChatLazyAuth="true")
    response = await function_app.eventhandler(event_request(CONNECT, user=None, body=body))
    assert response.status_code == 400, case
    assert b"JSON" in response.get_body()
    assert service.requests == []


@pytest.mark.parametrize(
    "state",
    [b64("[" * 5000), b64('{"rate":' + "[" * 3000 + "]" * 3000 + "}"), b64("x" * 10_000), "%%"],
)
async def test_hostile_connection_state_is_a_fresh_start(app: RecordingService, state) -> None:
    response = await function_app.eventhandler(
        event_request(MESSAGE, body=b"hi", content_type="text/plain", state=state)
    )
    assert response.status_code == 204
    assert [b["message"] for b in app.broadcasts] == ["hi"]


# --- the shared helper itself ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 5000, "nested"),
        ("[" * 33 + "]" * 33, "nested"),
        (b"[" * 33 + b"]" * 33, "nested"),
        (("[" * 33 + "]" * 33).encode("utf-16"), "nested"),  # json.loads reads UTF-16 bytes
        ('{"a":' * 33 + "1" + "}" * 33, "nested"),
        ("x" * 10_001, "large"),
        ("{nope", "not valid JSON"),
        ("[1,2", "not valid JSON"),
        (b"\xff", "not valid JSON"),
    ],
)
def test_bounded_json_refuses(text: str | bytes, reason: str) -> None:
    with pytest.raises(bounded_json.InvalidJson, match=reason):
        bounded_json.loads(text, max_bytes=10_000)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 32 + "]" * 32,
        b"[" * 32 + b"]" * 32,
        '{"a": [1, {"b": "[[[[[[[[["}]}',
        '"plain"',
        "42",
        '"' + "[" * 90 + '"',  # openings inside a string: the depth is walked, and is 0
    ],
)
def test_bounded_json_accepts(text: str | bytes) -> None:
    assert bounded_json.loads(text, max_bytes=100) == json.loads(text)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("%%", "base64"),
        (b64("[" * 2000), "nested"),
        (b64("x" * 10_001), "large"),
        ("A" * 20_000, "large"),
    ],
)
def test_bounded_base64_json_refuses(value: str, reason: str) -> None:
    with pytest.raises(bounded_json.InvalidJson, match=reason):
        bounded_json.loads_base64(value, max_bytes=10_000)


def test_bounded_base64_json_accepts() -> None:
    assert bounded_json.loads_base64(b64('{"a": [1]}'), max_bytes=100) == {"a": [1]}


# --- ce-userId and repeated CloudEvents headers ----------------------------------------------

DISCONNECTED = "azure.webpubsub.sys.disconnected"
EVENT_TYPES = [CONNECT, CONNECTED, DISCONNECTED, MESSAGE]

BAD_USER_IDS = [
    ("two ce-userId headers as the host joins them", "alice,bob", "more than once"),
    ("joined with a space", "alice, bob", "more than once"),
    ("bidi override", "bad\u202eid", "control characters"),
    ("control character", "a\x07b", "control characters"),
    ("line separator", "a\u2028b", "control characters"),
    ("too long", "x" * 65, "too long"),
    ("surrounding white space", " alice", "white space"),
]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize(("case", "user", "reason"), BAD_USER_IDS, ids=[b[0] for b in BAD_USER_IDS])
async def test_bad_ce_user_id_is_refused_and_nothing_broadcast(
    app: RecordingService, event_type: str, case: str, user: str, reason: str
) -> None:
    response = await function_app.eventhandler(
        event_request(event_type, user=user, body=b"hi", content_type="text/plain")
    )
    assert response.status_code == 400, case
    assert reason in response.get_body().decode()
    assert "ce-connectionState" not in response.headers
    assert app.requests == []


REPEATED = [
    ("ce-id", {"ce_id": "1,2"}),
    ("ce-connectionId", {"connection_id": "conn-1,conn-2"}),  # signed as joined
    ("ce-connectionState", {"state": "e30=,eyJyYXRlIjpbXX0="}),  # two states, one reset
]


@pytest.mark.parametrize(("header", "changes"), REPEATED, ids=[r[0] for r in REPEATED])
async def test_repeated_cloudevents_headers_are_refused(
    app: RecordingService, header: str, changes: dict
) -> None:
    response = await function_app.eventhandler(
        event_request(MESSAGE, body=b"hi", content_type="text/plain", **changes)
    )
    assert response.status_code == 400
    assert header.lower() in response.get_body().decode().lower()
    assert app.requests == []


async def test_repeated_headers_as_the_host_delivers_them(app: RecordingService) -> None:
    """The raw header list goes through the same joining the Functions host does."""
    from devstack.host.request_mapping import join_headers

    signed = event_request(MESSAGE, body=b"hi", content_type="text/plain")
    raw = [*signed.headers.items(), ("ce-userId", "mallory")]
    request = func.HttpRequest("POST", signed.url, headers=join_headers(raw), params={}, body=b"hi")
    assert request.headers["ce-userid"] == "alice,mallory"
    response = await function_app.eventhandler(request)
    assert response.status_code == 400
    assert app.requests == []


@pytest.mark.parametrize("user", ["alice", "Иван", "山田太郎", "dana@contoso.com"])
async def test_good_ce_user_id_is_broadcast(app: RecordingService, user: str) -> None:
    response = await function_app.eventhandler(
        event_request(MESSAGE, user=user, body=b"hi", content_type="text/plain")
    )
    assert response.status_code == 204
    assert [b["from"] for b in app.broadcasts] == [user]


async def test_negotiate_refuses_a_comma_in_a_user_id(app: RecordingService) -> None:
    request = func.HttpRequest(
        "GET", "http://h/api/negotiate", params={"id": "alice,bob"}, headers={}, body=b""
    )
    response = await function_app.negotiate(request)
    assert response.status_code == 400
    assert b"comma" in response.get_body()
