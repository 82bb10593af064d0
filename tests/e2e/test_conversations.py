"""Issue 17 over the real local stack in sign-in mode (emulator, Functions host with emulated
App Service Authentication, Azurite), over real sockets: case-insensitive rooms, read
positions across two devices, direct messages that no third person can reach, and catch-up
after a page's socket was down for 10 s."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_sign_in import Person
from tests.support.chat_client import ChatClient
from tests.support.stack import LocalStack, local_stack
from tests.support.waiting import until

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with local_stack(sign_in=True) as started:
        yield started


def _tag() -> str:
    return uuid.uuid4().hex[:8]


async def api(person: Person, path: str, **params: str) -> tuple[int, Any]:
    async with person.session.get(f"{person.base_url}/api/{path}", params=params) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def my_rooms(person: Person) -> dict[str, dict]:
    status, body = await api(person, "me/rooms")
    assert status == 200, body
    return {entry["room"]: entry for entry in body["rooms"]}


def chat(frame: dict) -> bool:
    return "type" not in frame and "message" in frame


async def test_room_names_are_case_insensitive(people) -> None:
    tag = _tag()
    (alice, _), (bob, _) = await people("aad", f"alice-{tag}"), await people("github", f"bob-{tag}")
    alice_ws, bob_ws = await alice.join("alice"), await bob.join("bob")
    for ws, name in ((alice_ws, f"Dev-{tag}"), (bob_ws, f"DEV-{tag}")):
        await ws.send({"type": "join", "room": name})
        # The server answers with the lowercase name.
        await ws.wait_for(lambda f: f.get("type") == "presence" and f["room"] == f"dev-{tag}")
    await alice_ws.say_in(f"dEv-{tag}", "one room")
    frame = await bob_ws.wait_for(lambda f: chat(f) and f["message"] == "one room")
    assert frame["room"] == f"dev-{tag}"
    status, page = await api(bob, f"rooms/DEV-{tag}/messages")
    assert status == 200 and page["room"] == f"dev-{tag}"
    assert [m["message"] for m in page["messages"]] == ["one room"]
    for ws in (alice_ws, bob_ws):
        await ws.close()


async def test_reading_on_one_device_clears_unread_on_the_other(people) -> None:
    tag = _tag()
    room = f"read-{tag}"
    (alice, _), (bob, _) = await people("aad", f"alice-{tag}"), await people("github", f"bob-{tag}")
    phone, laptop = await alice.join("phone"), await alice.join("laptop")
    bob_ws = await bob.join("bob")
    for ws in (phone, laptop, bob_ws):
        await ws.join_room(room)
    for n in range(3):
        await bob_ws.say_in(room, f"m{n}")
    last = await phone.wait_for(lambda f: chat(f) and f["message"] == "m2")

    async def unread() -> int:
        return (await my_rooms(alice))[room]["unread"]

    await until(lambda: _equals(unread(), 3), timeout=10, what="3 unread")
    await phone.send({"type": "read", "room": room, "id": last["id"]})
    echo = await laptop.wait_for(lambda f: f.get("type") == "read")
    assert echo == {"type": "read", "room": room, "id": last["id"]}
    await until(lambda: _equals(unread(), 0), timeout=1, what="read on the other device")
    for ws in (phone, laptop, bob_ws):
        await ws.close()


async def _equals(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def _ids(person: Person, ws: ChatClient, room: str) -> dict[str, str]:
    """Join `room` and learn the user ids of who is in it (the snapshot's `members`)."""
    snapshot = await ws.join_room(room)
    return {m["user"]: m["userId"] for m in snapshot.get("members", [])}


async def test_a_dm_never_reaches_nor_is_readable_by_a_third_person(people) -> None:
    tag = _tag()
    room = f"meet-{tag}"
    (alice, _) = await people("aad", f"alice-{tag}")
    (bob, _) = await people("github", f"bob-{tag}")
    (carol, _) = await people("aad", f"carol-{tag}")
    bob_ws = await bob.join("bob")
    await bob_ws.join_room(room)
    alice_ws, carol_ws = await alice.join("alice"), await carol.join("carol")
    members = await _ids(alice, alice_ws, room)
    await carol_ws.join_room(room)
    bob_id = members[f"bob-{tag}"]
    await alice_ws.send({"type": "dm", "to": bob_id, "message": "secret"})
    got = await bob_ws.wait_for(lambda f: chat(f) and f["message"] == "secret")
    mine = await alice_ws.wait_for(lambda f: chat(f) and f["message"] == "secret")
    dm = got["room"]
    assert dm.startswith("dm-") and mine["room"] == dm
    assert got["to"]["userId"] == bob_id and got["to"]["idp"] == "github"
    # Carol tries: a guessed id in the history route, a join of its name, a message to it.
    status, _ = await api(carol, f"rooms/{dm}/messages")
    assert status == 403
    await carol_ws.send({"type": "join", "room": dm})
    refusal = await carol_ws.wait_for(lambda f: f.get("event") == "rejected")
    assert "direct conversation" in refusal["message"]
    await carol_ws.send({"type": "message", "room": dm, "message": "let me in"})
    await carol_ws.wait_for(lambda f: f.get("event") == "rejected")
    await carol_ws.send({"type": "read", "room": dm, "id": got["id"]})
    # A forged `to` only ever makes Carol's own conversation with that person.
    await carol_ws.send({"type": "dm", "to": bob_id, "message": "from carol"})
    other = await bob_ws.wait_for(lambda f: chat(f) and f["message"] == "from carol")
    assert other["room"] != dm
    assert dm not in await my_rooms(carol)
    status, listing = await api(carol, "rooms")
    assert status == 200 and all(not r["room"].startswith("dm-") for r in listing["rooms"])
    # The two participants read it; nobody else saw it on any socket.
    for person in (alice, bob):
        status, page = await api(person, f"rooms/{dm}/messages")
        assert status == 200 and [m["message"] for m in page["messages"]] == ["secret"]
    assert (await my_rooms(bob))[dm]["with"]["userId"] == got["userId"]
    await alice_ws.say_in(room, "marker")  # everything Carol could get came before this
    await carol_ws.wait_for(lambda f: chat(f) and f["message"] == "marker")
    assert not [f for f in carol_ws.seen if f.get("message") == "secret"]
    for ws in (alice_ws, bob_ws, carol_ws):
        await ws.close()


async def test_after_a_10_s_outage_the_page_catches_up_on_everything_once_in_order(
    people,
) -> None:
    tag = _tag()
    rooms = [f"one-{tag}", f"two-{tag}"]
    (alice, _) = await people("aad", f"alice-{tag}")
    (bob, _) = await people("github", f"bob-{tag}")
    alice_ws, bob_ws = await alice.join("alice"), await bob.join("bob")
    for room in rooms:
        await bob_ws.join_room(room)
    members = {}
    for room in rooms:
        members |= await _ids(alice, alice_ws, room)
    alice_id = (await bob_ws.join_room(rooms[0])).get("members")  # bob learns alice's id
    alice_id = next(m["userId"] for m in alice_id if m["user"] == f"alice-{tag}")
    await bob_ws.send({"type": "dm", "to": alice_id, "message": "before"})
    held = await alice_ws.wait_for(lambda f: chat(f) and f["message"] == "before")
    for room in rooms:
        await bob_ws.say_in(room, f"before {room}")
        held_room = await alice_ws.wait_for(
            lambda f, room=room: chat(f) and f["message"] == f"before {room}"
        )
    seen = {f["id"]: f for f in alice_ws.seen if chat(f)}
    since = max(f["time"] for f in seen.values())
    assert held and held_room
    await alice_ws.close()  # the page's socket goes down
    loop = asyncio.get_running_loop()
    down_at = loop.time()
    said = []
    for n in range(3):
        for room in rooms:
            await bob_ws.say_in(room, f"{room} {n}")
            said.append(f"{room} {n}")
        await bob_ws.send({"type": "dm", "to": alice_id, "message": f"dm {n}"})
        said.append(f"dm {n}")
    await bob_ws.wait_for(lambda f: chat(f) and f["message"] == "dm 2")
    # The outage itself is what this test is about: the socket stays down for 10 s.
    await asyncio.sleep(max(0.0, 10.0 - (loop.time() - down_at)))
    alice_ws = await alice.join("alice again")
    # The page's catch-up: every room it is in and its DMs, since the newest message it held.
    conversations = await my_rooms(alice)
    assert set(rooms) <= set(conversations)
    dm = held["room"]
    assert conversations[dm]["kind"] == "dm"
    for room in [*rooms, dm]:
        cursor: str | None = since
        while cursor:
            status, page = await api(alice, f"rooms/{room}/messages", since=cursor, limit="2")
            assert status == 200, page
            for message in page["messages"]:
                seen.setdefault(message["id"], message)
            cursor = page["next"]
    texts = [f["message"] for f in sorted(seen.values(), key=lambda f: f["time"])]
    for text in said:
        assert texts.count(text) == 1, (text, texts)
    for room in [*rooms, "dm"]:
        in_room = [t for t in texts if t.startswith(f"{room} ")]
        assert in_room == sorted(in_room), in_room
    for ws in (alice_ws, bob_ws):
        await ws.close()
