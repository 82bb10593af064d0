"""Moderation, decided: the commands kick, ban, unban, mute, unmute, slowmode, topic and mod,
and the gate that joins and messages pass in sign-in mode (bans, mutes, slow mode). Pure.

Who may do what is chat/roles.py's; the rows are adapters/moderation_store.py's. Every
command reads the room's record fresh (roles are never taken from the connection state), is
audited before it takes effect (Moderate writes the audit row first; a retried event finds it
and sends no notice twice), and a refusal changes nothing.

The gate reads the same facts through this instance's copy, at most FACTS_TTL_S old: a join
or a message costs no table read while it is fresh, and a ban or mute made on another
instance stops messages within FACTS_TTL_S (on this one at once: Moderate drops the copy).
A kick or ban stops the target *receiving* the room at once whatever the copy says: every
connection of theirs is removed from the room's groups by the service.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from chat import (
    chat_bans,
    connection_state,
    events,
    history,
    identity,
    rate_limit,
    roles,
    rooms,
    text_rules,
)
from chat.cloudevents import CloudEvent
from chat.plan import (
    ChatBan,
    ClaimRoom,
    CloseUserConnections,
    Failed,
    FileReport,
    FindMessage,
    Found,
    Moderate,
    Outcomes,
    Plan,
    ReadRoom,
    Reconcile,
    RemoveUserFromGroups,
    ResolveReport,
    SendToGroup,
    SendToUser,
    TakeSlot,
    after,
    done,
)
from chat.reply import json_reply, text
from chat.settings import Settings

FACTS_TTL_S = 10.0  # how stale a join's or message's view of bans, mutes and slow mode may be
MAX_MINUTES = 366 * 24 * 60  # a ban or mute for longer is a ban until lifted
MAX_SLOW_MODE_S = 21_600
MAX_TOPIC_LENGTH = 200
MAX_REASON_LENGTH = 200

# Each command costs a fresh table read and usually writes: a connection may send MOD_COMMANDS
# at once, then one per MOD_COMMANDS_WINDOW_S / MOD_COMMANDS (3 s), kept in its state (free),
# so a forged-frame flood cannot turn into a table-read flood.
MOD_COMMANDS = 10
MOD_COMMANDS_WINDOW_S = 30.0
TOO_MANY = "Not done: too many moderation commands at once. Wait a moment."
CANNOT_CHECK = "Not done: the room's moderation cannot be checked right now. Try again."
BANNED_ACTOR = "Not done: you are banned from this room."
NOT_SAVED = "Not done: the change cannot be saved right now. Try again."


@dataclass(frozen=True)
class Facts:
    """What the gate and the role checks need: the room's record (None: it has none), and
    until when the account is banned from it or muted in it (None: not; math.inf: until
    lifted). Expiry is checked at use against `now`, so no timer has to fire on time."""

    record: roles.Record | None = None
    ban_until: float | None = None
    mute_until: float | None = None
    # When the account was last kicked or banned from the room: a connection that joined
    # before it is out (its connection state still lists the room; the service's groups don't).
    kicked_at: float | None = None

    def banned(self, now: float) -> bool:
        return self.ban_until is not None and self.ban_until > now

    def muted(self, now: float) -> bool:
        return self.mute_until is not None and self.mute_until > now


def until_text(until: float | None) -> str:
    if until is None or math.isinf(until):
        return "until it is lifted"
    return f"until {history.iso_time(until)}"


def banned_from(room: str, until: float | None) -> str:
    return f"Not done: you are banned from {room} {until_text(until)}."


def muted_in(room: str, until: float | None) -> str:
    return f"Message not sent: you are muted in {room} {until_text(until)}."


def slow_mode_wait(room: str, seconds: int, wait: float) -> str:
    return (
        f"Message not sent: {room} is in slow mode (one message per {seconds} s). "
        f"Wait {max(1, math.ceil(wait))} s."
    )


def may_read_history(facts: Facts, now: float) -> bool:
    """GET /api/rooms/R/messages: refused (403) to a banned reader."""
    return not facts.banned(now)


def room_body(room: str, record: roles.Record | None) -> dict[str, Any]:
    """GET /api/rooms/{room}: user ids (the page compares them with its own), not accounts."""
    record = record or roles.Record()
    return {
        "room": room,
        "topic": record.topic,
        "owner": record.owner_id,
        "moderators": [user_id for _, user_id in record.moderators],
        "slowModeSeconds": record.slow_mode_s,
    }


# --- a moderator's delete (chat.edits.delete of someone else's message, in sign-in mode) --------


def moderates(user: str, facts: Facts | Failed, settings: Settings) -> bool:
    """Whether `user` moderates the room `facts` describe (read fresh: ReadRoom(fresh=True));
    False when they could not be read (fail closed) or without sign-in (no roles at all)."""
    if not settings.sign_in or isinstance(facts, Failed):
        return False
    return roles.is_moderator(roles.role(roles.account(user), facts.record, settings.admins))


def delete_refusal(
    user: str, author: str, facts: Facts | Failed, settings: Settings, now: float
) -> str | None:
    """Why `user` may not delete `author`'s message as a moderator (None: they may). A
    moderator may not delete the owner's or an admin's messages, nor a fellow moderator's;
    `facts` are the actor's own (a moderator banned from the room moderates it no more)."""
    if not settings.sign_in:
        return roles.NEEDS_SIGN_IN
    if isinstance(facts, Failed):
        return CANNOT_CHECK
    admins = settings.admins
    actor = roles.role(roles.account(user), facts.record, admins)
    target = roles.role(roles.account(author), facts.record, admins)
    return _banned_actor(actor, facts, now) or roles.refusal(roles.DELETE, actor, target)


