"""Leased tokens: a connection takes a few of its user's tokens at once and spends them alone.

Pure. The user's bucket (chat.rate_limit) lives in the table, shared by every connection on
every instance; writing it for every message is a conditional table write per message. A
lease takes up to LEASE_MAX tokens from it in one write, and the connection then spends them
from its own state (ce-connectionState, which the service holds and only our responses set)
with no write at all. The user can never spend more than the table bucket granted, so the
limit still holds across connections and instances; tokens a connection leased but did not
spend (it closed, or the lease ran out) are simply lost, which only errs on the strict side.

Two rules keep a lease from loosening the limit:
- a lease takes at most a quarter of what the bucket holds (and at least one token), so one
  connection cannot drain the bucket for the user's other tabs, and a nearly empty bucket
  is spent one token per write, as before;
- a lease lasts LEASE_MAX tokens' worth of refill time (LEASE_MAX * window / capacity), but
  at least MIN_TTL_S (a limit of thousands per window would otherwise make leases expire
  before the next message), so in any interval a user can send at most
  max(LEASE_MAX, MIN_TTL_S * capacity / window) messages more than the bucket allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from chat import rate_limit
from chat.plan import Failed, LeaseTokens

LEASE_MAX = 5
# The table bucket a lease comes from (RowKey in the user's "rate|<user key>" partition).
MESSAGES, ROOM_CHANGES = "bucket", "rooms"
# A connection's state keys for each bucket: its lease, and the cached bucket (see lease_tokens).
STATE_KEYS = {MESSAGES: ("lease", "user_rate"), ROOM_CHANGES: ("room_lease", "room_user_rate")}
# The most a lease takes from each. A connection changes rooms a few times, not hundreds:
# a lease of several would mostly be lost with the connection, so room changes take one
# token per change (one conditional table write each), and the user's limit is exact.
LEASE_SIZES = {MESSAGES: LEASE_MAX, ROOM_CHANGES: 1}
# A lease takes at most this share of the tokens the bucket holds at the time.
LEASE_SHARE = 4
MIN_TTL_S = 2.0


@dataclass(frozen=True)
class Lease:
    tokens: int
    expires: float  # seconds since the epoch

    def to_state(self) -> list[float]:
        return [self.tokens, round(self.expires, 3)]

    @staticmethod
    def from_state(raw: object, capacity: int, window: float, now: float) -> Lease:
        """Restore from connection state; anything odd (or too generous) is no lease."""
        if (
            isinstance(raw, list)
            and len(raw) == 2
            and isinstance(raw[0], int)
            and not isinstance(raw[0], bool)
            and isinstance(raw[1], int | float)
            and not isinstance(raw[1], bool)
            and 0 <= raw[0] <= LEASE_MAX
            and float(raw[1]) <= now + ttl(capacity, window)
        ):
            return Lease(raw[0], float(raw[1]))
        return Lease(0, now)


def ttl(capacity: int, window: float) -> float:
    """How long leased tokens stay spendable: the time the bucket takes to refill LEASE_MAX."""
    return max(LEASE_MAX * window / capacity, MIN_TTL_S)


def size(available: float) -> int:
    """How many tokens to lease from a bucket holding `available` (0: refuse the message)."""
    if available < 1.0:
        return 0
    return max(1, min(LEASE_MAX, math.floor(available / LEASE_SHARE)))


def spend(lease: Lease, now: float) -> tuple[bool, Lease]:
    """Spend one leased token if the lease holds one and has not run out."""
    if lease.tokens >= 1 and now < lease.expires:
        return True, Lease(lease.tokens - 1, lease.expires)
    return False, Lease(0, now)


def granted(tokens: int, capacity: int, window: float, now: float) -> tuple[bool, Lease]:
    """A fresh lease of `tokens` from the table, one of them spent on the message at hand."""
    if tokens < 1:
        return False, Lease(0, now)
    return True, Lease(tokens - 1, now + ttl(capacity, window))


# --- the user's table bucket: the rule the store applies when it writes a lease ---------------


def take_lease(
    stored: tuple[float, float] | None, capacity: int, window: float, now: float, most: int
) -> tuple[int, rate_limit.Bucket]:
    """Lease from the user's bucket as stored ([tokens, updated], None when there is none):
    the tokens leased and the bucket to write back."""
    # Never move the bucket's clock back: an event handled a little later than another but
    # timed earlier would otherwise refill the same seconds twice.
    at = max(now, stored[1]) if stored is not None else now
    raw = list(stored) if stored is not None else None
    bucket = rate_limit.refilled(
        rate_limit.Bucket.from_state(raw, capacity, at), capacity, window, at
    )
    tokens = min(size(bucket.tokens), most)
    return tokens, rate_limit.Bucket(bucket.tokens - tokens, bucket.updated)


def cached(raw: object) -> tuple[float, float, str] | None:
    """[tokens, updated, etag] as a lease returned it, from the connection state. Not trusted
    for more than that: the If-Match makes a stale or forged value cost a read, no more."""
    if (
        isinstance(raw, list)
        and len(raw) == 3
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in raw[:2])
        and isinstance(raw[2], str)
        and 0 < len(raw[2]) <= 200
    ):
        return float(raw[0]), float(raw[1]), raw[2]
    return None


# --- a connection's side: spend from its lease, or ask the table for one ---------------------


def spend_from_state(
    state: dict[str, Any], bucket: str, capacity: int, window: float, now: float
) -> tuple[bool, dict[str, Any]]:
    """Spend a token this connection leased earlier (no table call); the state to keep."""
    lease_key, _ = STATE_KEYS[bucket]
    lease = Lease.from_state(state.get(lease_key), capacity, window, now)
    spent, lease = spend(lease, now)
    return spent, state | {lease_key: lease.to_state()}


def request(
    user: str, state: dict[str, Any], bucket: str, capacity: int, window: float, now: float
) -> LeaseTokens:
    """The table call for a fresh lease, with what this connection cached of the bucket."""
    _, cache_key = STATE_KEYS[bucket]
    most = LEASE_SIZES[bucket]
    return LeaseTokens(user, bucket, capacity, window, now, most, cached(state.get(cache_key)))


def on_lease(
    outcome: object,
    state: dict[str, Any],
    bucket: str,
    capacity: int,
    window: float,
    now: float,
) -> tuple[bool | Failed, dict[str, Any]]:
    """The second decision on a LeaseTokens outcome: allowed, refused (the bucket is empty),
    or the store's failure. Every ETag race lost (None) is decided per bucket: messages fail
    closed (a user racing themselves this hard is flooding); room changes go ahead, as the
    user's other tabs changing rooms at that very moment (a reload of many tabs) is normal,
    and the connection's own limit still holds."""
    lease_key, cache_key = STATE_KEYS[bucket]
    if isinstance(outcome, Failed):
        return outcome, state
    if outcome is None:
        return bucket == ROOM_CHANGES, state | {
            cache_key: None,
            lease_key: Lease(0, now).to_state(),
        }
    assert isinstance(outcome, tuple)
    tokens, cache = outcome
    allowed, lease = granted(tokens, capacity, window, now)
    return allowed, state | {cache_key: cache, lease_key: lease.to_state()}
