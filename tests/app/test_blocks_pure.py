"""Issue 19's blocks, as tables: the block and unblock decisions, the filter every room send
carries, a blocked DM, and a connecting blocker's groups (chat/blocks.py, chat/events.py)."""

from __future__ import annotations

import json

import pytest

from chat import blocks, connection_state, direct, events, history, moderation, rooms
from chat.cloudevents import CONNECT, CloudEvent
from chat.identity import encode_user_id
from chat.plan import (
    AddUserToGroups,
    DropBlock,
    Failed,
    Found,
    IsBlocked,
    KnownUser,
    ListBlocks,
    ListConnections,
    ReadChatBan,
    RemoveUserFromGroups,
    SaveBlock,
    SendToGroup,
    SendToUser,
)
from devstack.emulator.filter import compile_filter
from tests.app.test_conversations_pure import (
    ALICE,
    BOB,
    NOW,
    SETTINGS,
    SIGNED,
    command,
    rejected,
)

BOB_RENAMED = encode_user_id("github", "b-2", "Robert")  # the same account, another name
CAROL = encode_user_id("aad", "c-3", "Carol")
ALICE_ACCOUNT, BOB_KEY = "aad:a-1", blocks.key("github:b-2")


def block(user: object, by: str = ALICE, kind: str = "block", state: dict | None = None):
    return command({"type": kind, "user": user}, user=by, state=state, settings=SIGNED)


def row(key: str, n: int = 0) -> dict:
    return {"RowKey": key, "userId": f"u{n}", "name": "", "idp": "", "time": ""}


# --- refusals: each says why, and changes nothing ---------------------------------------------


@pytest.mark.parametrize("kind", ["block", "unblock"])
def test_without_sign_in_blocks_are_refused(kind: str) -> None:
    plan = command({"type": kind, "user": BOB}, user="alice", settings=SETTINGS)
    assert rejected(plan) == blocks.NEED_SIGN_IN and plan.effects == ()


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        (None, blocks.NOT_A_USER),
        (5, blocks.NOT_A_USER),
        ("", blocks.NOT_A_USER),
        ("bob", blocks.NOT_A_USER),  # a chosen name: no account
        ("aad:" + "x" * 3000 + ":n", blocks.NOT_A_USER),
        (ALICE, blocks.NOT_YOURSELF),
        (encode_user_id("aad", "a-1", "Another name"), blocks.NOT_YOURSELF),
    ],
)
@pytest.mark.parametrize("kind", ["block", "unblock"])
def test_a_bad_target_is_refused(user: object, reason: str, kind: str) -> None:
    plan = block(user, kind=kind)
    assert rejected(plan) == reason and plan.effects == ()


def test_a_connection_may_send_ten_block_commands_at_once_then_one_every_three_seconds() -> None:
    state: dict = {}
    for _ in range(blocks.BLOCK_COMMANDS):
        plan = block(BOB, state=state)
        assert plan.effects, plan.answer.body
        refused = plan.then((Failed("x"), []))
        state = connection_state.decode(refused.answer.headers[connection_state.HEADER])
    assert rejected(block(BOB, state=state)) == blocks.TOO_FAST


@pytest.mark.parametrize(
    ("known", "rows", "reason"),
    [
        (Failed("down"), [], blocks.NOT_SAVED),
        (True, Failed("down"), blocks.NOT_SAVED),
        (False, [], blocks.UNKNOWN),
        (True, [row(f"{n:032x}", n) for n in range(blocks.MAX_BLOCKS)], blocks.TOO_MANY),
    ],
)
def test_a_block_that_cannot_be_checked_or_is_over_the_cap_is_refused(known, rows, reason) -> None:
    plan = block(BOB)
    assert plan.effects == (KnownUser(BOB), ListBlocks(ALICE_ACCOUNT))
    assert plan.then is not None
    refused = plan.then((known, rows))
    assert rejected(refused) == reason and refused.effects == ()


