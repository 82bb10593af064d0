"""Issue 17's room directory over the local stack (Azurite, emulator, host), sign-in off:
`GET /api/rooms` lists rooms by their lowercase name, most recently active first, with the
number of people present now (people, not tabs), and follows a leave."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import aiohttp
import pytest

from tests.support.chat_client import join
from tests.support.stack import LocalStack, local_stack
from tests.support.waiting import until

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with local_stack() as started:
        yield started


async def listing(session: aiohttp.ClientSession, stack: LocalStack) -> list[dict]:
    url = f"{stack.host_base_url}/api/rooms"
    async with session.get(url, params={"id": "reader", "limit": "200"}) as response:
        assert response.status == 200, await response.text()
        return (await response.json())["rooms"]


async def test_the_directory_counts_people_present_and_orders_by_activity(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    tag = uuid.uuid4().hex[:8]
    busy, quiet = f"dir-{tag}", f"quiet-{tag}"
    alice_name, bob_name = f"alice-{tag}", f"bob-{tag}"
    alice_tabs = [await join(session, stack.host_base_url, alice_name) for _ in range(2)]
    bob = await join(session, stack.host_base_url, bob_name)
    carol = await join(session, stack.host_base_url, f"carol-{tag}")
    for client in (*alice_tabs, bob):
        await client.send({"type": "join", "room": f"Dir-{tag}"})  # any case: one room
        await client.wait_for(lambda f: f.get("type") == "presence" and f["room"] == busy)
    await carol.join_room(quiet)
    await bob.say_in(busy, "hello")
    said = await bob.wait_chat(bob_name, "hello")
    entries: dict[str, dict] = {}

    async def shows(room: str, members: int) -> bool:
        rooms = await listing(session, stack)
        entries.clear()
        entries.update({r["room"]: r for r in rooms})
        assert not any(r["room"] != r["room"].lower() for r in rooms), rooms
        return room in entries and entries[room]["members"] == members

    # Two people in the busy room (alice's two tabs are one), one in the quiet one.
    await until(lambda: shows(busy, 2), timeout=10, what=f"{busy} with 2 people: {entries}")
    await until(lambda: shows(quiet, 1), timeout=10, what=f"{quiet} with 1 person: {entries}")
    assert entries[busy]["lastMessageTime"] == said["time"]
    assert entries[quiet]["lastMessageTime"] is None
    order = list(entries)
    assert order.index(busy) < order.index(quiet)  # active before never active

    # A message in the quiet room makes it the most recently active of the two.
    await carol.say_in(quiet, "me too")
    later = await carol.wait_chat(carol.user, "me too")

    async def reordered() -> bool:
        rooms = [r["room"] for r in await listing(session, stack)]
        return rooms.index(quiet) < rooms.index(busy)

    await until(reordered, timeout=10, what="the quiet room first once it spoke")
    assert {r["room"]: r for r in await listing(session, stack)}[quiet]["lastMessageTime"] == (
        later["time"]
    )
    # Bob leaves: one person left in the busy room (alice, still with two tabs).
    await bob.send({"type": "leave", "room": busy})
    await until(lambda: shows(busy, 1), timeout=10, what=f"{busy} with 1 person: {entries}")
    for client in (*alice_tabs, bob, carol):
        await client.close()
