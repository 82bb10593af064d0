"""Message text, rate limiting, connection state and user ids: pure, table-driven."""

from __future__ import annotations

import base64
import json

import pytest

from chat import connection_state, identity, message_text, rate_limit, text_rules
from chat.errors import BadRequest
from chat.settings import Settings


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        (b"hello", "text/plain", "hello"),
        (b"hello", "text/plain; charset=utf-8", "hello"),
        ("h\u00e9llo \U0001f44b".encode(), "application/octet-stream", "h\u00e9llo \U0001f44b"),
        (b'"hi"', "application/json", "hi"),
        (b'{"message": "hi"}', "application/json; charset=utf-8", "hi"),
        (b"raw", None, "raw"),
    ],
)
def test_extract(body: bytes, content_type: str | None, text: str) -> None:
    assert message_text.extract(body, content_type, 1000) == text


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"\xff\xfe\x00", "application/octet-stream", "not valid UTF-8"),
        (b"\xc3", "text/plain", "not valid UTF-8"),
        (b"{nope", "application/json", "not valid JSON"),
        (b"42", "application/json", "send text"),
        (b'{"message": 1}', "application/json", "send text"),
        (b"x" * 1001, "text/plain", "too long"),
        (b"<a/>", "application/xml", "unsupported content type"),
    ],
)
def test_extract_rejects(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(message_text.Rejected, match=reason):
        message_text.extract(body, content_type, 1000)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  hi  ", "hi"),
        ("a\x00b\x07c\x1bd", "abcd"),
        ("tab\there", "tab here"),
        ("two\nlines", "two\nlines"),
        ("evil\u202egnp.exe", "evilgnp.exe"),  # bidi override
        (
            "family \U0001f468\u200d\U0001f469\u200d\U0001f467",
            "family \U0001f468\u200d\U0001f469\u200d\U0001f467",
        ),
        ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),  # text, not HTML
    ],
)
def test_clean(raw: str, cleaned: str) -> None:
    assert message_text.clean(raw, 100) == cleaned


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("", "empty"), ("   \n\t ", "empty"), ("\x00\x01", "empty"), ("x" * 11, "limit is 10")],
)
def test_clean_rejects(raw: str, reason: str) -> None:
    with pytest.raises(message_text.Rejected, match=reason):
        message_text.clean(raw, 10)


def test_ascii_is_cleaned_as_the_per_character_rule_cleans_it() -> None:
    # ASCII takes a translation table; it must keep and drop exactly what the rule for any
    # text does (checked on every ASCII character, in a message of other text too).
    for code in range(128):
        raw = f"a{chr(code)}b"
        rule = "".join(
            ch for ch in raw.replace("\t", " ") if text_rules._kept_in_message(ch)
        ).strip()
        assert message_text.clean(raw, 10) == rule, hex(code)
        # With a non-ASCII letter after it, the same text takes the per-character path.
        assert message_text.clean(raw + "\u00e9", 10) == rule + "\u00e9", hex(code)


def test_clean_counts_after_stripping() -> None:
    assert message_text.clean("x" * 10 + "\x00" * 5, 10) == "x" * 10


def test_token_bucket_allows_a_burst_then_refills() -> None:
    bucket = rate_limit.Bucket(3.0, 100.0)
    results = []
    for _ in range(4):
        ok, bucket = rate_limit.take(bucket, 3, 3.0, 100.0)
        results.append(ok)
    assert results == [True, True, True, False]
    ok, bucket = rate_limit.take(bucket, 3, 3.0, 101.0)  # one token back after 1 s
    assert ok
    ok, _ = rate_limit.take(bucket, 3, 3.0, 101.0)
    assert not ok


@pytest.mark.parametrize(
    "raw",
    [None, "x", [1], [1, 2, 3], ["a", 1], [True, 1], [-1, 5], [99, 5], [1, 10_000]],
)
def test_odd_bucket_state_starts_full(raw: object) -> None:
    assert rate_limit.Bucket.from_state(raw, 5, 200.0) == rate_limit.Bucket(5.0, 200.0)


def test_connection_state_round_trip_and_garbage() -> None:
    state = {"rate": [1.5, 2.0]}
    assert connection_state.decode(connection_state.encode(state)) == state
    assert json.loads(base64.b64decode(connection_state.encode(state))) == state
    for garbage in [None, "", "!!!", base64.b64encode(b"[1]").decode(), "e30"]:
        assert connection_state.decode(garbage) == {}


@pytest.mark.parametrize(
    ("raw", "result"),
    [
        ("alice", "alice"),
        ("  bob ", "bob"),
        ("x" * 64, "x" * 64),
        ("Zo\u00eb \U0001f600", "Zo\u00eb \U0001f600"),
    ],
)
def test_user_id_valid(raw: str, result: str) -> None:
    assert identity.validate_name(raw) == result


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "missing user id"),
        ("", "missing user id"),
        ("   ", "missing user id"),
        ("x" * 65, "too long"),
        ("a\x00b", "control characters"),
        ("a\nb", "control characters"),
        ("adm\u202enimda", "control characters"),
    ],
)
def test_user_id_invalid(raw: str | None, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        identity.validate_name(raw)


OFF = Settings(endpoint="http://h", access_keys=("k",), hub="Sample_ChatApp")


def _principal(claims: list[dict], name_typ: str = "name") -> str:
    payload = {"auth_typ": "aad", "name_typ": name_typ, "claims": claims}
    return base64.b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"x-ms-client-principal-name": "   "}, None),
        (
            {
                "x-ms-client-principal-name": "",
                "x-ms-client-principal": _principal([{"typ": "name", "val": "Erin"}]),
            },
            "Erin",
        ),
        ({"x-ms-client-principal-name": "dana@contoso.com"}, "dana@contoso.com"),
        ({"x-ms-client-principal": _principal([{"typ": "name", "val": "Erin"}])}, "Erin"),
        (
            {"x-ms-client-principal": _principal([{"typ": "upn", "val": "f@x"}], "upn")},
            "f@x",
        ),
    ],
)
def test_client_principal(headers: dict, expected: str | None) -> None:
    """Sign-in off: the principal's name is the caller (the read-only rule lets None in)."""
    who = identity.viewer(headers, OFF)
    assert (who.name if who is not None else None) == expected


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"[]").decode(), _principal([])])
def test_client_principal_invalid(value: str) -> None:
    with pytest.raises(BadRequest):
        identity.viewer({"x-ms-client-principal": value}, OFF)


@pytest.mark.parametrize(
    ("query", "result"),
    [({"id": ["carol"]}, "carol"), ({"id": "dave"}, "dave"), ({"id": ["eve", "x"]}, "eve")],
)
def test_connect_query(query: dict, result: str) -> None:
    assert identity.from_connect_query(query) == result


@pytest.mark.parametrize("query", [{}, {"id": []}, {"id": [""]}, {"id": [5]}, "id=x", None])
def test_connect_query_invalid(query: object) -> None:
    with pytest.raises(BadRequest, match="missing user id"):
        identity.from_connect_query(query)
