"""Arbitrary input never escapes the documented error types (so it cannot crash the server)."""

from __future__ import annotations

import base64
import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from devstack.emulator import jsonprotocol as jp
from devstack.emulator.cloudevents import UpstreamError, parse_connect_body
from devstack.emulator.filter import FilterError, compile_filter
from devstack.emulator.restroutes import ROUTES, MethodNotAllowed, RouteNotFound, route

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


# For every field a client frame may carry, values that pass its check.
VALID_FIELDS = {
    "group": st.text(min_size=1, max_size=12),
    "data": st.text(max_size=20)
    | st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode())
    | JSON_VALUES,
    "dataType": st.sampled_from(["json", "text", "binary", "Text", "JSON"]),
    "ackId": st.integers(min_value=0, max_value=2**64 - 1),
    "event": st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,8}", fullmatch=True),
    "noEcho": st.booleans(),
    "metadata": st.dictionaries(
        st.from_regex(r"[a-z-]{1,8}", fullmatch=True), st.text(max_size=8), max_size=3
    ),
    "sequenceId": st.integers(min_value=0, max_value=2**64 - 1),
    "ttlSeconds": st.integers(min_value=0, max_value=300),
}


@st.composite
def frame_fields(draw: st.DrawFn) -> dict:
    """Each field mostly valid, sometimes absent, now and then arbitrary JSON: enough frames
    pass to reach the deep paths (the payload served back), and the rest must be refused."""
    fields = {}
    for key, valid in VALID_FIELDS.items():
        choice = draw(st.sampled_from(["valid"] * 7 + ["absent"] * 2 + ["arbitrary"]))
        if choice == "valid":
            fields[key] = draw(valid)
        elif choice == "arbitrary":
            fields[key] = draw(JSON_VALUES)
    return fields


FRAME_TYPES = st.sampled_from(
    ["joinGroup", "leaveGroup", "sendToGroup", "event", "sequenceAck", "ping", "x"]
)


MESSAGE_CLASSES = {
    "joinGroup": jp.JoinGroup,
    "leaveGroup": jp.LeaveGroup,
    "sendToGroup": jp.SendToGroup,
    "event": jp.Event,
    "sequenceAck": jp.SequenceAck,
    "ping": jp.Ping,
}
FILTER_CONTEXTS = (
    {"userid": "u", "connectionid": "c", "groups": ["g"], "protocol": None},
    {"userid": None, "connectionid": "c", "groups": [], "protocol": None},
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_frame_is_parsed_or_rejected(text: str) -> None:
    try:
        message = jp.parse_client_message(text)
    except jp.ProtocolError as error:
        assert str(error), "a refusal says why (the close reason is built from it)"
        return
    # Only a JSON object whose type names a message is ever accepted, as that message.
    document = json.loads(text)
    assert isinstance(document, dict)
    assert type(message) is MESSAGE_CLASSES[document["type"]]


@settings(max_examples=300, deadline=None)
@given(FRAME_TYPES, frame_fields())
def test_structured_frames_are_parsed_or_rejected(kind: str, fields: dict) -> None:
    try:
        message = jp.parse_client_message(json.dumps({**fields, "type": kind}))
    except jp.ProtocolError as error:
        assert str(error)
        return
    assert type(message) is MESSAGE_CLASSES[kind]  # "x" is never accepted
    if isinstance(message, jp.JoinGroup | jp.LeaveGroup | jp.SendToGroup):
        assert message.group == fields["group"] and jp.valid_group_name(message.group)
    if isinstance(message, jp.SequenceAck):
        assert message.sequence_id == fields["sequenceId"]
    if hasattr(message, "ack_id"):
        # An ackId is echoed in the ack, so it is kept exactly, and only a uint64 is kept.
        assert message.ack_id == fields.get("ackId")
        assert message.ack_id is None or 0 <= message.ack_id <= jp.MAX_UINT64
        if message.ack_id is not None:
            assert json.loads(jp.ack_message(message.ack_id))["ackId"] == fields["ackId"]
    if isinstance(message, jp.SendToGroup | jp.Event):
        _served_back_unchanged(message.payload, fields)


def _served_back_unchanged(payload: jp.Payload, fields: dict) -> None:
    """Whatever was accepted reaches JSON and raw clients as the sender's data."""
    frame = json.loads(jp.group_message("g", payload, None, 1))
    assert {k: frame[k] for k in ("type", "from", "group", "sequenceId")} == {
        "type": "message",
        "from": "group",
        "group": "g",
        "sequenceId": 1,
    }
    assert frame["dataType"] == payload.data_type
    raw = jp.raw_frame(payload)
    if "data" not in fields:  # metadata only: an empty text message
        assert (payload.data_type, frame["data"], raw) == ("text", "", "")
    elif payload.data_type == "binary":
        assert base64.b64decode(frame["data"]) == payload.data == raw
        assert payload.data == base64.b64decode(fields["data"])
    else:
        assert frame["data"] == fields["data"]
        assert isinstance(raw, str)
        if payload.data_type == "text":
            assert raw == fields["data"]
        else:
            assert json.loads(raw) == fields["data"]
    assert frame.get("metadata", {}) == dict(payload.metadata)


@st.composite
def payload_frames(draw: st.DrawFn) -> dict:
    """A valid sendToGroup or event frame, so that every example is served back."""
    data_type = draw(st.sampled_from(["json", "text", "binary"]))
    data = {
        "json": JSON_VALUES.filter(lambda value: value is not None),
        "text": st.text(max_size=40),
        "binary": st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode()),
    }[data_type]
    frame = {
        "dataType": draw(st.sampled_from([data_type, data_type.upper()])),
        "data": draw(data),
    }
    if draw(st.booleans()):
        frame |= {"type": "sendToGroup", "group": draw(VALID_FIELDS["group"].filter(str.strip))}
    else:
        frame |= {"type": "event", "event": draw(VALID_FIELDS["event"])}
    if metadata := draw(VALID_FIELDS["metadata"]):
        frame["metadata"] = metadata
    return frame