def _banned_actor(actor_role: str, facts: Facts, now: float) -> str | None:
    """Someone banned from a room does not moderate it while the ban lasts (an admin's
    roles come from ChatAdmins, not the room: a room ban does not reach them)."""
    if actor_role != roles.ADMIN and facts.banned(now):
        return BANNED_ACTOR
    return None


def delete_audit(
    event: CloudEvent, room: str, user: str, author: str, message_id: str, now: float
) -> Moderate:
    """Audit a moderator's delete before it takes effect (outcome False: a retried event)."""
    audit = {
        "PartitionKey": f"audit|{room}",
        "RowKey": events.stable_id(event),
        "time": history.iso_time(now),
        "by": user,
        "action": roles.DELETE,
        "room": room,
        "target": author,
        "reason": "",
        "detail": message_id,
    }
    return Moderate(room, audit, roles.DELETE, roles.account(author), author)


def deletion_notice(room: str, message_id: str, author: str, by_id: str) -> dict[str, Any]:
    """The room's notice beside issue 18's `{"type": "deleted", "room", "id"}`."""
    return {
        "type": "system",
        "event": "moderation",
        "action": roles.DELETE,
        "room": room,
        "user": author,
        "by": by_id,
        "id": message_id,
        "message": f"A message by {_shown(author)} was deleted by {_shown(by_id)}.",
    }


# --- the gate: joins and messages in sign-in mode -------------------------------------------


@dataclass(frozen=True)
class Gate:
    kind: str  # rooms.JOIN, rooms.MESSAGE, or another posting kind (edit, react: ban and mute)
    room: str
    user: str
    state: dict[str, Any]
    settings: Settings
    now: float


@dataclass(frozen=True)
class Passed:
    """What the gate hands on when it lets an event through: the connection state, and for a
    join of a room with no record (not the lobby) the claim that makes the joiner its owner.
    The gate only learns that the room is unowned: the join makes the claim once the service
    has added the connection (chat.events._joined), so a refused join owns nothing."""

    state: dict[str, Any]
    claim: ClaimRoom | None = None


def gate(check: Gate, carry_on: Callable[[Passed], Plan]) -> Plan:
    """Read the account's facts in the room (this instance's copy), then decide."""
    who = roles.account(check.user)
    if who is None:  # the caller checked: every sign-in mode sender has an account
        return events.refuse(events.SIGN_IN_FIRST, check.room, check.state, "not signed in")
    return after(partial(_gated, check, who, carry_on), ReadRoom(check.room, who))


def _gated(check: Gate, who: str, carry_on: Callable[[Passed], Plan], outcomes: Outcomes) -> Plan:
    (facts,) = outcomes
    if isinstance(facts, Failed):
        # Fail closed: a ban that cannot be read is not known to be absent.
        return events.refuse(CANNOT_CHECK, check.room, check.state, "moderation")
    assert isinstance(facts, Facts)
    if facts.banned(check.now):
        return events.refuse(
            banned_from(check.room, facts.ban_until), check.room, check.state, "ban"
        )
    if check.kind == rooms.JOIN:
        state = _with_joined(check.state, check.room, check.now)
        # The first signed-in person to get into a room with no record owns it: a claim the
        # join makes only once it succeeded (a lost race is another first joiner's win).
        unowned = facts.record is None and check.room != rooms.LOBBY
        return carry_on(Passed(state, ClaimRoom(check.room, who, check.user) if unowned else None))
    if facts.kicked_at is not None and _joined_at(check.state, check.room) <= facts.kicked_at:
        # Kicked (or banned and unbanned) since this connection joined: it is out of the
        # room's groups, and now out of its state too.
        state = rooms.without_room(check.state, check.room, check.now)
        return events.refuse(events.not_member(check.room), check.room, state, "kicked")
    if facts.muted(check.now):
        return events.refuse(
            muted_in(check.room, facts.mute_until), check.room, check.state, "mute"
        )
    if check.kind != rooms.MESSAGE:
        return carry_on(Passed(check.state))  # an edit or a reaction (issue 18): no slow mode
    record = facts.record
    role = roles.role(who, record, check.settings.admins)
    if record is None or record.slow_mode_s <= 0 or roles.is_moderator(role):
        return carry_on(Passed(check.state))
    wait = _slow_until(check.state, check.room, record.slow_mode_s) - check.now
    if wait > 0:  # this connection's own memory of its next time: no table call at all
        reason = slow_mode_wait(check.room, record.slow_mode_s, wait)
        return events.refuse(reason, check.room, check.state, "slowmode")
    slot = TakeSlot(check.room, who, record.slow_mode_s, check.now)
    return after(partial(_slot, check, record.slow_mode_s, carry_on), slot)


