"""Moderation's decisions without I/O (chat/roles.py, chat/moderation.py): who may do what,
expiry at use, the off-mode refusal, and the gate joins and messages pass in sign-in mode."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from chat import connection_state, events, moderation, roles, rooms
from chat.cloudevents import CloudEvent
from chat.identity import encode_user_id
from chat.plan import (
    ClaimRoom,
    Failed,
    FileReport,
    FindMessage,
    Found,
    LeaseTokens,
    Moderate,
    Plan,
    ReadRoom,
    Reconcile,
    RemoveUserFromGroups,
    ResolveReport,
    SendToGroup,
    SendToUser,
    TakeSlot,
)
from chat.settings import SettingsError, load

MESSAGE = "azure.webpubsub.user.message"
NOW = 1_800_000_000.0
ADMIN = encode_user_id("aad", "admin-1", "Ada")
OWNER = encode_user_id("github", "42", "Olga")
MOD = encode_user_id("aad", "mod-1", "Mo")
MOD2 = encode_user_id("aad", "mod-2", "Mia")
MEMBER = encode_user_id("aad", "member-1", "Mel")
OTHER = encode_user_id("google", "member-2", "Oz")
ENV = {
    "WebPubSubConnectionString": "Endpoint=http://localhost:8080;AccessKey=a2V5;Version=1.0;",
    "ChatSignIn": "required",
    "WEBSITE_AUTH_ENABLED": "True",
    "ChatAdmins": " aad:admin-1 , ",
}
SIGNED_IN = load(ENV)
OFF = load({"WebPubSubConnectionString": ENV["WebPubSubConnectionString"]})
RECORD = roles.Record(
    owner="github:42",
    owner_id=OWNER,
    moderators=(("aad:mod-1", MOD), ("aad:mod-2", MOD2)),
)
BY_USER = {ADMIN: roles.ADMIN, OWNER: roles.OWNER, MOD: roles.MODERATOR, MEMBER: roles.MEMBER}


def event(user: str, state: dict | None = None, ce_id: str = "ce-1") -> CloudEvent:
    encoded = connection_state.encode(state) if state is not None else None
    return CloudEvent(MESSAGE, ce_id, "hub", "conn-1", "message", user, encoded, None)


def send(frame: dict, user: str, settings=SIGNED_IN, state: dict | None = None) -> Plan:
    body = json.dumps(frame).encode()
    return events.command(event(user, state), body, "application/json", settings, NOW)


def rejected(plan: Plan) -> str:
    assert plan.reply is not None and plan.reply.status == 200, plan
    body = json.loads(plan.reply.body)
    assert body["event"] == "rejected", body
    return body["message"]


# --- ChatAdmins and accounts ------------------------------------------------------------------


def test_admins_are_accounts_read_from_the_setting() -> None:
    assert SIGNED_IN.admins == frozenset({"aad:admin-1"})
    assert OFF.admins == frozenset()
    with pytest.raises(SettingsError):
        load(ENV | {"ChatAdmins": "just-a-name"})


def test_an_account_is_the_provider_and_its_id_never_the_name() -> None:
    assert roles.account(ADMIN) == "aad:admin-1"
    renamed = encode_user_id("aad", "admin-1", "Someone Else")
    assert roles.account(renamed) == "aad:admin-1"
    assert roles.account(encode_user_id("aad", "a:b,c", "x")) == "aad:a:b,c"
    assert roles.account("Ada") is None  # a chosen name (sign-in off) is nobody's account
    assert roles.account(None) is None


def test_roles_come_from_the_record_and_the_setting() -> None:
    admins = SIGNED_IN.admins
    assert roles.role("aad:admin-1", RECORD, admins) == roles.ADMIN
    assert roles.role("github:42", RECORD, admins) == roles.OWNER
    assert roles.role("aad:mod-1", RECORD, admins) == roles.MODERATOR
    assert roles.role("aad:member-1", RECORD, admins) == roles.MEMBER
    assert roles.role("github:42", None, admins) == roles.MEMBER  # no record: no owner
    # An account whose *name* says "admin" is nobody special.
    assert roles.role(roles.account(encode_user_id("aad", "x", "aad:admin-1")), None, admins) == (
        roles.MEMBER
    )


# --- who may do what: each command x each role x each target role --------------------------

ALL_ROLES = (roles.MEMBER, roles.MODERATOR, roles.OWNER, roles.ADMIN)


def expected(action: str, actor: str, target: str | None) -> str | None:
    """The rules of issue 19, spelled out independently of chat/roles.py."""
    rank = {roles.MEMBER: 0, roles.MODERATOR: 1, roles.OWNER: 2, roles.ADMIN: 3}
    if action == roles.MOD:
        if actor not in (roles.OWNER, roles.ADMIN):
            return roles.NOT_OWNER
        if target in (roles.OWNER, roles.ADMIN):
            return roles.ALREADY
        return None
    if actor == roles.MEMBER:
        return roles.NOT_MODERATOR
    if target is not None and rank[target] >= rank[actor]:
        return roles.OUTRANKED
    return None


@pytest.mark.parametrize("action", roles.ACTIONS)
@pytest.mark.parametrize("actor", ALL_ROLES)
@pytest.mark.parametrize("target", (*ALL_ROLES, None))
def test_who_may_do_what(action: str, actor: str, target: str | None) -> None:
    if (action in roles.ON_USERS) != (target is not None):
        return  # kick needs a target; slow mode and topic have none
    assert roles.refusal(action, actor, target) == expected(action, actor, target)


def test_the_owner_is_banned_only_by_an_admin() -> None:
    assert roles.refusal(roles.BAN, roles.MODERATOR, roles.OWNER) == roles.OUTRANKED
    assert roles.refusal(roles.BAN, roles.ADMIN, roles.OWNER) is None


def test_nobody_acts_on_themselves() -> None:
    assert roles.refusal(roles.BAN, roles.OWNER, roles.MEMBER, same_person=True) == (
        roles.NOT_YOURSELF
    )


# --- with sign-in off every command is refused, and changes nothing --------------------------

FRAMES = [
    {"type": "kick", "room": "dev", "user": MEMBER},
    {"type": "ban", "room": "dev", "user": MEMBER, "minutes": None},
    {"type": "unban", "room": "dev", "user": MEMBER},
    {"type": "mute", "room": "dev", "user": MEMBER, "minutes": 5},
    {"type": "unmute", "room": "dev", "user": MEMBER},
    {"type": "slowmode", "room": "dev", "seconds": 30},
    {"type": "topic", "room": "dev", "topic": "Rust only"},
    {"type": "mod", "room": "dev", "user": MEMBER, "on": True},
]


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f["type"])
def test_off_mode_refuses_every_command(frame: dict) -> None:
    plan = send(frame, "alice", settings=OFF)
    assert "moderation needs sign-in" in rejected(plan)
    assert plan.effects == () and plan.then is None


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: f["type"])
def test_sign_in_mode_reads_the_record_fresh_for_every_command(frame: dict) -> None:
    plan = send(frame, MOD)
    assert plan.effects and all(
        isinstance(read, ReadRoom) and read.fresh and read.room == "dev" for read in plan.effects
    )
    assert plan.effects[-1] == ReadRoom("dev", str(roles.account(MOD)), fresh=True)  # the actor's


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ({"type": "kick", "room": "dev", "user": "mallory"}, "signed-in person"),
        ({"type": "ban", "room": "dev", "user": MEMBER, "minutes": 0}, "at least 1"),
        ({"type": "ban", "room": "dev", "user": MEMBER, "minutes": True}, "whole number"),
        ({"type": "mute", "room": "dev", "user": MEMBER, "minutes": None}, "whole number"),
        ({"type": "slowmode", "room": "dev", "seconds": 21_601}, "0 to 21600"),
        ({"type": "slowmode", "room": "dev", "seconds": -1}, "0 to 21600"),
        ({"type": "slowmode", "room": "dev", "seconds": 1.5}, "0 to 21600"),
        ({"type": "topic", "room": "dev", "topic": "x" * 201}, "at most 200"),
        ({"type": "topic", "room": "dev", "topic": "a\u200bb"}, "invisible"),
        ({"type": "mod", "room": "dev", "user": MEMBER, "on": "yes"}, "true or false"),
        ({"type": "kick", "room": "no room!", "user": MEMBER}, "room name"),
    ],
)
def test_malformed_commands_are_refused_with_the_reason(frame: dict, reason: str) -> None:
    plan = send(frame, MOD)
    assert reason in rejected(plan)
    assert plan.effects == ()


def test_slow_mode_limits_are_inclusive() -> None:
    for seconds in (0, 21_600):
        action = moderation.parse({"type": "slowmode", "seconds": seconds}, "dev")
        assert action.seconds == seconds


# --- the command's second decision: roles read, then audit, then act --------------------------


def decide(frame: dict, user: str, facts: moderation.Facts, written: object = True) -> Plan:
    plan = send(frame, user)
    assert plan.then is not None
    second = plan.then((facts,))
    if second.then is None:
        return second
    return second.then((written,))


def test_a_members_forged_frame_changes_nothing() -> None:
    for frame in FRAMES:
        plan = send(frame, MEMBER)
        assert plan.then is not None
        second = plan.then((moderation.Facts(RECORD),))
        assert second.effects == () and second.then is None
        assert "Not done" in rejected(second)


def test_a_stale_connection_state_claiming_a_role_changes_nothing() -> None:
    state = {"rooms": ["dev"], "role": "admin", "moderator": True, "roles": {"dev": "owner"}}
    plan = send(FRAMES[0], MEMBER, state=state)
    assert plan.then is not None
    assert plan.then((moderation.Facts(RECORD),)).effects == ()


def test_a_moderator_cannot_ban_the_owner_or_an_admin() -> None:
    for target in (OWNER, ADMIN, MOD2):
        frame = {"type": "ban", "room": "dev", "user": target, "minutes": None}
        plan = decide(frame, MOD, moderation.Facts(RECORD))
        assert rejected(plan) == roles.OUTRANKED


def test_someone_banned_from_the_room_moderates_it_no_more() -> None:
    """The actor's own bans are read beside the target's: a banned moderator (or owner,
    banned by an admin) can't kick, ban, unban themselves or delete; an admin is not held."""
    kick = {"type": "kick", "room": "dev", "user": MEMBER}
    plan = send(kick, MOD)
    reads = [e for e in plan.effects if isinstance(e, ReadRoom)]
    assert [r.account for r in reads] == [roles.account(MEMBER), roles.account(MOD)]
    assert plan.then is not None
    banned = moderation.Facts(RECORD, ban_until=NOW + 60)
    assert rejected(plan.then((moderation.Facts(RECORD), banned))) == moderation.BANNED_ACTOR
    lapsed = moderation.Facts(RECORD, ban_until=NOW - 1)  # expired: checked at use
    assert plan.then((moderation.Facts(RECORD), lapsed)).effects != ()
    for actor in (MOD, OWNER):
        unban_self = {"type": "unban", "room": "dev", "user": actor}
        assert rejected(decide(unban_self, actor, banned)) == moderation.BANNED_ACTOR
        assert moderation.delete_refusal(actor, MEMBER, banned, SIGNED_IN, NOW) == (
            moderation.BANNED_ACTOR
        )
    assert moderation.delete_refusal(ADMIN, MEMBER, banned, SIGNED_IN, NOW) is None
    admin_kick = send(kick, ADMIN)
    assert admin_kick.then is not None
    assert admin_kick.then((moderation.Facts(RECORD), banned)).effects != ()