@settings(max_examples=200, deadline=None)
@given(payload_frames())
# Cases random text seldom hits: edge whitespace, several metadata entries, bytes past ASCII.
@example({"type": "event", "event": "e", "dataType": "text", "data": " two  spaces\n"})
@example(
    {
        "type": "sendToGroup",
        "group": " g ",
        "dataType": "binary",
        "data": "AAEC/w==",
        "metadata": {"a": "1", "b": "", "c-d": "3"},
    }
)
@example({"type": "sendToGroup", "group": "g", "dataType": "JSON", "data": {"k": [1, 2.5, None]}})
def test_accepted_payloads_are_served_back_unchanged(frame: dict) -> None:
    message = jp.parse_client_message(json.dumps(frame))
    assert isinstance(message, jp.SendToGroup | jp.Event)
    assert message.payload.data_type == frame["dataType"].lower()
    assert dict(message.payload.metadata) == frame.get("metadata", {})
    _served_back_unchanged(message.payload, frame)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_filter_is_compiled_or_rejected(text: str) -> None:
    try:
        predicate = compile_filter(text)
    except FilterError as error:
        assert str(error)
        return
    for context in FILTER_CONTEXTS:
        assert isinstance(predicate(context), bool)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]), st.text(max_size=60))
def test_any_path_is_routed_or_rejected(method: str, tail: str) -> None:
    try:
        operation, params = route(method, "/api/hubs/" + tail)
    except (RouteNotFound, MethodNotAllowed):
        return
    # A route names a known operation and binds every {placeholder} of its pattern.
    patterns = {op: pattern for _, pattern, op in ROUTES}
    assert operation in patterns
    placeholders = {part[1:-1] for part in patterns[operation] if part.startswith("{")}
    assert set(params) == placeholders | {"hub"}
    assert params["hub"] and all(isinstance(v, str) for v in params.values())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_any_connect_body_is_accepted_or_rejected(body: bytes) -> None:
    try:
        overrides = parse_connect_body(body)
    except UpstreamError as error:
        assert str(error)
        return
    # What is accepted has the types the connection is built from.
    assert overrides.user_id is None or isinstance(overrides.user_id, str)
    assert overrides.roles is None or all(isinstance(r, str) for r in overrides.roles)
    assert overrides.groups is None or (
        overrides.groups and all(jp.valid_group_name(g) for g in overrides.groups)
    )
    assert overrides.subprotocol is None or (
        isinstance(overrides.subprotocol, str) and overrides.subprotocol
    )
