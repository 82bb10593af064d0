"""Who is in a room, and when to tell the room about it: pure decisions, no I/O.

The truth is the service's: a user is in a room while at least one of their connections is
in the room's per-user presence group (rooms.presence_group). What has been *announced* is
kept per (room, user) in the state table, so every instance compares against the same
record: "joined" when the first tab arrives, "left" when the last one goes, and nothing for
the tabs in between. Flapping is bounded by a small notice bucket per (room, user); a busy
room by a bucket per room and instance (`take_room_notice`; the bucket itself is kept by the
adapter, adapters/effects.py, and passed in).

`reconcile` is the decision for one (room, user) once the truth has been read: announce,
mark for the sweep, or nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from typing import Any

from chat import history, identity, rate_limit, rooms
from chat.plan import (
    Failed,
    KeepListBudget,
    KeepRoomBudget,
    ListConnections,
    MarkPending,
    Outcomes,
    Plan,
    SaveAnnounced,
    SendToGroup,
)
from chat.settings import Settings

# Per (room, user): 4 notices at once, then one per 15 s. Joining, leaving and coming back
# twice is all announced; a connection flapping in a loop gives a few notices a minute.
USER_NOTICES = 4
USER_WINDOW_S = 60.0
# Per room and instance: 20 notices per 10 s. A crowd arriving at once is seen as the first
# 20 names; everyone's member list is corrected by the next presence snapshot.
ROOM_NOTICES = 20
ROOM_WINDOW_S = 10.0
JOINED, LEFT = "joined", "left"
# The presence snapshot lists the users of at most this many of the room's connections
# (one page of the service's list): enough for a member list, bounded for a crowded room.
SNAPSHOT_CONNECTIONS = 100
# Joiners of one room within this long share one listing (a crowd arriving costs one list
# call per second and room, not one per newcomer). The listing learns the joins and leaves
# this instance handles meanwhile; those handled by other instances show up within this long.
SNAPSHOT_REUSE_S = 1.0
# A mark is due no sooner than this after it was written. A webhook instance that wrote a
# mark skips writing it again while it is not yet due: every change it skipped happened
# before any sweep could take the mark, so the sweep still sees it (it reads the truth).
MARK_DELAY_S = 1.0
# An arrival the record already had (no transition, so no "joined"): after an outage whose
# `disconnected` events were lost, everyone's record still says present, and those who came
# back earlier were never shown the later ones (their snapshot predates them). Such an arrival
# sends the room a member list instead: per room and instance MEMBER_LISTS at once, then one
# per MEMBER_LISTS_WINDOW_S / MEMBER_LISTS (2 s). A small room reconnecting at once is all
# shown; a reconnect storm in a big one costs one listing and one send per 2 s, not one each,
# and its tail is left to the sweep (a mark for the whole room).
MEMBER_LISTS = 4
MEMBER_LISTS_WINDOW_S = 8.0
# The `user` of a mark about a whole room: a crowd arrived past the room's notice budget, and
# the sweep compares the room's listing with its records instead of user by user. Empty, as
# no user id is (a chosen name could be "*").
ROOM_WIDE = ""


@dataclass(frozen=True)
class Announced:
    """The last state told to the room for one user, and that user's notice bucket."""

    present: bool
    tokens: float
    updated: float

    def bucket(self) -> rate_limit.Bucket:
        return rate_limit.Bucket(self.tokens, self.updated)


@dataclass(frozen=True)
class Transition:
    event: str  # JOINED or LEFT
    record: Announced  # what to store (only if the notice may go out)


def decide(announced: Announced | None, present: bool, now: float) -> Transition | None:
    """The notice to send for a user whose presence is now `present`, or None."""
    if announced is None:
        if not present:
            return None
        bucket = rate_limit.Bucket(float(USER_NOTICES), now)
    else:
        if announced.present == present:
            return None
        bucket = announced.bucket()
    allowed, bucket = rate_limit.take(bucket, USER_NOTICES, USER_WINDOW_S, now)
    if not allowed:
        # Flapping: keep the old record; the next event after the bucket refills tells the truth.
        return None
    return Transition(JOINED if present else LEFT, Announced(present, bucket.tokens, now))


def notice_id(room: str, user: str, event: str, now: float) -> str:
    """The notice's id: the same for every instance that announces the same change at once."""
    seed = f"{room}\n{user}\n{event}\n{now:.3f}".encode()
    return hashlib.sha256(seed).hexdigest()[:24]


