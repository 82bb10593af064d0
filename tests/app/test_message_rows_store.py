"""Each instance's copy of the message rows it wrote (adapters/message_rows.py), against a real
Azurite: two executors with their own copies and store clients are two instances. A copy saves
the find; it must never cost an update, bring text back, or act twice on a retried event."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from adapters.effects import Effects
from adapters.message_rows import MessageRows
from adapters.table_store import TableStore
from chat import connection_state, edits, events
from chat.cloudevents import CloudEvent
from chat.plan import Plan
from tests.support.azurite import Azurite

from .conftest import RecordingService, configured, stateful
from .test_edits_store import MESSAGE, closed, decided, frames, instance, page, rows


def message_id(ce_id: str, connection: str) -> str:
    return events.stable_id(
        CloudEvent(MESSAGE, ce_id, "sample_chatapp", connection, "", "", "", None)
    )


def count_calls(executor: Effects, method: str) -> list[Any]:
    """The arguments of each call this instance makes to one of its store's reads."""
    calls: list[Any] = []
    read = getattr(executor.store, method)

    async def counted(*args: Any) -> Any:
        calls.append(args)
        return await read(*args)

    setattr(executor.store, method, counted)
    return calls


def count_finds(executor: Effects) -> list[Any]:
    """The store's finds of this instance (its copy answers the others)."""
    return count_calls(executor, "find_message")


async def run(executor: Effects, body: dict[str, Any], user: str, ce_id: str, conn: str) -> Plan:
    return await executor.carry_out(decided(body, user, ce_id, conn))


async def post(executor: Effects, text: str = "typo", ce_id: str = "p") -> str:
    body = {"type": "message", "room": "lobby", "message": text}
    plan = await run(executor, body, "alice", ce_id, "c1")
    assert plan.answer.status == 204
    return message_id(ce_id, "c1")


async def deleted_elsewhere() -> tuple[Effects, Effects, str]:
    """Two instances; `one` posts "secret" (and keeps its copy of the row), `two` deletes it."""
    one, two = instance(), instance()
    posted = await post(one, "secret")
    delete = {"type": "delete", "room": "lobby", "id": posted}
    assert (await run(two, delete, "alice", "d", "c2")).answer.status == 204
    return one, two, posted


def refusal(plan: Plan) -> str:
    return str(json.loads(plan.answer.body).get("message")) if plan.answer.status == 200 else ""


@pytest.mark.parametrize("keyed_by", ["ce-time", "handler clock"])
async def test_acting_on_a_row_this_instance_wrote_reads_nothing(
    app: RecordingService, azurite: Azurite, keyed_by: str
) -> None:
    one = instance()
    finds = count_finds(one)
    if keyed_by == "ce-time":  # one insert (the ETag its answer gives)
        body = json.dumps({"type": "message", "room": "lobby", "message": "typo"}).encode()
        now = time.time()
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        event = CloudEvent(
            MESSAGE, "p", "sample_chatapp", "c1", "", "alice", connection_state.encode({}), at
        )
        plan = events.command(event, body, "text/plain", configured().settings, now)
        assert (await one.carry_out(plan)).answer.status == 204
        posted = message_id("p", "c1")
        assert not any("row" in r for r in rows(azurite))  # no id marker row
    else:  # with an id marker row, in one transaction (the entity's ETag is the second)
        posted = await post(one)
    edit = {"type": "edit", "room": "lobby", "id": posted, "message": "fixed"}
    react = {"type": "react", "room": "lobby", "id": posted, "emoji": "👍"}
    assert (await run(one, edit, "alice", "e", "c1")).answer.status == 204
    assert (await run(one, react, "alice", "r", "c1")).answer.status == 204
    assert finds == []
    [shown] = await page()
    assert shown["message"] == "fixed" and shown["reactions"][0]["count"] == 1
    await closed(one)


async def test_two_instances_reacting_from_their_copies_at_once_are_both_counted(
    app: RecordingService, azurite: Azurite
) -> None:
    one, two = instance(), instance()
    posted = await post(one)
    await two.messages.find("lobby", posted, None, True)  # two read it too: both hold a copy
    finds_one, finds_two = count_finds(one), count_finds(two)
    react = {"type": "react", "room": "lobby", "id": posted, "emoji": "👍"}
    plans = await asyncio.gather(
        run(one, react, "alice", "a", "c1"), run(two, react, "bob", "b", "c2")
    )
    assert [p.answer.status for p in plans] == [204, 204]
    [shown] = await page()
    assert shown["reactions"][0]["count"] == 2
    assert sorted(shown["reactions"][0]["users"]) == ["alice", "bob"]
    assert frames(app, "reactions")[-1]["reactions"][0]["count"] == 2
    # Both decided on their copies; the loser's ETag failed, its copy was dropped, and it
    # read the row once and toggled again on the winner's state.
    assert len(finds_one) + len(finds_two) == 1
    await closed(one, two)


async def test_an_edit_from_a_stale_copy_after_a_delete_elsewhere_is_refused(
    app: RecordingService, azurite: Azurite
) -> None:
    one, two, posted = await deleted_elsewhere()
    edit = {"type": "edit", "room": "lobby", "id": posted, "message": "secret again"}
    refused = await run(one, edit, "alice", "e", "c1")
    assert refusal(refused) == edits.WAS_DELETED
    [row] = [r for r in rows(azurite) if "row" not in r]  # not the id's marker row
    assert row["deleted"] is True and "message" not in row
    assert not any("secret" in json.dumps(r, default=str) for r in rows(azurite))
    assert frames(app, "edited") == []
    await closed(one, two)


