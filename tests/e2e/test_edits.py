"""Edit, delete, reply, react and mention over the local stack (Azurite, emulator, host):
every frame of issue 18 as two plain-WebSocket clients see it, and history afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import aiohttp
import pytest

from tests.support.chat_client import ChatClient, Frame, join
from tests.support.stack import LocalStack
from tests.support.stack import local_stack as start_stack
from tests.support.waiting import until

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with start_stack() as started:
        yield started


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def of(kind: str, message_id: str):
    return lambda f: f.get("type") == kind and f.get("id") == message_id


async def chat(client: ChatClient, text: str) -> Frame:
    return await client.wait_for(lambda f: "type" not in f and f.get("message") == text)


async def rejected(client: ChatClient) -> Frame:
    return await client.wait_for(lambda f: f.get("event") == "rejected")


async def test_every_frame_of_acting_on_messages(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    room = _name("acts")
    alice_name, bob_name = _name("alice"), _name("bob")
    alice = await join(session, stack.host_base_url, alice_name)
    bob = await join(session, stack.host_base_url, bob_name)
    try:
        await alice.join_room(room)
        await bob.join_room(room)
        await alice.say_in(room, "teh plan")
        first = await chat(bob, "teh plan")
        message_id = first["id"]

        # edit: the room sees the new text; someone else's edit is refused with the reason.
        await alice.send({"type": "edit", "room": room, "id": message_id, "message": "the plan"})
        edited = await bob.wait_for(of("edited", message_id))
        assert edited["message"] == "the plan" and edited["editedAt"]
        await bob.send({"type": "edit", "room": room, "id": message_id, "message": "mine"})
        assert "only its author" in (await rejected(bob))["message"]

        # react: whole state, both counted, a toggle takes one back; a non-emoji is refused.
        await bob.send({"type": "react", "room": room, "id": message_id, "emoji": "👍🏽"})
        state = await alice.wait_for(of("reactions", message_id))
        assert state["reactions"] == [{"emoji": "👍🏽", "count": 1, "users": [bob_name]}]
        await alice.send({"type": "react", "room": room, "id": message_id, "emoji": "👍🏽"})
        state = await alice.wait_for(of("reactions", message_id))
        assert state["reactions"][0]["count"] == 2
        await bob.send({"type": "react", "room": room, "id": message_id, "emoji": "ok"})
        assert (await rejected(bob))["message"].startswith("No reaction")

        # reply: the quote; a reply to no message of the room is refused.
        await bob.send(
            {"type": "message", "room": room, "message": "agreed", "replyTo": message_id}
        )
        reply = await chat(alice, "agreed")
        assert reply["replyTo"] == {"id": message_id, "from": alice_name, "excerpt": "the plan"}
        await bob.send({"type": "message", "room": room, "message": "lost", "replyTo": "0" * 24})
        assert "replies to is not in" in (await rejected(bob))["message"]

        # mention: bob gets a mention frame on his connection, the message lists him.
        await alice.say_in(room, f"@{bob_name} look")
        mentioned = await chat(bob, f"@{bob_name} look")
        assert mentioned["mentions"] == [bob_name]
        note = await bob.wait_for(lambda f: f.get("type") == "mention")
        assert note["id"] == mentioned["id"] and note["room"] == room

        # delete: the room sees it; history keeps a tombstone without the text.
        await alice.send({"type": "delete", "room": room, "id": message_id})
        await bob.wait_for(of("deleted", message_id))
        url = f"{stack.host_base_url}/api/rooms/{room}/messages"
        shown: dict[str, dict] = {}

        async def quotes_scrubbed() -> bool:
            # The replies' quotes are rewritten after the room is told (the last step).
            async with session.get(url) as response:
                shown.update({m["id"]: m for m in (await response.json())["messages"]})
            return shown[reply["id"]]["replyTo"].get("deleted") is True

        await until(quotes_scrubbed, timeout=10, what="the reply's quote of a deleted message")
        assert shown[message_id] == {
            "id": message_id,
            "room": room,
            "from": alice_name,
            "time": first["time"],
            "deleted": True,
        }
        # The reply's quote lost the deleted text too.
        assert shown[reply["id"]]["replyTo"] == {
            "id": message_id,
            "from": alice_name,
            "deleted": True,
        }
        assert shown[mentioned["id"]]["mentions"] == [bob_name]
    finally:
        await alice.close()
        await bob.close()
