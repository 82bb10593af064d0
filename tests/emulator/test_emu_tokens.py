"""Token validation: client tokens, REST audiences, reconnection tokens."""

from __future__ import annotations

import time

import jwt
import pytest

from devstack.emulator.audiences import (
    ServedOrigins,
    audience_matches,
    client_path,
    path_segments,
)
from devstack.emulator.tokens import (
    ClaimError,
    TokenError,
    claims_for_connect,
    issue_client_token,
    issue_reconnection_token,
    reconnection_token_valid,
    validate_client_token,
    validate_rest_token,
)

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
AUD = "http://localhost:8080/client/hubs/Chat"


ORIGINS = ServedOrigins.of(8080, "localhost", "127.0.0.1")
CHAT = client_path("Chat")
E = "http://localhost:8080"


@pytest.mark.parametrize(
    ("aud", "ok"),
    [
        (AUD, True),
        ("http://LOCALHOST:8080/client/hubs/chat", True),
        ("ws://localhost:8080/client/hubs/Chat", True),
        ("https://localhost:8080/client/hubs/Chat/", True),
        ("http://127.0.0.1:8080/client/hubs/Chat", True),
        ("http://[::1]:8080/client/hubs/Chat", True),
        ("http://localhost:8080/client/hubs/Chat?x=1#frag", True),
        (["x", AUD], True),
        ("http://localhost:8080/client/hubs/Other", False),
        ("http://localhost:9999/client/hubs/Chat", False),
        ("http://127.0.0.2:8080/client/hubs/Chat", False),
        ("http://localhost/client/hubs/Chat", False),
        ("ftp://localhost:8080/client/hubs/Chat", False),
        ("http://evil.example:8080/client/hubs/Chat", False),
        ("http://user@localhost:8080/client/hubs/Chat", False),
        ("http://localhost:8080@evil.example/client/hubs/Chat", False),
        ("http://localhost:8080%2Fclient%2Fhubs%2FChat", False),
        ("http://localhost:8080/client%2Fhubs%2FChat", False),
        ("http://localhost:8080/client/hubs/Chat/extra", False),
        ("http://localhost:8080/api/hubs/Chat", False),
        ("http://localhost:99999/client/hubs/Chat", False),
        ("http://localhost:x/client/hubs/Chat", False),
        ("localhost:8080/client/hubs/Chat", False),
        (None, False),
        (42, False),
    ],
)
def test_client_audience_only_names_our_origins_and_this_hub(aud, ok: bool) -> None:
    assert audience_matches(aud, ORIGINS, CHAT) is ok


@pytest.mark.parametrize(
    ("aud", "raw_path", "ok"),
    [
        (
            "http://localhost:8080/api/hubs/c/:send?excluded=a&api-version=2024-12-01",
            "/api/hubs/c/:send",
            True,
        ),
        ("http://localhost:8080/api/hubs/c/:send", "/api/hubs/c/:sendx", False),
        (E + "/api/hubs/c/users/a%2Fb/:send", "/api/hubs/c/users/a%2Fb/:send", True),
        (E + "/api/hubs/c/users/a%2Fb/:send", "/api/hubs/c/users/a/b/:send", False),
        ("http://localhost:8080/client/hubs/c", "/api/hubs/c/:send", False),
        ("http://localhost:8080/api/hubs/other/:send", "/api/hubs/c/:send", False),
    ],
)
def test_rest_audience_is_the_request_path_on_our_origin(aud, raw_path: str, ok: bool) -> None:
    assert audience_matches(aud, ORIGINS, path_segments(raw_path)) is ok


def test_served_origins_ignore_wildcard_bind_and_keep_loopback() -> None:
    origins = ServedOrigins.of(1234, "LocalHost", "0.0.0.0", "[::]")
    assert origins.hosts == {"localhost", "127.0.0.1", "::1"}
    assert origins.origin_of("wss://[::1]:1234/x")
    assert not origins.origin_of("http://0.0.0.0:1234/x")


def _token(**claims) -> str:
    payload = {"aud": AUD, "exp": int(time.time()) + 60, **claims}
    return jwt.encode(payload, KEY, algorithm="HS256")


