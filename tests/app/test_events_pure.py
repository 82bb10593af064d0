"""The webhook's decisions without I/O (chat/events.py): plans in, plans out."""

from __future__ import annotations

import json

import pytest

from chat import connection_state, events, rooms
from chat.cloudevents import CONNECT, CloudEvent
from chat.plan import (
    AddToGroups,
    DeleteMessage,
    Failed,
    LeaseTokens,
    ListConnections,
    NoteActivity,
    RemoveFromGroups,
    SendToGroup,
    StoreMessage,
)
from chat.settings import load

SETTINGS = load(
    {
        "WebPubSubConnectionString": "Endpoint=http://localhost:8080;AccessKey=a2V5;Version=1.0;",
        "ChatMaxConnectionsPerUser": "3",
    }
)
NOW = 1_800_000_000.0


def event(kind: str, user: str | None = "alice", state: dict | None = None) -> CloudEvent:
    encoded = connection_state.encode(state) if state is not None else None
    return CloudEvent(kind, "ce-1", "hub", "conn-1", "", user, encoded, "2027-01-15T08:00:00Z")


# --- connect: the cap, counted by the service, decided on the count ---------------------------


def test_connect_counts_the_users_lobby_presence_group_up_to_the_cap() -> None:
    plan = events.connect(event(CONNECT), b"", SETTINGS)
    assert plan.effects == (ListConnections(rooms.presence_group("lobby", "alice"), top=3),)
    assert plan.reply is None and plan.then is not None


@pytest.mark.parametrize(("open_connections", "status"), [(0, 200), (2, 200), (3, 403), (7, 403)])
def test_admit_refuses_at_the_cap_with_the_reason(open_connections: int, status: int) -> None:
    plan = events.connect(event(CONNECT), b"", SETTINGS)
    assert plan.then is not None
    listed = [{"connectionId": f"c{n}", "userId": "alice"} for n in range(open_connections)]
    reply = plan.then((listed,)).answer
    assert reply.status == status
    if status == 200:
        assert json.loads(reply.body) == {
            "groups": ["r.lobby", rooms.presence_group("lobby", "alice")]
        }
    else:
        assert reply.body.decode() == events.too_many_connections(3)


def test_admit_fails_closed_when_the_count_is_unknown() -> None:
    plan = events.connect(event(CONNECT), b"", SETTINGS)
    assert plan.then is not None
    reply = plan.then((Failed("service answered 500", 502),)).answer
    assert (reply.status, reply.body) == (502, events.UNREACHABLE.encode())


def test_a_refused_connect_counts_nothing() -> None:
    plan = events.connect(event(CONNECT, user=None), b"", SETTINGS)
    assert plan.effects == () and plan.answer.status == 401


# --- message: the second and third decisions ----------------------------------------------


def message_plan():  # a fresh connection: no leased token, so the lease goes with the insert
    plan = events.command(event(events.MESSAGE), b"hello", "text/plain", SETTINGS, NOW)
    lease, store = plan.effects
    assert isinstance(lease, LeaseTokens) and isinstance(store, StoreMessage)
    assert plan.then is not None
    return plan, store


def test_a_stored_and_allowed_message_is_then_broadcast() -> None:
    plan, _ = message_plan()
    sent = plan.then(((5, [15.0, NOW, "etag"]), True))
    [send] = sent.effects
    assert isinstance(send, SendToGroup) and send.group == "r.lobby"
    assert send.payload["message"] == "hello"
    final = sent.then((None,))
    assert final.answer.status == 204 and final.delivered
    # Issue 17: the directory's activity row (the executor writes it once per 10 s per room).
    assert final.effects == (NoteActivity("lobby", send.payload["time"], NOW),)


def test_a_retried_event_is_not_broadcast_again() -> None:
    plan, _ = message_plan()
    final = plan.then(((5, None), False))  # the insert answered 409
    assert final.effects == () and final.then is None
    assert final.answer.status == 204 and "duplicate" in final.notes


def test_a_message_over_the_users_limit_is_taken_back_out() -> None:
    plan, store = message_plan()
    final = plan.then(((0, None), True))
    assert final.effects == (DeleteMessage(store.entity, store.marker),)
    assert json.loads(final.answer.body)["message"] == events.TOO_FAST


def test_a_failed_broadcast_takes_the_message_back_out_for_the_retry() -> None:
    plan, store = message_plan()
    sent = plan.then(((5, None), True))
    final = sent.then((Failed("service unreachable", 503),))
    assert final.effects == (DeleteMessage(store.entity, store.marker),)
    assert (final.answer.status, final.answer.body) == (503, events.UNREACHABLE.encode())


def test_a_store_failure_refuses_and_sends_nothing() -> None:
    plan, _ = message_plan()
    final = plan.then(((5, None), Failed("store message: ServiceRequestError")))
    assert final.effects == ()
    assert json.loads(final.answer.body)["message"] == events.NOT_SAVED


# --- join: the room enters the state only after the add ---------------------------------------


def join_plan(state: dict | None = None):
    """The join's plan up to the add (the user's room-change lease granted when asked)."""
    body = json.dumps({"type": "join", "room": "dev"}).encode()
    plan = events.command(event(events.MESSAGE, state=state), body, "text/plain", SETTINGS, NOW)
    if plan.effects and isinstance(plan.effects[0], LeaseTokens):
        assert plan.then is not None
        plan = plan.then(((5, [15.0, NOW, "etag"]),))
    [add] = plan.effects
    groups = ("r.dev", rooms.presence_group("dev", "alice"))
    assert add == AddToGroups("conn-1", groups) and plan.then is not None
    return plan


def answered_rooms(plan) -> list[str]:
    return rooms.rooms_of(connection_state.decode(plan.answer.headers[connection_state.HEADER]))


def test_a_join_is_in_the_state_only_once_added() -> None:
    joined = join_plan().then((None,))
    assert joined.answer.status == 204 and answered_rooms(joined) == ["lobby", "dev"]


def test_a_failed_add_is_refused_out_of_the_state_and_taken_back() -> None:
    refused = join_plan().then((Failed("service answered 500", 502),))
    assert json.loads(refused.answer.body) == events.rejection(
        events.unavailable("join", "dev"), "dev", None
    )
    assert answered_rooms(refused) == ["lobby"]
    assert refused.effects == (
        RemoveFromGroups("conn-1", ("r.dev", rooms.presence_group("dev", "alice"))),
    )
    # Already in the room (a repeated join): the failed add changed nothing, so nothing is undone.
    again = join_plan({"rooms": ["dev"]}).then((Failed("service answered 500", 502),))
    assert answered_rooms(again) == ["lobby", "dev"] and again.effects == ()
