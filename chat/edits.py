"""Acting on a stored message: edit, delete, react. Pure decisions, each on chat.plan.Plan.

All three take the same steps: find the message's row (FindMessage: the row and its ETag),
decide on it (author, window, limits, or a retry seen before), replace the row if it is
still as read (UpdateMessage), then send the room the message's new state. A lost ETag race
(another edit, delete or reaction came first) reads the row again and decides again, at most
TRIES times. A retried event (same ce-id) finds its own id in the row's `ops` and changes
nothing; it sends the room the same whole-state frame again, so a broadcast that failed the
first time is made good and a page that saw it already is unchanged (frames carry state, not
changes).

The row found may be the executor's copy of one this instance wrote (Found.cached): the write
stays conditional on its ETag, so a stale copy costs a lost race (read, decide again), never a
lost update; a decision that would write nothing asks for the row fresh instead.

Who may: `may_edit` and `may_delete`. In sign-in mode a delete of someone else's message is
a moderator's: the room's roles read fresh (ReadRoom), chat.moderation's rule, its audit row
before the row changes, and its notice after the room is told `deleted`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from chat import (
    blocks,
    emoji,
    events,
    history,
    identity,
    mentions,
    message_text,
    moderation,
    rate_limit,
    reactions,
    roles,
    rooms,
    token_lease,
)
from chat.errors import Refused
from chat.plan import (
    Failed,
    FindMessage,
    FindReplies,
    Found,
    ListConnections,
    Outcomes,
    Plan,
    ReadRoom,
    SendToGroup,
    SendToUser,
    UpdateMessage,
    after,
    done,
)
from chat.reply import text

TRIES = 5  # ETag races lost in a row before the sender is told to try again
KEPT_OPS = 16  # event ids kept on a row to know a retry (a retry comes within minutes)

NOT_EDITED_SAVED = "Not done: the chat history cannot be saved right now. Try again."
BUSY = "Not done: many changes to this message at once. Try again."
NOT_AUTHOR_EDIT = "Not edited: only its author can edit a message."
# Sign-in off: nobody moderates (issue 19: every moderation command says why).
NOT_AUTHOR_DELETE = "Not deleted: only its author can delete a message (moderation needs sign-in)."
NOT_AUTHOR_OR_MODERATOR_DELETE = (
    "Not deleted: only its author or the room's moderators, its owner and admins can delete it."
)
EDITING_OFF = "Not edited: editing is turned off here."
WAS_DELETED = "Not done: that message was deleted."
TOO_FAST = "Not done: you are doing that too fast. Wait a moment."


def no_such_message(room: str) -> str:
    return f"Not done: there is no such message in {room}."


def too_late(window_s: int) -> str:
    minutes = window_s // 60
    if window_s % 60 == 0:
        span = "1 minute" if minutes == 1 else f"{minutes} minutes"
    else:
        span = "1 second" if window_s == 1 else f"{window_s} seconds"
    return f"Not edited: a message can be edited for {span} after it was sent."


# --- who may ---------------------------------------------------------------------------------


def author(entity: dict[str, Any]) -> str:
    """The user id that sent a stored message: `userId` in sign-in mode, else `from` (the
    chosen name is the user id; it can never take the signed-in form, so they never meet)."""
    user = entity.get("userId")
    return user if isinstance(user, str) and user else str(entity.get("from", ""))


def may_delete(actor_user_id: str, author_user_id: str, is_moderator: bool = False) -> bool:
    """The author may delete their message at any time; a moderator any message."""
    return is_moderator or (bool(actor_user_id) and actor_user_id == author_user_id)


def may_edit(
    actor_user_id: str, author_user_id: str, sent_at: float | None, now: float, window_s: int
) -> str | None:
    """Why the actor may not edit (the sender's words), or None: only the author, only
    within `window_s` seconds of `sent_at` (both ends included), and never when 0."""
    if window_s <= 0:
        return EDITING_OFF
    if not actor_user_id or actor_user_id != author_user_id:
        return NOT_AUTHOR_EDIT
    # A time ahead of `now` (another instance's clock) counts as just sent.
    if sent_at is None or now - sent_at > window_s:
        return too_late(window_s)
    return None


def sent_at(entity: dict[str, Any]) -> float | None:
    """When a stored message was sent (its `time`), in epoch seconds; None if unreadable."""
    value = entity.get("time")
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --- the shared steps ------------------------------------------------------------------------


# What a kind does with the row it found: the new row and the frame, or a refusal (its
# reason), or None when the row needs no change (then the frame is sent as it is).
Change = Callable[[dict[str, Any]], "tuple[dict[str, Any] | None, dict[str, Any] | None] | str"]


@dataclass(frozen=True)
class _Act:
    turn: Any  # chat.events._Turn
    message_id: str
    change: Change
    # The frame of the row's state as it is, for a retry (None: nothing to tell the room).
    current: Callable[[dict[str, Any]], dict[str, Any] | None]
    newer_than_ms: int | None = None
    found_key: str = ""  # the row's key, once found (a delete's replies are newer: below it)
    found: dict[str, Any] | None = None  # the row as found (an edit's earlier mentions)
    # After the broadcast: users an edit newly mentions; a moderator's delete's notice.
    notify: tuple[SendToUser | SendToGroup, ...] = ()
    # A delete in sign-in mode: someone else's message may be deleted by a moderator, the
    # owner or an admin (roles read fresh, once the row names its author).
    by_role: bool = False
    moderated: str | None = None  # once a moderator's delete was allowed: the author


def _find(act: _Act, tries: int, fresh: bool = False) -> Plan:
    find = FindMessage(act.turn.room, act.message_id, act.newer_than_ms, fresh)
    return after(partial(_found, act, tries), find)


def _found(act: _Act, tries: int, outcomes: Outcomes) -> Plan:
    (found,) = outcomes
    turn = act.turn
    if isinstance(found, Failed):
        return events.refuse(NOT_EDITED_SAVED, turn.room, turn.state, "store")
    if found is None and act.newer_than_ms is not None:
        # An edit reads only its window: a miss reads once more without the bound, so an old
        # message is refused as too late (the true reason) rather than as no such message.
        return _find(replace(act, newer_than_ms=None), tries)
    if found is None:
        return events.refuse(no_such_message(turn.room), turn.room, turn.state, "no message")
    assert isinstance(found, Found)
    op = events.stable_id(turn.event)
    ops = _ops(found.entity)
    # This instance's copy of the row (found.cached): a write conditional on its ETag proves
    # it current, nothing else does. A decision that would not write it next (a retry, a
    # moderator's roles to read, a refusal, no change) rests on the row as stored now.
    if op in ops:
        if found.cached:
            return _find(act, tries, fresh=True)
        # A retry of an event carried out already: change nothing, tell the room the state.
        frame = act.current(found.entity)
        send = (SendToGroup(rooms.group(turn.room), frame),) if frame is not None else ()
        return done(events.ok(turn.state), *send, duplicate=act.message_id)
    act = replace(act, found_key=str(found.entity.get("RowKey", "")), found=found.entity)
    if act.by_role and act.moderated is None and not may_delete(turn.user, author(found.entity)):
        if found.cached:
            return _find(act, tries, fresh=True)
        return _read_roles(act, tries, found)
    changed = act.change(found.entity)
    if found.cached and (isinstance(changed, str) or changed[0] is None):
        return _find(act, tries, fresh=True)
    if isinstance(changed, str):
        return events.refuse(changed, turn.room, turn.state, "act")
    entity, frame = changed
    if entity is None:  # nothing to change: the room is told the state again
        send = (SendToGroup(rooms.group(turn.room), frame),) if frame is not None else ()
        return done(events.ok(turn.state), *send, unchanged=act.message_id)
    entity = entity | {"ops": json.dumps([*ops, op][-KEPT_OPS:])}
    update = UpdateMessage(entity, found.etag)
    return after(partial(_updated, act, tries, frame), update)


def _updated(act: _Act, tries: int, frame: dict[str, Any] | None, outcomes: Outcomes) -> Plan:
    (updated,) = outcomes
    turn = act.turn
    if isinstance(updated, Failed):
        return events.refuse(NOT_EDITED_SAVED, turn.room, turn.state, "store")
    if updated is False:  # another change came first: read it, decide again
        if tries + 1 >= TRIES:
            return events.refuse(BUSY, turn.room, turn.state, "etag")
        return _find(act, tries + 1)
    if frame is None:
        return done(events.ok(turn.state))
    # An edit or a reaction skips those who block its author (chat/blocks.py); a delete
    # does not (it only takes a line away).
    hide = frame.get("type") in ("edited", "reactions")
    only = blocks.filtered(turn.user, turn.settings) if hide else None
    send = SendToGroup(rooms.group(turn.room), frame, filter=only)
    if frame.get("type") == "edited":
        act = replace(act, notify=_newly_mentioned(act, frame))
    if frame.get("type") == "deleted" and act.moderated is not None:
        # Sent only by the step that deleted the row: a retry finds its id in `ops` instead.
        notice = moderation.deletion_notice(turn.room, act.message_id, act.moderated, turn.user)
        act = replace(act, notify=(SendToGroup(rooms.group(turn.room), notice),))
    if frame.get("type") == "deleted" and (act.found or {}).get(history.REPLIED) is not False:
        # The text is gone from the row; its replies quote up to 100 characters of it too.
        # (A row still marked unquoted, as written, has none: chat/replies.marked.)
        # Replies are newer, or of the same second (ordered by id there): every key below
        # the end of the original's second ("." sorts after its "-").
        below = act.found_key[: history.PREFIX] + "."
        replies = FindReplies(turn.room, act.message_id, below)
        return after(partial(_sent_and_found, act), send, replies)
    return after(partial(_sent, act), send)


def _sent_and_found(act: _Act, outcomes: Outcomes) -> Plan:
    """A delete: the broadcast's outcome, then each reply's quote made "deleted" (ETag; a
    reply changed meanwhile keeps its quote: logged, as is a failed search)."""
    sent, found = outcomes
    plan = _sent(act, (sent,))
    if isinstance(found, Failed) or not isinstance(found, list):
        return replace(plan, warnings=(f"Replies to {act.message_id} not searched",))
    scrub = []
    for reply in found:
        entity = history.unquoted(reply.entity)
        if entity is not None:
            scrub.append(UpdateMessage(entity, reply.etag))
    return replace(plan, effects=plan.effects + tuple(scrub))


def _sent(act: _Act, outcomes: Outcomes) -> Plan:
    (sent,) = outcomes
    if isinstance(sent, Failed):
        # Stored: the service's retry of this event finds its id in `ops` and sends again.
        event = act.turn.event
        error = (
            f"Broadcast of a change to {act.message_id} failed (ce-id={event.id}): {sent.reason}"
        )
        return Plan(reply=text(sent.status, events.UNREACHABLE), errors=(error,))
    ok = events.ok(act.turn.state)
    return Plan(act.notify, ok, notes={"room": act.turn.room}, delivered=True)


def _newly_mentioned(act: _Act, frame: dict[str, Any]) -> tuple[SendToUser, ...]:
    """An edit notifies only the users it mentions that the text before it did not (and never
    the author): editing cannot ping the same people again and again."""
    before = act.found or {}
    try:
        earlier = json.loads(before.get("mentions") or "[]")
    except (TypeError, ValueError):
        earlier = []
    message = frame | {"from": before.get("from", "")}
    return tuple(
        SendToUser(user, mentions.frame(message))
        for user in frame.get("mentions", ())
        if user not in earlier and user != act.turn.user
    )


def _ops(entity: dict[str, Any]) -> list[str]:
    try:
        value = json.loads(entity.get("ops") or "[]")
    except (TypeError, ValueError):
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _guard(turn: Any) -> tuple[bool, dict[str, Any]]:
    """The connection's free flood guard (the one messages spend): edits, deletes and
    reactions each cost a token, so no one can flood a room with them either."""
    settings, now = turn.settings, turn.now
    capacity, window = settings.rate_limit_messages, settings.rate_limit_window_seconds
    bucket = rate_limit.Bucket.from_state(turn.state.get("rate"), capacity, now)
    allowed, bucket = rate_limit.take(bucket, capacity, window, now)
    return allowed, turn.state | {"rate": bucket.to_state()}


# --- edit --------------------------------------------------------------------------------------


def edit(turn: Any, message_id: str, raw: str) -> Plan:
    settings = turn.settings
    allowed, state = _guard(turn)
    turn = turn.with_state(state)
    if not allowed:
        return events.refuse(TOO_FAST, turn.room, state, "rate")
    if settings.edit_window_seconds <= 0:
        return events.refuse(EDITING_OFF, turn.room, state, "edit")
    try:
        cleaned = message_text.clean(raw, settings.max_message_length)
    except Refused as error:
        return events.refuse(
            error.reason.replace("Message not sent", "Not edited"), turn.room, state, "policy"
        )
    # Only rows keyed within the window (and its ce-time slack) can be edited: read no further.
    oldest_ms = int((turn.now - settings.edit_window_seconds) * 1000) - history.CE_TIME_FUTURE_MS
    change = partial(_edit, turn, message_id, cleaned, [])
    current = partial(_edit_state, turn.room, message_id)
    act = _Act(turn, message_id, change, current, max(oldest_ms, 0))
    # The user's flood limit, shared over their connections, as a new message spends it: a
    # token this connection leased earlier costs nothing; else a lease comes first.
    rule = (settings.rate_limit_messages, settings.rate_limit_window_seconds, turn.now)
    spent, state = token_lease.spend_from_state(turn.state, token_lease.MESSAGES, *rule)
    act = replace(act, turn=turn.with_state(state))
    if spent:
        return _edit_members(act, cleaned)
    lease = token_lease.request(turn.user, state, token_lease.MESSAGES, *rule)
    return after(partial(_edit_leased, act, cleaned), lease)


def _edit_members(act: _Act, cleaned: str) -> Plan:
    """An edited text with an "@" may mention members (chat/mentions.py): list them first."""
    if "@" not in cleaned:
        return _find(act, 0)
    listed = ListConnections(rooms.group(act.turn.room), mentions.LISTED)
    return after(partial(_edit_listed, act, cleaned), listed)


def _edit_listed(act: _Act, cleaned: str, outcomes: Outcomes) -> Plan:
    (listed,) = outcomes
    turn = act.turn
    found: list[str] = []
    if not isinstance(listed, Failed):  # advisory, as for a new message: else plain text
        users = {str(c.get("userId")) for c in listed if c.get("userId")}
        named = [(u, str((identity.sender(u, turn.settings) or {}).get("from", u))) for u in users]
        found = mentions.resolve(cleaned, sorted(named))
    change = partial(_edit, turn, act.message_id, cleaned, found)
    return _find(replace(act, change=change), 0)


def _edit_leased(act: _Act, cleaned: str, outcomes: Outcomes) -> Plan:
    turn, settings = act.turn, act.turn.settings
    rule = (settings.rate_limit_messages, settings.rate_limit_window_seconds, turn.now)
    allowed, state = token_lease.on_lease(outcomes[0], turn.state, token_lease.MESSAGES, *rule)
    if isinstance(allowed, Failed):
        return events.refuse(NOT_EDITED_SAVED, turn.room, turn.state, "store")
    if not allowed:
        return events.refuse(TOO_FAST, turn.room, state, "user-rate")
    return _edit_members(replace(act, turn=turn.with_state(state)), cleaned)


def _edit(
    turn: Any, message_id: str, cleaned: str, mentioned: list[str], entity: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None] | str:
    if entity.get("deleted") is True:
        return WAS_DELETED
    reason = may_edit(
        turn.user, author(entity), sent_at(entity), turn.now, turn.settings.edit_window_seconds
    )
    if reason is not None:
        return reason
    edited_at = history.iso_time(turn.now)
    if entity.get("message") == cleaned and isinstance(entity.get("editedAt"), str):
        edited_at = entity["editedAt"]  # the same text again (a retry's too): no change
        return None, edited_frame(turn.room, message_id, cleaned, edited_at)
    row = {k: v for k, v in entity.items() if k not in ("ops", "mentions")} | {
        "message": cleaned,
        "editedAt": edited_at,
    }
    frame = edited_frame(turn.room, message_id, cleaned, edited_at)
    if mentioned:  # the edited text's mentions replace the earlier ones
        row["mentions"] = json.dumps(mentioned, ensure_ascii=False)
        frame["mentions"] = mentioned
    return row, frame


def _edit_state(room: str, message_id: str, entity: dict[str, Any]) -> dict[str, Any] | None:
    edited_at = entity.get("editedAt")
    if entity.get("deleted") is True or not isinstance(edited_at, str):
        return None
    return edited_frame(room, message_id, str(entity.get("message", "")), edited_at)


def edited_frame(room: str, message_id: str, cleaned: str, edited_at: str) -> dict[str, Any]:
    return {
        "type": "edited",
        "room": room,
        "id": message_id,
        "message": cleaned,
        "editedAt": edited_at,
    }


# --- delete ------------------------------------------------------------------------------------


def delete(turn: Any, message_id: str, is_moderator: bool = False) -> Plan:
    """The author's delete; in sign-in mode also a moderator's, the owner's or an admin's of
    someone else's message (chat/moderation.py: roles read fresh, audited, noticed)."""
    allowed, state = _guard(turn)
    turn = turn.with_state(state)
    if not allowed:
        return events.refuse(TOO_FAST, turn.room, state, "rate")
    change = partial(_delete, turn, message_id, is_moderator)
    current = partial(_delete_state, turn.room, message_id)
    act = _Act(turn, message_id, change, current, by_role=bool(turn.settings.sign_in))
    return _find(act, 0)


def _read_roles(act: _Act, tries: int, found: Found) -> Plan:
    """Someone else's message, in sign-in mode: the room's roles, read fresh from the table."""
    turn = act.turn
    account = roles.account(turn.user)
    if account is None:  # every sign-in mode sender has one: the caller checked
        return events.refuse(NOT_AUTHOR_DELETE, turn.room, turn.state, "act")
    read = ReadRoom(turn.room, account, fresh=True)
    return after(partial(_roles_read, act, tries, found), read)


def _roles_read(act: _Act, tries: int, found: Found, outcomes: Outcomes) -> Plan:
    (facts,) = outcomes
    turn = act.turn
    by = author(found.entity)
    why = moderation.delete_refusal(turn.user, by, facts, turn.settings, turn.now)
    if why == roles.NOT_MODERATOR:
        why = NOT_AUTHOR_OR_MODERATOR_DELETE
    if why is not None:
        return events.refuse(why, turn.room, turn.state, "role")
    change = partial(_delete, turn, act.message_id, True)
    act = replace(act, change=change, moderated=by)
    if found.entity.get("deleted") is True:  # deleted already: the room is told again only
        return _found(act, tries, (found,))
    audit = moderation.delete_audit(turn.event, turn.room, turn.user, by, act.message_id, turn.now)
    return after(partial(_audited, act, tries, found), audit)


def _audited(act: _Act, tries: int, found: Found, outcomes: Outcomes) -> Plan:
    """Audited before it takes effect (False: a retried event's audit row, there already)."""
    (audited,) = outcomes
    if isinstance(audited, Failed):
        return events.refuse(NOT_EDITED_SAVED, act.turn.room, act.turn.state, "store")
    return _found(act, tries, (found,))


def _delete_state(room: str, message_id: str, entity: dict[str, Any]) -> dict[str, Any] | None:
    return deleted_frame(room, message_id) if entity.get("deleted") is True else None


def deleted_frame(room: str, message_id: str) -> dict[str, Any]:
    return {"type": "deleted", "room": room, "id": message_id}


def _delete(
    turn: Any, message_id: str, is_moderator: bool, entity: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None] | str:
    if not may_delete(turn.user, author(entity), is_moderator):
        return NOT_AUTHOR_DELETE
    frame = deleted_frame(turn.room, message_id)
    if entity.get("deleted") is True:
        return None, frame  # deleted already: the room is told again, nothing changes
    return history.tombstone(entity), frame


# --- react -------------------------------------------------------------------------------------


def react(turn: Any, message_id: str, raw_emoji: str) -> Plan:
    allowed, state = _guard(turn)
    turn = turn.with_state(state)
    if not allowed:
        return events.refuse(TOO_FAST, turn.room, state, "rate")
    reason = emoji.problem(raw_emoji)
    if reason is not None:
        return events.refuse(reason, turn.room, state, "emoji")
    shown = identity.sender(turn.user, turn.settings) or {"from": turn.user}
    change = partial(_react, turn, message_id, raw_emoji, str(shown["from"]))
    current = partial(_react_state, turn.room, message_id)
    return _find(_Act(turn, message_id, change, current), 0)


def _stored_reactions(entity: dict[str, Any]) -> reactions.State:
    try:
        return reactions.parse(json.loads(entity.get("reactions") or "[]"))
    except (TypeError, ValueError):
        return ()


def _react_state(room: str, message_id: str, entity: dict[str, Any]) -> dict[str, Any] | None:
    if entity.get("deleted") is True:
        return None
    state = _stored_reactions(entity)
    return reactions.frame(room, message_id, state, reactions.revision(entity))


def _react(
    turn: Any, message_id: str, raw_emoji: str, name: str, entity: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None] | str:
    if entity.get("deleted") is True:
        return WAS_DELETED
    state = reactions.toggle(_stored_reactions(entity), raw_emoji, turn.user, name)
    if isinstance(state, str):
        return state
    rev = reactions.revision(entity) + 1
    row = {k: v for k, v in entity.items() if k not in ("ops", "reactions")}
    row[reactions.REV] = rev
    if state:
        row["reactions"] = reactions.stored(state)
    return row, reactions.frame(turn.room, message_id, state, rev)
