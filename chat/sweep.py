"""The presence sweep's decisions: what a suppressed or lost change becomes later. Pure, no I/O.

Carried out by adapters/sweeper.py.

The webhook announces a presence change at once when the notice budgets allow
(chat.presence). When they do not, it leaves a *pending* mark for the (room, user) in the
state table, due when the user's notice bucket holds a token again. A timer-triggered
function (the sweep, every SWEEP_PERIOD_S) takes the marks that are due, asks the service for
the truth, and announces what differs from what the room was told, within the same budgets.
Many changes due in one room at once become one member list instead of many notices. When the
room's own budget is what held a change back (a crowd), the mark is for the whole room: the
sweep lists the room once and compares it with everything the room was told.

The same check corrects a `disconnected` the service never delivered: the sweep also looks
again at a few users recorded as present (RECHECKS_PER_RUN per run, each not written for
RECHECK_AFTER_S), going round all such records a page per run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from chat import presence, rate_limit, rooms
from chat.plan import (
    ClearMark,
    Failed,
    KeepRoomBudget,
    ListConnections,
    MoveMark,
    Outcomes,
    Plan,
    SaveAnnounced,
    SendToGroup,
    after,
    chain,
)
from chat.settings import Settings

# NCRONTAB (seconds first): every 15 s, the refill time of a user's notice bucket, so a
# suppressed notice waits at most one refill plus one period.
SCHEDULE = "*/15 * * * * *"
SWEEP_PERIOD_S = 15.0
MARK_DELAY_S = presence.MARK_DELAY_S
# One run handles at most this many due marks (the rest wait for the next run): a run's cost
# is bounded, one list call and one read per mark, plus a write per change.
MAX_DUE_PER_RUN = 200
# More changes than this due in one room in one run are sent as one member list.
COALESCE_OVER = 3
# Users recorded as present, re-checked per run in case their `disconnected` was lost.
RECHECKS_PER_RUN = 20
# Only records not written for this long are re-checked: a recent one was just compared.
RECHECK_AFTER_S = 30.0

SETTLED, ANNOUNCE, LATER = "settled", "announce", "later"


@dataclass(frozen=True)
class Mark:
    """A pending mark as read from the table (adapters/presence_marks.py)."""

    room: str
    user: str  # presence.ROOM_WIDE: the whole room
    due: float
    etag: str


@dataclass(frozen=True)
class Check:
    """What a due mark comes to once the truth is known."""

    kind: str  # SETTLED (the room already knows), ANNOUNCE, or LATER (bucket still empty)
    transition: presence.Transition | None = None
    due: float | None = None  # when to look again (LATER)


def check(announced: presence.Announced | None, present: bool, now: float) -> Check:
    """Compare the service's truth with what the room was told, for one due mark."""
    told = announced.present if announced is not None else False
    if told == present:
        return Check(SETTLED)
    transition = presence.decide(announced, present, now)
    if transition is None:  # the user's notice bucket is still empty
        return Check(LATER, due=presence.mark_due(announced, now))
    return Check(ANNOUNCE, transition)


def needs_listing(due: int, later: int, room_tokens: int) -> bool:
    """Whether the room's listing is worth a call: only if the changes might be coalesced."""
    return due + later > COALESCE_OVER or due > room_tokens


def postponed(now: float) -> float:
    """When a change the room's budget held back on this run is looked at again."""
    return now + MARK_DELAY_S


def coalesce(changes: int, room_tokens: int, listing_complete: bool) -> bool:
    """Send one member list to the room instead of `changes` notices?

    Only when the list is the whole room (the service listed fewer connections than asked
    for): a partial list would drop members from everyone's list. Then: when there are more
    changes than COALESCE_OVER, or more than the room's notice budget has left.
    """
    return listing_complete and changes > 0 and (changes > COALESCE_OVER or changes > room_tokens)


def listed_record(
    announced: presence.Announced | None, present: bool, now: float
) -> presence.Announced:
    """What the room was told about a user by a member list: their presence, and their
    notice bucket refilled but not spent (a list is one message to the room, not a notice)."""
    if announced is None:
        return presence.Announced(present, float(presence.USER_NOTICES), now)
    bucket = rate_limit.refilled(
        announced.bucket(), presence.USER_NOTICES, presence.USER_WINDOW_S, now
    )
    return presence.Announced(present, bucket.tokens, now)


@dataclass(frozen=True)
class Change:
    """One user of a swept room: the truth, the record, and what they come to."""

    mark: Mark | None  # None: found by the re-check of present users, not by a mark
    user: str
    present: bool
    announced: presence.Announced | None
    etag: str | None
    check: Check


def change(
    mark: Mark | None,
    user: str,
    present: bool,
    record: tuple[presence.Announced | None, str | None],
    now: float,
) -> Change:
    announced, etag = record
    return Change(mark, user, present, announced, etag, check(announced, present, now))


def listing_complete(listing: list[dict[str, Any]] | None) -> bool:
    """Whether a listing of the room is all of it (fewer connections than one page)."""
    return listing is not None and len(listing) < presence.SNAPSHOT_CONNECTIONS


# --- the room's decision, on the facts the sweeper read ---------------------------------------


@dataclass(frozen=True)
class Room:
    """The facts of one swept room."""

    settings: Settings
    room: str
    changes: tuple[Change, ...]
    wide: tuple[Mark, ...]  # marks for the whole room, cleared once it is swept
    listing: list[dict[str, Any]] | None  # the room's connections, when listed
    budget: rate_limit.Bucket | None  # the room's notice bucket on this instance
    now: float


