"""Issue 17: a direct message is never delivered to, nor readable by, a third person,
whatever they send. tests/e2e/test_conversations covers a forged `to`, a guessed `dm-…` id on
the history route, a join of the name and a message to it; here, over the same kind of
signed-in local stack, every other frame and route a third person could aim at a DM: acting
on its messages (edit, delete, react, typing, read), quoting one in a reply from a shared
room, the catch-up route, the name in another case, and no sign-in at all."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.support.chat_client import Frame
from tests.support.stack import LocalStack, local_stack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with local_stack(sign_in=True) as started:
        yield started


def chat(text: str):
    return lambda f: "type" not in f and f.get("message") == text


def rejected(frame: Frame) -> bool:
    return frame.get("type") == "system" and frame.get("event") == "rejected"


async def get(session: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, Any]:
    async with session.get(url, params=params) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_nothing_a_third_person_sends_reaches_or_changes_a_dm(
    stack: LocalStack, people
) -> None:
    tag = uuid.uuid4().hex[:8]
    shared = f"shared-{tag}"
    (ana, _), (ben, ben_id) = (
        await people("aad", f"ana-{tag}"),
        await people("github", f"ben-{tag}"),
    )
    (cat, _) = await people("aad", f"cat-{tag}")
    ana_ws, ben_ws, cat_ws = await ana.join("ana"), await ben.join("ben"), await cat.join("cat")
    for ws in (ana_ws, ben_ws, cat_ws):
        await ws.join_room(shared)
    await ana_ws.send({"type": "dm", "to": ben_id, "message": "the secret"})
    dm_message = await ben_ws.wait_for(chat("the secret"))
    dm, dm_id = dm_message["room"], dm_message["id"]
    assert dm.startswith("dm-")

    # Every command a third person could aim at the conversation or its message.
    aimed: list[dict[str, Any]] = [
        {"type": "edit", "room": dm, "id": dm_id, "message": "forged"},
        {"type": "delete", "room": dm, "id": dm_id},
        {"type": "react", "room": dm, "id": dm_id, "emoji": "👍"},
        {"type": "message", "room": dm, "message": "hi", "replyTo": dm_id},
        {"type": "join", "room": dm.upper()},
        {"type": "leave", "room": dm},
        # A reply from a room she is in, quoting the DM's message: no quote of it anywhere.
        {"type": "message", "room": shared, "message": "quoting", "replyTo": dm_id},
        # The conversation's name as the recipient: no such person.
        {"type": "dm", "to": dm, "message": "hello"},
        # Typing in it, naming either participant: the pair names another conversation.
        {"type": "typing", "room": dm, "to": ben_id},
        {"type": "typing", "room": dm, "to": dm_message["userId"]},
    ]
    for command in aimed:
        await cat_ws.send(command)
        refusal = await cat_ws.wait_for(rejected)
        assert refusal["message"].startswith(("Not", "Message not sent", "Could not")), command
    # Typing without a `to` is refused too (above: nobody gets a typing frame); a read
    # position answers nothing, and changes nothing either.
    await cat_ws.send({"type": "typing", "room": dm})
    await cat_ws.send({"type": "read", "room": dm, "id": dm_id})

    # The routes: not the history in any case, not its catch-up, not unsigned.
    base = f"{stack.host_base_url}/api"
    for room in (dm, dm.upper()):
        status, _ = await get(cat.session, f"{base}/rooms/{room}/messages")
        assert status == 403
        status, _ = await get(
            cat.session, f"{base}/rooms/{room}/messages", since="2020-01-01T00:00:00Z"
        )
        assert status == 403
    async with aiohttp.ClientSession() as nobody:
        status, _ = await get(nobody, f"{base}/rooms/{dm}/messages")
        assert status == 401
    status, mine = await get(cat.session, f"{base}/me/rooms")
    assert status == 200 and all(r["room"] != dm for r in mine["rooms"]), mine
    status, listing = await get(cat.session, f"{base}/rooms")
    assert status == 200 and all(not r["room"].startswith("dm-") for r in listing["rooms"])

    # The participants' DM is as it was sent: no edit, no tombstone, no reaction, no reply.
    for person in (ana, ben):
        status, page = await get(person.session, f"{base}/rooms/{dm}/messages")
        # (History leaves out the live frame's `to`: the conversation names both people.)
        as_sent = {k: v for k, v in dm_message.items() if k != "to"}
        assert status == 200 and page["messages"] == [as_sent], page
    # Nothing of it reached Cat on any frame: everything before a marker in the shared room.
    await ana_ws.say_in(shared, "marker")
    await cat_ws.wait_for(chat("marker"))
    # Her refusals echo the name she sent, and nothing else of it.
    leaked = [f for f in cat_ws.seen if not rejected(f) and _mentions(f, dm, dm_id)]
    assert leaked == [] and not [f for f in cat_ws.seen if _mentions(f, "the secret")], leaked
    for ws in (ben_ws, ana_ws):
        await ws.say_in(shared, f"marker from {ws.user}")
        await ws.wait_for(chat(f"marker from {ws.user}"))
        changes = [f for f in ws.seen if f.get("type") in ("edited", "deleted", "reactions")]
        assert changes == [] and not [f for f in ws.seen if f.get("type") == "typing"]
    for ws in (ana_ws, ben_ws, cat_ws):
        await ws.close()


def _mentions(frame: Frame, *words: str) -> bool:
    return any(word in str(frame) for word in words)
