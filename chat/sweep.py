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

from dataclasses import dataclass

from chat import presence, rate_limit

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