def test_the_command_fails_closed_when_the_record_cannot_be_read() -> None:
    plan = decide(FRAMES[0], MOD, Failed("down"))  # type: ignore[arg-type]
    assert rejected(plan) == moderation.CANNOT_CHECK


def test_a_kick_is_audited_then_removes_every_connection_and_tells_the_room() -> None:
    plan = send(FRAMES[0], MOD)
    assert plan.then is not None
    step = plan.then((moderation.Facts(RECORD),))
    (change,) = step.effects
    assert isinstance(change, Moderate) and change.action == "kick"
    assert change.audit["PartitionKey"] == "audit|dev"
    assert change.audit["by"] == MOD and change.audit["target"] == MEMBER
    assert step.then is not None
    removing = step.then((True,))
    (remove,) = removing.effects  # first out of the room, then the notices
    assert isinstance(remove, RemoveUserFromGroups) and remove.user == MEMBER
    assert removing.then is not None
    final = removing.then((None,))
    assert final.reply is not None and final.reply.status == 204
    kinds = {type(e) for e in final.effects}
    assert kinds == {Reconcile, SendToGroup, SendToUser}
    assert remove.groups == (rooms.group("dev"), rooms.presence_group("dev", MEMBER))
    notice = next(e for e in final.effects if isinstance(e, SendToGroup)).payload
    assert notice["type"] == "system" and notice["event"] == "moderation"
    assert (notice["action"], notice["room"], notice["user"], notice["by"]) == (
        "kick",
        "dev",
        MEMBER,
        MOD,
    )
    told = next(e for e in final.effects if isinstance(e, SendToUser))
    assert told.user == MEMBER and "You were removed from dev" in told.payload["message"]
    assert told.payload["personal"] is True and "personal" not in notice  # the target's own


