"""chat.identity: the per-user rule for both modes, and the signed-in user id format. Pure."""

from __future__ import annotations

import pytest

from chat.errors import ChatError
from chat.identity import Caller, caller, encode_user_id, is_reserved, parse_user_id, sender
from chat.settings import Settings

OFF = Settings(endpoint="http://h", access_keys=("k",), hub="Sample_ChatApp")
REQUIRED = Settings(endpoint="http://h", access_keys=("k",), hub="Sample_ChatApp", sign_in=True)
OID = "6f1c2a34-0b8e-4d3c-9a51-2f0e7c1d9b44"


def signed_in(idp: str, user: str, name: str) -> dict[str, str]:
    return {
        "x-ms-client-principal-idp": idp,
        "x-ms-client-principal-id": user,
        "x-ms-client-principal-name": name,
    }


@pytest.mark.parametrize(
    ("settings", "headers", "query", "expected"),
    [
        (OFF, {}, {"id": "alice"}, Caller("alice", "alice")),
        (OFF, {}, {"id": "  bob "}, Caller("bob", "bob")),
        (
            OFF,
            {"x-ms-client-principal-name": "dana@contoso.com"},
            {"id": "x"},
            Caller("dana@contoso.com", "dana@contoso.com"),
        ),
        (
            REQUIRED,
            signed_in("aad", OID, "alice@contoso.com"),
            {"id": "mallory"},
            Caller(f"aad:{OID}:alice@contoso.com", "alice@contoso.com", "aad"),
        ),
        (
            REQUIRED,
            signed_in("github", "583231", "alice"),
            {},
            Caller("github:583231:alice", "alice", "github"),
        ),
        (
            REQUIRED,
            signed_in("aad", "a:b%c", "x:y"),
            {},
            Caller("aad:a%3Ab%25c:x%3Ay", "x:y", "aad"),
        ),
    ],
)
def test_caller(settings: Settings, headers: dict, query: dict, expected: Caller) -> None:
    assert caller(headers, query, settings) == expected


@pytest.mark.parametrize(
    ("settings", "headers", "query", "status", "reason"),
    [
        (OFF, {}, {}, 400, "missing user id"),
        (OFF, {}, {"id": "x" * 65}, 400, "too long"),
        (OFF, {}, {"id": "aad:1:alice"}, 400, "kept for signed-in users"),
        (REQUIRED, {}, {"id": "alice"}, 401, "sign-in required"),
        (REQUIRED, {}, {}, 401, "sign-in required"),
        (REQUIRED, {"x-ms-client-principal": "%%"}, {"id": "a"}, 400, "not usable base64 JSON"),
        (REQUIRED, {"x-ms-client-principal-name": "alice"}, {}, 400, "identity provider"),
    ],
)
def test_refusals(settings: Settings, headers: dict, query: dict, status: int, reason: str) -> None:
    with pytest.raises(ChatError) as refused:
        caller(headers, query, settings)
    assert refused.value.status == status
    assert reason in refused.value.reason


def test_the_same_name_from_two_providers_gives_two_users() -> None:
    a = caller(signed_in("aad", OID, "alice"), {}, REQUIRED)
    b = caller(signed_in("github", "583231", "alice"), {}, REQUIRED)
    assert isinstance(a, Caller) and isinstance(b, Caller)
    assert a.name == b.name == "alice"
    assert a.user_id != b.user_id


@pytest.mark.parametrize(
    ("idp", "user", "name"),
    [
        ("aad", OID, "alice@contoso.com"),
        ("github", "583231", "octocat"),
        ("aad", "with:colon%and space", "name: with colons"),
        ("aad", "1", "Doe, John"),  # a comma would look like a repeated ce-userId header
        ("google", "ünïcode", "Zoë"),
    ],
)
def test_user_id_round_trip(idp: str, user: str, name: str) -> None:
    encoded = encode_user_id(idp, user, name)
    assert parse_user_id(encoded) == Caller(encoded, name, idp)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "alice",
        "aad:only-two",
        "aad::empty-id",
        "aad:id:",
        ":id:name",
        "A AD:id:name",
        "aad:a%3ab:x",  # not the canonical (upper-case) encoding
        "aad:a,b:x",  # a comma must be encoded
        "aad:a:b:c",  # a colon, too
        "aad:1:%20bob",  # surrounding white space is never signed
        "aad:1:evil%E2%80%AEname",  # a bidi override, even encoded
        "aad:1:" + "x" * 257,  # longer than any principal name
        "aad:%ff:x",  # not UTF-8
    ],
)
def test_foreign_user_ids_are_not_signed_in_users(value: str | None) -> None:
    assert parse_user_id(value) is None


def test_reserved_names() -> None:
    assert is_reserved("github:1:alice")
    assert not is_reserved("alice")
    assert not is_reserved("re: hello")
    assert not is_reserved("a b:c:d")


@pytest.mark.parametrize(
    ("settings", "user", "expected"),
    [
        (OFF, "alice", {"from": "alice"}),
        (OFF, "github:1:alice", {"from": "github:1:alice"}),
        (
            REQUIRED,
            "github:1:alice",
            {"from": "alice", "userId": "github:1:alice", "idp": "github"},
        ),
        (REQUIRED, "alice", None),
        (REQUIRED, None, None),
    ],
)
def test_sender(settings: Settings, user: str | None, expected: dict | None) -> None:
    assert sender(user, settings) == expected
