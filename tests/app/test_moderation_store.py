"""Moderation's rows against a real Azurite (adapters/moderation_store.py): the first-joiner
race, bans and mutes with their expiry, two moderators changing a room at once, the shared
slow-mode slot, and how stale an instance's copy of the facts may be."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.moderation_store import ModerationStore
from adapters.table_store import TableStore
from chat import moderation, roles, storage_settings
from chat.identity import encode_user_id
from chat.plan import Moderate, ResolveReport
from tests.support.azurite import Azurite

from .conftest import empty_tables

OWNER = encode_user_id("github", "42", "Olga")
MEMBER = encode_user_id("aad", "member-1", "Mel")
ANNA = encode_user_id("aad", "anna", "Anna")
BEN = encode_user_id("aad", "ben", "Ben")


@pytest.fixture
async def instances(azurite: Azurite) -> AsyncIterator[list[ModerationStore]]:
    """Two instances' stores (separate clients, separate copies of the facts)."""
    empty_tables(azurite.connection_string)
    settings = storage_settings.parse_connection_string("ChatStorage", azurite.connection_string)
    stores = [TableStore(settings), TableStore(settings)]
    yield [ModerationStore(store) for store in stores]
    for store in stores:
        await store.close()


def change(action: str, target: str | None = MEMBER, ce: str = "ce-1", **fields: Any) -> Moderate:
    audit = {
        "PartitionKey": "audit|dev",
        "RowKey": ce,
        "by": OWNER,
        "action": action,
        "room": "dev",
        "target": target or "",
    }
    account = roles.account(target) if target else None
    return Moderate("dev", audit, action, account, target, **fields)


def read_rows_together(stores: list[ModerationStore]) -> None:
    """Every store's first single-row read waits for all of them: their first ETag writes
    race (the losers' re-reads go on alone)."""
    barrier = asyncio.Barrier(len(stores))
    for store in stores:
        read = store._row
        first = [True]

        async def row(room: str, key: str, what: str, read: Any = read, first=first) -> Any:
            found = await read(room, key, what)
            if first[0]:
                first[0] = False
                await asyncio.wait_for(barrier.wait(), 10)
            return found

        store._row = row  # type: ignore[method-assign]


async def test_two_first_joiners_of_a_new_room_make_exactly_one_owner(instances) -> None:
    a, b = instances
    won = await asyncio.gather(a.claim("dev", "aad:anna", ANNA), b.claim("dev", "aad:ben", BEN))
    assert sorted(won) == [False, True]
    facts = await a.facts("dev", "aad:anna", time.time(), fresh=True)
    assert facts.record is not None
    winner = "aad:anna" if won[0] else "aad:ben"
    assert facts.record.owner == winner
    # A later joiner changes nothing.
    assert await b.claim("dev", "aad:carl", MEMBER) is False
    again = await b.facts("dev", "x", time.time(), fresh=True)
    assert again.record is not None and again.record.owner == winner


async def test_a_ban_is_read_until_it_expires_or_is_lifted(instances) -> None:
    store, _ = instances
    now = time.time()
    assert await store.apply(change(roles.BAN, until=now + 60)) is True
    facts = await store.facts("dev", "aad:member-1", now, fresh=True)
    assert facts.banned(now) and not facts.banned(now + 60)
    assert facts.kicked_at == 0.0  # `change` sets no time: the default
    assert not moderation.may_read_history(facts, now)
    assert await store.apply(change(roles.UNBAN, ce="ce-2")) is True
    assert not (await store.facts("dev", "aad:member-1", now, fresh=True)).banned(now)


async def test_a_kick_is_remembered_with_its_time(instances) -> None:
    store, _ = instances
    await store.apply(change(roles.KICK, at=1234.5))
    facts = await store.facts("dev", "aad:member-1", time.time(), fresh=True)
    assert facts.kicked_at == 1234.5 and facts.ban_until is None


async def test_a_ban_until_lifted_and_a_mute(instances) -> None:
    store, _ = instances
    now = time.time()
    await store.apply(change(roles.BAN, until=math.inf))
    await store.apply(change(roles.MUTE, ce="ce-2", until=now + 300))
    facts = await store.facts("dev", "aad:member-1", now, fresh=True)
    assert facts.ban_until == math.inf and facts.banned(now + 10**9)
    assert facts.mute_until == pytest.approx(now + 300) and facts.muted(now)
    others = await store.facts("dev", "aad:someone", now, fresh=True)
    assert others == moderation.Facts()