def test_a_retried_command_acts_again_but_tells_nobody_twice() -> None:
    frame = {"type": "ban", "room": "dev", "user": MEMBER, "minutes": 10}
    removing = decide(frame, MOD, moderation.Facts(RECORD), written=False)
    assert isinstance(removing.effects[0], RemoveUserFromGroups) and removing.then is not None
    kinds = {type(e) for e in removing.then((None,)).effects}
    assert SendToGroup not in kinds and SendToUser not in kinds


def test_a_failed_removal_answers_the_service_so_it_retries_the_event() -> None:
    frame = {"type": "kick", "room": "dev", "user": MEMBER}
    removing = decide(frame, MOD, moderation.Facts(RECORD))
    assert removing.then is not None
    final = removing.then((Failed("down", 503),))
    assert final.reply is not None and final.reply.status == 503
    # The retry will find the audit row and tell nobody: the notices go out with this attempt
    # (tests/app/test_moderation_retries.py).
    assert {type(e) for e in final.effects} == {SendToGroup, SendToUser}


def test_ban_until_and_forever() -> None:
    timed = send({"type": "ban", "room": "dev", "user": MEMBER, "minutes": 10}, MOD)
    assert timed.then is not None
    (change,) = timed.then((moderation.Facts(RECORD),)).effects
    assert isinstance(change, Moderate) and change.until == NOW + 600
    forever = send({"type": "ban", "room": "dev", "user": MEMBER, "minutes": None}, MOD)
    assert forever.then is not None
    (change,) = forever.then((moderation.Facts(RECORD),)).effects
    assert isinstance(change, Moderate) and change.until == math.inf


