"""Issue 19's blocks over the real local stack in sign-in mode (the emulator's OData filter
and user groups, the Functions host, Azurite), over real sockets.

"Receives nothing from the blocked person" is checked by order, not by waiting: once a third
person has the blocked person's room message, the third person sends a lobby marker; frames
on one connection arrive in order, so once the blocker has the marker, the blocked message
would have come before it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from chat.identity import encode_user_id
from tests.e2e.test_sign_in import Person
from tests.support.chat_client import ChatClient
from tests.support.stack import LocalStack, local_stack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with local_stack(sign_in=True) as started:
        yield started


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def rejected(frame: dict) -> bool:
    return frame.get("type") == "system" and frame.get("event") == "rejected"


def chat(frame: dict) -> bool:
    return "type" not in frame and "message" in frame


async def my_blocks(person: Person) -> tuple[int, Any]:
    async with person.session.get(f"{person.base_url}/api/me/blocks") as response:
        return response.status, await response.json()


async def in_room(person: Person, label: str, room: str) -> ChatClient:
    client = await person.join(label)
    await client.join_room(room)
    return client


async def nothing_from(client: ChatClient, blocked_text: str, marker_from: ChatClient) -> None:
    """`marker_from` has had the blocked text; now its lobby marker: `client` gets the marker,
    and the blocked text did not come before it."""
    marker = f"marker-{_tag()}"
    start = len(client.seen)
    await marker_from.say(marker)
    await client.wait_for(lambda f: f.get("message") == marker and f.get("room") == "lobby")
    leaked = [f for f in client.seen[start:] if f.get("message") == blocked_text]
    assert leaked == [], leaked


async def test_a_block_stops_room_messages_and_dms_and_an_unblock_restores_them(people) -> None:
    room = f"block-{_tag()}"
    (ann, _ann_id), (ben, ben_id), (cat, _) = (
        await people("aad", "ann"),
        await people("aad", "ben"),
        await people("aad", "cat"),
    )
    tab, other_tab = await in_room(ann, "ann-1", room), await in_room(ann, "ann-2", room)
    blocked, third = await in_room(ben, "ben", room), await in_room(cat, "cat", room)

    # Refusals first: yourself, nobody.
    await tab.send({"type": "block", "user": _ann_id})
    assert "yourself" in (await tab.wait_for(rejected))["message"]
    await tab.send({"type": "block", "user": encode_user_id("aad", "nobody-x", "nobody")})
    assert "no such person" in (await tab.wait_for(rejected))["message"]

    await tab.send({"type": "block", "user": ben_id})
    for client in (tab, other_tab):  # the other tab hears of it at once
        told = await client.wait_for(lambda f: f.get("type") == "block")
        assert told["user"] == ben_id and told["with"]["name"] == "ben"
    status, body = await my_blocks(ann)
    assert status == 200 and body == {"blocks": [{"userId": ben_id, "name": "ben", "idp": "aad"}]}
    assert await my_blocks(ben) == (200, {"blocks": []})
    later = await in_room(ann, "ann-3", room)  # a connection opened after the block

    await blocked.say_in(room, "troll one")
    await third.wait_chat("ben", "troll one")  # a third person still gets it
    await blocked.wait_chat("ben", "troll one")  # and so does its sender
    for client in (tab, other_tab, later):
        await nothing_from(client, "troll one", third)

    await blocked.send({"type": "dm", "to": _ann_id, "message": "psst"})
    refused = await blocked.wait_for(rejected)
    assert refused["message"] == "Message not sent: this person does not accept your messages."
    await tab.send({"type": "dm", "to": ben_id, "message": "I still may"})  # one way only
    await blocked.wait_for(lambda f: chat(f) and f["message"] == "I still may")

    await other_tab.send({"type": "unblock", "user": ben_id})
    for client in (tab, other_tab, later):
        await client.wait_for(lambda f: f.get("type") == "unblock" and f.get("user") == ben_id)
    assert await my_blocks(ann) == (200, {"blocks": []})
    await blocked.say_in(room, "hello again")
    for client in (tab, other_tab, later, third):
        await client.wait_chat("ben", "hello again")
    await blocked.send({"type": "dm", "to": _ann_id, "message": "psst again"})
    await tab.wait_for(lambda f: chat(f) and f["message"] == "psst again")
    for client in (tab, other_tab, later, blocked, third):
        await client.close()


async def test_me_blocks_needs_sign_in(stack: LocalStack) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.host_base_url}/api/me/blocks") as response,
    ):
        assert response.status == 401
