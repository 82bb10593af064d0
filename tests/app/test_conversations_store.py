"""Issue 17 against a real Azurite, through the registered functions: joined rooms and read
positions in rows, unread counts, the directory's throttled activity rows, catch-up, direct
messages (and who may read them), races between devices and instances, and the fold of
mixed-case history."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest

import function_app
from adapters.conversations import Conversations
from adapters.effects import Effects
from adapters.fold_room_names import fold
from adapters.instance_memory import RoomBudgets
from adapters.table_store import TableStore
from adapters.webhook_events import WebhookEvents
from adapters.webpubsub import Service
from chat import direct, history, rooms
from chat.cloudevents import authenticate
from chat.identity import encode_user_id

from .conftest import SIGN_IN, RecordingService, configured, event_request, stateful
from .test_sign_in_mode import principal_headers

MESSAGE = "azure.webpubsub.user.message"
ALICE = encode_user_id("aad", "a-1", "Alice")
BOB = encode_user_id("github", "b-2", "Bob")
CAROL = encode_user_id("aad", "c-3", "Carol")
HEADERS = {
    ALICE: principal_headers("aad", "a-1", "Alice"),
    BOB: principal_headers("github", "b-2", "Bob"),
    CAROL: principal_headers("aad", "c-3", "Carol"),
}


async def command(value: object, state: str | None = None, ce_id: str = "1", **kw: Any):
    request = event_request(
        MESSAGE,
        body=json.dumps(value).encode(),
        content_type="text/plain",
        state=state,
        ce_id=ce_id,
        **kw,
    )
    return await function_app.eventhandler(request)


async def get(
    route: str,
    handler: Any,
    params: dict | None = None,
    headers: dict | None = None,
    route_params: dict | None = None,
) -> tuple[int, Any]:
    request = func.HttpRequest(
        "GET",
        f"http://localhost/api/{route}",
        params=params or {},
        headers=headers or {},
        route_params=route_params or {},
        body=b"",
    )
    response = await handler(request)
    body = response.get_body()
    try:
        return response.status_code, json.loads(body)
    except ValueError:
        return response.status_code, body.decode()


async def me(user: str, headers: dict | None = None) -> dict:
    params = {} if headers else {"id": user}
    status, body = await get("me/rooms", function_app.my_rooms, params, headers)
    assert status == 200, body
    return {entry["room"]: entry for entry in body["rooms"]}


async def messages(room: str, headers: dict | None = None, **params: str) -> tuple[int, Any]:
    return await get(
        f"rooms/{room}/messages", function_app.room_messages, params, headers, {"room": room}
    )


async def join(room: str, user: str = "alice", connection: str = "conn-1", state=None) -> str:
    response = await command(
        {"type": "join", "room": room},
        state,
        f"j-{room}-{connection}",
        user=user,
        connection_id=connection,
    )
    assert response.status_code == 204, response.get_body()
    return response.headers["ce-connectionState"]


async def say(
    room: str,
    text: str,
    state: str,
    ce_id: str,
    user: str = "alice",
    connection: str = "conn-1",
    ce_time: str | None = None,
) -> dict:
    response = await command(
        {"type": "message", "room": room, "message": text},
        state,
        ce_id,
        user=user,
        connection_id=connection,
        ce_time=ce_time,
    )
    assert response.status_code == 204, response.get_body()
    return response


# --- rooms are case-insensitive --------------------------------------------------------------


async def test_dev_and_DEV_are_one_room_with_one_history(app: RecordingService) -> None:
    state = await join("Dev")
    await say("DEV", "one", state, "m1")
    await say("dev", "two", state, "m2")
    for name in ("dev", "Dev", "DEV"):
        status, page = await messages(name)
        assert status == 200
        assert page["room"] == "dev"
        assert [m["message"] for m in page["messages"]] == ["one", "two"]
        assert {m["room"] for m in page["messages"]} == {"dev"}
    assert {b.get("room") for b in app.broadcasts if "message" in b} == {"dev"}


async def test_history_under_a_mixed_case_name_is_folded_into_its_room(
    app: RecordingService,
) -> None:
    state = await join("dev")
    await say("dev", "new", state, "m1")
    store = stateful().store
    old = history.to_entity(
        {
            "id": "f" * 24,
            "room": "Dev",
            "from": "bob",
            "message": "old",
            "time": "2020-01-01T00:00:00.000Z",
        },
        1_577_836_800_000,
    )
    await store.add_message(old)
    assert await fold(store) == 1
    assert await fold(store) == 0  # again: nothing left to move
    _, page = await messages("dev")
    assert [m["message"] for m in page["messages"]] == ["old", "new"]


# --- joined rooms, read positions, unread ------------------------------------------------------


async def test_joined_rooms_follow_join_and_leave_and_unread_follows_reads(
    app: RecordingService,
) -> None:
    mine = await me("alice")
    assert list(mine) == ["lobby"]
    state = await join("dev")
    assert set(await me("alice")) == {"lobby", "dev"}
    bob = await join("dev", "bob", "conn-2")
    sent = []
    for n in range(3):
        await say("dev", f"m{n}", bob, f"b{n}", "bob", "conn-2")
    _, page = await messages("dev")
    sent = [m["id"] for m in page["messages"]]
    entry = (await me("alice"))["dev"]
    assert entry["unread"] == 3 and entry["mentions"] == 0 and entry["kind"] == "room"
    assert entry["lastMessageTime"] == page["messages"][-1]["time"]
    app.requests.clear()
    response = await command({"type": "read", "room": "dev", "id": sent[1]}, state, "r1")
    assert response.status_code == 204
    assert (await me("alice"))["dev"]["unread"] == 1
    [echo] = app.sends("users")
    assert echo.json() == {"type": "read", "room": "dev", "id": sent[1]}
    assert echo.query.get("filter") == "connectionId ne 'conn-1'"
    # Backwards is ignored, and not echoed.
    app.requests.clear()
    await command({"type": "read", "room": "dev", "id": sent[0]}, state, "r2")
    assert (await me("alice"))["dev"]["unread"] == 1 and app.sends("users") == []
    # Leave drops the room from every device's list.
    response = await command({"type": "leave", "room": "dev"}, state, "l1")
    assert response.status_code == 204
    assert set(await me("alice")) == {"lobby"}


async def test_unread_is_capped_at_100(app: RecordingService) -> None:
    await join("dev")
    bob = await join("dev", "bob", "conn-2")
    store = stateful().store
    base = int(datetime.now(UTC).timestamp()) - 399  # all after the join
    for n in range(130):  # stored directly: the flood limit is not what this tests
        await store.add_message(
            history.to_entity(
                {
                    "id": f"{n:024x}",
                    "room": "dev",
                    "from": "bob",
                    "message": str(n),
                    "time": history.iso_time(base + n + 400),
                },
                (base + n + 400) * 1000,
            )
        )
    assert bob
    # The room's activity row, as the message path writes it (stored directly above).
    await Conversations(store).note_activity("dev", history.iso_time(base + 529), base + 529)
    assert (await me("alice"))["dev"]["unread"] == 100


async def test_unread_reads_only_the_rows_from_the_read_positions_second_on(
    app: RecordingService,
) -> None:
    """A room with a long history and 3 unread: the count, the mentions and the newest time
    come from the few rows of the read position's second and after, not the newest 109."""
    state = await join("dev")
    store = stateful().store
    base = int(datetime.now(UTC).timestamp()) + 1  # all after the join
    stored = []
    for n in range(150):  # three messages a second, each second's stored times in order
        second, offset = base + n // 3, (n % 3) / 10
        message = {"id": f"{n:024x}", "room": "dev", "from": "bob", "message": str(n)}
        message |= {"time": history.iso_time(second + offset)}
        message |= {"mentions": ["alice"]} if n in (148, 100) else {}
        await store.add_message(history.to_entity(message, second * 1000))
        stored.append(message)
    newest = base + 149 // 3
    await Conversations(store).note_activity("dev", stored[-1]["time"], newest)
    # She read message 146, the last of its second (144-146): 147-149 are unread.
    response = await command({"type": "read", "room": "dev", "id": f"{146:024x}"}, state, "r1")
    assert response.status_code == 204
    entry = (await me("alice"))["dev"]
    assert (entry["unread"], entry["mentions"]) == (3, 1)
    assert entry["lastMessageTime"] == stored[-1]["time"]
    mine = await Conversations(store).joined("alice")
    [row] = [r for r in mine if r["RowKey"] == "dev"]
    mark = (row["readGroup"], row["readTime"], row["readId"])
    window = await Conversations(store).window("dev", mark)
    assert sorted(r["id"] for r in window) == [f"{n:024x}" for n in range(144, 150)]
    # Read to the end: nothing unread, and the newest time still comes from the window.
    response = await command({"type": "read", "room": "dev", "id": f"{149:024x}"}, state, "r2")
    assert response.status_code == 204
    entry = (await me("alice"))["dev"]
    assert (entry["unread"], entry["lastMessageTime"]) == (0, stored[-1]["time"])