def test_only_the_owner_or_an_admin_appoints_moderators() -> None:
    frame = {"type": "mod", "room": "dev", "user": MEMBER, "on": True}
    assert rejected(decide(frame, MOD, moderation.Facts(RECORD))) == roles.NOT_OWNER
    for who in (OWNER, ADMIN):
        final = decide(frame, who, moderation.Facts(RECORD))
        assert final.reply is not None and final.reply.status == 204


def test_an_admin_moderates_a_room_with_no_record() -> None:
    final = decide({"type": "slowmode", "room": "lobby", "seconds": 5}, ADMIN, moderation.Facts())
    assert final.reply is not None and final.reply.status == 204
    refused = decide({"type": "slowmode", "room": "lobby", "seconds": 5}, MOD, moderation.Facts())
    assert rejected(refused) == roles.NOT_MODERATOR


# --- the gate: bans, mutes and slow mode, expiry checked at use --------------------------------


def gate(kind: str, facts: object, user: str = MEMBER, state: dict | None = None) -> Plan:
    state = {"rooms": ["dev"]} if state is None else state
    frame = {"type": kind, "room": "dev"} | ({"message": "hi"} if kind == "message" else {})
    plan = send(frame, user, state=state)
    (read,) = plan.effects
    assert read == ReadRoom("dev", roles.account(user) or "")
    assert plan.then is not None
    return plan.then((facts,))


