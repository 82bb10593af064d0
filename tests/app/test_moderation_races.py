"""Moderation's races and expiry through the registered functions, on Azurite (issue 19):
two moderators acting at once (on one member, on the room's record), a moderator losing the
role while acting, and bans and mutes that expire with no timer (checked at use, real clock)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import azure.functions as func
import pytest

import function_app
from adapters.moderation_store import ModerationStore
from adapters.table_store import TableStore
from chat import moderation, roles, storage_settings
from chat.identity import encode_user_id
from chat.plan import Moderate
from tests.support.azurite import Azurite
from tests.support.waiting import until

from .conftest import RecordingService, get_request
from .test_moderation_store import read_rows_together
from .test_moderation_webhook import MEMBER, OLGA, OWNER, command, join

MOD_A = encode_user_id("aad", "mod-a", "Ann")
MOD_B = encode_user_id("github", "mod-b", "Ben")


@pytest.fixture
async def other_instance(azurite: Azurite) -> AsyncIterator[ModerationStore]:
    """Moderation's rows as another instance reads and writes them (its own client)."""
    settings = storage_settings.parse_connection_string("ChatStorage", azurite.connection_string)
    store = TableStore(settings)
    yield ModerationStore(store)
    await store.close()


def answer(response: func.HttpResponse) -> str:
    """ "done" for 204, else the rejection's message."""
    if response.status_code == 204:
        return "done"
    assert response.status_code == 200, response.get_body()
    body = json.loads(response.get_body())
    assert body["event"] == "rejected", body
    return str(body["message"])


async def room_with_moderators(room: str) -> None:
    """OWNER owns `room` (its first joiner) and appoints MOD_A and MOD_B."""
    await join(OWNER, "owner-conn", room)
    for i, mod in enumerate((MOD_A, MOD_B)):
        frame = {"type": "mod", "room": room, "user": mod, "on": True}
        assert answer(await command(frame, OWNER, "owner-conn", f"mod-{room}-{i}")) == "done"


async def audit(store: ModerationStore, room: str) -> list[dict]:
    query = f"PartitionKey eq 'audit|{room}'"
    rows, _ = await store.store.query_state("audit", query, {}, ["action", "by", "target"], 50)
    return rows


async def test_two_moderators_ban_and_mute_one_member_at_once(
    signed_in_app: RecordingService,
    other_instance: ModerationStore,
) -> None:
    room = "twomods"
    await room_with_moderators(room)
    await join(MEMBER, "member-conn", room)
    ban = {"type": "ban", "room": room, "user": MEMBER, "minutes": 10}
    mute = {"type": "mute", "room": room, "user": MEMBER, "minutes": 5}
    answers = await asyncio.gather(
        command(ban, MOD_A, "conn-a", "ban-1"), command(mute, MOD_B, "conn-b", "mute-1")
    )
    assert [answer(a) for a in answers] == ["done", "done"]
    now = time.time()
    facts = await other_instance.facts(room, "aad:member-1", now, fresh=True)
    assert facts.banned(now) and facts.muted(now)
    rows = [(r["action"], r["by"]) for r in await audit(other_instance, room)]
    assert sorted(rows) == sorted([("mod", OWNER), ("mod", OWNER), ("ban", MOD_A), ("mute", MOD_B)])
    # And two at once on the same member, banning: both audited, one ban, still banned.
    again = await asyncio.gather(
        command(ban | {"minutes": None}, MOD_A, "conn-a", "ban-2"),
        command(ban, MOD_B, "conn-b", "ban-3"),
    )
    assert [answer(a) for a in again] == ["done", "done"]
    facts = await other_instance.facts(room, "aad:member-1", time.time(), fresh=True)
    assert facts.ban_until is not None and facts.banned(time.time())
    assert sum(r["action"] == "ban" for r in await audit(other_instance, room)) == 3


async def test_two_moderators_change_the_rooms_record_at_once(
    signed_in_app: RecordingService,
    other_instance: ModerationStore,
) -> None:
    room = "record"
    await room_with_moderators(room)
    # Both writes read the record before either writes: one loses the ETag race, reads again.
    stores = [function_app.runtime.configured().events.effects.moderation, other_instance]
    read_rows_together(stores)
    audit_a = {"PartitionKey": f"audit|{room}", "RowKey": "ce-a", "by": MOD_A, "action": "x"}
    audit_b = {"PartitionKey": f"audit|{room}", "RowKey": "ce-b", "by": MOD_B, "action": "x"}
    await asyncio.gather(
        stores[0].apply(Moderate(room, audit_a, roles.SLOWMODE, value=30)),
        stores[1].apply(Moderate(room, audit_b, roles.TOPIC, value="Rust only")),
    )
    body = await room_info(room)
    assert (body["slowModeSeconds"], body["topic"]) == (30, "Rust only")
    assert body["owner"] == OWNER and sorted(body["moderators"]) == sorted([MOD_A, MOD_B])
    # Through the webhook, at once: slow mode off and a new topic, both kept.
    both = await asyncio.gather(
        command({"type": "slowmode", "room": room, "seconds": 0}, MOD_A, "conn-a", "s-1"),
        command({"type": "topic", "room": room, "topic": "Go"}, MOD_B, "conn-b", "t-1"),
    )
    assert [answer(a) for a in both] == ["done", "done"]
    body = await room_info(room)
    assert (body["slowModeSeconds"], body["topic"]) == (0, "Go")


