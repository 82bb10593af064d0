"""Token validation: client tokens, REST audiences, reconnection tokens."""

from __future__ import annotations

import time

import jwt
import pytest

from devstack.emulator.tokens import (
    ClaimError,
    TokenError,
    audience_matches,
    claims_for_connect,
    issue_client_token,
    issue_reconnection_token,
    reconnection_token_valid,
    validate_client_token,
    validate_rest_token,
)

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
AUD = "http://localhost:8080/client/hubs/Chat"


@pytest.mark.parametrize(
    ("aud", "expected", "ok"),
    [
        (AUD, AUD, True),
        ("http://LOCALHOST:8080/client/hubs/chat", AUD, True),
        ("ws://localhost:8080/client/hubs/Chat", AUD, True),
        ("https://localhost:8080/client/hubs/Chat/", AUD, True),
        (
            "http://localhost:8080/client/hubs/Chat%20Room",
            "http://localhost:8080/client/hubs/Chat Room",
            True,
        ),
        ("http://localhost:8080/client/hubs/Other", AUD, False),
        ("http://localhost:9999/client/hubs/Chat", AUD, False),
        ("http://127.0.0.1:8080/client/hubs/Chat", AUD, True),
        ("http://[::1]:8080/client/hubs/Chat", AUD, True),
        ("http://127.0.0.2:8080/client/hubs/Chat", AUD, False),
        ("http://localhost/client/hubs/Chat", AUD, False),
        ("ftp://localhost:8080/client/hubs/Chat", AUD, False),
        (["x", AUD], AUD, True),
        (None, AUD, False),
        (
            "http://h:1/api/hubs/c/:send?excluded=a&api-version=2024-12-01",
            "http://h:1/api/hubs/c/:send?api-version=2024-12-01&excluded=a",
            True,
        ),
        ("http://h:1/api/hubs/c/:send", "http://h:1/api/hubs/c/:sendx", False),
        (
            "http://h:1/api/hubs/c/users/a%2Fb/:send",
            "http://h:1/api/hubs/c/users/a%2Fb/:send",
            True,
        ),
    ],
)
def test_audience_matching(aud, expected: str, ok: bool) -> None:
    assert audience_matches(aud, expected) is ok


def _token(**claims) -> str:
    payload = {"aud": AUD, "exp": int(time.time()) + 60, **claims}
    return jwt.encode(payload, KEY, algorithm="HS256")


def test_valid_client_token_returns_claims() -> None:
    token = issue_client_token(KEY, AUD, user_id="u", roles=["r1"], groups=["g"])
    claims = validate_client_token(token, [KEY], AUD)
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
        validate_client_token(token, [KEY], AUD)


def test_expiry_has_five_minutes_of_skew() -> None:
    token = _token(exp=int(time.time()) - 120)
    assert validate_client_token(token, [KEY], AUD)


@pytest.mark.parametrize("group", ["", "   ", "g" * 1025])
def test_bad_group_claim_is_a_claim_error(group: str) -> None:
    with pytest.raises(ClaimError):
        validate_client_token(_token(**{"webpubsub.group": ["ok", group]}), [KEY], AUD)


def test_rest_token_audience_is_request_url() -> None:
    url = "http://localhost:8080/api/hubs/Chat/:send?api-version=2024-12-01"
    token = jwt.encode({"aud": url, "exp": int(time.time()) + 60}, KEY, algorithm="HS256")
    assert validate_rest_token(token, [KEY], url)
    assert validate_rest_token(token, [KEY], url.split("?")[0])
    with pytest.raises(TokenError):
        validate_rest_token(token, [KEY], "http://localhost:8080/api/hubs/Other/:send")
    with pytest.raises(TokenError):
        validate_rest_token(token, ["Z" * 40], url)


def test_reconnection_token_is_bound_to_connection() -> None:
    token = issue_reconnection_token(KEY, "conn1")
    assert reconnection_token_valid(token, KEY, "conn1")
    assert not reconnection_token_valid(token, KEY, "conn2")
    assert not reconnection_token_valid(token, "Z" * 40, "conn1")
    assert not reconnection_token_valid("garbage", KEY, "conn1")
