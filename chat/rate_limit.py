"""A token bucket: `capacity` messages at once, refilled over `window` seconds.

Used per connection (in its state) and per user (in the table, see chat.token_lease).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated: float  # seconds since the epoch

    def to_state(self) -> list[float]:
        return [round(self.tokens, 3), round(self.updated, 3)]

    @staticmethod
    def from_state(raw: object, capacity: int, now: float) -> Bucket:
        """Restore from connection state; anything odd starts a full bucket."""
        if (
            isinstance(raw, list)
            and len(raw) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in raw)
        ):
            tokens, updated = float(raw[0]), float(raw[1])
            if 0 <= tokens <= capacity and updated <= now + 60:
                return Bucket(tokens, min(updated, now))
        return Bucket(float(capacity), now)


def refilled(bucket: Bucket, capacity: int, window: float, now: float) -> Bucket:
    """The bucket as of `now`: topped up for the time since it was last updated."""
    refill = (now - bucket.updated) * capacity / window
    return Bucket(min(float(capacity), bucket.tokens + max(refill, 0.0)), now)


def take(bucket: Bucket, capacity: int, window: float, now: float) -> tuple[bool, Bucket]:
    """Spend one token if there is one. Refused attempts cost nothing but do not refill."""
    bucket = refilled(bucket, capacity, window, now)
    if bucket.tokens >= 1.0:
        return True, Bucket(bucket.tokens - 1.0, now)
    return False, bucket
