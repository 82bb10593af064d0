"""The OData filter subset."""

from __future__ import annotations

import pytest

from devstack.emulator.filter import MAX_DEPTH, FilterError, compile_filter

CTX = {
    "userid": "Bob",
    "connectionid": "conn-1",
    "groups": ["room1", "Lobby"],
    "protocol": "json.webpubsub.azure.v1",
}
ANON = {"userid": None, "connectionid": "conn-2", "groups": [], "protocol": None}


@pytest.mark.parametrize(
    ("text", "ctx", "expected"),
    [
        ("userId eq 'Bob'", CTX, True),
        ("userId eq 'bob'", CTX, False),
        ("userId ne 'Bob'", CTX, False),
        ("UserId eq 'Bob'", CTX, True),
        ("connectionId gt 'conn-0'", CTX, True),
        ("connectionId le 'conn-0'", CTX, False),
        ("'room1' in groups", CTX, True),
        ("'lobby' in groups", CTX, False),
        ("not ('room1' in groups)", CTX, False),
        ("userId in ('a', 'Bob')", CTX, True),
        ("userId in ('a', 'b')", CTX, False),
        ("userId eq 'x' or 'Lobby' in groups", CTX, True),
        ("userId eq 'x' or userId eq 'y' and true", CTX, False),
        ("userId eq 'Bob' or userId eq 'y' and false", CTX, True),  # and binds tighter
        ("tolower(userId) eq 'bob'", CTX, True),
        ("toupper(userId) eq 'BOB'", CTX, True),
        ("trim('  a ') eq 'a'", CTX, True),
        ("length(userId) eq 3", CTX, True),
        ("substring(connectionId, 5) eq '1'", CTX, True),
        ("substring(connectionId, 0, 4) eq 'conn'", CTX, True),
        ("indexof(userId, 'o') eq 1", CTX, True),
        ("startswith(userId, 'B')", CTX, True),
        ("endswith(userId, 'b')", CTX, True),
        ("contains(connectionId, 'nn-')", CTX, True),
        ("concat(userId, '!') eq 'Bob!'", CTX, True),
        ("userId eq 'it''s'", {**CTX, "userid": "it's"}, True),
        ("userId eq null", ANON, True),
        ("userId ne null", CTX, True),
        ("startswith(userId, 'B')", ANON, False),
        ("protocol eq 'json.webpubsub.azure.v1'", CTX, True),
        ("protocol eq null", ANON, True),
        ("true", CTX, True),
    ],
)
def test_filter_evaluation(text: str, ctx: dict, expected: bool) -> None:
    assert compile_filter(text)(ctx) is expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "userId",
        "userId eq",
        "userId lt 1",
        "userId eq true",
        "length(userId) eq 'a'",
        "groups eq 'a'",
        "'a' in userId",
        "1 in groups",
        "unknown eq 'a'",
        "userId eq 'a' extra",
        "userId eq 'unterminated",
        "(userId eq 'a'",
        "tolower(userId, 'x') eq 'a'",
        "userId # 'a'",
        "not userId",
        "true gt false",
    ],
)
def test_invalid_filters(text: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(text)


def test_type_error_message_names_types() -> None:
    with pytest.raises(FilterError, match="Type 'string', expect 'int'"):
        compile_filter("userId lt 1")


HOSTILE = {
    "300 parentheses": "(" * 300 + "true" + ")" * 300,
    "1000 not": "not " * 1000 + "true",
    "400 tolower": "tolower(" * 400 + "userId" + ")" * 400 + " eq 'a'",
    "unclosed 2000 parentheses": "(" * 2000,
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_deep_nesting_is_a_filter_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(FilterError, match="nested too deeply"):
        compile_filter(text)


def test_nesting_up_to_the_limit_still_works() -> None:
    fn = compile_filter("(" * MAX_DEPTH + "userId eq 'a'" + ")" * MAX_DEPTH)
    assert fn({"userid": "a"}) is True


def test_long_and_or_chains_evaluate_without_nesting() -> None:
    text = " or ".join(["userId eq 'x'"] * 230) + " or userId eq 'a'"
    assert len(text) <= 4096
    assert compile_filter(text)({"userid": "a"}) is True
    chain = " and ".join(["true"] * 400)
    assert compile_filter(chain)({}) is True


def test_error_messages_do_not_echo_the_filter() -> None:
    with pytest.raises(FilterError) as info:
        compile_filter("secretvalue eq 'a'")
    assert "secretvalue" not in str(info.value)