@pytest.mark.parametrize(
    ("until", "banned"), [(NOW + 0.001, True), (NOW, False), (NOW - 1, False), (math.inf, True)]
)
def test_a_ban_refuses_joins_and_messages_until_it_expires(until: float, banned: bool) -> None:
    facts = moderation.Facts(RECORD, ban_until=until)
    for kind in ("join", "message"):
        plan = gate(kind, facts)
        if banned:
            assert "banned from dev" in rejected(plan)
            assert plan.effects == ()
        else:
            assert plan.reply is None or plan.reply.status != 200
    assert moderation.may_read_history(facts, NOW) is not banned


@pytest.mark.parametrize(("until", "muted"), [(NOW + 60, True), (NOW, False)])
def test_a_mute_refuses_messages_not_joins(until: float, muted: bool) -> None:
    facts = moderation.Facts(RECORD, mute_until=until)
    plan = gate("message", facts)
    if muted:
        assert "muted in dev" in rejected(plan)
    else:
        assert any(type(e).__name__ == "StoreMessage" for e in plan.effects)
    joined = gate("join", facts)
    assert joined.effects and "Could not" not in str(joined.reply)


def test_the_gate_fails_closed() -> None:
    for kind in ("join", "message"):
        assert rejected(gate(kind, Failed("store down"))) == moderation.CANNOT_CHECK


def test_the_gate_hands_a_join_of_a_room_with_no_record_its_claim() -> None:
    """The gate writes nothing: the join claims the room once it has succeeded (the whole
    join, refused or not: tests/app/test_room_claim_pure.py)."""
    claim = ClaimRoom("dev", "aad:member-1", MEMBER)
    passed: list[moderation.Passed] = []

    def carry_on(gone_through: moderation.Passed) -> Plan:
        passed.append(gone_through)
        return Plan()

    for room, facts, expected in (
        ("dev", moderation.Facts(), claim),
        ("dev", moderation.Facts(RECORD), None),
        ("lobby", moderation.Facts(), None),
    ):
        check = moderation.Gate("join", room, MEMBER, {}, SIGNED_IN, NOW)
        plan = moderation.gate(check, carry_on)
        assert plan.then is not None
        assert plan.then((facts,)) == Plan()  # no effect of the gate's own
        assert passed.pop().claim == expected
    # A message, an edit or a reaction never claims anything.
    check = moderation.Gate("message", "dev", MEMBER, {"rooms": ["dev"]}, SIGNED_IN, NOW)
    plan = moderation.gate(check, carry_on)
    assert plan.then is not None
    plan.then((moderation.Facts(),))
    assert passed.pop().claim is None


def test_slow_mode_takes_a_shared_slot_and_says_how_long_to_wait() -> None:
    slow = replace(RECORD, slow_mode_s=30)
    plan = gate("message", moderation.Facts(slow))
    assert plan.effects == (TakeSlot("dev", "aad:member-1", 30, NOW),)
    assert plan.then is not None
    refused = plan.then((12.2,))
    assert "Wait 13 s" in rejected(refused) and "one message per 30 s" in rejected(refused)
    # The wait is remembered in the connection state: the next try costs no read at all.
    assert refused.reply is not None
    state = connection_state.decode(refused.reply.headers[connection_state.HEADER])
    again = send({"type": "message", "room": "dev", "message": "hi"}, MEMBER, state=state)
    assert again.then is not None
    refused_again = again.then((moderation.Facts(slow),))
    assert "Wait" in rejected(refused_again) and refused_again.effects == ()
    # Slow mode changed, or turned off: the remembered time no longer counts.
    changed = again.then((moderation.Facts(replace(RECORD, slow_mode_s=5)),))
    assert changed.effects == (TakeSlot("dev", "aad:member-1", 5, NOW),)
    off = again.then((moderation.Facts(RECORD),))
    assert any(type(e).__name__ == "StoreMessage" for e in off.effects)
    granted = plan.then((0.0,))
    assert any(type(e).__name__ == "StoreMessage" for e in granted.effects)


