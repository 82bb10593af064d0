"""Opt-in function-key checks (--enforce-keys), so callers can rehearse Azure's 401s locally.

`func start` ignores auth levels; Azure requires a key for FUNCTION and ADMIN functions, passed as
the `code` query parameter or the `x-functions-key` header. One key serves both levels here.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

import azure.functions as func

KEY_SETTING = "DEVSTACK_FUNCTION_KEY"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


def new_key() -> str:
    return secrets.token_urlsafe(32)


def requires_key(auth_level: func.AuthLevel) -> bool:
    return auth_level is not func.AuthLevel.ANONYMOUS


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key the caller sent: the x-functions-key header wins over ?code= (as in Azure)."""
    header = headers.get(KEY_HEADER)
    return header if header else query.get(KEY_QUERY) or None


def is_authorized(auth_level: func.AuthLevel, presented: str | None, expected: str | None) -> bool:
    if not requires_key(auth_level):
        return True
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))