async def test_mentions_count_the_unread_messages_that_name_the_caller(
    app: RecordingService,
) -> None:
    state = await join("dev")
    store = stateful().store
    base = int(datetime.now(UTC).timestamp()) + 1  # all after the join
    said = [  # (author, mentioned): stored directly, as the message path writes mentions
        ("bob", ["alice"]),  # read below: not counted
        ("bob", ["alice", "carol"]),
        ("bob", ["carol"]),  # someone else
        ("bob", []),
        ("bob", ["alice"]),
        ("alice", ["alice"]),  # her own
    ]
    for n, (author, mentioned) in enumerate(said):
        message = {"id": f"{n:024x}", "room": "dev", "from": author, "message": str(n)}
        message |= {"time": history.iso_time(base + n), "mentions": mentioned}
        await store.add_message(history.to_entity(message, (base + n) * 1000))
    await Conversations(store).note_activity("dev", history.iso_time(base + 5), base + 5)
    entry = (await me("alice"))["dev"]
    assert (entry["unread"], entry["mentions"]) == (5, 3)
    response = await command({"type": "read", "room": "dev", "id": f"{0:024x}"}, state, "r1")
    assert response.status_code == 204
    entry = (await me("alice"))["dev"]
    assert (entry["unread"], entry["mentions"]) == (4, 2)