def _joined_at(state: dict[str, Any], room: str) -> float:
    kept = state.get("joined")
    at = kept.get(room) if isinstance(kept, dict) else None
    return float(at) if isinstance(at, int | float) else 0.0


def _with_joined(state: dict[str, Any], room: str, now: float) -> dict[str, Any]:
    """When the connection joined each of its rooms (only those: the state stays small)."""
    kept = state.get("joined")
    joined = {r: t for r, t in (kept.items() if isinstance(kept, dict) else ()) if r != room}
    joined = {r: t for r, t in joined.items() if r in rooms.rooms_of(state)}
    return state | {"joined": joined | {room: round(now, 3)}}


def _slow_until(state: dict[str, Any], room: str, seconds: int) -> float:
    """The next time this connection remembers for the room, if taken under the room's
    present slow mode (a changed one, or a new moderator, is read from the facts first)."""
    kept = state.get("slow")
    entry = kept.get(room) if isinstance(kept, dict) else None
    if isinstance(entry, list) and len(entry) == 2 and entry[1] == seconds:
        return float(entry[0]) if isinstance(entry[0], int | float) else 0.0
    return 0.0


def _slot(
    check: Gate, seconds: int, carry_on: Callable[[Passed], Plan], outcomes: Outcomes
) -> Plan:
    (wait,) = outcomes
    if isinstance(wait, Failed):
        return events.refuse(CANNOT_CHECK, check.room, check.state, "moderation")
    if wait > 0:
        state = _with_slow(check.state, check.room, check.now + wait, seconds)
        return events.refuse(
            slow_mode_wait(check.room, seconds, wait), check.room, state, "slowmode"
        )
    return carry_on(Passed(_with_slow(check.state, check.room, check.now + seconds, seconds)))


def _with_slow(state: dict[str, Any], room: str, until: float, seconds: int) -> dict[str, Any]:
    """Remember the next allowed time in the connection state: a refusal costs no read."""
    kept = state.get("slow")
    slow = dict(kept) if isinstance(kept, dict) else {}
    slow[room] = [round(until, 3), seconds]
    # Only the rooms the connection is in: the state stays small.
    slow = {r: v for r, v in slow.items() if r in rooms.rooms_of(state)}
    return state | {"slow": slow}


# --- the commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    kind: str
    room: str
    target: str | None = None  # the target's user id
    target_account: str | None = None
    minutes: int | None = None
    seconds: int | None = None
    topic: str | None = None
    on: bool | None = None
    reason: str = ""


@dataclass(frozen=True)
class Turn:
    event: CloudEvent
    user: str
    state: dict[str, Any]
    settings: Settings
    now: float


def _spent(turn: Turn) -> Turn | None:
    """The turn with one moderation command spent from the connection's bucket; None: none
    left (the caller refuses, with the state unchanged)."""
    bucket = rate_limit.Bucket.from_state(turn.state.get("mods"), MOD_COMMANDS, turn.now)
    allowed, bucket = rate_limit.take(bucket, MOD_COMMANDS, MOD_COMMANDS_WINDOW_S, turn.now)
    if not allowed:
        return None
    state = turn.state | {"mods": bucket.to_state()}
    return Turn(turn.event, turn.user, state, turn.settings, turn.now)


def _admitted(turn: Turn, room: str) -> tuple[Turn, str] | Plan:
    """The turn (its command bucket spent) and the sender's account, or the refusal: every
    moderation frame needs sign-in (a chosen name proves nothing: without sign-in nobody can
    hold a role) and a token of the connection's command bucket."""
    if not turn.settings.sign_in:
        return events.refuse(roles.NEEDS_SIGN_IN, room, turn.state, "moderation")
    account = roles.account(turn.user)
    if account is None:
        return events.refuse(events.SIGN_IN_FIRST, room, turn.state, "not signed in")
    spent = _spent(turn)
    if spent is None:
        return events.refuse(TOO_MANY, room, turn.state, "moderation-rate")
    return spent, account


def command(turn: Turn, room: str, frame: dict[str, Any]) -> Plan:
    """One moderation command: parse, read the room's record fresh, check roles, audit, act."""
    admitted = _admitted(turn, room)
    if isinstance(admitted, Plan):
        return admitted
    turn, actor = admitted
    try:
        action = parse(frame, room)
    except ValueError as error:
        return events.refuse(f"Not done: {error}.", room, turn.state, "moderation")
    read = ReadRoom(room, action.target_account or actor, fresh=True)
    if action.target_account in (None, actor):
        return after(partial(_decide, turn, actor, action), read)
    # The actor's own bans too: one more point read, for a command (rare), never a message.
    own = ReadRoom(room, actor, fresh=True)
    return after(partial(_decide, turn, actor, action), read, own)