async def test_an_edit_from_a_stale_copy_after_a_reaction_elsewhere_keeps_it(
    app: RecordingService, azurite: Azurite
) -> None:
    one, two = instance(), instance()
    posted = await post(one)
    react = {"type": "react", "room": "lobby", "id": posted, "emoji": "🎉"}
    assert (await run(two, react, "bob", "r", "c2")).answer.status == 204
    finds = count_finds(one)
    edit = {"type": "edit", "room": "lobby", "id": posted, "message": "fixed"}
    assert (await run(one, edit, "alice", "e", "c1")).answer.status == 204
    assert len(finds) == 1  # the copy's ETag failed: one read of the row, then the edit
    [shown] = await page()
    assert shown["message"] == "fixed"
    assert shown["reactions"] == [{"emoji": "🎉", "count": 1, "users": ["bob"]}]
    await closed(one, two)


async def test_a_retried_reaction_acts_once_and_tells_the_room_the_state_as_stored(
    app: RecordingService, azurite: Azurite
) -> None:
    one, two = instance(), instance()
    posted = await post(one)
    react = {"type": "react", "room": "lobby", "id": posted, "emoji": "👍"}
    assert (await run(one, react, "alice", "r", "c1")).answer.status == 204
    assert (await run(two, react, "bob", "s", "c2")).answer.status == 204
    before = rows(azurite)
    # The service retries "r" on the instance that did it: its copy knows "r" but not "s".
    retried = await run(one, react, "alice", "r", "c1")
    assert retried.answer.status == 204 and retried.notes.get("duplicate") == posted
    assert rows(azurite) == before  # not written again: a toggle twice would take it back
    last = frames(app, "reactions")[-1]
    assert last["reactions"][0]["count"] == 2  # the row as stored, not the stale copy
    # And on the other instance, which has no copy that knows it.
    again = await run(two, react, "alice", "r", "c1")
    assert again.answer.status == 204 and rows(azurite) == before
    await closed(one, two)


async def test_a_reply_after_a_delete_elsewhere_quotes_no_text(
    app: RecordingService, azurite: Azurite
) -> None:
    one, two, posted = await deleted_elsewhere()
    reply = {"type": "message", "room": "lobby", "message": "ok", "replyTo": posted}
    assert (await run(one, reply, "alice", "q", "c1")).answer.status == 204
    assert not any("secret" in json.dumps(r, default=str) for r in rows(azurite))
    replied = next(m for m in await page() if m.get("message") == "ok")
    assert replied["replyTo"] == {"id": posted, "from": "alice", "deleted": True}
    await closed(one, two)


async def test_the_copy_is_bounded_least_recently_used_first(
    app: RecordingService, azurite: Azurite
) -> None:
    store = TableStore(stateful().storage)
    copies = MessageRows(lambda: store, rows=2)
    one = instance()
    ids = [await post(one, f"m{n}", f"p{n}") for n in range(3)]
    for each in ids:
        await copies.find("lobby", each, None, True)
    assert len(copies) == 2
    assert (await copies.find("lobby", ids[2], None, False)).cached  # type: ignore[union-attr]
    assert not (await copies.find("lobby", ids[0], None, False)).cached  # type: ignore[union-attr]
    # A huge row is not kept at all (it would push out many).
    small = MessageRows(lambda: store, chars=16 * 64)
    await small.find("lobby", ids[1], None, True)
    assert len(small) == 0
    await store.close()
    await closed(one)


async def test_a_delete_searches_for_replies_only_when_a_reply_marked_the_message(
    app: RecordingService, azurite: Azurite
) -> None:
    one = instance()
    searches = count_calls(one, "find_replies")
    alone = await post(one, "alone", "p1")
    delete = {"type": "delete", "room": "lobby", "id": alone}
    assert (await run(one, delete, "alice", "d1", "c1")).answer.status == 204
    assert searches == []
    quoted = await post(one, "secret", "p2")
    reply = {"type": "message", "room": "lobby", "message": "ok", "replyTo": quoted}
    assert (await run(one, reply, "bob", "q", "c2")).answer.status == 204
    delete = {"type": "delete", "room": "lobby", "id": quoted}
    assert (await run(one, delete, "alice", "d2", "c1")).answer.status == 204
    assert len(searches) == 1
    assert not any("secret" in json.dumps(r, default=str) for r in rows(azurite))
    await closed(one)


async def test_a_delete_from_a_copy_made_before_a_reply_elsewhere_still_scrubs_its_quote(
    app: RecordingService, azurite: Azurite
) -> None:
    one, two = instance(), instance()
    posted = await post(one, "secret")  # one's copy: not replied to
    reply = {"type": "message", "room": "lobby", "message": "ok", "replyTo": posted}
    assert (await run(two, reply, "bob", "q", "c2")).answer.status == 204
    delete = {"type": "delete", "room": "lobby", "id": posted}
    assert (await run(one, delete, "alice", "d", "c1")).answer.status == 204
    assert not any("secret" in json.dumps(r, default=str) for r in rows(azurite))
    replied = next(m for m in await page() if m.get("message") == "ok")
    assert replied["replyTo"] == {"id": posted, "from": "alice", "deleted": True}
    await closed(one, two)
