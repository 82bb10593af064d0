"""Who owns a new room, decided without I/O (chat/moderation.py's gate, chat/events.py's join):
the first signed-in joiner of a room with no record claims it, but only once the join has
succeeded. A join refused after the gate (room changes spent, the user's lease refused or
unreadable, too many rooms, the service's add failing) claims nothing, so someone who never
got in cannot own the room."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chat import connection_state, events, moderation, roles, rooms
from chat.cloudevents import CloudEvent
from chat.identity import encode_user_id
from chat.plan import (
    AddToGroups,
    ClaimRoom,
    Effect,
    Failed,
    KeepJoined,
    LeaseTokens,
    Plan,
    ReadRoom,
    Reconcile,
    RemoveFromGroups,
    Snapshot,
)
from chat.rate_limit import Bucket
from chat.settings import load

MESSAGE = "azure.webpubsub.user.message"
NOW = 1_800_000_000.0
MEL = encode_user_id("aad", "member-1", "Mel")
CONNECTION = "wss://x"  # the stand-in for a Web PubSub connection: any id will do
BASE = {"WebPubSubConnectionString": "Endpoint=http://localhost:8080;AccessKey=a2V5;Version=1.0;"}
SIGNED_IN = load(BASE | {"ChatSignIn": "required", "WEBSITE_AUTH_ENABLED": "True"})
OFF = load(BASE)
OWNED = moderation.Facts(roles.Record(owner="github:42", owner_id="x"))
GRANTED = (5, [15.0, NOW, "etag"])  # the user's room-change lease: a token
EMPTY = (0, [0.0, NOW, "etag"])  # the user's bucket is spent
CLAIM = ClaimRoom("dev", "aad:member-1", MEL)


def twenty_rooms() -> dict[str, Any]:
    return {"rooms": [f"r{n}" for n in range(rooms.MAX_ROOMS_PER_CONNECTION - 1)]}


def no_moves_left() -> dict[str, Any]:
    return {"moves": Bucket(0.0, NOW).to_state()}


Answers = dict[type, object]
KINDS = {kind.__name__: kind for kind in (ReadRoom, LeaseTokens, AddToGroups, ClaimRoom)}


def answer(answers: Answers, effect: Effect) -> object:
    """What the shell would answer: the test's answer for the effect's kind, else a success."""
    if type(effect) in answers:
        return answers[type(effect)]
    defaults: Answers = {
        ReadRoom: moderation.Facts(),
        LeaseTokens: GRANTED,
        AddToGroups: None,
        ClaimRoom: True,
    }
    return defaults.get(type(effect))


def carried_out(
    room: str = "dev",
    state: dict[str, Any] | None = None,
    settings=SIGNED_IN,
    **answers: object,
) -> tuple[Plan, list[tuple[Effect, ...]]]:
    """A join decided step by step as the executor would carry it out: the final plan and
    every step's effects, in order. `answers` by effect kind: ReadRoom=Facts(...), ..."""
    by_kind: Answers = {KINDS[name]: value for name, value in answers.items()}
    encoded = connection_state.encode(state) if state is not None else None
    event = CloudEvent(MESSAGE, "ce-1", "hub", CONNECTION, "message", MEL, encoded, None)
    body = json.dumps({"type": "join", "room": room}).encode()
    plan = events.command(event, body, "application/json", settings, NOW)
    steps: list[tuple[Effect, ...]] = []
    while True:
        steps.append(plan.effects)
        if plan.then is None:
            return plan, steps
        plan = plan.then(tuple(answer(by_kind, effect) for effect in plan.effects))


def claims(steps: list[tuple[Effect, ...]]) -> list[ClaimRoom]:
    return [effect for step in steps for effect in step if isinstance(effect, ClaimRoom)]


def refusal(plan: Plan) -> str:
    assert plan.reply is not None and plan.reply.status == 200, plan
    body = json.loads(plan.reply.body)
    assert body["event"] == "rejected", body
    return str(body["message"])


