"""Pure handshake helpers: subprotocol choice, raw-mode parameters, the connect body."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, MultiDict

from devstack.emulator.handshake import (
    HandshakeError,
    choose_subprotocol,
    connect_body,
    new_connection_id,
    offered_protocols,
    raw_mode_params,
)

JSON = "json.webpubsub.azure.v1"
RELIABLE = "json.reliable.webpubsub.azure.v1"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], []),
        ([JSON], [JSON]),
        ([f"{JSON}, {RELIABLE}"], [JSON, RELIABLE]),
        (["a", " b , ,c"], ["a", "b", "c"]),
    ],
)
def test_offered_protocols(headers: list[str], expected: list[str]) -> None:
    assert offered_protocols(headers) == expected


@pytest.mark.parametrize(
    ("offered", "choice", "expected"),
    [
        ([], None, None),
        ([JSON], None, JSON),
        (["custom", RELIABLE, JSON], None, RELIABLE),
        (["protobuf.webpubsub.azure.v1", JSON], None, JSON),
        (["custom"], "custom", "custom"),
        ([JSON, "custom"], "custom", "custom"),
    ],
)
def test_choose_subprotocol(offered: list[str], choice: str | None, expected: str | None) -> None:
    assert choose_subprotocol(offered, choice) == expected


@pytest.mark.parametrize(
    ("offered", "choice", "status"),
    [
        (["custom"], None, 400),
        (["protobuf.webpubsub.azure.v1"], None, 400),
        ([JSON], "other", 500),
        ([], JSON, 500),
    ],
)
def test_choose_subprotocol_errors(offered: list[str], choice: str | None, status: int) -> None:
    with pytest.raises(HandshakeError) as info:
        choose_subprotocol(offered, choice)
    assert info.value.status == status


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ("sendevent", None, False)),
        ({"webpubsub_mode": "SENDEVENT"}, ("sendevent", None, False)),
        ({"webpubsub_mode": "sendToGroup", "group": "g"}, ("sendtogroup", "g", False)),
        (
            {"webpubsub_mode": "sendtogroup", "group": "g", "noEcho": "TRUE"},
            ("sendtogroup", "g", True),
        ),
        ({"noEcho": "false"}, ("sendevent", None, False)),
    ],
)
def test_raw_mode_params(query: dict[str, str], expected) -> None:
    assert raw_mode_params(MultiDict(query)) == expected


@pytest.mark.parametrize(
    "query",
    [
        [("webpubsub_mode", "publish")],
        [("webpubsub_mode", "sendToGroup")],
        [("webpubsub_mode", "sendToGroup"), ("group", " ")],
        [("webpubsub_mode", "sendToGroup"), ("group", "a"), ("group", "b")],
        [("noEcho", "1")],
    ],
)
def test_raw_mode_param_errors(query) -> None:
    with pytest.raises(HandshakeError) as info:
        raw_mode_params(MultiDict(query))
    assert info.value.status == 400


def test_connect_body_strips_credentials() -> None:
    query = MultiDict([("access_token", "secret"), ("id", "bob"), ("id", "b2")])
    headers = CIMultiDict(
        [("Authorization", "Bearer x"), ("Cookie", "a=1"), ("X-ASRS-Internal-Foo", "1")]
    )
    body = connect_body(query, headers, {"sub": "bob", "role": ["r"]}, [JSON])
    assert body == {
        "claims": {"sub": ["bob"], "role": ["r"]},
        "query": {"id": ["bob", "b2"]},
        "headers": {"Cookie": ["a=1"]},
        "subprotocols": [JSON],
        "clientCertificates": [],
    }


def test_connection_ids_are_unique_and_url_safe() -> None:
    ids = {new_connection_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(i.isalnum() for i in ids)