async def test_a_retried_command_is_audited_once(instances) -> None:
    store, _ = instances
    first = change(roles.BAN, until=time.time() + 60)
    assert await store.apply(first) is True
    assert await store.apply(first) is False  # the same event again: the audit row is there
    rows, _ = await store.store.query_state(
        "audit", "PartitionKey eq 'audit|dev'", {}, ["RowKey", "action", "by"], 10
    )
    assert [(r["RowKey"], r["action"], r["by"]) for r in rows] == [("ce-1", "ban", OWNER)]


async def test_two_moderators_appointed_at_once_both_stay(instances) -> None:
    a, b = instances
    await a.claim("dev", "github:42", OWNER)
    read_rows_together([a, b])
    await asyncio.gather(
        a.apply(change(roles.MOD, ANNA, ce="ce-a", value=True)),
        b.apply(change(roles.MOD, BEN, ce="ce-b", value=True)),
    )
    facts = await a.facts("dev", "x", time.time(), fresh=True)
    assert facts.record is not None
    assert facts.record.moderator_accounts() == {"aad:anna", "aad:ben"}
    assert facts.record.owner == "github:42"  # kept through every write
    await a.apply(change(roles.MOD, ANNA, ce="ce-c", value=False))
    await a.apply(change(roles.SLOWMODE, None, ce="ce-d", value=30))
    await a.apply(change(roles.TOPIC, None, ce="ce-e", value="Rust"))
    facts = await b.facts("dev", "x", time.time(), fresh=True)
    assert facts.record is not None
    assert facts.record.moderator_accounts() == {"aad:ben"}
    assert (facts.record.slow_mode_s, facts.record.topic) == (30, "Rust")


async def test_slow_mode_gives_one_slot_to_racing_connections(instances) -> None:
    a, b = instances
    now = time.time()
    read_rows_together([a, b])
    waits = await asyncio.gather(
        a.take_slot("dev", "aad:anna", 30, now), b.take_slot("dev", "aad:anna", 30, now)
    )
    assert sorted(waits)[0] == 0.0 and sorted(waits)[1] == pytest.approx(30.0, abs=0.01)
    assert await a.take_slot("dev", "aad:anna", 30, now + 29) == pytest.approx(1.0, abs=0.01)
    assert await a.take_slot("dev", "aad:anna", 30, now + 30) == 0.0
    assert await a.take_slot("dev", "aad:ben", 30, now) == 0.0  # per person


async def test_an_instances_copy_is_stale_for_at_most_the_ttl(instances) -> None:
    a, b = instances
    now = time.time()
    assert not (await a.facts("dev", "aad:member-1", now, fresh=False)).banned(now)
    await b.apply(change(roles.BAN, until=math.inf))
    # b banned: b's own copy knows at once; a's may serve the old facts until the TTL is up.
    assert (await b.facts("dev", "aad:member-1", now, fresh=False)).banned(now)
    assert not (await a.facts("dev", "aad:member-1", now + 1, fresh=False)).banned(now)
    later = now + moderation.FACTS_TTL_S
    assert (await a.facts("dev", "aad:member-1", later, fresh=False)).banned(later)


async def test_reports_open_once_per_person_and_close_once(instances) -> None:
    a, b = instances
    entity = {
        "PartitionKey": moderation.REPORTS,
        "RowKey": "dev|abc|" + "1" * 32,
        "room": "dev",
        "id": "abc",
        "reporter": MEMBER,
        "reason": "spam",
        "time": "2026-12-07T04:00:00.000Z",
        "open": True,
    }
    assert await a.store.create_state(entity, "file report") is True
    assert await b.store.create_state(entity, "file report") is False
    listed = moderation.reports_body(await b.open_reports(10))["reports"]
    assert [(r["report"], r["reason"]) for r in listed] == [(entity["RowKey"], "spam")]

    def resolving(ce: str) -> ResolveReport:
        audit = {"PartitionKey": "audit|dev", "RowKey": ce, "action": "resolve"}
        fields = {"open": False, "resolution": "dismiss", "resolvedBy": OWNER}
        return ResolveReport(entity["RowKey"], fields, audit)

    done = await asyncio.gather(a.resolve(resolving("ce-a")), b.resolve(resolving("ce-b")))
    assert sorted(done) == [False, True]  # two admins at once: one closes it
    assert await a.open_reports(10) == []
    assert await a.resolve(resolving("ce-c")) is False
