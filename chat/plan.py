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
from dataclasses import dataclass, field
from typing import Any

from chat.reply import Reply


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
class AddToGroups:
    connection_id: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class RemoveFromGroups:
    connection_id: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class CountConnections:
    """How many connections the group holds, counting at most `top` (outcome: int)."""

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
    record: Any  # chat.presence.Announced
    etag: str | None


@dataclass(frozen=True)
class MarkPending:
    """Leave (or move) a mark for a presence change the room was not told: the sweep looks at
    it once `due`. The user chat.presence.ROOM_WIDE marks the whole room."""

    room: str
    user: str
    due: float
    now: float  # when the change was seen (an instance skips marks it wrote still not due)


# --- state kept by this instance (memory, not I/O) -------------------------------------------


@dataclass(frozen=True)
class KeepRoomBudget:
    """Keep the room's notice bucket (chat.presence) as the decision left it."""

    room: str
    bucket: Any  # chat.rate_limit.Bucket


# --- presence (composite: each reads the service's truth, then chat.presence decides) ---------


@dataclass(frozen=True)
class Reconcile:
    """Compare who is in the room with what it was told; announce a change once."""

    room: str
    user: str
    now: float


@dataclass(frozen=True)
class Snapshot:
    """Send the room's member list to one connection (the joiner)."""

    room: str
    connection_id: str
    user: str


Effect = (
    SendToGroup
    | SendToConnection
    | AddToGroups
    | RemoveFromGroups
    | CountConnections
    | StoreMessage
    | DeleteMessage
    | LeaseTokens
    | SaveAnnounced
    | MarkPending
    | KeepRoomBudget
    | Reconcile
    | Snapshot
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