def parse(frame: dict[str, Any], room: str) -> Action:
    """The command's fields, or ValueError with the reason (no changes made)."""
    kind = str(frame.get("type"))
    reason = frame.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH:
        raise ValueError(f'"reason" must be text of at most {MAX_REASON_LENGTH} characters')
    reason = text_rules.display_name(reason)
    if kind == roles.SLOWMODE:
        seconds = _whole(frame.get("seconds"))
        if seconds is None or not 0 <= seconds <= MAX_SLOW_MODE_S:
            raise ValueError(f'"seconds" must be a whole number from 0 to {MAX_SLOW_MODE_S}')
        return Action(kind, room, seconds=seconds, reason=reason)
    if kind == roles.TOPIC:
        topic = frame.get("topic")
        if not isinstance(topic, str):
            raise ValueError('"topic" must be text')
        topic = topic.strip()
        if len(topic) > MAX_TOPIC_LENGTH:
            raise ValueError(f"a topic has at most {MAX_TOPIC_LENGTH} characters")
        problem = text_rules.name_problem(topic) if topic else None
        if problem is not None:
            raise ValueError(f"the topic {problem}")
        return Action(kind, room, topic=topic, reason=reason)
    target = frame.get("user")
    target_account = roles.account(target if isinstance(target, str) else None)
    if target_account is None or not isinstance(target, str):
        raise ValueError('"user" must be the user id of a signed-in person')
    minutes: int | None = None
    on: bool | None = None
    if kind in (roles.BAN, roles.MUTE):
        raw = frame.get("minutes")
        minutes = _whole(raw)
        if raw is None and kind == roles.BAN:
            minutes = None  # until unbanned
        elif minutes is None or minutes < 1:
            raise ValueError('"minutes" must be a whole number of at least 1')
    if kind == roles.MOD:
        flag = frame.get("on")
        if not isinstance(flag, bool):
            raise ValueError('"on" must be true or false')
        on = flag
    return Action(kind, room, target, target_account, minutes=minutes, on=on, reason=reason)


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _decide(turn: Turn, actor: str, action: Action, outcomes: Outcomes) -> Plan:
    facts, own = outcomes[0], outcomes[-1]  # the target's, the actor's (one read: the same)
    room = action.room
    if isinstance(facts, Failed) or isinstance(own, Failed):
        return events.refuse(CANNOT_CHECK, room, turn.state, "moderation")
    assert isinstance(facts, Facts) and isinstance(own, Facts)
    admins = turn.settings.admins
    actor_role = roles.role(actor, facts.record, admins)
    target_role = roles.role(action.target_account, facts.record, admins) if action.target else None
    why = _banned_actor(actor_role, own, turn.now) or roles.refusal(
        action.kind, actor_role, target_role, action.target_account == actor
    )
    if why is not None:
        return events.refuse(why, room, turn.state, "role")
    until = _until(action, turn.now)
    audit = {
        "PartitionKey": f"audit|{room}",
        "RowKey": events.stable_id(turn.event),
        "time": history.iso_time(turn.now),
        "by": turn.user,
        "action": action.kind,
        "room": room,
        "target": action.target or "",
        "reason": action.reason,
        "detail": _detail(action),
    }
    value: str | int | bool | None = (
        action.on
        if action.kind == roles.MOD
        else action.seconds
        if action.kind == roles.SLOWMODE
        else action.topic
    )
    change = Moderate(
        room, audit, action.kind, action.target_account, action.target, until, value, turn.now
    )
    return after(partial(_moderated, turn, action, until), change)


def _until(action: Action, now: float) -> float | None:
    if action.kind == roles.BAN:
        if action.minutes is None or action.minutes > MAX_MINUTES:
            return math.inf
        return now + action.minutes * 60
    if action.kind == roles.MUTE:
        return now + min(action.minutes or 1, MAX_MINUTES) * 60
    return None


def _detail(action: Action) -> str:
    if action.kind in (roles.BAN, roles.MUTE):
        return "until lifted" if action.minutes is None else f"{action.minutes} min"
    if action.kind == roles.SLOWMODE:
        return f"{action.seconds} s"
    if action.kind == roles.TOPIC:
        return action.topic or ""
    if action.kind == roles.MOD:
        return "on" if action.on else "off"
    return ""


def _moderated(turn: Turn, action: Action, until: float | None, outcomes: Outcomes) -> Plan:
    (written,) = outcomes
    room = action.room
    if isinstance(written, Failed):
        return events.refuse(NOT_SAVED, room, turn.state, "store")
    if action.kind in (roles.KICK, roles.BAN) and action.target:
        # First out of the room's groups, every connection at once; then the notices, so the
        # target's tabs get theirs alone, not the room's.
        groups = (rooms.group(room), rooms.presence_group(room, action.target))
        remove = RemoveUserFromGroups(action.target, groups)
        return after(partial(_removed, turn, action, until, written is True), remove)
    return _told(turn, action, until, written is True)