def test_valid_client_token_returns_claims() -> None:
    token = issue_client_token(KEY, AUD, user_id="u", roles=["r1"], groups=["g"])
    claims = validate_client_token(token, [KEY], ORIGINS, "Chat")
    assert claims["sub"] == "u"
    assert claims["role"] == ["r1"]
    assert claims_for_connect({"sub": "u", "role": ["a", "b"], "exp": 5}) == {
        "sub": ["u"],
        "role": ["a", "b"],
        "exp": ["5"],
    }


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        jwt.encode({"aud": AUD, "exp": int(time.time()) + 60}, "W" * 40, algorithm="HS256"),
        jwt.encode({"aud": AUD}, KEY, algorithm="HS256"),  # no exp
        jwt.encode({"aud": AUD, "exp": int(time.time()) - 600}, KEY, algorithm="HS256"),
        jwt.encode({"aud": AUD + "x", "exp": int(time.time()) + 60}, KEY, algorithm="HS256"),
        jwt.encode({"exp": int(time.time()) + 60}, KEY, algorithm="HS256"),
    ],
    ids=["garbage", "wrong-key", "no-exp", "expired", "wrong-aud", "no-aud"],
)
def test_invalid_client_tokens(token: str) -> None:
    with pytest.raises(TokenError):
        validate_client_token(token, [KEY], ORIGINS, "Chat")


def test_expiry_has_five_minutes_of_skew() -> None:
    token = _token(exp=int(time.time()) - 120)
    assert validate_client_token(token, [KEY], ORIGINS, "Chat")


@pytest.mark.parametrize("group", ["", "   ", "g" * 1025])
def test_bad_group_claim_is_a_claim_error(group: str) -> None:
    with pytest.raises(ClaimError):
        validate_client_token(_token(**{"webpubsub.group": ["ok", group]}), [KEY], ORIGINS, "Chat")


def test_rest_token_audience_is_request_url() -> None:
    url = "http://localhost:8080/api/hubs/Chat/:send?api-version=2024-12-01"
    token = jwt.encode({"aud": url, "exp": int(time.time()) + 60}, KEY, algorithm="HS256")
    assert validate_rest_token(token, [KEY], ORIGINS, "/api/hubs/Chat/:send")
    with pytest.raises(TokenError):
        validate_rest_token(token, [KEY], ORIGINS, "/api/hubs/Other/:send")
    with pytest.raises(TokenError):
        validate_rest_token(token, ["Z" * 40], ORIGINS, "/api/hubs/Chat/:send")


def test_client_and_rest_tokens_are_not_interchangeable() -> None:
    client = issue_client_token(KEY, AUD, user_id="mallory")
    with pytest.raises(TokenError):
        validate_rest_token(client, [KEY], ORIGINS, "/api/hubs/Chat/:send")
    rest = jwt.encode(
        {"aud": "http://localhost:8080/api/hubs/Chat/:send", "exp": int(time.time()) + 60},
        KEY,
        algorithm="HS256",
    )
    with pytest.raises(TokenError):
        validate_client_token(rest, [KEY], ORIGINS, "Chat")


@pytest.mark.parametrize("part", ["header", "payload"])
def test_deeply_nested_token_json_is_a_token_error(part: str) -> None:
    import base64

    nested = base64.urlsafe_b64encode(b"[" * 100_000).decode().rstrip("=")
    plain = base64.urlsafe_b64encode(b'{"alg":"HS256"}').decode().rstrip("=")
    token = f"{nested}.{plain}.sig" if part == "header" else f"{plain}.{nested}.sig"
    with pytest.raises(TokenError):
        validate_client_token(token, [KEY], ORIGINS, "Chat")
    assert not reconnection_token_valid(token, KEY, "conn1")


def test_reconnection_token_is_bound_to_connection() -> None:
    token = issue_reconnection_token(KEY, "conn1")
    assert reconnection_token_valid(token, KEY, "conn1")
    assert not reconnection_token_valid(token, KEY, "conn2")
    assert not reconnection_token_valid(token, "Z" * 40, "conn1")
    assert not reconnection_token_valid("garbage", KEY, "conn1")