class Listed(list[str]):
    """A room's users as one listing found them; not `complete` when the listing stopped at
    SNAPSHOT_CONNECTIONS connections (more people may be in the room)."""

    complete: bool = True


def listing_of(connections: list[dict[str, Any]], top: int) -> Listed:
    """The users of a listing asked for at most `top` connections."""
    users = Listed(snapshot_users(connections))
    users.complete = len(connections) < top
    return users


def snapshot_users(connections: list[dict[str, Any]]) -> list[str]:
    """Each user once, however many tabs, in the order the service listed them."""
    seen: dict[str, None] = {}
    for connection in connections:
        user = connection.get("userId")
        if isinstance(user, str) and user:
            seen.setdefault(user, None)
    return list(seen)


# --- the room's notice budget, per instance: the bucket is the adapter's, the rule is here ---


def room_open(bucket: rate_limit.Bucket | None, now: float) -> bool:
    """Whether a notice could go out now (nothing spent): when not, a crowd is arriving and
    the presence work (listing, the record's read and write) is skipped altogether."""
    if bucket is None:
        return True
    refill = (now - bucket.updated) * ROOM_NOTICES / ROOM_WINDOW_S
    return bucket.tokens + max(refill, 0.0) >= 1.0


def room_available(bucket: rate_limit.Bucket | None, now: float) -> int:
    """How many notices the room could get now (nothing spent)."""
    if bucket is None:
        return ROOM_NOTICES
    return int(rate_limit.refilled(bucket, ROOM_NOTICES, ROOM_WINDOW_S, now).tokens)


def take_room_notice(
    bucket: rate_limit.Bucket | None, now: float
) -> tuple[bool, rate_limit.Bucket]:
    """Spend one of the room's notices if there is one; the bucket to keep either way."""
    start = bucket or rate_limit.Bucket(float(ROOM_NOTICES), now)
    return rate_limit.take(start, ROOM_NOTICES, ROOM_WINDOW_S, now)


# --- when to look again ----------------------------------------------------------------------


def token_at(announced: Announced | None, now: float) -> float:
    """When the user's notice bucket next holds a whole token (now, if it does)."""
    if announced is None:
        return now
    bucket = rate_limit.refilled(announced.bucket(), USER_NOTICES, USER_WINDOW_S, now)
    missing = max(0.0, 1.0 - bucket.tokens)
    return now + missing * USER_WINDOW_S / USER_NOTICES


def mark_due(announced: Announced | None, now: float) -> float:
    """When a change not announced now should be looked at again."""
    return max(now + MARK_DELAY_S, token_at(announced, now))


# --- what the room is sent -------------------------------------------------------------------


def notice(settings: Settings, room: str, user: str, event: str, now: float) -> dict[str, Any]:
    """A "joined"/"left" notice, as the webhook and the presence sweep send it."""
    sender = identity.sender(user, settings) or {"from": user}
    shown = sender.pop("from")
    return {
        "type": "system",
        "event": event,
        "room": room,
        # `user` stays the user id (members are keyed by it); the page shows the name.
        "user": user,
        **sender,
        "message": f"{shown} {event}",
        "id": notice_id(room, user, event, now),
        "time": history.iso_time(now),
    }


def member_list(room: str, users: list[str], complete: bool = True) -> dict[str, Any]:
    """The room's members, sent to a joiner (or to the room, by the sweep). In sign-in mode
    (issue 17) also `members`: who each is, so the page can start a direct message. A joiner's
    list from a listing that stopped at SNAPSHOT_CONNECTIONS says `"partial": true`: someone
    missing from it may still be here (the page shows no "offline" for them)."""
    frame: dict[str, Any] = {"type": "presence", "room": room, "users": users}
    if not complete:
        frame["partial"] = True
    members = _members(users)
    return frame | {"members": members} if members else frame


def _members(users: list[str]) -> list[dict[str, str]]:
    """Signed-in users only (a chosen name cannot take the signed-in form: it is refused)."""
    members = []
    for user in users:
        person = identity.parse_user_id(user)
        if person is not None:
            shown = identity.shown_name(person.name, person.user_id)
            members.append({"user": shown, "userId": person.user_id, "idp": person.idp or ""})
    return members


