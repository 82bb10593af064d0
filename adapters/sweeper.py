"""The presence sweep, carried out: due marks -> the service's truth -> what the room is told.

Run by the timer-triggered function `presence_sweep` (function_app.py) on any instance; all it
relies on is in the table and the service, so two runs at once (two instances, or a run that
overlaps the next) announce each change once: the record of what the room was told is
written with its ETag first, and only the winner sends. The decisions are
chat.sweep's and chat.presence's; the notice budgets are shared with the webhook's events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from adapters.instance_memory import RoomBudgets
from adapters.presence_marks import Mark, PresenceMarks
from adapters.table_store import StoreUnavailable, TableStore
from adapters.webpubsub import Service, ServiceUnavailable
from chat import presence, rooms
from chat import sweep as decide
from chat.presence import ROOM_WIDE
from chat.settings import Settings

log = logging.getLogger("chat")


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


@dataclass
class _Change:
    mark: Mark | None  # None: found by the re-check of present users, not by a mark
    user: str
    present: bool
    announced: presence.Announced | None
    etag: str | None
    check: decide.Check


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

    async def run(self, now: float) -> SweepReport:
        report = SweepReport()
        marks = await self.marks.due(now, decide.MAX_DUE_PER_RUN)
        report.due = len(marks)
        by_room: dict[str, list[tuple[Mark | None, str]]] = defaultdict(list)
        for mark in marks:
            by_room[mark.room].append((mark, mark.user))
        if len(marks) < decide.MAX_DUE_PER_RUN:
            # Time left in this run: look again at a few users recorded as present, in case
            # the service never delivered (or we failed to handle) their `disconnected`.
            try:
                checked = await self.marks.present_users(
                    now - decide.RECHECK_AFTER_S, decide.RECHECKS_PER_RUN
                )
            except StoreUnavailable as error:
                report.failed += 1
                log.warning("Presence sweep could not list present users: %s", error)
                checked = []
            report.rechecked = len(checked)
            for room, user in checked:
                if all(u != user for _, u in by_room[room]):
                    by_room[room].append((None, user))
        for room, items in by_room.items():
            try:
                await self._room(room, items, now, report)
            except (ServiceUnavailable, StoreUnavailable) as error:
                # The marks stay: the next run tries again.
                report.failed += 1
                log.warning("Presence sweep of a room failed: %s", error)
        return report

    async def _room(
        self, room: str, items: list[tuple[Mark | None, str]], now: float, report: SweepReport
    ) -> None:
        wide = [m for m, u in items if u == ROOM_WIDE and m is not None]
        items = [(m, u) for m, u in items if u != ROOM_WIDE]
        listing: list[dict[str, Any]] | None = None
        if wide:
            # A crowd passed the room's budget: who is in the room now, in one listing.
            listing = await self.service.list_connections(
                rooms.group(room), top=presence.SNAPSHOT_CONNECTIONS
            )
        if listing is not None and len(listing) < presence.SNAPSHOT_CONNECTIONS:
            changes = await self._room_changes(room, items, listing, now)
        else:
            # No crowd, or a room larger than one listing (whose member lists show its first
            # SNAPSHOT_CONNECTIONS connections anyway): the marked users one by one.
            changes = list(await asyncio.gather(*(self._check(room, m, u, now) for m, u in items)))
        await self._settle(room, changes, listing, now, report)
        for mark in wide:
            await self.marks.clear(mark)

    async def _room_changes(
        self,
        room: str,
        items: list[tuple[Mark | None, str]],
        listing: list[dict[str, Any]],
        now: float,
    ) -> list[_Change]:
        """Everyone the whole room's listing or its records name, compared in one go."""
        listed = set(presence.snapshot_users(listing))
        marked = {u: m for m, u in items}
        recorded = await self.marks.present_in_room(room, decide.MAX_DUE_PER_RUN)
        users = sorted(listed | set(recorded) | set(marked))[: decide.MAX_DUE_PER_RUN]
        records = await asyncio.gather(*(self.store.announced(room, u) for u in users))
        return [
            _Change(
                marked.get(user),
                user,
                user in listed,
                announced,
                etag,
                decide.check(announced, user in listed, now),
            )
            for user, (announced, etag) in zip(users, records, strict=True)
        ]

    async def _settle(
        self,
        room: str,
        changes: list[_Change],
        listing: list[dict[str, Any]] | None,
        now: float,
        report: SweepReport,
    ) -> None:
        settled = [c for c in changes if c.check.kind == decide.SETTLED]
        later = [c for c in changes if c.check.kind == decide.LATER]
        due = [c for c in changes if c.check.kind == decide.ANNOUNCE]
        for change in settled:
            await self._clear(change)
        available = presence.room_available(self.budgets.get(room), now)
        if listing is None and decide.needs_listing(len(due), len(later), available):
            listing = await self.service.list_connections(
                rooms.group(room), top=presence.SNAPSHOT_CONNECTIONS
            )
        complete = listing is not None and len(listing) < presence.SNAPSHOT_CONNECTIONS
        available = presence.room_available(self.budgets.get(room), now)
        if decide.coalesce(len(due) + len(later), available, complete):
            await self._member_list(room, due + later, listing or [], now, report)
            return
        for change in later:
            assert change.check.due is not None
            report.later += 1
            if change.mark is not None:
                await self.marks.postpone(change.mark, change.check.due)
            else:
                await self.marks.mark(room, change.user, change.check.due)
        for change in due:
            await self._notice(room, change, now, report)

    async def _check(self, room: str, mark: Mark | None, user: str, now: float) -> _Change:
        tabs = await self.service.list_connections(rooms.presence_group(room, user), top=1)
        announced, etag = await self.store.announced(room, user)
        present = bool(tabs)
        return _Change(mark, user, present, announced, etag, decide.check(announced, present, now))

    async def _clear(self, change: _Change) -> None:
        if change.mark is not None:
            await self.marks.clear(change.mark)

    async def _notice(self, room: str, change: _Change, now: float, report: SweepReport) -> None:
        transition = change.check.transition
        assert transition is not None
        if not self.budgets.spend(room, now):
            # The room's budget is spent on this instance: the next run.
            report.later += 1
            due = decide.postponed(now)
            if change.mark is not None:
                await self.marks.postpone(change.mark, due)
            else:
                await self.marks.mark(room, change.user, due)
            return
        if await self.store.save_announced(room, change.user, transition.record, change.etag):
            notice = presence.notice(self.settings, room, change.user, transition.event, now)
            await self.service.send_to_group(rooms.group(room), notice)
            report.notices += 1
        await self._clear(change)

    async def _member_list(
        self,
        room: str,
        changes: list[_Change],
        listing: list[dict[str, Any]],
        now: float,
        report: SweepReport,
    ) -> None:
        """Many changes at once: record them all as told, then send the room one list."""
        won = False
        for change in changes:
            record = decide.listed_record(change.announced, change.present, now)
            if await self.store.save_announced(room, change.user, record, change.etag):
                won = True
            await self._clear(change)
        if not won:
            return  # another run recorded (and sent) these changes
        users = presence.snapshot_users(listing)
        self.budgets.spend(room, now)  # a list costs the room one notice
        await self.service.send_to_group(rooms.group(room), presence.member_list(room, users))
        report.member_lists += 1