def settle(facts: Room) -> Plan:
    """What the room is told: nothing for settled marks, a member list for many changes,
    else a notice per change the budgets allow and a later look for the rest. The room's
    listing is read first when a member list might be due."""
    settled = [c for c in facts.changes if c.check.kind == SETTLED]
    clear = _clear(c.mark for c in settled)
    due, later = _split(facts.changes)
    available = presence.room_available(facts.budget, facts.now)
    if facts.listing is None and needs_listing(len(due), len(later), available):
        listing = ListConnections(rooms.group(facts.room), presence.SNAPSHOT_CONNECTIONS)
        return chain(clear, after(partial(_listed, facts), listing))
    return chain(clear, _tell(facts))


def _clear(marks: Iterable[Mark | None]) -> Plan:
    """Delete the marks one by one, as the sweep always has: a run may clear hundreds, and a
    burst of them would crowd out the messages' own writes."""
    steps = [Plan((ClearMark(m),)) for m in marks if m is not None]
    return chain(*steps) if steps else Plan()


def _split(changes: tuple[Change, ...]) -> tuple[list[Change], list[Change]]:
    due = [c for c in changes if c.check.kind == ANNOUNCE]
    return due, [c for c in changes if c.check.kind == LATER]


def _listed(facts: Room, outcomes: Outcomes) -> Plan:
    (listing,) = outcomes
    if isinstance(listing, Failed):
        return Plan(notes={"failed": "1"})
    return _tell(replace(facts, listing=listing))


def _tell(facts: Room) -> Plan:
    due, later = _split(facts.changes)
    available = presence.room_available(facts.budget, facts.now)
    clear_wide = _clear(facts.wide)
    if coalesce(len(due) + len(later), available, listing_complete(facts.listing)):
        return chain(_member_list(facts, due + later), clear_wide)
    looks = [_later(facts.room, c, c.check.due or facts.now) for c in later]
    # A mark for the whole room (a crowd past the notice budget, or arrivals past the member-
    # list budget) ends with the room's list: arrivals the records already had are no change,
    # so no notice would show them to those who came back before them.
    listed = _listing_sent(facts) if facts.wide and listing_complete(facts.listing) else Plan()
    notices: list[Plan] = []
    bucket = facts.budget
    for c in due:  # the room's budget, spent in order: the first ones are told now
        allowed, bucket = presence.take_room_notice(bucket, facts.now)
        kept = KeepRoomBudget(facts.room, bucket)
        if allowed:
            notices.append(_notice(facts, c, kept))
        else:  # the room's budget is spent on this instance: the next run
            look = _later(facts.room, c, postponed(facts.now))
            notices.append(replace(look, effects=(kept, *look.effects)))
    return chain(*looks, *notices, listed, clear_wide)


def _listing_sent(facts: Room) -> Plan:
    users = presence.snapshot_users(facts.listing or [])
    frame = presence.member_list(facts.room, users)
    return Plan((SendToGroup(rooms.group(facts.room), frame),), notes={"member_lists": "1"})


def _later(room: str, c: Change, due: float) -> Plan:
    return Plan((MoveMark(room, c.user, due, c.mark),), notes={"later": "1"})


def _notice(facts: Room, c: Change, kept: KeepRoomBudget) -> Plan:
    transition = c.check.transition
    assert transition is not None  # an ANNOUNCE check carries its transition
    save = SaveAnnounced(facts.room, c.user, transition.record, c.etag)
    frame = presence.notice(facts.settings, facts.room, c.user, transition.event, facts.now)
    return Plan((kept, save), then=partial(_noticed, facts.room, c, frame))


def _noticed(room: str, c: Change, frame: dict[str, Any], outcomes: Outcomes) -> Plan:
    clear = (ClearMark(c.mark),) if c.mark is not None else ()
    if outcomes[1] is not True:
        return Plan(clear)  # another run recorded (and sent) this change
    return chain(
        Plan((SendToGroup(rooms.group(room), frame),), notes={"notices": "1"}), Plan(clear)
    )


def _member_list(facts: Room, changes: list[Change]) -> Plan:
    """Many changes at once: record them all as told, then send the room one list. One write
    at a time, as before: a burst of hundreds would crowd out the messages' own writes."""
    return _record(facts, changes, 0, False)


def _record(facts: Room, changes: list[Change], index: int, won: bool) -> Plan:
    if index == len(changes):
        return _member_list_saved(facts, changes, won)
    c = changes[index]
    record = listed_record(c.announced, c.present, facts.now)
    save = SaveAnnounced(facts.room, c.user, record, c.etag)
    return Plan((save,), then=partial(_recorded, facts, changes, index, won))


def _recorded(
    facts: Room, changes: list[Change], index: int, won: bool, outcomes: Outcomes
) -> Plan:
    # A failed write never gets here: chain() stops the room at it.
    return _record(facts, changes, index + 1, won or outcomes[0] is True)


def _member_list_saved(facts: Room, changes: list[Change], won: bool) -> Plan:
    clear = _clear(c.mark for c in changes)
    if not won:
        return clear  # another run recorded (and sent) these changes
    _, bucket = presence.take_room_notice(facts.budget, facts.now)  # a list costs one notice
    users = presence.snapshot_users(facts.listing or [])
    send = SendToGroup(rooms.group(facts.room), presence.member_list(facts.room, users))
    return chain(
        clear, Plan((KeepRoomBudget(facts.room, bucket), send), notes={"member_lists": "1"})
    )
