"""--enforce-keys decisions (pure)."""

from __future__ import annotations

import azure.functions as func
import pytest

from devstack.host.function_keys import is_authorized, presented_key

A = func.AuthLevel


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({}, {}, None),
        ({}, {"code": "q"}, "q"),
        ({"x-functions-key": "h"}, {}, "h"),
        ({"x-functions-key": "h"}, {"code": "q"}, "h"),
        ({"x-functions-key": ""}, {"code": "q"}, "q"),
    ],
)
def test_presented_key(headers: dict, query: dict, expected: str | None) -> None:
    assert presented_key(headers, query) == expected


@pytest.mark.parametrize(
    ("level", "presented", "expected_key", "ok"),
    [
        (A.ANONYMOUS, None, "k", True),
        (A.FUNCTION, None, "k", False),
        (A.FUNCTION, "k", "k", True),
        (A.FUNCTION, "K", "k", False),
        (A.ADMIN, "k", "k", True),
        (A.ADMIN, "wrong", "k", False),
        (A.FUNCTION, "", None, False),
    ],
)
def test_is_authorized(
    level: func.AuthLevel, presented: str | None, expected_key: str | None, ok: bool
) -> None:
    assert is_authorized(level, presented, expected_key) is ok