def test_moderators_are_free_of_slow_mode() -> None:
    slow = replace(RECORD, slow_mode_s=30)
    for user in (MOD, OWNER, ADMIN):
        plan = gate("message", moderation.Facts(slow), user=user)
        assert not any(isinstance(e, TakeSlot) for e in plan.effects)


def test_off_mode_has_no_gate() -> None:
    plan = send({"type": "join", "room": "dev"}, "alice", settings=OFF, state={})
    assert not any(isinstance(e, ReadRoom) for e in plan.effects)


def test_room_body() -> None:
    body = moderation.room_body("dev", replace(RECORD, topic="Rust", slow_mode_s=5))
    assert body == {
        "room": "dev",
        "topic": "Rust",
        "owner": OWNER,
        "moderators": [MOD, MOD2],
        "slowModeSeconds": 5,
    }
    assert moderation.room_body("new", None)["owner"] is None


# --- a moderator's delete: the role lookup, audit and notice (issue 18 builds `delete`) --------


def test_who_may_delete_anothers_message() -> None:
    facts = moderation.Facts(RECORD)
    assert moderation.delete_refusal(MOD, MEMBER, facts, SIGNED_IN, NOW) is None
    assert moderation.delete_refusal(OWNER, MOD, facts, SIGNED_IN, NOW) is None
    assert moderation.delete_refusal(ADMIN, OWNER, facts, SIGNED_IN, NOW) is None
    assert moderation.delete_refusal(MEMBER, OTHER, facts, SIGNED_IN, NOW) == roles.NOT_MODERATOR
    for author in (OWNER, ADMIN, MOD2):
        assert moderation.delete_refusal(MOD, author, facts, SIGNED_IN, NOW) == roles.OUTRANKED
    assert moderation.delete_refusal(MOD, MEMBER, Failed("x"), SIGNED_IN, NOW) == (
        moderation.CANNOT_CHECK
    )
    assert moderation.delete_refusal("alice", "bob", facts, OFF, NOW) == roles.NEEDS_SIGN_IN
    assert moderation.moderates(MOD, facts, SIGNED_IN)
    assert not moderation.moderates(MEMBER, facts, SIGNED_IN)
    assert not moderation.moderates(MOD, Failed("x"), SIGNED_IN)
    assert not moderation.moderates(MOD, facts, OFF)


def test_a_moderators_delete_is_audited_and_noticed() -> None:
    audit = moderation.delete_audit(event(MOD), "dev", MOD, MEMBER, "m-1", NOW)
    assert audit.action == "delete" and audit.audit["detail"] == "m-1"
    assert audit.audit["by"] == MOD and audit.audit["target"] == MEMBER
    notice = moderation.deletion_notice("dev", "m-1", MEMBER, MOD)
    assert (notice["event"], notice["action"], notice["id"], notice["by"]) == (
        "moderation",
        "delete",
        "m-1",
        MOD,
    )
    assert notice["message"] == "A message by Mel was deleted by Mo."


def test_a_connection_that_joined_before_a_kick_is_out_of_the_room() -> None:
    joined = gate("join", moderation.Facts(RECORD), state={"rooms": []})
    state = None
    step = joined  # the user's room-change lease, then AddToGroups, then the reply
    for _ in range(4):
        if step.reply is not None:
            state = connection_state.decode(step.reply.headers[connection_state.HEADER])
            break
        assert step.then is not None
        leased = (5, None)  # a lease of the user's room changes, else the service's None
        step = step.then(
            tuple(leased if isinstance(e, LeaseTokens) else None for e in step.effects)
        )
    assert state is not None and state["joined"] == {"dev": NOW}
    before = moderation.Facts(RECORD, kicked_at=NOW + 5)
    refused = gate("message", before, state=state)
    assert rejected(refused) == events.not_member("dev")
    assert refused.reply is not None
    left = connection_state.decode(refused.reply.headers[connection_state.HEADER])
    assert "dev" not in left["rooms"]
    # Joined after the kick (or never kicked): the message goes on.
    after_kick = moderation.Facts(RECORD, kicked_at=NOW - 5)
    plan = gate("message", after_kick, state=state)
    assert any(type(e).__name__ == "StoreMessage" for e in plan.effects)


# --- reports ---------------------------------------------------------------------------------

