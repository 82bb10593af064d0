"""JSON subprotocol: client frame parsing (valid and invalid) and server frame shapes."""

from __future__ import annotations

import json

import pytest

from devstack.emulator import jsonprotocol as jp


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"type": "joinGroup", "group": "g"}, jp.JoinGroup("g", None)),
        ({"type": "joinGroup", "group": "g", "ackId": 7}, jp.JoinGroup("g", 7)),
        ({"type": "leaveGroup", "group": "g", "ackId": 0}, jp.LeaveGroup("g", 0)),
        (
            {"type": "sendToGroup", "group": "g", "data": {"a": 1}},
            jp.SendToGroup("g", jp.Payload("json", b'{"a":1}'), False, None),
        ),
        (
            {"type": "sendToGroup", "group": "g", "dataType": "text", "data": "hi", "noEcho": True},
            jp.SendToGroup("g", jp.Payload("text", b"hi"), True, None),
        ),
        (
            {"type": "sendToGroup", "group": "g", "dataType": "binary", "data": "AAE="},
            jp.SendToGroup("g", jp.Payload("binary", b"\x00\x01"), False, None),
        ),
        (
            {"type": "sendToGroup", "group": "g", "metadata": {"K": "v"}},
            jp.SendToGroup("g", jp.Payload("text", b"", (("K", "v"),)), False, None),
        ),
        (
            {"type": "event", "event": "message", "dataType": "text", "data": "x", "ackId": 3},
            jp.Event("message", jp.Payload("text", b"x"), 3),
        ),
        (
            {"type": "event", "event": "a.b-c_1", "data": 5},
            jp.Event("a.b-c_1", jp.Payload("json", b"5"), None),
        ),
        ({"type": "sequenceAck", "sequenceId": 5}, jp.SequenceAck(5)),
        ({"type": "ping"}, jp.Ping()),
        (
            {"type": "sendToGroup", "group": "g", "data": 1, "ttlSeconds": 300},
            jp.SendToGroup("g", jp.Payload("json", b"1"), False, None),
        ),
    ],
)
def test_valid_frames(frame: dict, expected: jp.ClientMessage) -> None:
    assert jp.parse_client_message(json.dumps(frame)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"type": "unknown"}',
        '{"group": "g"}',
        '{"type": "joinGroup"}',
        '{"type": "joinGroup", "group": ""}',
        '{"type": "joinGroup", "group": "   "}',
        json.dumps({"type": "joinGroup", "group": "g" * 1025}),
        '{"type": "joinGroup", "group": "g", "ackId": -1}',
        '{"type": "joinGroup", "group": "g", "ackId": "1"}',
        '{"type": "joinGroup", "group": "g", "ackId": true}',
        '{"type": "sendToGroup", "group": "g"}',
        '{"type": "sendToGroup", "group": "g", "data": null}',
        '{"type": "sendToGroup", "group": "g", "dataType": "text", "data": 1}',
        '{"type": "sendToGroup", "group": "g", "dataType": "binary", "data": "!!"}',
        '{"type": "sendToGroup", "group": "g", "dataType": "xml", "data": "a"}',
        '{"type": "sendToGroup", "group": "g", "data": 1, "noEcho": "yes"}',
        '{"type": "sendToGroup", "group": "g", "data": 1, "ttlSeconds": 301}',
        '{"type": "sendToGroup", "group": "g", "data": 1, "ttlSeconds": -1}',
        '{"type": "sendToGroup", "group": "g", "data": 1, "metadata": {"a": 1}}',
        '{"type": "sendToGroup", "group": "g", "data": 1, "metadata": {"a b": "x"}}',
        '{"type": "sendToGroup", "group": "g", "data": 1, "metadata": {"a": "x", "a": "y"}}',
        json.dumps({"type": "sendToGroup", "group": "g", "data": 1, "metadata": {"k": "v" * 1025}}),
        '{"type": "event", "data": 1}',
        '{"type": "event", "event": "1abc", "data": 1}',
        json.dumps({"type": "event", "event": "a" * 129, "data": 1}),
        '{"type": "sequenceAck"}',
        '{"type": "sequenceAck", "sequenceId": 18446744073709551616}',
    ],
)
def test_invalid_frames(text: str) -> None:
    with pytest.raises(jp.ProtocolError):
        jp.parse_client_message(text)


def test_server_frames() -> None:
    payload = jp.Payload("json", b'{"a":[1,2]}', (("k", "v"),))
    assert json.loads(jp.group_message("g", payload, "u", 3)) == {
        "sequenceId": 3,
        "type": "message",
        "from": "group",
        "group": "g",
        "fromUserId": "u",
        "dataType": "json",
        "data": {"a": [1, 2]},
        "metadata": {"k": "v"},
    }
    assert json.loads(jp.server_message(jp.Payload("binary", b"\x01"))) == {
        "type": "message",
        "from": "server",
        "dataType": "binary",
        "data": "AQ==",
    }
    assert "fromUserId" not in json.loads(jp.group_message("g", jp.Payload.text("x"), None))
    assert json.loads(jp.connected_message("c", None)) == {
        "type": "system",
        "event": "connected",
        "userId": None,
        "connectionId": "c",
    }
    assert json.loads(jp.connected_message("c", "u", "tok"))["reconnectionToken"] == "tok"
    assert json.loads(jp.ack_message(1)) == {"type": "ack", "ackId": 1, "success": True}
    assert json.loads(jp.ack_message(2, ("Forbidden", "no"))) == {
        "type": "ack",
        "ackId": 2,
        "success": False,
        "error": {"name": "Forbidden", "message": "no"},
    }
    assert jp.raw_frame(jp.Payload("json", b'"q"')) == '"q"'
    assert jp.raw_frame(jp.Payload("binary", b"\x00")) == b"\x00"
