"""Chat-wide bans (issue 19), the light part: what negotiate and connect need to refuse a
banned account. Pure and cheap to import (negotiate, the hottest path, reads it); the admin's
command is decided in chat/moderation.py (chat_ban), the rows are adapters/chat_bans.py's.

A ban is read through each instance's copy, at most TTL_S old: negotiate pays no table read
per call, a ban made on another instance counts there within TTL_S, and on the instance that
banned at once (it drops its copy of the account when it writes the row).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from chat.roles import account

__all__ = ["account", "banned", "refusal", "until_text"]

TTL_S = 10.0  # how stale an instance's view of a chat-wide ban may be
PARTITION = "chatban"  # RowKey: the account's key (adapters.table_store.user_key)
AUDIT_PARTITION = "chataudit"  # RowKey: the event's stable id


def banned(until: float | None, now: float) -> bool:
    """`until`: epoch seconds, math.inf until lifted, None: no ban row."""
    return until is not None and until > now


def until_text(until: float | None) -> str:
    if until is None or math.isinf(until):
        return "until it is lifted"
    moment = datetime.fromtimestamp(until, UTC).isoformat(timespec="milliseconds")
    return "until " + moment.replace("+00:00", "Z")


def refusal(until: float | None, now: float) -> str | None:
    """Why a connection (negotiate, connect) is refused; None: not banned."""
    if not banned(until, now):
        return None
    return f"You are banned from the chat {until_text(until)}."