REFUSED: list[tuple[str, Callable[[], tuple[Plan, list]], str]] = [
    (
        "the connection's room changes are spent",
        lambda: carried_out(state=no_moves_left()),
        events.ROOMS_TOO_FAST,
    ),
    (
        "the user's leased room changes are spent",
        lambda: carried_out(LeaseTokens=EMPTY),
        events.ROOMS_TOO_FAST,
    ),
    (
        "the store fails the user's lease",
        lambda: carried_out(LeaseTokens=Failed("table down")),
        events.unavailable("join", "dev"),
    ),
    (
        "the service fails the group add",
        lambda: carried_out(AddToGroups=Failed("service answered 500", 502)),
        events.unavailable("join", "dev"),
    ),
    (
        "the connection is in too many rooms",
        lambda: carried_out(state=twenty_rooms()),
        "at most 20 rooms",
    ),
    (
        "the joiner is banned",
        lambda: carried_out(ReadRoom=moderation.Facts(ban_until=NOW + 60)),
        "banned from dev",
    ),
    (
        "the gate cannot read the room",
        lambda: carried_out(ReadRoom=Failed("table down")),
        moderation.CANNOT_CHECK,
    ),
]


@pytest.mark.parametrize(("case", "run", "reason"), REFUSED, ids=[c[0] for c in REFUSED])
def test_a_refused_join_of_a_room_with_no_record_claims_nothing(
    case: str, run: Callable[[], tuple[Plan, list]], reason: str
) -> None:
    final, steps = run()
    assert reason in refusal(final), case
    assert claims(steps) == [], case
    # It was a room with no record, read by the gate (so a claim was in the offing).
    assert steps[0] == (ReadRoom("dev", "aad:member-1"),)


def test_a_join_refused_after_a_failed_add_takes_the_groups_back_and_claims_nothing() -> None:
    final, steps = carried_out(AddToGroups=Failed("service answered 500", 502))
    assert final.effects == (
        RemoveFromGroups(CONNECTION, ("r.dev", rooms.presence_group("dev", MEL))),
    )
    assert claims(steps) == []


def test_a_successful_join_of_a_room_with_no_record_claims_it_after_the_add() -> None:
    final, steps = carried_out()
    assert final.reply is not None and final.reply.status == 204
    kinds = [tuple(type(e) for e in step) for step in steps]
    add = kinds.index((AddToGroups,))
    # The claim after the service added the groups, and before the joined notice and the
    # member list: the page reads the room's roles again on its own "joined" notice.
    assert steps[add + 1] == (CLAIM,)
    assert kinds[add + 2] == (Reconcile, Snapshot, KeepJoined)
    assert claims(steps) == [CLAIM]


@pytest.mark.parametrize("claimed", [True, False, Failed("table down")])
def test_the_join_stands_whether_the_claim_won_lost_or_failed(claimed: object) -> None:
    """Lost: another first joiner won (ClaimRoom's insert-only row); failed: the room stays
    unowned and the next successful joiner claims it. The joiner is in the room either way."""
    final, _ = carried_out(ClaimRoom=claimed)
    assert final.reply is not None and final.reply.status == 204
    state = connection_state.decode(final.reply.headers[connection_state.HEADER])
    assert rooms.rooms_of(state) == ["lobby", "dev"]
    assert tuple(type(e) for e in final.effects) == (Reconcile, Snapshot, KeepJoined)


@pytest.mark.parametrize(
    ("case", "room", "settings", "facts"),
    [
        ("a room with a record (owned)", "dev", SIGNED_IN, OWNED),
        (
            "a record without an owner (an admin's topic)",
            "dev",
            SIGNED_IN,
            moderation.Facts(roles.Record(topic="set by an admin")),
        ),
        ("the lobby, which nobody owns", "lobby", SIGNED_IN, moderation.Facts()),
        ("sign-in off: nobody can own a room", "dev", OFF, moderation.Facts()),
    ],
)
def test_a_successful_join_claims_nothing_when_there_is_nothing_to_claim(
    case: str, room: str, settings, facts: moderation.Facts
) -> None:
    final, steps = carried_out(room, settings=settings, ReadRoom=facts)
    assert final.reply is not None and final.reply.status == 204, case
    assert claims(steps) == [], case
    if settings is OFF:
        assert not any(isinstance(e, ReadRoom) for step in steps for e in step)


def test_the_gate_itself_writes_nothing_for_a_join() -> None:
    """The gate only reads; what it learned (no record) waits in the turn for the join."""
    _, steps = carried_out()
    assert steps[0] == (ReadRoom("dev", "aad:member-1"),)
    assert not any(isinstance(e, ClaimRoom) for e in steps[1])
