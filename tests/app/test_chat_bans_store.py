"""Chat-wide bans' rows against a real Azurite (adapters/chat_bans.py): audited once, lifted,
and how stale another instance's copy may be (chat.chat_bans.TTL_S; the banning one: none)."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator

import pytest

from adapters.chat_bans import ChatBans
from adapters.table_store import TableStore
from chat import chat_bans, storage_settings
from chat.plan import ChatBan
from tests.support.azurite import Azurite

from .conftest import empty_tables

ACCOUNT = "aad:member-1"


@pytest.fixture
async def instances(azurite: Azurite) -> AsyncIterator[list[ChatBans]]:
    """Two instances (separate clients, separate copies)."""
    empty_tables(azurite.connection_string)
    settings = storage_settings.parse_connection_string("ChatStorage", azurite.connection_string)
    stores = [TableStore(settings), TableStore(settings)]
    yield [ChatBans(store) for store in stores]
    for store in stores:
        await store.close()


def ban(until: float | None, ce: str) -> ChatBan:
    audit = {"PartitionKey": chat_bans.AUDIT_PARTITION, "RowKey": ce, "by": "admin"}
    return ChatBan(audit, ACCOUNT, "aad.member-1.Mel", until)


async def test_a_ban_counts_at_once_here_and_within_the_ttl_elsewhere(instances) -> None:
    here, there = instances
    now = time.time()
    assert await here.until(ACCOUNT, now) is None
    assert await there.until(ACCOUNT, now) is None  # copied: not banned
    assert await here.apply(ban(now + 60, "ce-1")) is True
    assert await here.apply(ban(now + 60, "ce-1")) is False  # a retried event: audited once
    assert await here.until(ACCOUNT, now) == pytest.approx(now + 60)
    assert await there.until(ACCOUNT, now + 1) is None  # its copy, younger than TTL_S
    assert await there.until(ACCOUNT, now + chat_bans.TTL_S) == pytest.approx(now + 60)

    assert await here.apply(ban(math.inf, "ce-2")) is True
    assert await here.until(ACCOUNT, now) == math.inf  # stored as 0: until lifted
    assert await here.apply(ban(None, "ce-3")) is True  # unban: the row is gone
    assert await here.until(ACCOUNT, now) is None
    assert await here.apply(ban(None, "ce-4")) is True  # lifting no ban is fine
