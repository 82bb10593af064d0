"""Blocks against a real Azurite (adapters/blocks_store.py) and through the registered
functions in sign-in mode: the rows, two devices at once, the groups, GET /api/me/blocks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import azure.functions as func
import pytest

import function_app
from adapters.blocks_store import BlocksStore
from adapters.table_store import TableStore
from chat import blocks, direct, rooms, storage_settings
from chat.identity import Caller, encode_user_id, parse_user_id
from tests.support.azurite import Azurite

from .conftest import empty_tables, get_request
from .test_moderation_webhook import command

ALICE = encode_user_id("aad", "a-1", "Alice")
BOB = encode_user_id("github", "b-2", "Bob")
CAROL = encode_user_id("aad", "c-3", "Carol")
ALICE_ACCOUNT = "aad:a-1"
NOW = 1_800_000_000.0


def person(user_id: str) -> Caller:
    caller = parse_user_id(user_id)
    assert caller is not None
    return caller


@pytest.fixture
async def stores(azurite: Azurite) -> AsyncIterator[list[BlocksStore]]:
    """Two instances (two devices' events may land on either)."""
    empty_tables(azurite.connection_string)
    settings = storage_settings.parse_connection_string("ChatStorage", azurite.connection_string)
    tables = [TableStore(settings), TableStore(settings)]
    yield [BlocksStore(table) for table in tables]
    for table in tables:
        await table.close()


async def test_block_list_and_unblock_rows(stores) -> None:
    here, _ = stores
    bob_key = blocks.key("github:b-2")
    assert await here.listed(ALICE_ACCOUNT) == []
    assert await here.blocks(ALICE_ACCOUNT, bob_key) is False
    await here.save(blocks.entity(ALICE_ACCOUNT, person(BOB), NOW))
    await here.save(blocks.entity(ALICE_ACCOUNT, person(BOB), NOW + 5))  # again: one row
    rows = await here.listed(ALICE_ACCOUNT)
    assert [row["RowKey"] for row in rows] == [bob_key]
    assert blocks.body(rows) == {"blocks": [{"userId": BOB, "name": "Bob", "idp": "github"}]}
    assert await here.blocks(ALICE_ACCOUNT, bob_key) is True
    assert await here.blocks("github:b-2", blocks.key(ALICE_ACCOUNT)) is False  # one way
    await here.drop(ALICE_ACCOUNT, bob_key)
    await here.drop(ALICE_ACCOUNT, bob_key)  # gone already: fine
    assert await here.listed(ALICE_ACCOUNT) == []
    assert await here.blocks(ALICE_ACCOUNT, bob_key) is False


async def test_two_devices_blocking_at_once_both_count_and_the_same_person_once(stores) -> None:
    here, there = stores
    await asyncio.gather(
        here.save(blocks.entity(ALICE_ACCOUNT, person(BOB), NOW)),
        there.save(blocks.entity(ALICE_ACCOUNT, person(CAROL), NOW)),
        there.save(blocks.entity(ALICE_ACCOUNT, person(BOB), NOW)),
    )
    for store in stores:
        rows = await store.listed(ALICE_ACCOUNT)
        assert sorted(r["RowKey"] for r in rows) == sorted(
            [blocks.key("github:b-2"), blocks.key("aad:c-3")]
        )


# --- through the registered functions, in sign-in mode ----------------------------------------


async def my_blocks(principal: tuple[str, str, str] | None) -> func.HttpResponse:
    return await function_app.my_blocks(get_request("http://localhost/api/me/blocks", principal))


def rejection(response: func.HttpResponse) -> str:
    assert response.status_code == 200, response.get_body()
    return json.loads(response.get_body())["message"]


async def test_a_block_groups_every_open_connection_and_lists_once(signed_in_app) -> None:
    service = signed_in_app
    for connection, user in (("a-tab", ALICE), ("a-phone", ALICE), ("b-1", BOB)):
        service.connect(connection, user, *(rooms.presence_group(rooms.LOBBY, user),))
    group = blocks.group(blocks.key("github:b-2"))
    for ce_id in ("1", "1", "2"):  # a retried event, then a second block: nothing twice
        response = await command({"type": "block", "user": BOB}, ALICE, "a-tab", ce_id)
        assert response.status_code == 204, response.get_body()
    assert service.groups[group] == {"a-tab", "a-phone"}  # both devices, at once
    told = [r.json() for r in service.sends("users")]
    assert told and all(t == told[0] for t in told) and told[0]["type"] == "block"
    listed = await my_blocks(("aad", "a-1", "Alice"))
    assert listed.status_code == 200
    assert json.loads(listed.get_body()) == {
        "blocks": [{"userId": BOB, "name": "Bob", "idp": "github"}]
    }
    # Bob's DM to Alice is refused; nothing is stored or sent.
    sends_before = len(service.sends("users"))
    refused = await command({"type": "dm", "to": ALICE, "message": "hi"}, BOB, "b-1", "3")
    assert rejection(refused) == blocks.REFUSED_DM
    assert len(service.sends("users")) == sends_before
    # Bob's room message goes out with the filter that skips Alice's grouped connections.
    response = await command({"type": "message", "room": "lobby", "message": "hi"}, BOB, "b-1", "4")
    assert response.status_code == 204, response.get_body()
    (sent,) = [r for r in service.sends("groups") if r.json().get("message") == "hi"]
    assert sent.query["filter"] == f"not('{group}' in groups)"
    # Unblock: out of the group, off the list, and the DM goes through.
    response = await command({"type": "unblock", "user": BOB}, ALICE, "a-phone", "5")
    assert response.status_code == 204, response.get_body()
    assert service.groups[group] == set()
    assert json.loads((await my_blocks(("aad", "a-1", "Alice"))).get_body()) == {"blocks": []}
    conversation = direct.conversation(BOB, ALICE)
    response = await command({"type": "dm", "to": ALICE, "message": "hi"}, BOB, "b-1", "6")
    assert response.status_code == 204, response.get_body()
    assert any(r.json().get("room") == conversation for r in service.sends("users"))


async def test_a_block_here_is_seen_by_the_next_dm_though_not_blocked_was_remembered(
    signed_in_app,
) -> None:
    """A DM's "not blocked" answer is reused for NOT_BLOCKED_S on this instance, but a block
    handled here forgets it at once: Bob's next DM is refused."""
    service = signed_in_app
    service.connect("a-tab", ALICE, rooms.presence_group(rooms.LOBBY, ALICE))
    service.connect("b-1", BOB, rooms.presence_group(rooms.LOBBY, BOB))
    for ce_id in ("1", "2"):  # the second answered from memory
        response = await command({"type": "dm", "to": ALICE, "message": ce_id}, BOB, "b-1", ce_id)
        assert response.status_code == 204, response.get_body()
    response = await command({"type": "block", "user": BOB}, ALICE, "a-tab", "3")
    assert response.status_code == 204, response.get_body()
    refused = await command({"type": "dm", "to": ALICE, "message": "4"}, BOB, "b-1", "4")
    assert rejection(refused) == blocks.REFUSED_DM


async def test_the_block_cap_counts_the_rows(signed_in_app) -> None:
    service = signed_in_app
    service.connect("a-tab", ALICE, rooms.presence_group(rooms.LOBBY, ALICE))
    service.connect("b-1", BOB, rooms.presence_group(rooms.LOBBY, BOB))
    store = BlocksStore(function_app.runtime.configured().stateful.store)  # type: ignore[union-attr]
    filler = [encode_user_id("aad", f"f-{n}", f"F{n}") for n in range(blocks.MAX_BLOCKS)]
    await asyncio.gather(
        *(store.save(blocks.entity(ALICE_ACCOUNT, person(u), NOW)) for u in filler)
    )
    refused = await command({"type": "block", "user": BOB}, ALICE, "a-tab", "1")
    assert rejection(refused) == blocks.TOO_MANY
    assert len(await store.listed(ALICE_ACCOUNT)) == blocks.MAX_BLOCKS


async def test_me_blocks_needs_a_signed_in_caller(signed_in_app) -> None:
    assert (await my_blocks(None)).status_code == 401


async def test_me_blocks_without_sign_in_is_empty(app) -> None:
    request = func.HttpRequest(
        "GET", "http://localhost/api/me/blocks", params={"id": "alice"}, body=b""
    )
    response = await function_app.my_blocks(request)
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {"blocks": []}
