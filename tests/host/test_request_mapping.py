"""How headers and query strings are flattened for the worker."""

from __future__ import annotations

import pytest

from devstack.host.request_mapping import join_headers, join_query


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], {}),
        ([("Content-Type", "text/plain")], {"content-type": "text/plain"}),
        ([("X-A", "1"), ("x-a", "2"), ("X-a", "3")], {"x-a": "1,2,3"}),
        ([("Accept", "a, b"), ("Accept", "c")], {"accept": "a, b,c"}),
        ([("X-Empty", "")], {"x-empty": ""}),
    ],
)
def test_join_headers(pairs: list[tuple[str, str]], expected: dict[str, str]) -> None:
    assert join_headers(pairs) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {}),
        ("id=alice", {"id": "alice"}),
        ("id=a&id=b", {"id": "a,b"}),
        ("id=a&ID=b", {"id": "a,b"}),  # keys are case-insensitive, first spelling kept
        ("a=&b=1", {"b": "1"}),  # empty values are dropped
        ("a&b=1", {"b": "1"}),
        ("a=1&a=", {"a": "1"}),
        ("name=J%C3%BCrgen+M", {"name": "Jürgen M"}),
        ("x=%2F%26", {"x": "/&"}),
    ],
)
def test_join_query(query: str, expected: dict[str, str]) -> None:
    assert join_query(query) == expected
