"""What one instance keeps in memory between events: the rooms' notice budgets and the rooms'
shared member listings. Both are bounded (the oldest rooms are forgotten); the rules that
read them are chat.presence's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from chat import presence, rate_limit

MAX_ROOMS = 10_000
MAX_LISTINGS = 1000


class RoomBudgets:
    """Per-room notice buckets of this instance (chat.presence.take_room_notice spends them)."""

    def __init__(self, capacity: int = MAX_ROOMS) -> None:
        self._buckets: dict[str, rate_limit.Bucket] = {}
        self._capacity = capacity

    def get(self, room: str) -> rate_limit.Bucket | None:
        return self._buckets.get(room)

    def keep(self, room: str, bucket: rate_limit.Bucket) -> None:
        self._buckets.pop(room, None)  # to the end: the most recently used room
        self._buckets[room] = bucket
        if len(self._buckets) > self._capacity:
            self._buckets.pop(next(iter(self._buckets)))

    def spend(self, room: str, now: float) -> bool:
        """Spend one of the room's notices if there is one (and keep the bucket either way)."""
        allowed, bucket = presence.take_room_notice(self.get(room), now)
        self.keep(room, bucket)
        return allowed

    def forget(self) -> None:
        self._buckets.clear()


class Listings:
    """The users of each room's group, listed at most SNAPSHOT_REUSE_S ago, shared by joiners
    (a crowd arriving costs one list call per second and room, not one per newcomer)."""

    def __init__(self, list_users: Callable[[str], Awaitable[list[str]]]) -> None:
        self._list_users = list_users
        self._listings: dict[str, tuple[float, asyncio.Future[list[str]]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self, room: str) -> asyncio.Future[list[str]]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # futures belong to one event loop
            self._listings, self._loop = {}, loop
        now = loop.time()
        entry = self._listings.get(room)
        if entry is not None:
            listed_at, future = entry
            failed = future.done() and future.exception() is not None
            if now - listed_at <= presence.SNAPSHOT_REUSE_S and not failed:
                return future
        future = asyncio.ensure_future(self._list_users(room))
        self._listings.pop(room, None)
        self._listings[room] = (now, future)
        while len(self._listings) > MAX_LISTINGS:
            self._listings.pop(next(iter(self._listings)))
        return future

    def forget_user(self, room: str, user: str) -> None:
        """The user's last tab left the room: the shared listing learns it."""
        entry = self._listings.get(room)
        if entry is not None and entry[1].done() and entry[1].exception() is None:
            users = entry[1].result()
            if user in users:
                users.remove(user)


# At most 5,000 users of 42 rooms each (twice a connection's 20 rooms, plus the lobby): a
# few MB at worst. Rooms past 42 are simply not guessed (read after the list, as a miss).
MAX_USERS = 5_000
MAX_GUESSED_ROOMS = 42


class ListedRooms:
    """Per user, the rooms their last `GET /api/me/rooms` on this instance listed (bounded:
    the least recently asking users are forgotten). Only a guess of which activity rows the
    next request will need, so it can read them beside the user's list instead of after it;
    the answer is always built from the rows read then, never from this."""

    def __init__(self, capacity: int = MAX_USERS, per_user: int = MAX_GUESSED_ROOMS) -> None:
        self._rooms: dict[str, tuple[str, ...]] = {}
        self._capacity = capacity
        self._per_user = per_user

    def get(self, user: str) -> tuple[str, ...]:
        return self._rooms.get(user, ())

    def keep(self, user: str, names: tuple[str, ...]) -> None:
        self._rooms.pop(user, None)  # to the end: the most recently asking user
        self._rooms[user] = names[: self._per_user]
        if len(self._rooms) > self._capacity:
            self._rooms.pop(next(iter(self._rooms)))
