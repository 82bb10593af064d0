"""'… is typing' in a direct conversation, as a table (chat/direct_typing.py and its dispatch
in chat/events.py): accepted only in sign-in mode, only when the pair names the room, one
user-addressed send to the peer with the block filter, the room path's throttle."""

from __future__ import annotations

import json

import pytest

from chat import blocks, connection_state, direct, direct_typing, events, typing_notice
from chat.identity import encode_user_id
from chat.plan import SendToGroup, SendToUser
from tests.app.test_conversations_pure import ALICE, BOB, NOW, SETTINGS, SIGNED, event, rejected

CAROL = encode_user_id("aad", "c-3", "Carol")
ALICE_RENAMED = encode_user_id("aad", "a-1", "Alice Liddell")  # her account, another name
ROOM = direct.conversation(ALICE, BOB)


def command(
    value: object, user: str, state: dict | None = None, settings=SETTINGS, now: float = NOW
):
    body = json.dumps(value).encode()
    return events.command(event(user, state), body, "text/plain", settings, now)


def typing(to: object = BOB, room: str = ROOM, by: str = ALICE, **kw):
    frame = {"type": "typing", "room": room} | ({} if to is ... else {"to": to})
    return command(frame, user=by, **kw)


def kept_state(plan) -> dict:
    return connection_state.decode(plan.answer.headers[connection_state.HEADER])


def test_a_typing_notice_in_ones_own_dm_goes_once_to_the_peer_with_the_block_filter() -> None:
    plan = typing(settings=SIGNED)
    assert plan.answer.status == 204
    assert plan.effects == (
        SendToUser(
            BOB,
            {"type": "typing", "room": ROOM, "user": ALICE},
            filter=blocks.filtered(ALICE, SIGNED),
        ),
    )
    assert plan.effects[0].filter and "b." in plan.effects[0].filter  # a blocker never sees it
    assert kept_state(plan)["typing"] == {ROOM: NOW}
    # Either side names the room alike.
    back = typing(to=ALICE, by=BOB, settings=SIGNED)
    assert [e.user for e in back.effects] == [ALICE]


@pytest.mark.parametrize(
    ("to", "room", "settings", "reason"),
    [
        (BOB, ROOM, SETTINGS, direct_typing.NEED_SIGN_IN),  # sign-in off: names are claimable
        (CAROL, ROOM, SIGNED, direct_typing.NOT_YOURS),  # the wrong pair
        (BOB, direct.conversation(BOB, CAROL), SIGNED, direct_typing.NOT_YOURS),  # not hers
        (BOB, "dm-" + "0" * 32, SIGNED, direct_typing.NOT_YOURS),  # a guessed name
        (ALICE, direct.conversation(ALICE, ALICE), SIGNED, direct_typing.TO_YOURSELF),
        (
            ALICE_RENAMED,
            direct.conversation(ALICE, ALICE_RENAMED),
            SIGNED,
            direct_typing.TO_YOURSELF,
        ),
        (..., ROOM, SIGNED, direct_typing.NOT_A_USER),  # missing
        (None, ROOM, SIGNED, direct_typing.NOT_A_USER),
        (5, ROOM, SIGNED, direct_typing.NOT_A_USER),
        (["x"], ROOM, SIGNED, direct_typing.NOT_A_USER),
        ({"userId": BOB}, ROOM, SIGNED, direct_typing.NOT_A_USER),
        ("", ROOM, SIGNED, direct_typing.NOT_A_USER),
        ("bob", ROOM, SIGNED, direct_typing.NOT_A_USER),  # a chosen name
        ("aad:" + "x" * 3000 + ":n", ROOM, SIGNED, direct_typing.NOT_A_USER),
    ],
)
def test_anything_else_is_refused_with_a_reason_and_sends_nothing(
    to: object, room: str, settings, reason: str
) -> None:
    plan = typing(to=to, room=room, settings=settings)
    assert rejected(plan) == reason and plan.effects == ()
    body = json.loads(plan.answer.body)
    assert body["room"] == room
    assert "typing" not in kept_state(plan)  # a refusal spends no throttle


def test_sign_in_off_is_refused_however_the_pair_reads() -> None:
    plan = typing(to="bob", room=direct.conversation("alice", "bob"), by="alice")
    assert rejected(plan) == direct_typing.NEED_SIGN_IN and plan.effects == ()


def test_the_room_typing_throttle_one_per_connection_and_conversation_per_3_s() -> None:
    state: dict = {}
    sent = []
    for offset in (0.0, 1.0, 2.9, 3.0, 3.5, 6.1):
        plan = typing(state=state, settings=SIGNED, now=NOW + offset)
        assert plan.answer.status == 204
        sent.append(len(plan.effects))
        state = kept_state(plan)
    assert sent == [1, 0, 0, 1, 0, 1]
    # Another conversation has its own time; an expired one is dropped from the state.
    other = direct.conversation(ALICE, CAROL)
    plan = typing(to=CAROL, room=other, state=state, settings=SIGNED, now=NOW + 9.5)
    assert len(plan.effects) == 1
    assert kept_state(plan)["typing"] == {other: NOW + 9.5}


def test_a_sweep_of_names_is_throttled_past_two_other_conversations_in_3_s() -> None:
    """Typing reaches anyone named in `to`: past two other DMs within the throttle's 3 s,
    a connection's notices are dropped, and its state stays small."""
    state: dict = {}
    sent = []
    for n in range(6):
        peer = encode_user_id("aad", f"p-{n}", f"Peer {n}")
        plan = typing(
            to=peer, room=direct.conversation(ALICE, peer), state=state, settings=SIGNED,
            now=NOW + n / 10,
        )  # fmt: skip
        assert plan.answer.status == 204
        sent.append(len(plan.effects))
        state = kept_state(plan)
    assert sent == [1, 1, 0, 0, 0, 0] and len(state["typing"]) == 2
    # Once they no longer throttle, another conversation is told again.
    plan = typing(state=state, settings=SIGNED, now=NOW + 3.2)
    assert len(plan.effects) == 1


def test_the_room_path_is_unchanged_and_ignores_a_to() -> None:
    state = {"rooms": ["dev"]}
    plain = command({"type": "typing", "room": "dev"}, user=ALICE, state=state, settings=SIGNED)
    with_to = command(
        {"type": "typing", "room": "dev", "to": BOB}, user=ALICE, state=state, settings=SIGNED
    )
    assert plain.effects == with_to.effects
    assert [type(e) for e in with_to.effects] == [SendToGroup]
    assert with_to.effects[0].payload == typing_notice.typing("dev", ALICE)
    # Not joined: still the room path's refusal.
    plan = command({"type": "typing", "room": "ops", "to": BOB}, user=ALICE, settings=SIGNED)
    assert rejected(plan) == events.not_member("ops")