def _removed(
    turn: Turn, action: Action, until: float | None, first: bool, outcomes: Outcomes
) -> Plan:
    (removed,) = outcomes
    if isinstance(removed, Failed):
        # The service retries the event: its audit row is there, so it acts again (a ban is
        # written again, the removal tried again) but tells nobody: the notices go out now,
        # with this first attempt (the ban or kick row is written; only the removal waits).
        error = f"Moderation {action.kind} in {action.room}: removal failed: {removed.reason}"
        told = _told(turn, action, until, first).effects
        return Plan(effects=told, reply=text(removed.status, events.UNREACHABLE), errors=(error,))
    plan = _told(turn, action, until, first)
    assert action.target is not None
    leave = Reconcile(action.room, action.target, turn.now)  # the room is told they left
    return replace(plan, effects=(leave, *plan.effects))


def _told(turn: Turn, action: Action, until: float | None, first: bool) -> Plan:
    effects: list[Any] = []
    if first:  # a retried event's notices went out the first time
        by = _shown(turn.user)
        frame = notice(action, action.room, turn.user, by, until)
        effects.append(SendToGroup(rooms.group(action.room), frame))
        if action.target:
            # Marked as the target's own: the room's copy may reach their page after it.
            told = frame | {"message": _to_target(action, by, until), "personal": True}
            effects.append(SendToUser(action.target, told))
    return done(events.ok(turn.state), *effects, moderated=action.kind)


def _shown(user: str) -> str:
    fields = identity.sender(user, _SIGNED_IN)
    return str(fields["from"]) if fields else user


def notice(action: Action, room: str, by_id: str, by: str, until: float | None) -> dict[str, Any]:
    """The room's `{"type": "system", "event": "moderation", ...}` frame."""
    target = _shown(action.target) if action.target else ""
    what = {
        roles.KICK: f"{target} was removed from {room} by {by}.",
        roles.BAN: f"{target} was banned from {room} by {by} {until_text(until)}.",
        roles.UNBAN: f"{target} may join {room} again (unbanned by {by}).",
        roles.MUTE: f"{target} was muted in {room} by {by} {until_text(until)}.",
        roles.UNMUTE: f"{target} may post in {room} again (unmuted by {by}).",
        roles.MOD: f"{target} {'is now' if action.on else 'is no longer'} a moderator of {room}.",
        roles.SLOWMODE: (
            f"{by} set slow mode in {room}: one message per {action.seconds} s."
            if action.seconds
            else f"{by} turned slow mode off in {room}."
        ),
        roles.TOPIC: f"{by} set the topic of {room}: {action.topic}"
        if action.topic
        else f"{by} cleared the topic of {room}.",
    }[action.kind]
    frame: dict[str, Any] = {
        "type": "system",
        "event": "moderation",
        "action": action.kind,
        "room": room,
        "user": action.target or "",
        "by": by_id,
        "message": what,
    }
    if until is not None:
        frame["until"] = None if math.isinf(until) else history.iso_time(until)
    if action.kind == roles.SLOWMODE:
        frame["seconds"] = action.seconds
    if action.kind == roles.TOPIC:
        frame["topic"] = action.topic
    if action.kind == roles.MOD:
        frame["on"] = action.on
    return frame


def _to_target(action: Action, by: str, until: float | None) -> str:
    room = action.room
    return {
        roles.KICK: f"You were removed from {room} by {by}. You may join it again.",
        roles.BAN: f"You were banned from {room} by {by} {until_text(until)}.",
        roles.UNBAN: f"You may join {room} again: {by} lifted your ban.",
        roles.MUTE: f"You were muted in {room} by {by} {until_text(until)}.",
        roles.UNMUTE: f"You may post in {room} again: {by} lifted your mute.",
        roles.MOD: (
            f"{by} made you a moderator of {room}."
            if action.on
            else f"{by} removed your moderator role in {room}."
        ),
    }.get(action.kind, "")


# `identity.sender` only reads `sign_in` from the settings: the names shown in notices.
_SIGNED_IN = Settings(endpoint="", access_keys=(), hub="", sign_in=True)


# --- chat-wide bans: admins only, no room (issue 19) ------------------------------------------

CHAT_ADMINS_ONLY = "Not done: only admins may ban from the whole chat or lift such a ban."
NOT_AN_ADMIN_TARGET = "Not done: an admin cannot be banned from the whole chat."


