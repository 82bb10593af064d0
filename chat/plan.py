"""Plans: what a decision asks the shell to do, as plain data. Pure, no I/O.

Every webhook event and the presence sweep is decided by one pure function (chat/events.py,
chat/presence.py, chat/sweep.py) that returns a Plan: the effects to carry out, and then
either the reply (the plan is final) or `then`, the next pure decision, which the executor
(adapters/effects.py) calls with the effects' outcomes. That is how a decision that depends on
I/O says so: "store this; then, on what the store answered, decide again" (a 409 is a retry,
a lost ETag race is somebody else's win, a failed broadcast takes the message back out).

Effects of one step run together (concurrently when there are several); a failed one's
outcome is `Failed`, never an exception. A step with no `then` ignores failures (they are
logged): presence and typing are advisory. A new feature adds decisions, and at most a new
effect kind with its one executor case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from chat.reply import Reply

if TYPE_CHECKING:  # annotations only: those modules build plans themselves
    from chat.presence import Announced
    from chat.rate_limit import Bucket
    from chat.sweep import Mark


@dataclass(frozen=True)
class Failed:
    """An effect's I/O failed. `reason` is safe to log; `status` is the HTTP status to
    answer when the decision passes the failure on (502: the service refused, 503: down)."""

    reason: str
    status: int = 503


# --- effects on the Web PubSub service -------------------------------------------------------


@dataclass(frozen=True)
class SendToGroup:
    group: str
    payload: dict[str, Any]
    filter: str | None = None  # OData filter on the group's connections (None: all)


@dataclass(frozen=True)
class SendToConnection:
    connection_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class SendToUser:
    """To every connection of one user, whatever rooms they are in (a mention, a read
    position, a direct message)."""

    user: str
    payload: dict[str, Any]
    filter: str | None = None  # OData filter on the user's connections (None: all)


@dataclass(frozen=True)
class AddToGroups:
    connection_id: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class RemoveFromGroups:
    connection_id: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class ListConnections:
    """The group's connections, at most `top` (outcome: [{"connectionId", "userId"}, ...])."""

    group: str
    top: int


# --- effects on the table store --------------------------------------------------------------


@dataclass(frozen=True)
class StoreMessage:
    """Insert a history row (outcome: True stored, False already there: a retried event)."""

    entity: dict[str, Any]
    marker: dict[str, Any] | None = None


@dataclass(frozen=True)
class DeleteMessage:
    entity: dict[str, Any]
    marker: dict[str, Any] | None = None


@dataclass(frozen=True)
class FindMessage:
    """Read the room's message `id` (outcome: Found, or None when the room has no such
    message). `newer_than_ms`: only rows keyed at or after that epoch ms (an edit's window),
    so the search reads a bounded range. The executor may answer from its copy of a row it
    wrote or read (Found.cached); `fresh`: from the store only."""

    room: str
    id: str
    newer_than_ms: int | None = None
    fresh: bool = False


@dataclass(frozen=True)
class FindReplies:
    """The room's replies to message `id` (outcome: a list of Found), among the rows newer
    than the message or of its second (keys below `below`), at most history.FIND_PAGES pages."""

    room: str
    id: str
    below: str


@dataclass(frozen=True)
class Found:
    """A message row as stored, and its ETag (for UpdateMessage). `cached`: this instance's
    copy, which another instance may have changed since: only a conditional write proves it
    current, so a decision that writes nothing asks for the row fresh."""

    entity: dict[str, Any]
    etag: str
    cached: bool = False


@dataclass(frozen=True)
class UpdateMessage:
    """Replace a message row if it is still as read (`etag`). Outcome: True written, False
    another instance changed (or deleted) it first: the decision reads it again."""

    entity: dict[str, Any]
    etag: str


@dataclass(frozen=True)
class LeaseTokens:
    """Lease tokens from the user's shared bucket `bucket`, as chat.token_lease.take_lease says.

    Outcome: (tokens granted, the value to cache in the connection state), or None when the
    ETag race was lost every time (the decision says what that means)."""

    user: str
    bucket: str
    capacity: int
    window: float
    now: float
    most: int  # tokens at most (chat.token_lease.LEASE_SIZES)
    cached: tuple[float, float, str] | None = None


@dataclass(frozen=True)
class SaveAnnounced:
    """Record what the room was told about the user, if the record still has `etag` (None:
    if there is none yet). Outcome: True written, False another instance changed it first."""

    room: str
    user: str
    record: Announced
    etag: str | None


@dataclass(frozen=True)
class MarkPending:
    """Leave (or move) a mark for a presence change the room was not told: the sweep looks at
    it once `due`. The user chat.presence.ROOM_WIDE marks the whole room."""

    room: str
    user: str
    due: float
    now: float  # when the change was seen (an instance skips marks it wrote still not due)


@dataclass(frozen=True)
class ClearMark:
    """Delete a pending mark the sweep has dealt with, unless it was written again since."""

    mark: Mark