async def test_two_devices_reading_at_once_end_at_the_newer_position(app: RecordingService) -> None:
    await join("dev")
    bob = await join("dev", "bob", "conn-2")
    for n in range(4):
        await say("dev", f"m{n}", bob, f"b{n}", "bob", "conn-2")
    _, page = await messages("dev")
    ids = [m["id"] for m in page["messages"]]
    storage = stateful().storage
    devices = [Conversations(TableStore(storage)) for _ in range(2)]
    # Each device reads the row before either writes (their first read only): the ETag race
    # at its tightest; the loser reads again and compares with the winner's position.
    barrier = asyncio.Barrier(2)
    for device in devices:
        original = device._state

        async def state(original=original):
            table = await original()
            get_entity = table.get_entity
            waited = []

            async def first_read_waits(*args, **kwargs):
                entity = await get_entity(*args, **kwargs)
                if not waited:
                    waited.append(True)
                    await barrier.wait()
                return entity

            table.get_entity = first_read_waits
            return table

        device._state = state  # type: ignore[method-assign]
    await Conversations(stateful().store).mark_read("alice", "dev", ids[0], 0.0)
    results = await asyncio.wait_for(
        asyncio.gather(
            devices[0].mark_read("alice", "dev", ids[3], 0.0),
            devices[1].mark_read("alice", "dev", ids[1], 0.0),
        ),
        timeout=30,
    )
    assert results[0] is True
    assert (await me("alice"))["dev"]["unread"] == 0
    for device in devices:
        await device.store.close()