def chat_ban(turn: Turn, frame: dict[str, Any]) -> Plan:
    """`{"type": "ban"|"unban", "user", "minutes"}` without a room: the admin (ChatAdmins, read
    on the server) bans the account from the whole chat, audited first; a ban then closes
    every connection of the user (negotiate and connect refuse them until it expires)."""
    if not turn.settings.sign_in:
        return events.refuse(roles.NEEDS_SIGN_IN, None, turn.state, "moderation")
    actor = roles.account(turn.user)
    if actor is None:
        return events.refuse(events.SIGN_IN_FIRST, None, turn.state, "not signed in")
    if actor not in turn.settings.admins:
        return events.refuse(CHAT_ADMINS_ONLY, None, turn.state, "role")
    spent = _spent(turn)
    if spent is None:
        return events.refuse(TOO_MANY, None, turn.state, "moderation-rate")
    turn = spent
    try:
        action = parse(frame, "")
    except ValueError as error:
        return events.refuse(f"Not done: {error}.", None, turn.state, "moderation")
    assert action.target is not None and action.target_account is not None
    if action.target_account == actor:
        return events.refuse(roles.NOT_YOURSELF, None, turn.state, "role")
    if action.target_account in turn.settings.admins:
        return events.refuse(NOT_AN_ADMIN_TARGET, None, turn.state, "role")
    until = _until(action, turn.now) if action.kind == roles.BAN else None
    audit = {
        "PartitionKey": chat_bans.AUDIT_PARTITION,
        "RowKey": events.stable_id(turn.event),
        "time": history.iso_time(turn.now),
        "by": turn.user,
        "action": action.kind,
        "room": "",
        "target": action.target,
        "reason": action.reason,
        "detail": _detail(action),
    }
    change = ChatBan(audit, action.target_account, action.target, until)
    return after(partial(_chat_banned, turn, action, until), change)


def _chat_banned(turn: Turn, action: Action, until: float | None, outcomes: Outcomes) -> Plan:
    (written,) = outcomes
    if isinstance(written, Failed):
        return events.refuse(NOT_SAVED, None, turn.state, "store")
    assert action.target is not None
    by = _shown(turn.user)
    frame = chat_notice(action.kind, action.target, turn.user, by, until)
    # The admin's tabs (the target's are being closed); a retried event (its audit row was
    # there: written is False) told them the first time.
    tell = (SendToUser(turn.user, frame),) if written is True else ()
    if action.kind != roles.BAN:
        return done(events.ok(turn.state), *tell, moderated="chatunban")
    reason = f"You were banned from the chat by {by} {chat_bans.until_text(until)}."
    close = CloseUserConnections(action.target, reason)
    return after(partial(_closed_out, turn, tell), close)


def _closed_out(turn: Turn, tell: tuple[SendToUser, ...], outcomes: Outcomes) -> Plan:
    (closed,) = outcomes
    if isinstance(closed, Failed):
        # The service retries the event: the audit row is there, the ban row is written
        # again and the close tried again, telling nobody: the admin is told now.
        error = f"Chat-wide ban: closing the connections failed: {closed.reason}"
        reply = text(closed.status, events.UNREACHABLE)
        return Plan(effects=tell, reply=reply, errors=(error,))
    return done(events.ok(turn.state), *tell, moderated="chatban")


def chat_notice(kind: str, user: str, by_id: str, by: str, until: float | None) -> dict[str, Any]:
    """`{"type": "system", "event": "moderation", "action", "room": null, "user", "by",
    "message"}` (plus `until` for a ban), sent to the admin who acted."""
    target = _shown(user)
    if kind == roles.BAN:
        message = f"{target} was banned from the chat by {by} {chat_bans.until_text(until)}."
    else:
        message = f"{target} may use the chat again (unbanned by {by})."
    frame: dict[str, Any] = {
        "type": "system",
        "event": "moderation",
        "action": kind,
        "room": None,
        "user": user,
        "by": by_id,
        "message": message,
    }
    if kind == roles.BAN:
        frame["until"] = None if until is None or math.isinf(until) else history.iso_time(until)
    return frame


# --- reports: anyone files one per message; admins list them and close them --------------------

REPORT, RESOLVE = "report", "resolve"
REPORTS = "reports"  # their partition
MAX_LISTED_REPORTS = 200
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
REPORT_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}\|[A-Za-z0-9_-]{1,64}\|[0-9a-f]{32}")
ALREADY_REPORTED = "Not done: you have reported this message already."
NO_DM_REPORTS = "Not done: direct messages are not reported to admins; block the person instead."
ADMINS_ONLY = "Not done: only admins may resolve reports."
NO_SUCH_REPORT = "Not done: there is no such open report."
REPORTED_DELETED = "Not done: that message was deleted already."
CANNOT_FIND = "Not done: the message cannot be looked up right now. Try again."
# What GET /api/reports shows of a message it could not read (a report from before reports
# kept the message's row, or a failed read): never a 500.
UNAVAILABLE: dict[str, Any] = {"unavailable": True}
# A report resolved by deleting its message: (room, message id, the connection state as this
# decision left it) -> chat.edits.delete's plan (events.command builds it).
DeleteOf = Callable[[str, str, dict[str, Any]], Plan]


def no_such_message(room: str) -> str:
    """chat.edits' words (it imports this module: the text is repeated, not imported)."""
    return f"Not done: there is no such message in {room}."


