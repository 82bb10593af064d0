"""Table tests of the leased-token decisions (chat.token_lease): pure, no I/O."""

from __future__ import annotations

import pytest

from chat import rate_limit, token_lease
from chat.token_lease import LEASE_MAX, Lease

CAPACITY, WINDOW, NOW = 20, 10.0, 1000.0
TTL = LEASE_MAX * WINDOW / CAPACITY  # 2.5 s with the default limit


@pytest.mark.parametrize(
    ("available", "leased"),
    [
        (0.0, 0),  # empty: refuse
        (0.99, 0),
        (1.0, 1),  # nearly empty: one token per table write, as without leases
        (3.9, 1),
        (7.9, 1),
        (8.0, 2),  # a quarter of what is there, so other tabs still find tokens
        (19.0, 4),
        (20.0, 5),
        (1000.0, LEASE_MAX),  # never more than LEASE_MAX
    ],
)
def test_lease_size(available: float, leased: int) -> None:
    assert token_lease.size(available) == leased


def test_a_granted_lease_spends_one_token_now_and_the_rest_later_until_it_runs_out() -> None:
    allowed, lease = token_lease.granted(5, CAPACITY, WINDOW, NOW)
    assert allowed and lease == Lease(4, NOW + TTL)
    spent = []
    for i in range(6):
        ok, lease = token_lease.spend(lease, NOW + i * 0.1)
        spent.append(ok)
    assert spent == [True, True, True, True, False, False]
    _, late = token_lease.granted(3, CAPACITY, WINDOW, NOW)
    assert token_lease.spend(late, NOW + TTL) == (False, Lease(0, NOW + TTL))  # ran out


@pytest.mark.parametrize(
    ("capacity", "window", "lasts"),
    [(20, 10.0, 2.5), (2, 60.0, 150.0), (10_000, 10.0, token_lease.MIN_TTL_S)],
)
def test_a_lease_lasts_five_tokens_of_refill_but_not_less_than_the_floor(
    capacity: int, window: float, lasts: float
) -> None:
    assert token_lease.ttl(capacity, window) == lasts


def test_nothing_granted_refuses() -> None:
    assert token_lease.granted(0, CAPACITY, WINDOW, NOW) == (False, Lease(0, NOW))


@pytest.mark.parametrize(
    ("raw", "restored"),
    [
        ([3, NOW + 1], Lease(3, NOW + 1)),
        ([LEASE_MAX, NOW + TTL], Lease(LEASE_MAX, NOW + TTL)),
        ([0, NOW], Lease(0, NOW)),
        # Odd or too generous values are no lease at all (a table call decides instead).
        (None, Lease(0, NOW)),
        ("5", Lease(0, NOW)),
        ([5], Lease(0, NOW)),
        ([1000, NOW + 1], Lease(0, NOW)),
        ([LEASE_MAX + 1, NOW + 1], Lease(0, NOW)),
        ([-1, NOW + 1], Lease(0, NOW)),
        ([2.5, NOW + 1], Lease(0, NOW)),
        ([True, NOW + 1], Lease(0, NOW)),
        ([3, NOW + TTL + 1], Lease(0, NOW)),  # lasts longer than a lease can
        ([3, "later"], Lease(0, NOW)),
        ([3, False], Lease(0, NOW)),
    ],
)
def test_lease_from_connection_state(raw: object, restored: Lease) -> None:
    assert Lease.from_state(raw, CAPACITY, WINDOW, NOW) == restored


def test_lease_state_round_trip() -> None:
    lease = Lease(2, NOW + 1.23456)
    assert Lease.from_state(lease.to_state(), CAPACITY, WINDOW, NOW) == Lease(2, NOW + 1.235)


def test_leases_never_let_a_user_past_what_the_bucket_grants() -> None:
    """Many tabs of one user leasing from one bucket as fast as they can, for a minute:
    what they spend is what the bucket gave out, and at most LEASE_MAX more than the
    bucket alone would allow in any window."""
    bucket = rate_limit.Bucket(float(CAPACITY), NOW)
    leases = [Lease(0, NOW)] * 25
    sent: list[float] = []
    for step in range(600):
        now = NOW + step * 0.1
        for tab, lease in enumerate(leases):
            ok, lease = token_lease.spend(lease, now)
            if not ok:
                bucket = rate_limit.refilled(bucket, CAPACITY, WINDOW, now)
                tokens = token_lease.size(bucket.tokens)
                bucket = rate_limit.Bucket(bucket.tokens - tokens, now)
                ok, lease = token_lease.granted(tokens, CAPACITY, WINDOW, now)
            leases[tab] = lease
            if ok:
                sent.append(now)
    assert len(sent) <= CAPACITY + 60 * CAPACITY / WINDOW
    for start in sent:
        in_window = sum(1 for t in sent if start <= t < start + WINDOW)
        assert in_window <= CAPACITY + CAPACITY + LEASE_MAX  # bucket + refill + leases
