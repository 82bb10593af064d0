"""Issue 19's chat-wide ban without I/O (chat/moderation.chat_ban, chat/chat_bans.py,
chat/events.connect): admins only, never on an admin, audited, the user's connections closed,
and connect refusing a banned account until the ban expires."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from chat import chat_bans, events, moderation, roles, rooms
from chat.cloudevents import CONNECT, CloudEvent
from chat.identity import encode_user_id
from chat.plan import (
    ChatBan,
    CloseUserConnections,
    Failed,
    ListBlocks,
    ListConnections,
    ReadChatBan,
    SendToUser,
)
from tests.app.test_moderation_pure import (
    ADMIN,
    MEMBER,
    MOD,
    NOW,
    OFF,
    OTHER,
    OWNER,
    SIGNED_IN,
    rejected,
    send,
)


def test_a_ban_without_a_room_is_chat_wide_and_an_explicit_bad_room_is_still_refused() -> None:
    assert rooms.parse(b'{"type":"ban","user":"u"}', None, 9999).kind == rooms.CHAT_BAN
    assert rooms.parse(b'{"type":"unban","room":null,"user":"u"}', None, 9999).kind == (
        rooms.CHAT_UNBAN
    )
    assert rooms.parse(b'{"type":"kick","user":"u","room":"r"}', None, 9999).kind == "kick"
    with pytest.raises(Exception, match="room name"):
        rooms.parse(b'{"type":"ban","user":"u","room":""}', None, 9999)


@pytest.mark.parametrize(
    ("actor", "frame", "settings", "reason"),
    [
        (OWNER, {"type": "ban", "user": MEMBER}, SIGNED_IN, moderation.CHAT_ADMINS_ONLY),
        (MOD, {"type": "unban", "user": MEMBER}, SIGNED_IN, moderation.CHAT_ADMINS_ONLY),
        (MEMBER, {"type": "ban", "user": OTHER}, SIGNED_IN, moderation.CHAT_ADMINS_ONLY),
        (ADMIN, {"type": "ban", "user": ADMIN}, SIGNED_IN, roles.NOT_YOURSELF),
        (ADMIN, {"type": "ban", "user": MEMBER}, OFF, roles.NEEDS_SIGN_IN),
        (ADMIN, {"type": "ban", "user": "Mel"}, SIGNED_IN, 'Not done: "user" must be'),
        (ADMIN, {"type": "ban", "user": MEMBER, "minutes": 0}, SIGNED_IN, 'Not done: "minutes"'),
    ],
)
def test_refusals_change_nothing_and_say_why(actor, frame, settings, reason) -> None:
    plan = send(frame, actor, settings)
    assert plan.effects == ()
    assert rejected(plan).startswith(reason)


def test_an_admin_cannot_ban_another_admin_from_the_chat() -> None:
    target = encode_user_id("aad", "admin-2", "Ann")
    settings = replace(SIGNED_IN, admins=frozenset({"aad:admin-1", "aad:admin-2"}))
    plan = send({"type": "ban", "user": target}, ADMIN, settings)
    assert plan.effects == () and rejected(plan) == moderation.NOT_AN_ADMIN_TARGET


@pytest.mark.parametrize(("minutes", "until"), [(10, NOW + 600), (None, math.inf)])
def test_an_admins_ban_is_audited_then_closes_every_connection(minutes, until) -> None:
    plan = send({"type": "ban", "user": MEMBER, "minutes": minutes, "reason": "spam"}, ADMIN)
    (ban,) = plan.effects
    assert isinstance(ban, ChatBan)
    assert (ban.account, ban.user_id, ban.until) == ("aad:member-1", MEMBER, until)
    assert ban.audit["PartitionKey"] == chat_bans.AUDIT_PARTITION
    assert (ban.audit["by"], ban.audit["target"], ban.audit["reason"]) == (ADMIN, MEMBER, "spam")
    assert plan.then is not None
    closing = plan.then((True,))
    (close,) = closing.effects
    assert isinstance(close, CloseUserConnections) and close.user == MEMBER
    assert "banned from the chat" in close.reason
    assert closing.then is not None
    final = closing.then((None,))
    assert final.answer.status == 204
    (told,) = final.effects
    assert isinstance(told, SendToUser) and told.user == ADMIN
    assert (told.payload["action"], told.payload["room"], told.payload["user"]) == (
        "ban",
        None,
        MEMBER,
    )


def test_a_failed_close_is_retried_by_the_service_and_a_failed_write_refused() -> None:
    plan = send({"type": "ban", "user": MEMBER}, ADMIN)
    assert plan.then is not None
    closing = plan.then((True,))
    assert closing.then is not None
    assert closing.then((Failed("down", 503),)).answer.status == 503
    assert rejected(plan.then((Failed("store down"),))) == moderation.NOT_SAVED


def test_unban_deletes_the_row_and_closes_nothing() -> None:
    plan = send({"type": "unban", "user": MEMBER}, ADMIN)
    (lift,) = plan.effects
    assert isinstance(lift, ChatBan) and lift.until is None and lift.audit["action"] == "unban"
    assert plan.then is not None
    final = plan.then((True,))
    assert final.answer.status == 204
    assert [type(e) for e in final.effects] == [SendToUser]


# --- connect and negotiate's rule ------------------------------------------------------------


def connect_event(user: str) -> CloudEvent:
    return CloudEvent(CONNECT, "ce-1", "hub", "conn-1", "", user, None, None)


@pytest.mark.parametrize(
    ("until", "status"),
    [(None, 200), (NOW - 1, 200), (NOW + 60, 403), (math.inf, 403)],
)
def test_connect_reads_the_chat_ban_beside_the_count_and_refuses_until_it_expires(
    until, status
) -> None:
    plan = events.connect(connect_event(MEMBER), b"", SIGNED_IN, NOW)
    assert plan.effects[1:] == (ReadChatBan("aad:member-1"), ListBlocks("aad:member-1"))
    assert isinstance(plan.effects[0], ListConnections) and plan.then is not None
    reply = plan.then(([], until)).answer
    assert reply.status == status
    if status == 403:
        assert reply.body.decode() == chat_bans.refusal(until, NOW)
        assert "banned from the chat" in reply.body.decode()


def test_connect_fails_closed_when_the_ban_cannot_be_read() -> None:
    plan = events.connect(connect_event(MEMBER), b"", SIGNED_IN, NOW)
    assert plan.then is not None
    reply = plan.then(([], Failed("store down"))).answer
    assert (reply.status, reply.body.decode()) == (503, events.CANNOT_CHECK_BAN)


def test_without_sign_in_connect_reads_no_ban() -> None:
    plan = events.connect(connect_event("alice"), b"", OFF, NOW)
    assert len(plan.effects) == 1


@pytest.mark.parametrize(
    ("until", "refused"), [(None, False), (NOW, False), (NOW + 1, True), (math.inf, True)]
)
def test_the_refusal_names_the_expiry(until, refused) -> None:
    why = chat_bans.refusal(until, NOW)
    assert (why is not None) == refused
    if until == math.inf:
        assert why == "You are banned from the chat until it is lifted."
    elif refused:
        assert why is not None and "until 2027-01-15T08:00:01.000Z" in why
