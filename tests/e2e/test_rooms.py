"""Rooms, history and presence through `make run`-style stacks (Azurite, emulator, host)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import aiohttp
import pytest
from azure.data.tables.aio import TableClient

from chat.presence import USER_NOTICES, USER_WINDOW_S
from chat.sweep import SWEEP_PERIOD_S
from tests.support.chat_client import ChatClient, join, negotiate
from tests.support.stack import LocalStack
from tests.support.stack import local_stack as start_stack
from tests.support.waiting import until

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # test_25_connections_of_one_user_are_limited_as_one_user opens 25 tabs of one user, past
    # the default per-user cap of 10 (its own test is in test_chat.py).
    with start_stack(extra_host_env={"ChatMaxConnectionsPerUser": "30"}) as started:
        yield started


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def history(
    session: aiohttp.ClientSession, stack: LocalStack, room: str, **params: str
) -> dict:
    url = f"{stack.host_base_url}/api/rooms/{room}/messages"
    async with session.get(url, params=params) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def quiet(client: ChatClient, seconds: float, settle: float | None = None) -> list[dict]:
    """Every frame the client gets in the next `seconds` (or, with `settle`, until no frame
    has come for `settle` seconds, at most `seconds` in all)."""
    frames: list[dict] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        try:
            frames.append(await client.next_frame(min(remaining, settle or remaining)))
        except TimeoutError:
            if settle is None or loop.time() < deadline:
                break
    return frames


async def test_two_rooms_are_isolated(stack: LocalStack, session: aiohttp.ClientSession) -> None:
    red, blue = _name("red"), _name("blue")
    alice = await join(session, stack.host_base_url, _name("alice"))
    bob = await join(session, stack.host_base_url, _name("bob"))
    carol = await join(session, stack.host_base_url, _name("carol"))
    for client, room in ((alice, red), (bob, red), (carol, blue)):
        await client.join_room(room)
    await alice.say_in(red, "for red only")
    got = await bob.wait_chat(alice.user, "for red only")
    assert got["room"] == red
    await carol.say_in(blue, "for blue only")
    await carol.wait_chat(carol.user, "for blue only")
    # Had carol been sent red's message, it would have come before her own.
    assert not any(f.get("room") == red for f in carol.seen)
    assert not any(f.get("message") == "for blue only" for f in alice.seen + bob.seen)
    # Sending to a room one has not joined is refused, and stored nowhere.
    await carol.say_in(red, "sneaking in")
    refused = await carol.wait_for(lambda f: f.get("event") == "rejected")
    assert refused["room"] == red
    page = await history(session, stack, red)
    assert [m["message"] for m in page["messages"]] == ["for red only"]
    for client in (alice, bob, carol):
        await client.close()


async def test_late_joiner_gets_the_history_in_order(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    room = _name("history")
    alice = await join(session, stack.host_base_url, _name("alice"))
    await alice.join_room(room)
    said = [f"message {n}" for n in range(12)]
    for text in said:
        await alice.say_in(room, text)
        await alice.wait_chat(alice.user, text)
    live = [f for f in alice.seen if f.get("room") == room and "type" not in f]
    late = await join(session, stack.host_base_url, _name("late"))
    await late.join_room(room)
    page = await history(session, stack, room, limit="5")
    earlier = await history(session, stack, room, limit="50", before=page["next"])
    assert earlier["next"] is None
    messages = earlier["messages"] + page["messages"]
    assert [m["message"] for m in messages] == said
    assert messages == live  # exactly as broadcast, ids included
    await alice.close()
    await late.close()


async def test_restart_keeps_history(local_stack: LocalStack) -> None:
    room = _name("durable")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        alice = await join(session, local_stack.host_base_url, _name("alice"))
        await alice.join_room(room)
        await alice.say_in(room, "still here after a restart?")
        await alice.wait_chat(alice.user, "still here after a restart?")
        await alice.close()
    local_stack.stop()  # all three: host, emulator, Azurite (SIGTERM, like Ctrl-C)
    local_stack.start()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        page = await history(session, local_stack, room)
    assert [m["message"] for m in page["messages"]] == ["still here after a restart?"]


def _signed_event(stack: LocalStack, connection_id: str, user: str, ce_time: str) -> dict:
    signature = hmac.new(stack.access_key.encode(), connection_id.encode(), hashlib.sha256)
    return {
        "Content-Type": "text/plain; charset=utf-8",
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": "azure.webpubsub.user.message",
        "ce-source": f"/hubs/{stack.hub}/client/{connection_id}",
        "ce-id": "retried-1",
        "ce-time": ce_time,
        "ce-hub": stack.hub,
        "ce-connectionId": connection_id,
        "ce-eventName": "message",
        "ce-userId": user,
        "ce-signature": "sha256=" + signature.hexdigest(),
        "WebHook-Request-Origin": "localhost",
    }


async def test_retried_event_is_stored_once_and_sent_once(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    observer = await join(session, stack.host_base_url, _name("observer"))
    await observer.wait_for(lambda f: f.get("type") == "presence")
    sender = _name("sender")
    ce_time = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    headers = _signed_event(stack, f"conn-{uuid.uuid4().hex}", sender, ce_time)
    text = f"retried {uuid.uuid4().hex[:6]}"
    for _ in range(3):  # the service's retries carry the same ce-id and ce-time
        url = f"{stack.host_base_url}/api/eventhandler"
        async with session.post(url, headers=headers, data=text.encode()) as response:
            assert response.status == 204
    first = await observer.wait_chat(sender, text)
    later = await quiet(observer, 1.5)
    assert not any(f.get("message") == text for f in later)
    page = await history(session, stack, "lobby", limit="200")
    stored = [m for m in page["messages"] if m["message"] == text]
    assert stored == [first]
    await observer.close()


async def test_three_tabs_are_one_member(stack: LocalStack, session: aiohttp.ClientSession) -> None:
    room = _name("tabs")
    alice_id = _name("alice")
    bob = await join(session, stack.host_base_url, _name("bob"))
    await bob.join_room(room)
    tabs = [await join(session, stack.host_base_url, alice_id) for _ in range(3)]
    for tab in tabs:
        await tab.join_room(room)
    await bob.wait_notice("joined", alice_id, room)
    carol = await join(session, stack.host_base_url, _name("carol"))
    snapshot = await carol.join_room(room)
    # alice once, not thrice; carol is in the room she has just joined
    assert sorted(snapshot["users"]) == sorted([bob.user, alice_id, carol.user])
    await carol.close()
    for tab in tabs[:2]:
        await tab.close()
    await tabs[2].say_in(room, "still here")
    await bob.wait_chat(alice_id, "still here")
    await tabs[2].close()
    await bob.wait_notice("left", alice_id, room)
    notices = [
        f["event"]
        for f in bob.seen
        if f.get("type") == "system" and f.get("user") == alice_id and f.get("room") == room
    ]
    assert notices == ["joined", "left"]
    await bob.close()


async def test_a_flapping_connection_gives_a_bounded_number_of_notices(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    observer = await join(session, stack.host_base_url, _name("observer"))
    await observer.wait_for(lambda f: f.get("type") == "presence")
    flapper = _name("flapper")
    started = time.monotonic()
    for _ in range(100):
        tab = await join(session, stack.host_base_url, flapper)
        await tab.close()
    # Every notice there will be: the lobby was told the truth (gone) and nothing is pending.
    await settled(stack, observer, "lobby", flapper, present=False)
    elapsed = time.monotonic() - started
    notices = [f for f in observer.seen if f.get("type") == "system" and f.get("user") == flapper]
    # Before rooms: 200 notices. Now: the user's notice bucket (4 at once, one per 15 s).
    assert 1 <= len(notices) <= _notice_budget(elapsed), (elapsed, notices)
    await observer.close()


async def test_25_connections_of_one_user_are_limited_as_one_user(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    room = _name("flood")
    observer = await join(session, stack.host_base_url, _name("observer"))
    await observer.join_room(room)
    flooder = _name("flooder")
    tabs = [await join(session, stack.host_base_url, flooder) for _ in range(25)]
    await asyncio.gather(*(tab.join_room(room) for tab in tabs))
    started = time.monotonic()
    await asyncio.gather(
        *(tab.say_in(room, f"{n}-{i}") for n, tab in enumerate(tabs) for i in range(10))
    )

    async def outcomes(n: int, tab: ChatClient) -> int:
        """Wait until each of this tab's 10 messages was handled: delivered to the room (the
        tab is in it) or refused to the tab. Returns how many were delivered."""
        delivered = refused = 0
        while delivered + refused < 10:
            frame = await tab.next_frame(60.0)
            if frame.get("from") == flooder and "type" not in frame:
                delivered += frame["message"].split("-")[0] == str(n)
            refused += frame.get("event") == "rejected"
        return delivered

    # State, not a pause: a quiet spell on a busy machine does not mean the events are done.
    sent = sum(await asyncio.gather(*(outcomes(n, tab) for n, tab in enumerate(tabs))))
    elapsed = time.monotonic() - started
    frames: list[dict] = []

    def delivered_to_observer() -> list[dict]:
        return [f for f in frames if f.get("from") == flooder and "type" not in f]

    while len(delivered_to_observer()) < sent:
        frames.append(await observer.next_frame())
    delivered = delivered_to_observer()
    # One bucket for the user: 20 at once, then 2 per second (ChatRateLimit* defaults).
    assert 20 <= len(delivered) <= 20 + 2 * elapsed + 2, (len(delivered), elapsed)
    page = await history(session, stack, room, limit="200")
    assert len(page["messages"]) == len(delivered)  # refused messages were not kept either
    for client in (*tabs, observer):
        await client.close()


async def test_clients_cannot_publish_to_a_room_group_themselves(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    """The server decides membership: no client token carries group roles, so a client that
    tries to publish straight to a room's group (skipping policy and history) is refused."""
    observer = await join(session, stack.host_base_url, _name("observer"))
    await observer.wait_for(lambda f: f.get("type") == "presence")
    sneaky = _name("sneaky")
    url = await negotiate(session, stack.host_base_url, sneaky)
    ws = await session.ws_connect(f"{url}&webpubsub_mode=sendToGroup&group=r.lobby")
    await ws.send_str('{"id": "x", "room": "lobby", "from": "admin", "message": "spoofed"}')
    # Lobby notices may arrive before the close: skip them, but none may be the spoofed text.
    async with asyncio.timeout(10):
        while (frame := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
            assert "spoofed" not in frame.data
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 1008  # policy violation: no sendToGroup permission
    later = await quiet(observer, 1.5)
    assert not any(f.get("message") == "spoofed" for f in later)
    page = await history(session, stack, "lobby", limit="200")
    assert not any(m["message"] == "spoofed" for m in page["messages"])
    await observer.close()


def _members(frames: list[dict], room: str, start: list[str]) -> list[str]:
    """An observer's member list of `room` after these frames, as the page keeps it: a
    presence list replaces it, a notice adds or removes one user."""
    members = list(start)
    for frame in frames:
        if frame.get("room") != room:
            continue
        if frame.get("type") == "presence":
            members = list(frame["users"])
        elif frame.get("type") == "system" and frame.get("event") == "joined":
            members += [frame["user"]] if frame["user"] not in members else []
        elif frame.get("type") == "system" and frame.get("event") == "left":
            members = [m for m in members if m != frame["user"]]
    return members


def _notice_budget(seconds: float) -> int:
    """The most notices about one (room, user) in `seconds`: its bucket, full at the start,
    and what it refills meanwhile (the sweep spends from the same bucket)."""
    return USER_NOTICES + int(seconds * USER_NOTICES / USER_WINDOW_S)


async def _told(stack: LocalStack, room: str, user: str) -> tuple[bool | None, bool]:
    """What `chatstate` says about (room, user): whether the room was last told the user is
    present (None: never told), and whether a held-back change is still pending."""
    filters = "PartitionKey eq @pk and user eq @user"
    async with TableClient.from_connection_string(
        stack.options.storage_connection_string, "chatstate"
    ) as table:
        records = [
            e
            async for e in table.query_entities(
                filters, parameters={"pk": f"presence|{room}", "user": user}
            )
        ]
        marks = [
            e
            async for e in table.query_entities(
                filters + " and room eq @room",
                parameters={"pk": "pending", "user": user, "room": room},
            )
        ]
    return (bool(records[0]["present"]) if records else None), bool(marks)


async def settled(
    stack: LocalStack, observer: ChatClient, room: str, user: str, *, present: bool
) -> None:
    """Wait until the observer's member list of `room` (from the presence lists and notices it
    got, as the page keeps it) shows `user` as `present`, the room's record says so too and no
    held-back change is pending: nothing more will be said. Held-back changes wait for a token
    (at most one refill, 15 s) and then for a sweep (every 15 s); the rest is slack for load."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + USER_WINDOW_S / USER_NOTICES + 2 * SWEEP_PERIOD_S + 45
    while True:
        with contextlib.suppress(TimeoutError):
            while True:  # take whatever has arrived
                await observer.next_frame(0.2)
        listed = user in _members(observer.seen, room, [])
        told, pending = await _told(stack, room, user)
        if listed == present and told is present and not pending:
            # Anything sent before now reaches the observer before the answer to this.
            await handled(observer)
            if (user in _members(observer.seen, room, [])) == present:
                return
        if loop.time() >= deadline:
            raise AssertionError(
                f"{user} {'' if listed else 'not '}in the list {observer.user} was given in "
                f"{room} (room told present: {told}, change pending: {pending}): {observer.seen}"
            )
        await asyncio.sleep(0.5)


async def test_an_observers_member_list_converges_after_a_flapping_burst(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    """The burst spends the flapper's notices; the one that would have said "joined" at the
    end is held back, and the presence sweep (a timer, every 15 s) sends it when it may."""
    room = _name("converge")
    observer = await join(session, stack.host_base_url, _name("observer"))
    await observer.join_room(room)
    flapper = _name("flapper")
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    flaps = 30
    while True:
        for _ in range(flaps):
            tab = await join(session, stack.host_base_url, flapper)
            await tab.join_room(room)
            await tab.close()
        stays = await join(session, stack.host_base_url, flapper)
        await stays.join_room(room)
        await handled(stays)  # its join's presence work is done: announced or held back
        present, _ = await _told(stack, room, flapper)
        if present is False:
            break  # the room was told "left" last: only the sweep can put that right
        # A token came back during the burst (a slow machine) and said "joined": again, with
        # the bucket nearly spent now, until the change at the end is held back.
        assert loop.time() < deadline, f"the room was always told {flapper} is back at once"
        await stays.close()
        flaps = 5
    await settled(stack, observer, room, flapper, present=True)
    elapsed = time.monotonic() - started
    burst = [
        f
        for f in observer.seen
        if f.get("type") == "system" and f.get("user") == flapper and f.get("room") == room
    ]
    assert 1 <= len(burst) <= _notice_budget(elapsed), (elapsed, burst)
    told = _members(observer.seen, room, [])
    assert sorted(told) == sorted([observer.user, flapper])
    await stays.close()
    await observer.close()


async def handled(client: ChatClient) -> None:
    """Return once every command `client` has sent so far was handled to the end.

    The emulator hands one connection's frames to the handler one at a time, in order, so
    the answer to a command sent now comes only after the earlier ones were handled. The
    command is one the chat always refuses (leaving the lobby), answered to this connection
    only, and it changes nothing."""
    await client.send({"type": "leave", "room": "lobby"})
    await client.wait_for(lambda f: f.get("event") == "rejected" and f.get("room") == "lobby")


def _lost_disconnected(stack: LocalStack) -> int:
    """How many disconnected events the emulator has given up on (it logs each)."""
    return len(re.findall(r"disconnected event for \S+ failed", stack.log("emulator")))


async def test_an_observers_member_list_drops_a_user_whose_disconnected_was_lost(
    local_stack: LocalStack,
) -> None:
    """The host is down when a user leaves: the service's `disconnected` (and its retries)
    never arrive. The sweep's look at users recorded as present tells the room."""
    from chat.sweep import RECHECK_AFTER_S, SWEEP_PERIOD_S

    room = _name("lost")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        observer = await join(session, local_stack.host_base_url, _name("observer"))
        snapshot = await observer.join_room(room)
        # The snapshot is sent while the join is still being handled; a join cut off by the
        # host's death would close the observer (1011, its `message` event failed).
        await handled(observer)
        ghost = await join(session, local_stack.host_base_url, _name("ghost"))
        await ghost.join_room(room)
        await observer.wait_notice("joined", ghost.user, room)
        await handled(ghost)  # so the only event the outage loses is the ghost's disconnected
        lost_before = _lost_disconnected(local_stack)
        local_stack.kill_host()
        await ghost.close()
        # The emulator gives up on the ghost's disconnected (retries after 1, 3, 5 s) before
        # the host is back; its log says when, however busy the machine is.
        await until(
            lambda: _lost_disconnected(local_stack) > lost_before,
            timeout=60,
            what="the emulator giving up on the ghost's disconnected event",
        )
        frames = await quiet(observer, 0.5)  # whatever reached the observer meanwhile
        local_stack.start_host()
        assert ghost.user in _members(frames, room, snapshot["users"] + [ghost.user])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECHECK_AFTER_S + 2 * SWEEP_PERIOD_S + 15
        while ghost.user in _members(frames, room, snapshot["users"] + [ghost.user]):
            assert loop.time() < deadline, f"never told that {ghost.user} left: {frames}"
            frames += await quiet(observer, 1.0)
        assert _members(frames, room, snapshot["users"]) == [observer.user]
        left = [f for f in frames if f.get("event") == "left" and f.get("user") == ghost.user]
        assert {f["room"] for f in left} == {room, "lobby"}
        await observer.close()


async def _closed(client: ChatClient) -> None:
    """Wait until the client's socket is closed (frames still in flight are read and kept)."""
    async with asyncio.timeout(15):
        while (await client.ws.receive()).type is aiohttp.WSMsgType.TEXT:
            continue


async def test_a_user_back_after_an_outage_is_shown_to_those_back_before_them(
    local_stack: LocalStack,
) -> None:
    """The emulator dies: no `disconnected` is ever sent, so the presence records still say
    both people are in the room. Alice comes back first (her snapshot: only her), then Bob:
    no transition, so no "joined"; the room's view is made right by a member list."""
    from chat.presence import SNAPSHOT_REUSE_S

    room = _name("outage")
    base = local_stack.host_base_url
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        alice = await join(session, base, _name("alice"))
        await alice.join_room(room)
        await handled(alice)
        bob = await join(session, base, _name("bob"))
        await bob.join_room(room)
        await alice.wait_notice("joined", bob.user, room)
        await handled(bob)

        await asyncio.to_thread(local_stack.kill_emulator)
        await _closed(alice)
        await _closed(bob)
        await asyncio.to_thread(local_stack.start_emulator)
        # The host shares one listing of a room among joiners for SNAPSHOT_REUSE_S: this waits
        # out a listing taken before the outage (a time-bound cache, so a time-bound wait).
        await asyncio.sleep(SNAPSHOT_REUSE_S)

        alice = await join(session, base, alice.user)
        snapshot = await alice.join_room(room)
        assert snapshot["users"] == [alice.user]  # Bob is not back yet
        await handled(alice)
        bob = await join(session, base, bob.user)
        await bob.join_room(room)
        await handled(bob)
        frames: list[dict] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10  # sent as Bob's join is handled; slack for a busy machine
        while bob.user not in _members(frames, room, snapshot["users"]):
            assert loop.time() < deadline, f"{alice.user} never told that {bob.user} is back"
            frames += await quiet(alice, 1.0)
        assert sorted(_members(frames, room, snapshot["users"])) == sorted([alice.user, bob.user])
        await alice.close()
        await bob.close()
