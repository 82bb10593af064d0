"""The presence sweep's pure decisions (chat/sweep.py): tables."""

from __future__ import annotations

import pytest

from chat import presence, sweep

A = presence.Announced
EMPTY = A(False, 0.0, 100.0)  # told "left", the notice bucket just ran dry at t=100


@pytest.mark.parametrize(
    ("announced", "now", "due"),
    [
        (None, 100.0, 101.0),  # never told: as soon as a sweep may take the mark
        (A(True, 4.0, 100.0), 100.0, 101.0),  # a token there: the room budget held it back
        (EMPTY, 100.0, 115.0),  # bucket dry: one token is back 15 s later
        (A(False, 0.5, 100.0), 100.0, 107.5),
        (EMPTY, 110.0, 115.0),  # 10 s of refill already
        (EMPTY, 130.0, 131.0),  # refilled long ago: no sooner than the mark delay
    ],
)
def test_when_a_mark_is_due(announced: presence.Announced | None, now: float, due: float) -> None:
    assert presence.mark_due(announced, now) == pytest.approx(due)


@pytest.mark.parametrize(
    ("announced", "present", "now", "kind", "event"),
    [
        (None, False, 200.0, sweep.SETTLED, None),  # never told, not there: nothing to say
        (A(True, 2.0, 100.0), True, 200.0, sweep.SETTLED, None),  # a flap that ended as told
        (A(False, 2.0, 100.0), False, 200.0, sweep.SETTLED, None),
        (None, True, 200.0, sweep.ANNOUNCE, presence.JOINED),
        (A(True, 0.0, 100.0), False, 130.0, sweep.ANNOUNCE, presence.LEFT),  # a lost leave
        (EMPTY, True, 105.0, sweep.LATER, None),  # still dry: look again later
        (EMPTY, True, 115.0, sweep.ANNOUNCE, presence.JOINED),
    ],
)
def test_what_a_due_mark_comes_to(
    announced: presence.Announced | None, present: bool, now: float, kind: str, event: str | None
) -> None:
    check = sweep.check(announced, present, now)
    assert check.kind == kind
    assert (check.transition.event if check.transition else None) == event
    if kind == sweep.LATER:
        assert check.due == pytest.approx(115.0)
    if check.transition:
        assert check.transition.record.present is present


@pytest.mark.parametrize(
    ("changes", "room_tokens", "complete", "coalesce"),
    [
        (0, 20, True, False),
        (1, 20, True, False),
        (sweep.COALESCE_OVER, 20, True, False),  # a few: a notice each
        (sweep.COALESCE_OVER + 1, 20, True, True),  # more: one member list
        (2, 1, True, True),  # more than the room's budget has left
        (2, 0, True, True),
        (50, 0, False, False),  # the room is larger than one listing: never a partial list
        (1, 0, True, True),
    ],
)
def test_when_changes_become_one_member_list(
    changes: int, room_tokens: int, complete: bool, coalesce: bool
) -> None:
    assert sweep.coalesce(changes, room_tokens, complete) is coalesce


def test_a_member_list_records_presence_without_spending_the_users_notices() -> None:
    record = sweep.listed_record(EMPTY, True, 115.0)
    assert record == A(True, pytest.approx(1.0), 115.0)
    assert sweep.listed_record(None, True, 5.0) == A(True, float(presence.USER_NOTICES), 5.0)
    # ... so a change right after is an ordinary notice, from the bucket as it was.
    assert sweep.check(record, False, 115.0).kind == sweep.ANNOUNCE


def test_a_flapping_user_is_told_at_the_bucket_rate_through_the_sweep() -> None:
    """Flapping for a minute with a sweep every period: at most 4 + 1 per 15 s notices."""
    record: presence.Announced | None = None
    notices, present = 0, False
    for tick in range(600):  # a change every 0.1 s for 60 s
        now = tick * 0.1
        present = not present
        transition = presence.decide(record, present, now)
        if transition:
            record, notices = transition.record, notices + 1
        if tick % int(sweep.SWEEP_PERIOD_S * 10) == 0:
            check = sweep.check(record, present, now)
            if check.kind == sweep.ANNOUNCE and check.transition:
                record, notices = check.transition.record, notices + 1
    assert notices <= presence.USER_NOTICES + 60 / 15 + 1


def test_the_schedule_is_ncrontab_every_sweep_period() -> None:
    from datetime import UTC, datetime

    from croniter import croniter

    times = croniter(sweep.SCHEDULE, datetime(2026, 1, 1, tzinfo=UTC), second_at_beginning=True)
    first, second = times.get_next(float), times.get_next(float)
    assert second - first == sweep.SWEEP_PERIOD_S