# --- block and unblock ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("known", "rows"),
    [
        (True, []),
        # Already blocked (a retry, or a second device): written again, nothing more.
        (True, [row(BOB_KEY)]),
        (False, [row(BOB_KEY)]),  # no longer known to the chat: still blocked, not refused
        (True, [row(f"{n:032x}", n) for n in range(blocks.MAX_BLOCKS - 1)] + [row(BOB_KEY)]),
    ],
)
def test_a_block_writes_its_row_then_groups_every_connection_then_tells_every_tab(
    known, rows
) -> None:
    plan = block(BOB)
    assert plan.then is not None
    saved = plan.then((known, rows))
    (save,) = saved.effects
    assert isinstance(save, SaveBlock)
    assert save.entity["PartitionKey"] == "blocks|" + blocks.key(ALICE_ACCOUNT)
    assert save.entity["RowKey"] == BOB_KEY
    assert (save.entity["userId"], save.entity["name"], save.entity["idp"]) == (
        BOB,
        "Bob",
        "github",
    )
    assert saved.then is not None
    assert rejected(saved.then((Failed("down"),))) == blocks.NOT_SAVED
    grouped = saved.then((None,))
    assert grouped.effects == (AddUserToGroups(ALICE, ("b." + BOB_KEY,)),)
    assert grouped.then is not None
    # The row is there but the open connections are not grouped: the service retries.
    assert grouped.then((Failed("service", 502),)).answer.status == 502
    final = grouped.then((None,))
    assert final.answer.status == 204 and final.then is None
    assert final.effects == (
        SendToUser(
            ALICE, {"type": "block", "user": BOB, "with": direct.peer(direct.recipient(BOB))}
        ),  # type: ignore[arg-type]
    )


def test_an_unblock_drops_the_row_then_ungroups_every_connection_then_tells_every_tab() -> None:
    plan = block(BOB_RENAMED, kind="unblock")  # any name of the account
    assert plan.effects == (DropBlock(ALICE_ACCOUNT, BOB_KEY),)
    assert plan.then is not None
    assert rejected(plan.then((Failed("down"),))) == blocks.NOT_SAVED
    removed = plan.then((None,))
    assert removed.effects == (RemoveUserFromGroups(ALICE, ("b." + BOB_KEY,)),)
    assert removed.then is not None
    assert removed.then((Failed("service", 503),)).answer.status == 503
    final = removed.then((None,))
    assert final.answer.status == 204
    (tell,) = final.effects
    assert isinstance(tell, SendToUser) and tell.payload["type"] == "unblock"


# --- what the blocked person sends does not reach the blocker ---------------------------------


def _sent(plan, outcomes_list):
    for outcomes in outcomes_list:
        assert plan.then is not None
        plan = plan.then(outcomes)
    return plan


@pytest.mark.parametrize("sender", [BOB, BOB_RENAMED])
def test_a_room_message_carries_the_senders_block_filter(sender: str) -> None:
    plan = command(
        {"type": "message", "room": "lobby", "message": "hi"}, user=sender, settings=SIGNED
    )
    sent = _sent(plan, [(moderation.Facts(),), ((5, None), True)])
    (send,) = sent.effects
    assert isinstance(send, SendToGroup) and send.group == rooms.group("lobby")
    assert send.filter == f"not('b.{BOB_KEY}' in groups)"


def test_without_sign_in_a_room_message_has_no_filter() -> None:
    plan = command({"type": "message", "room": "lobby", "message": "hi"}, user="bob")
    (send,) = _sent(plan, [((5, None), True)]).effects
    assert isinstance(send, SendToGroup) and send.filter is None


def test_typing_keeps_its_own_filter_and_adds_the_block_filter() -> None:
    plan = command({"type": "typing", "room": "lobby"}, user=BOB, settings=SIGNED)
    (notice,) = plan.effects
    assert isinstance(notice, SendToGroup)
    assert notice.filter == f"userId ne '{BOB}' and not('b.{BOB_KEY}' in groups)"


@pytest.mark.parametrize(
    ("groups", "user", "delivered"),
    [
        ({"r.lobby", f"b.{BOB_KEY}"}, ALICE, False),  # a blocker's connection
        ({"r.lobby"}, CAROL, True),
        ({"r.lobby", f"b.{blocks.key('aad:c-3')}"}, ALICE, True),  # blocks someone else
    ],
)
def test_the_filter_means_what_it_says_to_the_emulators_odata_parser(groups, user, delivered):
    typing_filter = f"userId ne '{BOB}' and not('b.{BOB_KEY}' in groups)"
    for text in (blocks.filter_out(BOB), typing_filter):
        assert text is not None
        matches = compile_filter(text)
        context = {"userid": user, "connectionid": "c", "protocol": "", "groups": groups}
        assert matches(context) is delivered