def listed(users: list[str], user: str) -> tuple[list[str], bool]:
    """A joiner's member list from a shared listing: the listing plus the joiner (listed
    before its connection was added), and whether the shared listing should learn it."""
    if user in users:
        return list(users), False
    return [*users, user], len(users) < SNAPSHOT_CONNECTIONS


def take_member_list(
    bucket: rate_limit.Bucket | None, now: float
) -> tuple[bool, rate_limit.Bucket]:
    """Spend one of the room's member lists (this instance's) if there is one."""
    start = bucket or rate_limit.Bucket(float(MEMBER_LISTS), now)
    return rate_limit.take(start, MEMBER_LISTS, MEMBER_LISTS_WINDOW_S, now)


def refresh(room: str, lists: rate_limit.Bucket | None, now: float) -> Plan:
    """Send the room its member list, if the room's list budget allows: list it, then send."""
    allowed, bucket = take_member_list(lists, now)
    kept = KeepListBudget(room, bucket)
    if not allowed:
        # The tail of a reconnect storm: a mark for the whole room, so the sweep lists it and
        # sends the list (chat/sweep.py) even when no later arrival does.
        mark = MarkPending(room, ROOM_WIDE, mark_due(None, now), now)
        return Plan((kept, mark), notes={"member_list": "held back"})
    listing = ListConnections(rooms.group(room), SNAPSHOT_CONNECTIONS)
    return Plan((kept, listing), then=partial(_refreshed, room))


def _refreshed(room: str, outcomes: Outcomes) -> Plan:
    listing = outcomes[1]
    # Advisory: a failed listing sends nothing; nor does a partial one (a room past one page),
    # which would drop members from everyone's list.
    if isinstance(listing, Failed) or len(listing) >= SNAPSHOT_CONNECTIONS:
        return Plan()
    frame = member_list(room, snapshot_users(listing))
    return Plan((SendToGroup(rooms.group(room), frame),), notes={"member_list": "sent"})


# --- the decision, once the truth is read ----------------------------------------------------


def unread(room: str, user: str, now: float) -> Plan:
    """The room's budget is spent (a crowd), or the truth could not be read: leave a mark for
    the sweep, which compares the truth with the records when it may."""
    return Plan((MarkPending(room, user, mark_due(None, now), now),))


def reconcile(
    settings: Settings,
    room: str,
    user: str,
    present: bool,
    record: tuple[Announced | None, str | None],
    budget: rate_limit.Bucket | None,
    now: float,
    arrived: bool = False,
    lists: rate_limit.Bucket | None = None,
) -> Plan:
    """Announce the user's change once, or mark it for the sweep when a budget holds it back.
    An arrival (`arrived`) the record already had sends the room a member list (`refresh`,
    within the room's list bucket `lists`): the room may never have been shown this user."""
    announced, etag = record
    transition = decide(announced, present, now)
    if transition is None:
        told = announced.present if announced is not None else False
        if told != present:  # a change the user's notice bucket holds back
            return Plan((MarkPending(room, user, mark_due(announced, now), now),))
        if arrived and present:
            return refresh(room, lists, now)
        return Plan()
    allowed, bucket = take_room_notice(budget, now)
    if not allowed:
        return Plan(
            (KeepRoomBudget(room, bucket), MarkPending(room, user, mark_due(announced, now), now))
        )
    message = notice(settings, room, user, transition.event, now)
    return Plan(
        (KeepRoomBudget(room, bucket), SaveAnnounced(room, user, transition.record, etag)),
        then=partial(_saved, room, user, announced, message, now),
    )


def _saved(
    room: str,
    user: str,
    announced: Announced | None,
    message: dict[str, Any],
    now: float,
    outcomes: Outcomes,
) -> Plan:
    written = outcomes[1]
    if written is True:  # the ETag race is ours: tell the room
        return Plan(
            (SendToGroup(rooms.group(room), message),),
            then=partial(_told, room, user, announced, now),
        )
    if written is False:
        return Plan()  # another instance announced this change
    return Plan((MarkPending(room, user, mark_due(announced, now), now),))  # Failed: the sweep


def _told(
    room: str, user: str, announced: Announced | None, now: float, outcomes: Outcomes
) -> Plan:
    if outcomes[0] is None:
        return Plan()
    # Sent nothing, yet the record says told: the sweep compares again and corrects it.
    return Plan((MarkPending(room, user, mark_due(announced, now), now),))