@dataclass(frozen=True)
class MoveMark:
    """Look again at `due`: the sweep's own mark (`mark` None: a change found by the
    re-check, which has none) or the mark it read, unless that was written again since."""

    room: str
    user: str
    due: float
    mark: Mark | None


# --- a person's conversations (issue 17: adapters/conversations.py) ---------------------------


@dataclass(frozen=True)
class KeepJoined:
    """Remember that the user joined the room (a row; kept as it is when already there)."""

    user: str
    room: str
    now: float
    peer: tuple[str, str, str] | None = None  # a direct conversation: (userId, name, idp)


@dataclass(frozen=True)
class KnownUser:
    """Has the chat ever seen this user (a presence record in the lobby, or a connection
    now)? Outcome: True or False."""

    user: str


@dataclass(frozen=True)
class ForgetJoined:
    """The user left the room: drop its row (and its read position)."""

    user: str
    room: str


@dataclass(frozen=True)
class MarkRead:
    """Move the user's read position in the room to the message `message_id`, if that is
    forward (chat.read_marks.advances). Outcome: True moved, False not (older, unknown id, or
    a direct conversation the user is not in)."""

    user: str
    room: str
    message_id: str
    now: float


@dataclass(frozen=True)
class NoteActivity:
    """The room had a message at `time`: the directory's row, at most once per room per
    chat.directory.ACTIVITY_EVERY_S on this instance (the rule: chat.directory.due)."""

    room: str
    time: str
    now: float


# --- state kept by this instance (memory, not I/O) -------------------------------------------


@dataclass(frozen=True)
class KeepRoomBudget:
    """Keep the room's notice bucket (chat.presence) as the decision left it."""

    room: str
    bucket: Bucket


@dataclass(frozen=True)
class KeepListBudget:
    """Keep the room's member-list bucket (chat.presence.take_member_list) as the decision
    left it."""

    room: str
    bucket: Bucket


# --- presence (composite: each reads the service's truth, then chat.presence decides) ---------


@dataclass(frozen=True)
class Reconcile:
    """Compare who is in the room with what it was told; announce a change once."""

    room: str
    user: str
    now: float
    # A connection of the user just arrived (connected, or joined the room): when the record
    # already says present, the room is sent a member list (chat.presence.reconcile).
    arrived: bool = False


@dataclass(frozen=True)
class Snapshot:
    """Send the room's member list to one connection (the joiner)."""

    room: str
    connection_id: str
    user: str


# --- moderation (chat/moderation.py; rows in adapters/moderation_store.py) ---------------------


@dataclass(frozen=True)
class ReadRoom:
    """The room's record and the bans and mutes of one account: chat.moderation.Facts.
    `fresh`: read the table (moderation commands: roles are read for every one); else this
    instance's copy may serve, at most chat.moderation.FACTS_TTL_S old (joins, messages)."""

    room: str
    account: str
    fresh: bool = False


@dataclass(frozen=True)
class ClaimRoom:
    """Make `account` the owner of a room with no record (outcome: True; False: a record was
    there, another first joiner won)."""

    room: str
    account: str
    user_id: str


@dataclass(frozen=True)
class Moderate:
    """Write the audit row, then the change it records (outcome: True; False: the audit row
    was there already, a retried event: the change is written again, idempotently)."""

    room: str
    audit: dict[str, Any]
    action: str  # chat.roles: ban, unban, mute, unmute, mod, slowmode, topic, kick (audit only)
    account: str | None = None  # the target's
    user_id: str | None = None
    until: float | None = None  # ban, mute: epoch seconds (math.inf: until lifted)
    value: str | int | bool | None = None  # mod: on; slowmode: seconds; topic: text
    at: float = 0.0  # kick, ban: when (connections that joined before are out)


@dataclass(frozen=True)
class RemoveUserFromGroups:
    """Every connection of the user leaves these groups at once (the service's
    remove-user-from-group)."""

    user: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class AddUserToGroups:
    """Every connection of the user joins these groups at once (add-user-to-group)."""

    user: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class ListBlocks:
    """Whom the account blocks (chat/blocks.py): its rows, at most chat.blocks.MAX_BLOCKS."""

    account: str


@dataclass(frozen=True)
class SaveBlock:
    """Write (upsert) one block row (outcome None)."""

    entity: dict[str, Any]


@dataclass(frozen=True)
class DropBlock:
    """Delete the account's row for the blocked key, if there (outcome None)."""

    account: str
    blocked_key: str


@dataclass(frozen=True)
class IsBlocked:
    """Does the account block the person with this key (one point read)? True or False."""

    account: str
    blocked_key: str


@dataclass(frozen=True)
class CloseUserConnections:
    """Every connection of the user is closed (the service's close-user-connections)."""

    user: str
    reason: str


