"""`GET /api/me/rooms` reads the rooms' activity rows beside the caller's list, for the rooms
this instance last listed for them (adapters/conversations.py). Against a real Azurite: the
guess only chooses what is read early, so a room joined on another instance, a room left
there, and an instance that has no guess yet all answer what the rows say."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from adapters.conversations import Conversations
from adapters.effects import Effects
from adapters.instance_memory import ListedRooms, RoomBudgets
from adapters.table_store import TableStore
from adapters.webhook_events import WebhookEvents
from adapters.webpubsub import Service
from chat.cloudevents import authenticate

from .conftest import RecordingService, configured, event_request, stateful
from .test_conversations_store import join, me, say

MESSAGE = "azure.webpubsub.user.message"


class Spied(Conversations):
    """Conversations that note which rooms' activity rows each request asked for."""

    def __init__(self, store: TableStore, listed: ListedRooms | None = None) -> None:
        super().__init__(store, listed)
        self.asked: list[list[str]] = []

    async def activity(self, names: list[str]) -> dict[str, dict[str, Any]]:
        self.asked.append(sorted(names))
        return await super().activity(names)


class OtherInstance:
    """A second Functions instance: its own clients and memory, the same tables."""

    def __init__(self) -> None:
        settings = configured().settings
        self.events = WebhookEvents(
            Effects(settings, Service(settings), TableStore(stateful().storage), RoomBudgets())
        )

    async def send(self, value: dict, user: str, connection: str, ce_id: str, state=None) -> str:
        request = event_request(
            MESSAGE,
            body=json.dumps(value).encode(),
            content_type="text/plain",
            user=user,
            connection_id=connection,
            ce_id=ce_id,
            state=state,
        )
        event = authenticate(request.headers, configured().settings)
        plan = await self.events.command(event, request.get_body(), "text/plain", time.time())
        assert plan.reply is not None and plan.reply.status == 204, plan.reply
        return plan.reply.headers.get("ce-connectionState", state or "")

    async def close(self) -> None:
        await self.events.service.close()
        await self.events.store.close()


@pytest.fixture
async def other(app: RecordingService):
    instance = OtherInstance()
    yield instance
    await instance.close()


def _entries(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["room"]: entry for entry in body["rooms"]}


async def test_a_room_joined_on_another_instance_shows_with_its_activity(
    app: RecordingService, other: OtherInstance
) -> None:
    await join("dev")
    bob = await join("dev", "bob", "conn-2")
    await say("dev", "hello", bob, "b1", "bob", "conn-2")
    store = stateful().store
    listed = ListedRooms()
    here = Spied(store, listed)
    first = _entries(await here.my_rooms("alice"))
    assert set(first) == {"lobby", "dev"} and first["dev"]["unread"] == 1
    assert set(listed.get("alice")) == {"lobby", "dev"}
    # Elsewhere: Alice joins ops, Bob talks there (that instance writes ops' activity row).
    await other.send({"type": "join", "room": "ops"}, "alice", "conn-9", "j1")
    bob_there = await other.send({"type": "join", "room": "ops"}, "bob", "conn-8", "j2")
    said = {"type": "message", "room": "ops", "message": "hi"}
    await other.send(said, "bob", "conn-8", "m1", bob_there)
    here.asked.clear()
    body = _entries(await here.my_rooms("alice"))
    # The guess (lobby, dev) was read beside the list; ops, which it missed, after it.
    assert here.asked == [["dev", "lobby"], ["ops"]]
    assert set(body) == {"lobby", "dev", "ops"}
    assert body["ops"]["unread"] == 1 and body["ops"]["lastMessageTime"]
    assert body["dev"]["unread"] == 1
    # Now guessed: one read of the activity rows, beside the list, and nothing after it.
    here.asked.clear()
    assert _entries(await here.my_rooms("alice")) == body
    assert here.asked == [["dev", "lobby", "ops"]]


async def test_a_room_left_on_another_instance_is_gone_and_cold_answers_as_warm(
    app: RecordingService, other: OtherInstance
) -> None:
    alice = await join("dev")
    alice = await join("ops", state=alice)
    bob = await join("dev", "bob", "conn-2")
    bob = await join("ops", "bob", "conn-2", bob)
    await say("dev", "one", bob, "b1", "bob", "conn-2")
    await say("ops", "two", bob, "b2", "bob", "conn-2")
    warm = await me("alice")  # through the app: its instance now guesses lobby, dev, ops
    assert set(warm) == {"lobby", "dev", "ops"}
    assert set(stateful().listed_rooms.get("alice")) == {"lobby", "dev", "ops"}
    await other.send({"type": "leave", "room": "dev"}, "alice", "conn-9", "l1", alice)
    warm = await me("alice")
    assert set(warm) == {"lobby", "ops"} and warm["ops"]["unread"] == 1
    assert set(stateful().listed_rooms.get("alice")) == {"lobby", "ops"}
    # An instance with no guess (cold), one that keeps none, and the warm app: one answer.
    store = stateful().store
    cold = _entries(await Conversations(store, ListedRooms()).my_rooms("alice"))
    none = _entries(await Conversations(store).my_rooms("alice"))
    assert cold == none == warm == await me("alice")


async def test_activity_filters_stay_within_the_services_15_comparisons(
    app: RecordingService,
) -> None:
    store = stateful().store
    names = [f"room{n:02d}" for n in range(30)]
    for name in names[::3]:
        await Conversations(store).note_activity(name, "2026-12-07T00:00:00.000Z", 0.0)
    filters: list[str] = []
    query = store.query_state

    async def spy(what: str, text: str, *args: Any, **kwargs: Any) -> Any:
        filters.append(text)
        return await query(what, text, *args, **kwargs)

    store.query_state = spy  # type: ignore[method-assign]
    try:
        rows = await Conversations(store).activity(names)
    finally:
        del store.query_state
    assert sorted(rows) == names[::3]
    assert len(filters) == 3
    for text in filters:  # Azurite takes more; the service refuses a 16th comparison
        assert 1 < sum(text.count(op) for op in (" eq ", " ne ", " lt ", " gt ")) <= 15


def test_the_guesses_are_bounded_least_recently_asking_first() -> None:
    listed = ListedRooms(capacity=2, per_user=3)
    listed.keep("many", ("a", "b", "c", "d"))
    assert listed.get("many") == ("a", "b", "c")
    listed.keep("a", ("lobby",))
    listed.keep("b", ("lobby", "dev"))
    listed.get("a")  # reading does not count as asking
    listed.keep("a", ("lobby", "ops"))
    listed.keep("c", ("lobby",))
    assert listed.get("b") == () and listed.get("a") == ("lobby", "ops")
    assert listed.get("c") == ("lobby",)