IN_DEV = {"rooms": ["lobby", "dev"]}


def test_reports_need_sign_in_and_a_message_id() -> None:
    frame = {"type": "report", "room": "dev", "id": "abc123", "reason": "spam"}
    assert "moderation needs sign-in" in rejected(send(frame, "alice", settings=OFF))
    bad = send(frame | {"id": "no such id!"}, MEMBER, state=IN_DEV)
    assert "message id" in rejected(bad) and bad.effects == ()


def test_a_report_names_a_room_the_reporter_is_in_and_never_a_direct_message() -> None:
    """A report resolved by "delete" deletes as an admin: a guessed id of a room the
    reporter is not in, or of someone else's direct conversation, must go no further."""
    frame = {"type": "report", "room": "dev", "id": "abc123", "reason": "spam"}
    outside = send(frame, MEMBER, state={"rooms": ["lobby"]})
    assert rejected(outside) == events.not_member("dev") and outside.effects == ()
    dm = send(frame | {"room": "dm-" + "0" * 32}, MEMBER, state=IN_DEV)
    assert rejected(dm) == moderation.NO_DM_REPORTS and dm.effects == ()


def reported_row(**extra: object) -> dict:
    return {
        "PartitionKey": "dev",
        "RowKey": "8199999999999-abc123",
        "id": "abc123",
        "from": "Oz",
        "userId": OTHER,
        "message": "rude words",
        "time": "2027-01-15T08:00:00Z",
    } | extra


def test_a_report_is_one_row_per_person_and_message() -> None:
    frame = {"type": "report", "room": "dev", "id": "abc123", "reason": "spam"}
    plan = send(frame, MEMBER, state=IN_DEV)
    (find,) = plan.effects  # the lookup an edit or a delete makes
    assert find == FindMessage("dev", "abc123")
    assert plan.then is not None
    filing = plan.then((Found(reported_row(), "etag-1"),))
    (filed,) = filing.effects
    assert isinstance(filed, FileReport)
    assert filed.entity["RowKey"].startswith("dev|abc123|") and filed.entity["open"] is True
    assert filed.entity["reporter"] == MEMBER
    # Where the message is and who wrote it, never its text (issue 18: a delete removes it).
    assert (filed.entity["messagePartition"], filed.entity["messageRow"]) == (
        "dev",
        "8199999999999-abc123",
    )
    assert (filed.entity["authorId"], filed.entity["authorName"]) == (OTHER, "Oz")
    assert "rude words" not in json.dumps(filed.entity)
    assert filing.then is not None
    thanks = json.loads(filing.then((True,)).answer.body)
    assert (thanks["event"], thanks["id"]) == ("reported", "abc123")
    assert rejected(filing.then((False,))) == moderation.ALREADY_REPORTED


def test_a_report_names_a_real_message_of_the_room_not_a_deleted_one() -> None:
    frame = {"type": "report", "room": "dev", "id": "abc123", "reason": "spam"}
    plan = send(frame, MEMBER, state=IN_DEV)
    assert plan.then is not None
    missing = plan.then((None,))
    assert rejected(missing) == "Not done: there is no such message in dev."
    assert missing.effects == ()
    gone = plan.then((Found(reported_row(deleted=True), "etag-1"),))
    assert rejected(gone) == moderation.REPORTED_DELETED and gone.effects == ()
    failed = plan.then((Failed("down"),))
    assert rejected(failed) == moderation.CANNOT_FIND and failed.effects == ()