# --- the directory ----------------------------------------------------------------------------


async def test_the_directory_lists_rooms_by_activity_with_one_row_write_per_10_s(
    app: RecordingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = await join("dev")
    ops = await join("ops", "bob", "conn-2")
    writes = []
    original = Conversations.note_activity

    async def counted(self, room, when, now):
        writes.append(room)
        await original(self, room, when, now)

    monkeypatch.setattr(Conversations, "note_activity", counted)
    for n in range(5):
        await say("dev", f"d{n}", state, f"d{n}")
    await say("ops", "o", ops, "o1", "bob", "conn-2")
    assert writes == ["dev", "ops"]  # one per room, not one per message
    status, body = await get("rooms", function_app.room_directory, {"id": "carol"})
    assert status == 200
    assert [r["room"] for r in body["rooms"]][:2] == ["ops", "dev"]
    assert all(not rooms.is_direct(r["room"]) for r in body["rooms"])
    status, _ = await get("rooms", function_app.room_directory, {"id": "carol", "limit": "0"})
    assert status == 400
    status, _ = await get("rooms", function_app.room_directory, {})
    assert status == 400  # negotiate's rule: a name is needed while sign-in is off


# --- catch-up ----------------------------------------------------------------------------------


async def test_catch_up_returns_what_came_since_oldest_first_and_pages_forward(
    app: RecordingService,
) -> None:
    state = await join("dev")
    now = datetime.now(UTC).replace(microsecond=0)
    for n in range(5):
        stamp = (now - timedelta(seconds=10 - n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        await say("dev", f"m{n}", state, f"c{n}", ce_time=stamp)
    since = (now - timedelta(seconds=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, body = await messages("dev", since=since, limit="2")
    assert status == 200, body
    assert [m["message"] for m in body["messages"]] == ["m2", "m3"]
    status, body = await messages("dev", since=body["next"], limit="2")
    assert [m["message"] for m in body["messages"]] == ["m4"] and body["next"] is None
    status, body = await messages("dev", since="yesterday")
    assert status == 400 and "since" in body


# --- direct messages --------------------------------------------------------------------------


@pytest.fixture
async def signed_in(app_with):
    service = app_with(**SIGN_IN, ChatSignInProviders="aad,github")
    # Bob has been seen: he is online (his lobby presence group holds a connection).
    service.connect("conn-b", BOB, "r.lobby", rooms.presence_group("lobby", BOB))
    yield service


async def test_a_dm_reaches_both_people_and_is_readable_by_them_only(
    signed_in: RecordingService,
) -> None:
    room = direct.conversation(ALICE, BOB)
    response = await command({"type": "dm", "to": BOB, "message": "psst"}, user=ALICE, ce_id="d1")
    assert response.status_code == 204, response.get_body()
    sends = signed_in.sends("users")
    assert len(sends) == 2 and {s.json()["room"] for s in sends} == {room}
    assert signed_in.sends("groups") == []
    for user in (ALICE, BOB):
        status, page = await messages(room, HEADERS[user])
        assert status == 200 and [m["message"] for m in page["messages"]] == ["psst"]
        entry = (await me(user, HEADERS[user]))[room]
        assert entry["kind"] == "dm"
        other = BOB if user == ALICE else ALICE
        assert entry["with"]["userId"] == other
    assert (await me(ALICE, HEADERS[ALICE]))[room]["unread"] == 0  # her own message
    assert (await me(BOB, HEADERS[BOB]))[room]["unread"] == 1
    # A third person: not through history, not through their list, not in the directory.
    status, _ = await messages(room, HEADERS[CAROL])
    assert status == 403
    status, _ = await messages(room)
    assert status == 401
    assert room not in await me(CAROL, HEADERS[CAROL])
    _, listing = await get("rooms", function_app.room_directory, {}, HEADERS[CAROL])
    assert all(r["room"] != room for r in listing["rooms"])
    # Carol joining the dm name as a room, or reading in it, or posting to it: refused.
    signed_in.requests.clear()
    response = await command(
        {"type": "join", "room": room}, user=CAROL, connection_id="conn-c", ce_id="x1"
    )
    assert json.loads(response.get_body())["event"] == "rejected"
    response = await command(
        {"type": "message", "room": room, "message": "hi"},
        user=CAROL,
        connection_id="conn-c",
        ce_id="x2",
    )
    assert json.loads(response.get_body())["event"] == "rejected"
    assert signed_in.sends("users") == [] and signed_in.sends("groups") == []
    # Carol's DM to Bob is another conversation; a forged `to` cannot put her into Alice's.
    response = await command(
        {"type": "dm", "to": BOB, "message": "hey"}, user=CAROL, connection_id="conn-c", ce_id="x3"
    )
    assert response.status_code == 204
    assert {s.json()["room"] for s in signed_in.sends("users")} == {direct.conversation(CAROL, BOB)}
    _, page = await messages(room, HEADERS[ALICE])
    assert [m["message"] for m in page["messages"]] == ["psst"]


async def test_a_dm_to_someone_never_seen_or_with_sign_in_off_is_refused(
    signed_in: RecordingService,
) -> None:
    response = await command({"type": "dm", "to": CAROL, "message": "hi"}, user=ALICE)
    assert json.loads(response.get_body())["message"] == direct.UNKNOWN
    assert signed_in.sends("users") == []


async def test_a_refused_dm_puts_no_conversation_in_either_list(
    signed_in: RecordingService,
) -> None:
    response = await command({"type": "dm", "to": BOB, "message": " "}, user=ALICE, ce_id="b1")
    assert json.loads(response.get_body())["event"] == "rejected"
    assert signed_in.sends("users") == []
    room = direct.conversation(ALICE, BOB)
    for user in (ALICE, BOB):
        assert room not in await me(user, HEADERS[user])


async def test_a_first_dm_delivered_late_is_unread_for_its_recipient(
    signed_in: RecordingService,
) -> None:
    """The service's retry of a first DM (its ce-time from the first attempt, seconds ago; or
    a handler's clock a moment past the service's second) makes both conversation rows then:
    the message, keyed by its ce-time, must still count as unread for the recipient."""
    sent = datetime.now(UTC) - timedelta(seconds=3)
    response = await command(
        {"type": "dm", "to": BOB, "message": "late"},
        user=ALICE,
        ce_id="late-1",
        ce_time=sent.isoformat().replace("+00:00", "Z"),
    )
    assert response.status_code == 204, response.get_body()
    room = direct.conversation(ALICE, BOB)
    assert (await me(BOB, HEADERS[BOB]))[room]["unread"] == 1
    assert (await me(ALICE, HEADERS[ALICE]))[room]["unread"] == 0  # her own


async def test_two_instances_delivering_one_dm_retry_store_and_send_it_once(
    signed_in: RecordingService,
) -> None:
    settings = configured().settings
    storage = stateful().storage
    instances = [
        WebhookEvents(Effects(settings, Service(settings), TableStore(storage), RoomBudgets()))
        for _ in range(2)
    ]
    request = event_request(
        MESSAGE,
        body=json.dumps({"type": "dm", "to": BOB, "message": "once"}).encode(),
        content_type="text/plain",
        user=ALICE,
        ce_id="retry-1",
    )
    event = authenticate(request.headers, settings)
    plans = await asyncio.gather(
        *(i.command(event, request.get_body(), "text/plain", 1.0e9) for i in instances)
    )
    assert sorted(p.answer.status for p in plans) == [204, 204]
    assert len(signed_in.sends("users")) == 2  # one message, to its two people
    room = direct.conversation(ALICE, BOB)
    _, page = await messages(room, HEADERS[BOB])
    assert [m["message"] for m in page["messages"]] == ["once"]
    for instance in instances:
        await instance.service.close()
        await instance.store.close()