def _key(account: str) -> str:
    """adapters.table_store.user_key's hash (the same 32 hex digits)."""
    return hashlib.sha256(account.encode()).hexdigest()[:32]


def report(turn: Turn, room: str, frame: dict[str, Any]) -> Plan:
    """`{"type": "report", "room", "id", "reason"}`: one open report per person and message."""
    admitted = _admitted(turn, room)
    if isinstance(admitted, Plan):
        return admitted
    turn, reporter = admitted
    # Only what the reporter could see: a room they are in (a report resolved by "delete"
    # deletes as an admin, so a guessed id of another room, or of a direct conversation,
    # must not get that far). Direct messages are the two people's own: block instead.
    if rooms.is_direct(room):
        return events.refuse(NO_DM_REPORTS, room, turn.state, "report")
    if room not in rooms.rooms_of(turn.state):
        return events.refuse(events.not_member(room), room, turn.state, "member")
    message_id, reason = frame.get("id"), frame.get("reason", "")
    if not isinstance(message_id, str) or not ID_PATTERN.fullmatch(message_id):
        return events.refuse('Not done: "id" must be a message id.', room, turn.state, "report")
    if not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH:
        why = f'Not done: "reason" must be text of at most {MAX_REASON_LENGTH} characters.'
        return events.refuse(why, room, turn.state, "report")
    # The message must be a real one of the room, and not deleted (it is gone already): found
    # by FindMessage, the same lookup an edit or delete makes. A stale answer (another
    # instance deleted it just now) can only let a report through: the list reads the
    # message again and shows it deleted. (A message older than the lookup reads, history.
    # FIND_PAGES pages back, is refused as no such message, as an edit or delete of it is.)
    find = FindMessage(room, message_id)
    return after(partial(_found, turn, room, message_id, reporter, reason), find)


def _found(
    turn: Turn, room: str, message_id: str, reporter: str, reason: str, outcomes: Outcomes
) -> Plan:
    (found,) = outcomes
    if isinstance(found, Failed):
        return events.refuse(CANNOT_FIND, room, turn.state, "store")
    if found is None:
        return events.refuse(no_such_message(room), room, turn.state, "no message")
    assert isinstance(found, Found)
    if found.entity.get("deleted") is True:
        return events.refuse(REPORTED_DELETED, room, turn.state, "report")
    return after(
        partial(_filed, turn, room, message_id),
        FileReport(report_entity(turn, room, message_id, reporter, reason, found.entity)),
    )


def report_entity(
    turn: Turn, room: str, message_id: str, reporter: str, reason: str, message: dict[str, Any]
) -> dict[str, Any]:
    """The report's row: who reported what and why, and where the message's row is (read at
    list time, never copied: a deleted message's text must leave storage, issue 18)."""
    author_id = message.get("userId")
    return {
        "PartitionKey": REPORTS,
        "RowKey": f"{room}|{message_id}|{_key(reporter)}",
        "room": room,
        "id": message_id,
        "reporter": turn.user,
        "reason": text_rules.display_name(reason),
        "time": history.iso_time(turn.now),
        "open": True,
        "messagePartition": str(message.get("PartitionKey", room)),
        "messageRow": str(message.get("RowKey", "")),
        "authorId": author_id if isinstance(author_id, str) else str(message.get("from", "")),
        "authorName": str(message.get("from", "")),
    }


def _filed(turn: Turn, room: str, message_id: str, outcomes: Outcomes) -> Plan:
    (filed,) = outcomes
    if isinstance(filed, Failed):
        return events.refuse(NOT_SAVED, room, turn.state, "store")
    if filed is False:
        return events.refuse(ALREADY_REPORTED, room, turn.state, "report")
    body = {
        "type": "system",
        "event": "reported",
        "room": room,
        "id": message_id,
        "message": "Thank you: the admins will look at it.",
    }
    headers = {connection_state.HEADER: connection_state.encode(turn.state)}
    return done(json_reply(200, body, headers), reported=room)


def resolve(turn: Turn, frame: dict[str, Any], delete: DeleteOf) -> Plan:
    """`{"type": "resolve", "report", "action": "dismiss" | "delete"}`, by admins. "delete"
    deletes the message as the delete command does (an admin's, roles read fresh, audited,
    noticed), then closes the report; a refused or failed delete leaves it open."""
    if not turn.settings.sign_in:
        return events.refuse(roles.NEEDS_SIGN_IN, None, turn.state, "moderation")
    if roles.account(turn.user) not in turn.settings.admins:
        return events.refuse(ADMINS_ONLY, None, turn.state, "role")
    spent = _spent(turn)
    if spent is None:
        return events.refuse(TOO_MANY, None, turn.state, "moderation-rate")
    turn = spent
    key, action = frame.get("report"), frame.get("action")
    if not isinstance(key, str) or not REPORT_KEY.fullmatch(key):
        return events.refuse('Not done: "report" must be a report id.', None, turn.state, "report")
    if action not in ("dismiss", roles.DELETE):
        why = 'Not done: "action" must be "dismiss" or "delete".'
        return events.refuse(why, None, turn.state, "report")
    room, message_id, _ = key.split("|")
    fields = {"open": False, "resolution": action, "resolvedBy": turn.user}
    audit = {
        "PartitionKey": f"audit|{room}",
        # A delete's own audit row has the event's stable id: this one is beside it.
        "RowKey": events.stable_id(turn.event) + ("|resolve" if action == roles.DELETE else ""),
        "time": history.iso_time(turn.now),
        "by": turn.user,
        "action": RESOLVE,
        "room": room,
        "target": message_id,
        "reason": "",
        "detail": f"{action} {key}",
    }
    close = ResolveReport(key, fields, audit)
    if action == roles.DELETE:
        return _when_done(delete(room, message_id, turn.state), partial(_close_after, turn, close))
    return after(partial(_resolved, turn), close)


