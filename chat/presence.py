"""Who is in a room, and when to tell the room about it: pure decisions, no I/O.

The truth is the service's: a user is in a room while at least one of their connections is
in the room's per-user presence group (rooms.presence_group). What has been *announced* is
kept per (room, user) in the state table, so every instance compares against the same
record: "joined" when the first tab arrives, "left" when the last one goes, and nothing for
the tabs in between. Flapping is bounded by a small notice bucket per (room, user); a busy
room by a bucket per room (see `RoomNotices`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from chat import rate_limit

# Per (room, user): 4 notices at once, then one per 15 s. Joining, leaving and coming back
# twice is all announced; a connection flapping in a loop gives a few notices a minute.
USER_NOTICES = 4
USER_WINDOW_S = 60.0
# Per room and instance: 20 notices per 10 s. A crowd arriving at once is seen as the first
# 20 names; everyone's member list is corrected by the next presence snapshot.
ROOM_NOTICES = 20
ROOM_WINDOW_S = 10.0
JOINED, LEFT = "joined", "left"


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


def snapshot_users(connections: list[dict[str, Any]]) -> list[str]:
    """Each user once, however many tabs, in the order the service listed them."""
    seen: dict[str, None] = {}
    for connection in connections:
        user = connection.get("userId")
        if isinstance(user, str) and user:
            seen.setdefault(user, None)
    return list(seen)


class RoomNotices:
    """Per-room notice buckets of one instance (bounded: the oldest rooms are forgotten)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._buckets: dict[str, rate_limit.Bucket] = {}
        self._capacity = capacity

    def open(self, room: str, now: float) -> bool:
        """Whether a notice could go out now (nothing spent): when not, a crowd is arriving and
        the presence work (listing, the record's read and write) is skipped altogether."""
        bucket = self._buckets.get(room)
        if bucket is None:
            return True
        refill = (now - bucket.updated) * ROOM_NOTICES / ROOM_WINDOW_S
        return bucket.tokens + max(refill, 0.0) >= 1.0

    def available(self, room: str, now: float) -> int:
        """How many notices the room could get now (nothing spent)."""
        bucket = self._buckets.get(room)
        if bucket is None:
            return ROOM_NOTICES
        return int(rate_limit.refilled(bucket, ROOM_NOTICES, ROOM_WINDOW_S, now).tokens)

    def allow(self, room: str, now: float) -> bool:
        bucket = self._buckets.pop(room, None) or rate_limit.Bucket(float(ROOM_NOTICES), now)
        allowed, bucket = rate_limit.take(bucket, ROOM_NOTICES, ROOM_WINDOW_S, now)
        self._buckets[room] = bucket
        if len(self._buckets) > self._capacity:
            self._buckets.pop(next(iter(self._buckets)))
        return allowed
