"""Pure upstream helpers: signature, headers, connect bodies, reply mapping, cookies."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from devstack.emulator.cloudevents import (
    ConnectOverrides,
    EventContext,
    UpstreamError,
    event_headers,
    parse_connect_body,
    reply_payload,
    retryable_status,
    signature,
    store_cookies,
)
from devstack.emulator.jsonprotocol import Payload

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"


def test_signature_is_hmac_of_connection_id() -> None:
    expected = hmac.new(KEY.encode(), b"conn", hashlib.sha256).hexdigest()
    assert signature([KEY], "conn") == "sha256=" + expected
    assert signature([KEY, "B" * 40], "conn").count("sha256=") == 2


def test_event_headers() -> None:
    ctx = EventContext("chat", "c1", user_id="u", subprotocol="json.webpubsub.azure.v1", state="s")
    ctx.cookies["a"] = "1"
    headers = event_headers(
        ctx,
        ce_type="azure.webpubsub.user.message",
        event_name="message",
        ce_id="4",
        keys=[KEY],
        origin="localhost",
        content_type="text/plain; charset=utf-8",
        metadata=(("Key", "v"),),
    )
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-awpsversion"] == "1.0"
    assert headers["ce-source"] == "/hubs/chat/client/c1"
    assert headers["ce-userId"] == "u"
    assert headers["ce-subprotocol"] == "json.webpubsub.azure.v1"
    assert headers["ce-connectionState"] == "s"
    assert headers["Cookie"] == "a=1"
    assert headers["x-webpubsub-metadata-key"] == "v"
    assert headers["WebHook-Request-Origin"] == "localhost"
    anonymous = event_headers(
        EventContext("chat", "c1"),
        ce_type="t",
        event_name="connect",
        ce_id="0",
        keys=[KEY],
        origin="localhost",
        content_type="application/json",
    )
    for absent in ("ce-userId", "ce-subprotocol", "ce-connectionState", "Cookie"):
        assert absent not in anonymous


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", ConnectOverrides()),
        (b"null", ConnectOverrides()),
        (b"{}", ConnectOverrides()),
        (b'{"userId": "u", "roles": ["r"]}', ConnectOverrides("u", ["r"])),
        (b'{"userId": ""}', ConnectOverrides("")),
        (b'{"roles": []}', ConnectOverrides(roles=[])),
        (b'{"groups": []}', ConnectOverrides()),
        (b'{"groups": ["a"], "subprotocol": "p"}', ConnectOverrides(groups=["a"], subprotocol="p")),
        (b'{"UserId": "u"}', ConnectOverrides("u")),
    ],
)
def test_connect_bodies(body: bytes, expected: ConnectOverrides) -> None:
    assert parse_connect_body(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[1]",
        b'{"userId": 1}',
        b'{"roles": "r"}',
        b'{"groups": [""]}',
        b'{"subprotocol": ""}',
    ],
)
def test_bad_connect_bodies(body: bytes) -> None:
    with pytest.raises(UpstreamError):
        parse_connect_body(body)


@pytest.mark.parametrize(
    ("content_type", "body", "headers", "expected"),
    [
        ("text/plain", b"hi", {}, Payload("text", b"hi")),
        ("text/plain; charset=latin-1", "é".encode("latin-1"), {}, Payload("text", "é".encode())),
        ("application/json", b'{"a":1}', {}, Payload("json", b'{"a":1}')),
        ("application/octet-stream", b"\x00", {}, Payload("binary", b"\x00")),
        (None, b"\x00", {}, Payload("binary", b"\x00")),
        ("text/plain", b"", {}, None),
        (
            "text/plain",
            b"",
            {"X-WebPubSub-Metadata-K": "a, b "},
            Payload("text", b"", (("k", "b"),)),
        ),
    ],
)
def test_reply_mapping(content_type, body, headers, expected) -> None:
    assert reply_payload(content_type, body, headers) == expected


@pytest.mark.parametrize(
    ("content_type", "body"), [("application/xml", b"<a/>"), ("application/json", b"{")]
)
def test_bad_replies(content_type: str, body: bytes) -> None:
    with pytest.raises(UpstreamError):
        reply_payload(content_type, body, {})


def test_cookies_and_retry_codes() -> None:
    jar: dict[str, str] = {}
    store_cookies(jar, ["a=1; Path=/", "b=2; HttpOnly", "garbage\x00"])
    assert jar == {"a": "1", "b": "2"}
    assert [s for s in (200, 400, 404, 408, 429, 500, 503) if retryable_status(s)] == [
        408,
        500,
        503,
    ]