@dataclass(frozen=True)
class ChatBan:
    """Issue 19, chat-wide: the audit row first, then the ban row written (`until`: epoch
    seconds, math.inf until lifted) or, `until` None, deleted (outcome: True; False: the audit
    row was there, a retried event: the change is made again, idempotently)."""

    audit: dict[str, Any]
    account: str
    user_id: str
    until: float | None


@dataclass(frozen=True)
class ReadChatBan:
    """Until when the account is banned from the whole chat (outcome: epoch seconds,
    math.inf until lifted, or None), read through this instance's copy (chat.chat_bans.TTL_S);
    None too when storage is not configured (no chat-wide ban can exist)."""

    account: str


@dataclass(frozen=True)
class TakeSlot:
    """Slow mode: the account's next message time in the room, shared by its connections
    (outcome: 0.0 taken, else the seconds to wait)."""

    room: str
    account: str
    seconds: int
    now: float


@dataclass(frozen=True)
class FileReport:
    """Insert a report (outcome: True; False: this person's report of it is open already)."""

    entity: dict[str, Any]


@dataclass(frozen=True)
class ResolveReport:
    """Close an open report, audited (outcome: True; False: no such open report)."""

    report: str  # its RowKey
    fields: dict[str, Any]
    audit: dict[str, Any]


Effect = (
    SendToGroup
    | SendToConnection
    | SendToUser
    | AddToGroups
    | RemoveFromGroups
    | ListConnections
    | StoreMessage
    | DeleteMessage
    | FindMessage
    | FindReplies
    | UpdateMessage
    | LeaseTokens
    | SaveAnnounced
    | MarkPending
    | ClearMark
    | MoveMark
    | KeepRoomBudget
    | KeepListBudget
    | KeepJoined
    | KnownUser
    | ForgetJoined
    | MarkRead
    | NoteActivity
    | Reconcile
    | Snapshot
    | ReadRoom
    | ClaimRoom
    | Moderate
    | RemoveUserFromGroups
    | AddUserToGroups
    | ListBlocks
    | SaveBlock
    | DropBlock
    | IsBlocked
    | CloseUserConnections
    | ChatBan
    | ReadChatBan
    | TakeSlot
    | FileReport
    | ResolveReport
)
Outcomes = tuple[Any, ...]  # one per effect, in order: its result, or Failed


@dataclass(frozen=True)
class Plan:
    """Effects to carry out, then the reply (final) or the next decision on their outcomes."""

    effects: tuple[Effect, ...] = ()
    reply: Reply | None = None
    then: Callable[[Outcomes], Plan] | None = None
    notes: dict[str, str] = field(default_factory=dict)  # for the log line, never secrets
    delivered: bool = False  # a chat message went out (logged at DEBUG: it is the bulk)
    warnings: tuple[str, ...] = ()  # for the operator's log, at WARNING
    errors: tuple[str, ...] = ()  # for the operator's log, at ERROR (a user was refused)

    @property
    def answer(self) -> Reply:
        """The reply of a final plan; one that needs none (presence's) would answer 200."""
        return self.reply if self.reply is not None else Reply(200)


def done(reply: Reply, *effects: Effect, **notes: str) -> Plan:
    """A final plan: these effects (their failures only logged), and the reply."""
    return Plan(effects, reply, notes=notes)


def after(then: Callable[[Outcomes], Plan], *effects: Effect) -> Plan:
    """Carry out these effects, then decide again on their outcomes."""
    return Plan(effects, then=then)


def chain(*plans: Plan) -> Plan:
    """Carry out each plan to its end, in order, stopping at the first failed effect (noted
    as failed=1). Counts in the final plans' notes (notices=1, ...) add up."""
    return _chain(plans, {})


def _chain(plans: tuple[Plan, ...], notes: dict[str, str]) -> Plan:
    first, rest = plans[0], plans[1:]
    if first.then is not None:
        step = partial(_chain_step, first.then, rest, notes)
        return replace(first, then=step, notes={})
    notes = _counted(notes, first.notes)
    if not rest or "failed" in first.notes:
        return Plan(first.effects, then=partial(_chain_next, (), notes), notes=notes)
    return Plan(first.effects, then=partial(_chain_next, rest, notes))


def _chain_step(
    then: Callable[[Outcomes], Plan],
    rest: tuple[Plan, ...],
    notes: dict[str, str],
    outcomes: Outcomes,
) -> Plan:
    if any(isinstance(outcome, Failed) for outcome in outcomes):
        return Plan(notes=_counted(notes, {"failed": "1"}))
    return _chain((then(outcomes), *rest), notes)


def _chain_next(rest: tuple[Plan, ...], notes: dict[str, str], outcomes: Outcomes) -> Plan:
    if any(isinstance(outcome, Failed) for outcome in outcomes):
        return Plan(notes=_counted(notes, {"failed": "1"}))
    return _chain(rest, notes) if rest else Plan(notes=notes)


def _counted(notes: dict[str, str], more: dict[str, str]) -> dict[str, str]:
    return notes | {k: str(int(notes.get(k, "0")) + int(v)) for k, v in more.items()}
