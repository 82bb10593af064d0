"""The presence sweep, carried out: due marks -> the service's truth -> chat.sweep decides.

Run by the timer-triggered function `presence_sweep` (function_app.py) on any instance; all it
relies on is in the table and the service, so two runs at once (two instances, or a run that
overlaps the next) announce each change once: the record of what the room was told is
written with its ETag first, and only the winner sends. This module reads the facts of each
room; chat.sweep.settle decides; adapters/effects.py carries the plan out. The notice
budgets are shared with the webhook's events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from adapters.effects import Effects
from adapters.instance_memory import RoomBudgets
from adapters.presence_marks import PresenceMarks
from adapters.table_store import StoreUnavailable, TableStore
from adapters.webpubsub import Service, ServiceUnavailable
from chat import presence, rooms
from chat import sweep as decide
from chat.presence import ROOM_WIDE
from chat.settings import Settings
from chat.sweep import Mark

log = logging.getLogger("chat")
Item = tuple[Mark | None, str]  # a due mark (None: found by the re-check) and its user


@dataclass
class SweepReport:
    """What one run did (logged as one line)."""

    due: int = 0
    notices: int = 0
    member_lists: int = 0
    later: int = 0
    rechecked: int = 0
    failed: int = 0

    def line(self) -> str:
        return (
            f"due={self.due} notices={self.notices} member_lists={self.member_lists} "
            f"later={self.later} rechecked={self.rechecked} failed={self.failed}"
        )

    def add(self, notes: dict[str, str]) -> None:
        for name in ("notices", "member_lists", "later", "failed"):
            setattr(self, name, getattr(self, name) + int(notes.get(name, "0")))


class PresenceSweep:
    def __init__(
        self,
        settings: Settings,
        service: Service,
        store: TableStore,
        budgets: RoomBudgets,
    ) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.marks = PresenceMarks(store)
        self.budgets = budgets
        self.effects = Effects(settings, service, store, budgets)

    async def run(self, now: float) -> SweepReport:
        report = SweepReport()
        marks = await self.marks.due(now, decide.MAX_DUE_PER_RUN)
        report.due = len(marks)
        by_room: dict[str, list[Item]] = defaultdict(list)
        for mark in marks:
            by_room[mark.room].append((mark, mark.user))
        if len(marks) < decide.MAX_DUE_PER_RUN:
            # Time left in this run: look again at a few users recorded as present, in case
            # the service never delivered (or we failed to handle) their `disconnected`.
            checked = await self._recheck(now, report)
            for room, user in checked:
                if all(u != user for _, u in by_room[room]):
                    by_room[room].append((None, user))
        for room, items in by_room.items():
            try:
                facts = await self._facts(room, items, now)
            except (ServiceUnavailable, StoreUnavailable) as error:
                # The marks stay: the next run tries again.
                report.failed += 1
                log.warning("Presence sweep of a room failed: %s", error)
                continue
            report.add((await self.effects.carry_out(decide.settle(facts))).notes)
        return report

    async def _recheck(self, now: float, report: SweepReport) -> list[tuple[str, str]]:
        try:
            checked = await self.marks.present_users(
                now - decide.RECHECK_AFTER_S, decide.RECHECKS_PER_RUN
            )
        except StoreUnavailable as error:
            report.failed += 1
            log.warning("Presence sweep could not list present users: %s", error)
            return []
        report.rechecked = len(checked)
        return checked

    async def _facts(self, room: str, items: list[Item], now: float) -> decide.Room:
        wide = tuple(m for m, u in items if u == ROOM_WIDE and m is not None)
        items = [(m, u) for m, u in items if u != ROOM_WIDE]
        listing: list[dict[str, Any]] | None = None
        if wide:
            # A crowd passed the room's budget: who is in the room now, in one listing.
            listing = await self.service.list_connections(
                rooms.group(room), top=presence.SNAPSHOT_CONNECTIONS
            )
        if decide.listing_complete(listing):
            changes = await self._room_changes(room, items, listing or [], now)
        else:
            # No crowd, or a room larger than one listing (whose member lists show its first
            # SNAPSHOT_CONNECTIONS connections anyway): the marked users one by one.
            checks = (self._check(room, m, u, now) for m, u in items)
            changes = list(await asyncio.gather(*checks))
        budget = self.budgets.get(room)
        return decide.Room(self.settings, room, tuple(changes), wide, listing, budget, now)

    async def _room_changes(
        self, room: str, items: list[Item], listing: list[dict[str, Any]], now: float
    ) -> list[decide.Change]:
        """Everyone the whole room's listing or its records name, compared in one go."""
        listed = set(presence.snapshot_users(listing))
        marked = {u: m for m, u in items}
        recorded = await self.marks.present_in_room(room, decide.MAX_DUE_PER_RUN)
        users = sorted(listed | set(recorded) | set(marked))[: decide.MAX_DUE_PER_RUN]
        records = await asyncio.gather(*(self.store.announced(room, u) for u in users))
        return [
            decide.change(marked.get(user), user, user in listed, record, now)
            for user, record in zip(users, records, strict=True)
        ]

    async def _check(self, room: str, mark: Mark | None, user: str, now: float) -> decide.Change:
        tabs = await self.service.list_connections(rooms.presence_group(room, user), top=1)
        record = await self.store.announced(room, user)
        return decide.change(mark, user, bool(tabs), record, now)