def test_a_dm_to_someone_who_blocks_the_sender_is_refused_and_nothing_is_stored() -> None:
    plan = command({"type": "dm", "to": ALICE, "message": "hi"}, user=BOB, settings=SIGNED)
    assert plan.effects == (KnownUser(ALICE), IsBlocked(ALICE_ACCOUNT, BOB_KEY))
    assert plan.then is not None
    refused = plan.then((True, True))
    assert rejected(refused) == blocks.REFUSED_DM and refused.effects == ()
    assert "block" not in blocks.REFUSED_DM  # the reason does not reveal the block
    # A block that cannot be read fails closed.
    assert rejected(plan.then((True, Failed("down")))) == events.NOT_SAVED
    assert plan.then((True, False)).effects  # not blocked: on to the rows


def test_a_dm_reaches_the_recipient_only_through_the_senders_block_filter() -> None:
    """Should a block be made on another instance within NOT_BLOCKED_S of a "not blocked"
    answer this instance reuses, the DM is still kept from the blocker's connections."""
    plan = command({"type": "dm", "to": ALICE, "message": "hi"}, user=BOB, settings=SIGNED)
    for outcomes in [(True, False), (True, True), ((5, None), True)]:
        assert plan.then is not None
        plan = plan.then(outcomes)
    sends = {e.user: e for e in plan.effects if isinstance(e, SendToUser)}
    assert set(sends) == {ALICE, BOB}
    assert sends[ALICE].filter == blocks.filtered(BOB, SIGNED) and sends[ALICE].filter
    assert sends[BOB].filter is None  # the sender's own copy
    note = direct.sends(BOB, BOB, {"id": "x"}, blocks.filtered(BOB, SIGNED))
    assert note == (SendToUser(BOB, {"id": "x"}),)  # a note to oneself: once, unfiltered


# --- a blocker's new connection starts in the groups of those they block ----------------------


def connect(user: str) -> object:
    event = CloudEvent(CONNECT, "ce-1", "hub", "conn-1", "", user, None, None)
    return events.connect(event, b"", SIGNED, NOW)


def test_connect_reads_the_blocks_beside_the_ban_and_adds_their_groups() -> None:
    plan = connect(ALICE)
    assert isinstance(plan.effects[0], ListConnections)
    assert plan.effects[1:] == (ReadChatBan(ALICE_ACCOUNT), ListBlocks(ALICE_ACCOUNT))
    assert plan.then is not None
    reply = plan.then(([], None, [row(BOB_KEY)])).answer
    assert reply.status == 200
    groups = json.loads(reply.body)["groups"]
    assert groups == [*events.lobby_groups(ALICE), "b." + BOB_KEY]
    failed = plan.then(([], None, Failed("down", 503))).answer
    assert failed.status == 503  # fail closed: the client reconnects


# --- edits, reactions and mentions of the blocked person carry the filter too -----------------


def _drive(plan, answers) -> list:
    """Carry a plan out with canned outcomes by effect type; every effect planned, in order."""
    seen = []
    while True:
        seen.extend(plan.effects)
        if plan.then is None:
            return seen
        plan = plan.then(tuple(answers(effect) for effect in plan.effects))


def _answers(found_row: dict):
    def answer(effect):
        name = type(effect).__name__
        return {
            "ReadRoom": moderation.Facts(),
            "LeaseTokens": (5, None),
            "FindMessage": Found(found_row, "etag-1"),
            "UpdateMessage": True,
            "StoreMessage": True,
            "ListConnections": [{"connectionId": "c1", "userId": ALICE}],
        }.get(name)

    return answer


ID = "0123456789abcdef01234567"


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "edit", "room": "dev", "id": ID, "message": "fixed"},
        {"type": "react", "room": "dev", "id": ID, "emoji": "👍"},
        {"type": "message", "room": "dev", "message": "@Alice look"},
    ],
)
def test_edits_reactions_and_mentions_by_the_blocked_person_carry_the_filter(frame) -> None:
    stored = {
        "PartitionKey": "dev",
        "RowKey": history.row_key(int(NOW - 60) * 1000, ID),
        "id": ID,
        "from": "Bob",
        "userId": BOB,
        "message": "typo",
        "time": history.iso_time(NOW - 60),
    }
    plan = command(frame, user=BOB, state={"rooms": ["dev"]}, settings=SIGNED)
    sends = [e for e in _drive(plan, _answers(stored)) if isinstance(e, SendToGroup | SendToUser)]
    assert sends, "nothing was sent"
    for send in sends:
        assert send.filter == f"not('b.{BOB_KEY}' in groups)", send
    if frame["type"] == "message":
        assert any(isinstance(s, SendToUser) and s.user == ALICE for s in sends)  # the mention