async def room_info(room: str) -> dict:
    request = get_request(f"http://localhost/api/rooms/{room}", OLGA, room=room)
    response = await function_app.room_info(request)
    assert response.status_code == 200, response.get_body()
    return dict(json.loads(response.get_body()))


@pytest.mark.parametrize("round_", range(3))
async def test_a_moderator_removed_while_banning(
    signed_in_app: RecordingService,
    other_instance: ModerationStore,
    round_: int,
) -> None:
    """The owner removes MOD_A while MOD_A bans a member: the ban happens (audited) or is
    refused (nothing written), never half of it."""
    room = f"demote{round_}"
    await room_with_moderators(room)
    await join(MEMBER, "member-conn", room)
    demote = {"type": "mod", "room": room, "user": MOD_A, "on": False}
    ban = {"type": "ban", "room": room, "user": MEMBER, "minutes": None}
    demoted, banned = await asyncio.gather(
        command(demote, OWNER, "owner-conn", f"demote-{round_}"),
        command(ban, MOD_A, "conn-a", f"ban-{round_}"),
    )
    assert answer(demoted) == "done"
    facts = await other_instance.facts(room, "aad:member-1", time.time(), fresh=True)
    audited = [r for r in await audit(other_instance, room) if r["action"] == "ban"]
    if answer(banned) == "done":
        assert facts.banned(time.time()) and len(audited) == 1
    else:
        assert answer(banned) == roles.NOT_MODERATOR
        assert not facts.banned(time.time()) and audited == []
    assert facts.record is not None and facts.record.moderator_accounts() == {"github:mod-b"}
    # Now no longer a moderator: refused, whatever its connection state says.
    late = await command(ban, MOD_A, "conn-a", f"late-{round_}")
    assert answer(late) == roles.NOT_MODERATOR


async def history_status(room: str, principal_id: str) -> int:
    url = f"http://localhost/api/rooms/{room}/messages"
    request = get_request(url, ("aad", principal_id, "Mel"), room=room)
    return (await function_app.room_messages(request)).status_code


def change(room: str, action: str, until: float, ce: str) -> Moderate:
    audit = {"PartitionKey": f"audit|{room}", "RowKey": ce, "by": OWNER, "action": action}
    return Moderate(room, audit, action, "aad:member-1", MEMBER, until=until, at=0.0)


async def test_a_ban_and_a_mute_expire_at_use_with_no_timer(
    signed_in_app: RecordingService,
    other_instance: ModerationStore,
) -> None:
    """Rows written by another instance expire seconds from now: the webhook and the history
    route refuse until then and admit after, with nothing run at the expiry (the instance's
    copy, read before it, holds the time and is checked against the clock at each use)."""
    room = "expiry"
    await join(OWNER, "owner-conn", room)
    state = await join(MEMBER, "member-conn", room)
    await other_instance.apply(change(room, roles.MUTE, time.time() + 2.0, "mute-1"))
    # The webhook's copy of the member's facts (read at the join) is from before the mute:
    # another instance's change counts within FACTS_TTL_S; this test starts from it at once.
    webhook_copy = function_app.runtime.configured().events.effects.moderation
    webhook_copy.forget_room(room)
    said = {"type": "message", "room": room, "message": "hello"}
    assert "muted in expiry" in answer(await command(said, MEMBER, "member-conn", "m-1", state))
    sent: list[int] = []

    async def speaks() -> bool:
        response = await command(said, MEMBER, "member-conn", f"m-{len(sent) + 2}", state)
        sent.append(response.status_code)
        return response.status_code == 204

    await until(speaks, timeout=moderation.FACTS_TTL_S, what="the mute expired")

    await other_instance.apply(change(room, roles.BAN, time.time() + 2.0, "ban-1"))
    webhook_copy.forget_room(room)
    rejoin = {"type": "join", "room": room}
    assert "banned from expiry" in answer(await command(rejoin, MEMBER, "member-2", "j-1"))
    assert await history_status(room, "member-1") == 403
    assert "banned from expiry" in answer(await command(rejoin, MEMBER, "member-2", "j-2"))

    async def admitted() -> bool:
        return await history_status(room, "member-1") == 200

    await until(admitted, timeout=moderation.FACTS_TTL_S, what="the ban expired")
    assert answer(await command(rejoin, MEMBER, "member-2", "j-3")) == "done"