def _when_done(plan: Plan, then: Callable[[Plan], Plan]) -> Plan:
    """`plan` carried out step by step; its final plan goes to `then`."""
    step = plan.then
    if step is None:
        return then(plan)
    return replace(plan, then=lambda outcomes: _when_done(step(outcomes), then))


def _close_after(turn: Turn, close: ResolveReport, final: Plan) -> Plan:
    """The delete's final plan: deleted (204), so the report is closed beside its last
    effects; else (refused, or failed: the service retries the event) it stays open."""
    reply = final.answer
    if reply.status != 204:
        return final
    state = connection_state.decode(reply.headers.get(connection_state.HEADER))
    turn = replace(turn, state=state)
    effects = (*final.effects, close)
    return replace(final, effects=effects, reply=None, then=partial(_closed, turn, final))


def _closed(turn: Turn, final: Plan, outcomes: Outcomes) -> Plan:
    plan = _resolved(turn, outcomes[-1:])
    failed = tuple(f"After a delete: {o.reason}" for o in outcomes[:-1] if isinstance(o, Failed))
    notes = final.notes | plan.notes
    return replace(plan, notes=notes, delivered=final.delivered, warnings=final.warnings + failed)


def _resolved(turn: Turn, outcomes: Outcomes) -> Plan:
    (resolved,) = outcomes
    if isinstance(resolved, Failed):
        return events.refuse(NOT_SAVED, None, turn.state, "store")
    if resolved is False:
        return events.refuse(NO_SUCH_REPORT, None, turn.state, "report")
    return done(events.ok(turn.state), resolved="1")


def reports_body(
    rows: list[dict[str, Any]], messages: list[dict[str, Any] | Failed | None] | None = None
) -> dict[str, Any]:
    """GET /api/reports: the open reports, oldest first, each with its message as it is now:
    `messages[i]` is rows[i]'s message row as read at list time (None: no such row; Failed:
    unreadable; a missing list: not read)."""
    read: list[dict[str, Any] | Failed | None] = (
        list(messages) if messages is not None else [Failed("not read")] * len(rows)
    )
    listed = [
        {
            "report": str(row.get("RowKey", "")),
            "room": str(row.get("room", "")),
            "id": str(row.get("id", "")),
            "reporter": str(row.get("reporter", "")),
            "reason": str(row.get("reason", "")),
            "time": str(row.get("time", "")),
            "authorId": str(row.get("authorId", "")),
            "authorName": str(row.get("authorName", "")),
            "message": reported_message(str(row.get("id", "")), message),
        }
        for row, message in zip(rows, read, strict=True)
    ]
    return {"reports": sorted(listed, key=lambda r: r["time"])}


def message_address(row: dict[str, Any]) -> tuple[str, str] | None:
    """Where a report's message row is (PartitionKey, RowKey); None for a report filed before
    reports kept it (shown as unavailable)."""
    partition, key = row.get("messagePartition"), row.get("messageRow")
    if isinstance(partition, str) and isinstance(key, str) and partition and key:
        return partition, key
    return None


def reported_message(message_id: str, entity: dict[str, Any] | Failed | None) -> dict[str, Any]:
    """A reported message as it is now: {"from", "userId", "text", "time"} (and "editedAt"),
    {"deleted": true} when deleted or gone, {"unavailable": true} when it could not be read."""
    if isinstance(entity, Failed):
        return dict(UNAVAILABLE)
    if entity is None or entity.get("deleted") is True:
        return {"deleted": True}
    if entity.get("id") != message_id:
        return dict(UNAVAILABLE)
    try:
        shown = history.from_entity(entity)
    except (KeyError, TypeError, ValueError):
        return dict(UNAVAILABLE)
    message = {
        "from": str(shown.get("from", "")),
        "userId": str(shown.get("userId", shown.get("from", ""))),
        "text": str(shown.get("message", "")),
        "time": str(shown.get("time", "")),
    }
    if isinstance(shown.get("editedAt"), str):
        message["editedAt"] = shown["editedAt"]
    return message


def may_list_reports(user_id: str | None, settings: Settings) -> bool:
    return settings.sign_in and roles.account(user_id) in settings.admins