def test_the_reports_list_shows_each_message_as_it_is_now() -> None:
    def report(message_id: str, time: str, **extra: object) -> dict:
        return {
            "RowKey": f"dev|{message_id}|" + "0" * 32,
            "room": "dev",
            "id": message_id,
            "reporter": MEMBER,
            "reason": "spam",
            "time": time,
            "authorId": OTHER,
            "authorName": "Oz",
            "messagePartition": "dev",
            "messageRow": "8199999999999-" + message_id,
        } | extra

    rows = [
        report("abc123", "2027-01-15T08:00:05Z"),
        report("gone1", "2027-01-15T08:00:04Z"),
        report("deleted1", "2027-01-15T08:00:03Z"),
        report("broken1", "2027-01-15T08:00:02Z"),
        report("old1", "2027-01-15T08:00:01Z", messagePartition=None, messageRow=None),
    ]
    assert moderation.message_address(rows[0]) == ("dev", "8199999999999-abc123")
    assert moderation.message_address(rows[4]) is None
    edited = reported_row(message="<b>now</b>", editedAt="2027-01-15T08:01:00Z")
    messages = [
        edited,
        None,
        reported_row(id="deleted1", deleted=True),
        Failed("down"),
        Failed("no address"),
    ]
    body = moderation.reports_body(rows, messages)
    shown = {r["id"]: r["message"] for r in body["reports"]}
    assert shown["abc123"] == {
        "from": "Oz",
        "userId": OTHER,
        "text": "<b>now</b>",
        "time": "2027-01-15T08:00:00Z",
        "editedAt": "2027-01-15T08:01:00Z",
    }
    assert shown["gone1"] == shown["deleted1"] == {"deleted": True}
    assert shown["broken1"] == shown["old1"] == {"unavailable": True}
    assert [r["id"] for r in body["reports"]] == ["old1", "broken1", "deleted1", "gone1", "abc123"]
    assert body["reports"][-1]["authorName"] == "Oz"
    # A row that is not the reported message, or not a message at all: unavailable, no 500.
    assert moderation.reported_message("abc123", reported_row(id="other")) == {"unavailable": True}
    assert moderation.reported_message("abc123", {"id": "abc123"}) == {"unavailable": True}


def test_only_admins_resolve_reports() -> None:
    key = "dev|abc123|" + "0" * 32
    frame = {"type": "resolve", "report": key, "action": "dismiss"}
    for user in (MEMBER, MOD, OWNER):
        refused = send(frame, user)
        assert rejected(refused) == moderation.ADMINS_ONLY and refused.effects == ()
    assert "must be" in rejected(send(frame | {"action": "ban"}, ADMIN))
    plan = send(frame, ADMIN)
    (resolving,) = plan.effects
    assert isinstance(resolving, ResolveReport) and resolving.report == key
    assert resolving.audit["PartitionKey"] == "audit|dev"
    assert plan.then is not None
    assert plan.then((True,)).answer.status == 204
    assert rejected(plan.then((False,))) == moderation.NO_SUCH_REPORT
    assert moderation.may_list_reports(ADMIN, SIGNED_IN)
    assert not moderation.may_list_reports(MOD, SIGNED_IN)
    assert not moderation.may_list_reports("aad:admin-1", OFF)


def test_a_flood_of_commands_is_refused_before_any_read() -> None:
    state: dict = {"rooms": ["dev"]}
    for _ in range(moderation.MOD_COMMANDS):
        plan = send(FRAMES[0], MEMBER, state=state)
        (read,) = plan.effects
        assert isinstance(read, ReadRoom) and plan.then is not None
        refused = plan.then((moderation.Facts(RECORD),))
        assert refused.reply is not None
        state = connection_state.decode(refused.reply.headers[connection_state.HEADER])
    flooded = send(FRAMES[0], MEMBER, state=state)
    assert rejected(flooded) == moderation.TOO_MANY and flooded.effects == ()


def test_edits_and_reactions_pass_bans_and_mutes_but_not_slow_mode() -> None:
    """The hook for issue 18: its edit and react decisions go through events._gated too."""
    slow = replace(RECORD, slow_mode_s=30)
    carried: list[moderation.Passed] = []

    def carry_on(passed: moderation.Passed) -> Plan:
        carried.append(passed)
        return Plan()

    check = moderation.Gate("edit", "dev", MEMBER, {"rooms": ["dev"]}, SIGNED_IN, NOW)
    plan = moderation.gate(check, carry_on)
    assert plan.then is not None
    assert "muted in dev" in rejected(plan.then((moderation.Facts(slow, mute_until=NOW + 9),)))
    assert "banned from dev" in rejected(plan.then((moderation.Facts(slow, ban_until=NOW + 9),)))
    assert plan.then((moderation.Facts(slow),)).effects == () and len(carried) == 1
