"""Arbitrary input never escapes the documented error types (so it cannot crash the server)."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.emulator import jsonprotocol as jp
from devstack.emulator.cloudevents import UpstreamError, parse_connect_body
from devstack.emulator.filter import FilterError, compile_filter
from devstack.emulator.restroutes import MethodNotAllowed, RouteNotFound, route

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FRAME_KEYS = st.sampled_from(
    [
        "type",
        "group",
        "data",
        "dataType",
        "ackId",
        "event",
        "noEcho",
        "metadata",
        "sequenceId",
        "ttlSeconds",
    ]
)
FRAME_TYPES = st.sampled_from(
    ["joinGroup", "leaveGroup", "sendToGroup", "event", "sequenceAck", "ping", "x"]
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_frame_is_parsed_or_rejected(text: str) -> None:
    with contextlib.suppress(jp.ProtocolError):
        jp.parse_client_message(text)


@settings(max_examples=300, deadline=None)
@given(FRAME_TYPES, st.dictionaries(FRAME_KEYS, JSON_VALUES, max_size=6))
def test_structured_frames_are_parsed_or_rejected(kind: str, fields: dict) -> None:
    try:
        message = jp.parse_client_message(json.dumps({**fields, "type": kind}))
    except jp.ProtocolError:
        return
    if isinstance(message, jp.SendToGroup | jp.Event):
        # Whatever was accepted can be served back to every kind of client.
        jp.group_message("g", message.payload, None, 1)
        jp.raw_frame(message.payload)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_filter_is_compiled_or_rejected(text: str) -> None:
    try:
        predicate = compile_filter(text)
    except FilterError:
        return
    predicate({"userid": "u", "connectionid": "c", "groups": ["g"], "protocol": None})
    predicate({"userid": None, "connectionid": "c", "groups": [], "protocol": None})


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]), st.text(max_size=60))
def test_any_path_is_routed_or_rejected(method: str, tail: str) -> None:
    with contextlib.suppress(RouteNotFound, MethodNotAllowed):
        route(method, "/api/hubs/" + tail)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_any_connect_body_is_accepted_or_rejected(body: bytes) -> None:
    with contextlib.suppress(UpstreamError):
        parse_connect_body(body)
