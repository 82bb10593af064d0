"""Lone surrogates (issue 15, item 1): refused in every text the app accepts, and a row stored
before the rule is served repaired (U+FFFD), never a 500. Real SDK, real Azurite.

A JSON escape such as "\\ud800" is plain ASCII on the wire and decodes to a lone surrogate,
which no UTF-8 encoder accepts: one such stored message used to make every history page
that held it answer 500.
"""

from __future__ import annotations

import base64
import json
import time

import azure.functions as func
import pytest

import function_app
from chat import history, storage_settings
from chat.reply import json_reply, text
from tests.support.azurite import Azurite

from .conftest import HUB, RecordingService, connection_string, event_request

MESSAGE = "azure.webpubsub.user.message"
POISON = b'{"type":"message","room":"lobby","message":"x\\ud800"}'


def test_json_reply_never_raises_on_a_lone_surrogate() -> None:
    reply = json_reply(200, {"message": "x\ud800y", "from": "\udfff"})
    assert json.loads(reply.body) == {"message": "x\ufffdy", "from": "\ufffd"}
    assert text(400, "bad \ud800").body == "bad \ufffd".encode()


async def test_a_frame_with_a_lone_surrogate_is_refused_stored_nowhere_and_not_sent(
    app: RecordingService,
) -> None:
    response = await function_app.eventhandler(
        event_request(MESSAGE, body=POISON, content_type="text/plain")
    )
    assert response.status_code == 200
    refusal = json.loads(response.get_body())
    assert refusal["event"] == "rejected"
    assert "lone surrogate (U+D800)" in refusal["message"]
    assert app.broadcasts == []
    page = await history_page("lobby")
    assert page.status_code == 200
    assert json.loads(page.get_body())["messages"] == []


@pytest.mark.parametrize("body", [b'"x\\udfff"', b'{"message":"\\ud83d"}'])
async def test_json_data_type_frames_with_a_lone_surrogate_are_refused(
    app: RecordingService, body: bytes
) -> None:
    response = await function_app.eventhandler(
        event_request(MESSAGE, body=body, content_type="application/json")
    )
    assert "lone surrogate" in json.loads(response.get_body())["message"]
    assert app.broadcasts == []


def principal(name: str) -> str:
    document = {"auth_typ": "aad", "claims": [{"typ": "name", "val": name}]}
    # ensure_ascii (the default) writes the surrogate as the JSON escape a client would send.
    return base64.b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"id": "bad\ud800"}, {}),
        ({"id": "x"}, {"x-ms-client-principal": principal("bad\ud800")}),
        ({"id": "x"}, {"x-ms-client-principal-name": "bad\udc00"}),
    ],
    ids=["?id=", "principal claim (sign-in off)", "principal name header"],
)
async def test_negotiate_refuses_names_with_a_lone_surrogate(
    app: RecordingService, params: dict, headers: dict
) -> None:
    request = func.HttpRequest(
        "GET", "http://h/api/negotiate", params=params, headers=headers, body=b""
    )
    response = await function_app.negotiate(request)
    assert response.status_code == 400
    assert b"lone surrogate" in response.get_body()


async def test_a_lazy_auth_connect_with_a_lone_surrogate_id_is_refused(configure, service) -> None:

    configure(
        WebPubSubConnectionString=connection_string(service.endpoint),
        WebPubSubHub=HUB,
        ChatLazyAuth="true",
    )
    body = json.dumps({"query": {"id": ["bad\ud800"]}}).encode()
    response = await function_app.eventhandler(
        event_request("azure.webpubsub.sys.connect", body=body, user=None)
    )
    assert response.status_code == 401
    assert b"lone surrogate" in response.get_body()


async def test_a_room_name_with_a_lone_surrogate_is_refused(app: RecordingService) -> None:
    body = b'{"type":"join","room":"lobby\\ud800"}'
    response = await function_app.eventhandler(
        event_request(MESSAGE, body=body, content_type="text/plain")
    )
    assert "only letters" in json.loads(response.get_body())["message"]
    page = await history_page("lobby\ud800")
    assert page.status_code == 400


async def history_page(room: str) -> func.HttpResponse:
    request = func.HttpRequest(
        "GET",
        "http://localhost/api/rooms/x/messages",
        params={},
        route_params={"room": room},
        body=b"",
    )
    return await function_app.room_messages(request)


async def test_a_row_stored_before_the_rule_is_served_repaired(
    app: RecordingService, azurite: Azurite
) -> None:
    """Written straight with the SDK, as the app wrote such rows before lone surrogates were
    refused: the page answers 200, the row repaired to U+FFFD, its neighbours intact."""
    from azure.data.tables import TableServiceClient

    now_ms = int(time.time() * 1000)
    rows = [
        {"id": "a" * 24, "room": "lobby", "from": "alice", "message": "before", "time": "t0"},
        {"id": "b" * 24, "room": "lobby", "from": "m\udfff", "message": "x\ud800", "time": "t1"},
        {"id": "c" * 24, "room": "lobby", "from": "carol", "message": "after", "time": "t2"},
    ]
    with TableServiceClient.from_connection_string(azurite.connection_string) as client:
        table = client.create_table_if_not_exists(storage_settings.MESSAGES_TABLE)
        for offset, row in enumerate(rows):
            table.create_entity(history.to_entity(row, now_ms - 3000 + offset * 1000))
        # The poison really is stored: the store hands it back as it was written.
        stored = table.get_entity("lobby", history.row_key(now_ms - 2000, "b" * 24))
        assert stored["message"] == "x\ud800"

    response = await history_page("lobby")
    assert response.status_code == 200, response.get_body()
    body = json.loads(response.get_body())
    assert [(m["from"], m["message"]) for m in body["messages"]] == [
        ("alice", "before"),
        ("m\ufffd", "x\ufffd"),
        ("carol", "after"),
    ]
