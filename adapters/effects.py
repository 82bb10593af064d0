"""The executor: carries out the plans the pure core returns (chat/plan.py), one effect kind
per case, and maps I/O failures to `Failed` outcomes for the next decision.

It decides nothing: what to send, store or refuse, and what an outcome means, is chat's.
The memory it keeps (notice budgets, shared listings, the marks it wrote) only saves calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from adapters.blocks_store import BlocksStore
from adapters.chat_bans import ChatBans
from adapters.conversations import Conversations
from adapters.instance_memory import Listings, RoomBudgets
from adapters.message_rows import MessageRows
from adapters.moderation_store import ModerationStore
from adapters.presence_marks import PresenceMarks
from adapters.table_store import StoreUnavailable, TableStore
from adapters.webpubsub import Service, ServiceUnavailable
from chat import directory, presence, rooms
from chat.plan import (
    AddToGroups,
    AddUserToGroups,
    ChatBan,
    ClaimRoom,
    ClearMark,
    CloseUserConnections,
    DeleteMessage,
    DropBlock,
    Effect,
    Failed,
    FileReport,
    FindMessage,
    FindReplies,
    ForgetJoined,
    IsBlocked,
    KeepJoined,
    KeepListBudget,
    KeepRoomBudget,
    KnownUser,
    LeaseTokens,
    ListBlocks,
    ListConnections,
    MarkPending,
    MarkRead,
    Moderate,
    MoveMark,
    NoteActivity,
    Outcomes,
    Plan,
    ReadChatBan,
    ReadRoom,
    Reconcile,
    RemoveFromGroups,
    RemoveUserFromGroups,
    ResolveReport,
    SaveAnnounced,
    SaveBlock,
    SendToConnection,
    SendToGroup,
    SendToUser,
    Snapshot,
    StoreMessage,
    TakeSlot,
    UpdateMessage,
)
from chat.settings import Settings

log = logging.getLogger("chat")
MAX_MARKED = 10_000
NOT_BLOCKED_S = 10.0  # how long a DM's "not blocked" answer is reused on this instance
_UNKNOWN = object()  # an effect whose outcome needs I/O (Effects._remembered)


class Effects:
    def __init__(
        self,
        settings: Settings,
        service: Service,
        store: TableStore | None,
        budgets: RoomBudgets,
        chat_bans: ChatBans | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self._store = store  # None: storage is not configured (connect needs none)
        self.budgets = budgets
        # The rooms' member-list buckets (chat.presence.take_member_list), this instance's.
        self.list_budgets = RoomBudgets()
        self.listings = Listings(self._list_users)
        # (room, user) -> due time of the pending mark this instance last wrote (bounded).
        self._marked: dict[tuple[str, str], float] = {}
        self._moderation: ModerationStore | None = None
        # Chat-wide bans with this instance's copy: shared with negotiate when given.
        self._chat_bans = chat_bans
        # room -> when this instance last wrote its directory row (chat.directory.due).
        self._activity: dict[str, float] = {}
        # Users known to exist, and direct-conversation rows known written (bounded): a
        # conversation's second DM costs no look-up or row write on this instance.
        self._known: dict[str, None] = {}
        # (recipient account, sender key) -> until when (monotonic s) a DM's block check may
        # be answered "not blocked" from memory (NOT_BLOCKED_S; dropped by a block here). A
        # block on another instance is missed that long at most, and only for the refusal:
        # the DM's send to the recipient carries the block filter (chat.blocks), so it never
        # reaches the blocker's connections.
        self._not_blocked: dict[tuple[str, str], float] = {}
        # Message rows this instance stored, changed or read, with their ETags (bounded): an
        # edit, delete or reaction of one finds it with no query (adapters/message_rows.py).
        self.messages = MessageRows(lambda: self.store)

    @property
    def store(self) -> TableStore:
        if self._store is None:
            raise StoreUnavailable("storage is not configured")
        return self._store

    @property
    def moderation(self) -> ModerationStore:
        """Moderation's rows, with this instance's short-lived copy of them (one per executor)."""
        if self._moderation is None:
            self._moderation = ModerationStore(self.store)
        return self._moderation

    @property
    def chat_bans(self) -> ChatBans:
        if self._chat_bans is None:
            self._chat_bans = ChatBans(self.store)
        return self._chat_bans

    @property
    def conversations(self) -> Conversations:
        return Conversations(self.store)

    @property
    def blocks(self) -> BlocksStore:
        return BlocksStore(self.store)

    @property
    def marks(self) -> PresenceMarks:
        return PresenceMarks(self.store)

    async def carry_out(self, plan: Plan) -> Plan:
        """Run the plan's effects, then its next decisions, until one is final."""
        while True:
            for warning in plan.warnings:
                log.warning("%s", warning)
            for error in plan.errors:
                log.error("%s", error)
            outcomes = await self._run(plan.effects)
            for effect, outcome in zip(plan.effects, outcomes, strict=True):
                if isinstance(outcome, Failed):  # the decision answers it (or ignores it)
                    log.warning("%s failed: %s", type(effect).__name__, outcome.reason)
            if plan.then is None:
                return plan
            plan = plan.then(outcomes)

    async def _run(self, effects: tuple[Effect, ...]) -> Outcomes:
        # Memory first, before anything awaits: no other event sees a budget before this
        # decision's spend of it.
        for effect in effects:
            if isinstance(effect, KeepRoomBudget):
                self.budgets.keep(effect.room, effect.bucket)
            elif isinstance(effect, KeepListBudget):
                self.list_budgets.keep(effect.room, effect.bucket)
        if not effects:
            return ()
        remembered = tuple(self._remembered(effect) for effect in effects)
        if _UNKNOWN not in remembered:  # a conversation's later DMs: no I/O, so no tasks
            return remembered
        if len(effects) == 1:  # the common case, without gather's tasks
            return (await self._outcome(effects[0]),)
        return await self._together(effects)

    async def _together(self, effects: tuple[Effect, ...]) -> Outcomes:
        """All at once, outcomes in effect order: the first in this task, the others in tasks
        of their own (a DM's two sends, a lease beside an insert). One task fewer than
        gather, and no gathering future: ~7 us a call. _outcome raises only on a bug or a
        cancellation; then the others are cancelled (gather cancels them on a cancellation,
        and lets them run on after a bug: either way the event fails and is retried)."""
        others = [asyncio.ensure_future(self._outcome(effect)) for effect in effects[1:]]
        try:
            first = await self._outcome(effects[0])
            rest = [await task for task in others]
        except BaseException:
            for task in others:
                task.cancel()
            raise
        return (first, *rest)

    async def _outcome(self, effect: Effect) -> Any:
        try:
            return await self._do(effect)
        except ServiceUnavailable as error:
            return Failed(error.reason, error.status)
        except StoreUnavailable as error:
            return Failed(str(error))

    async def _do(self, effect: Effect) -> Any:
        match effect:
            case SendToGroup(group, payload, filter):
                return await self.service.send_to_group(group, payload, filter=filter)
            case SendToConnection(connection_id, payload):
                return await self.service.send_to_connection(connection_id, payload)
            case SendToUser(user, payload, filter):
                return await self.service.send_to_user(user, payload, filter=filter)
            case AddToGroups(connection_id, groups):
                return await self.service.add_to_groups(connection_id, list(groups))
            case RemoveFromGroups(connection_id, groups):
                return await self.service.remove_from_groups(connection_id, list(groups))
            case ListConnections(group, top):
                return await self.service.list_connections(group, top=top)
            case StoreMessage(entity, marker):
                return await self.messages.add(entity, marker)
            case DeleteMessage(entity, marker):
                return await self.messages.delete(entity, marker)
            case FindMessage(room, message_id, newer_than_ms, fresh):
                return await self.messages.find(room, message_id, newer_than_ms, fresh)
            case FindReplies(room, message_id, below):
                return await self.store.find_replies(room, message_id, below)
            case UpdateMessage(entity, etag):
                return await self.messages.update(entity, etag)
            case LeaseTokens():
                return await self.store.lease_tokens(effect)
            case SaveAnnounced(room, user, record, etag):
                return await self.store.save_announced(room, user, record, etag)
            case MarkPending():
                return await self._mark(effect)
            case ClearMark(mark):
                return await self.marks.clear(mark)
            case MoveMark(room, user, due, None):
                return await self.marks.mark(room, user, due)
            case MoveMark(_, _, due, mark) if mark is not None:
                return await self.marks.postpone(mark, due)
            case KeepRoomBudget() | KeepListBudget():
                return None  # done in _run, before any I/O
            case KeepJoined(user, room, now, None):
                return await self.conversations.keep_joined(user, room, now)
            case KeepJoined(user, room, now, peer) if peer is not None:
                return await self._keep_direct(user, room, now, peer)
            case KnownUser(user):
                return await self._known_user(user)
            case ForgetJoined(user, room):
                return await self.conversations.forget_joined(user, room)
            case MarkRead(user, room, message_id, now):
                return await self.conversations.mark_read(user, room, message_id, now)
            case NoteActivity(room, when, now):
                return await self._note_activity(room, when, now)
            case Reconcile():
                return await self._reconcile(effect)
            case Snapshot():
                return await self._snapshot(effect)
            case ReadRoom(room, account, fresh):
                return await self.moderation.facts(room, account, time.time(), fresh)
            case ClaimRoom(room, account, user_id):
                return await self.moderation.claim(room, account, user_id)
            case Moderate():
                return await self.moderation.apply(effect)
            case RemoveUserFromGroups(user, groups):
                return await self.service.remove_user_from_groups(user, list(groups))
            case TakeSlot(room, account, seconds, now):
                return await self.moderation.take_slot(room, account, seconds, now)
            case AddUserToGroups(user, groups):
                return await self.service.add_user_to_groups(user, list(groups))
            case ListBlocks(account):
                if self._store is None:
                    return []  # no storage: no block can exist (connect needs none)
                return await self.blocks.listed(account)
            case SaveBlock(entity):
                self._not_blocked.clear()  # blocks are rare: forget every remembered answer
                return await self.blocks.save(entity)
            case DropBlock(account, blocked_key):
                return await self.blocks.drop(account, blocked_key)
            case IsBlocked(account, blocked_key):
                blocked = await self.blocks.blocks(account, blocked_key)
                if blocked is False:
                    self._not_blocked.pop((account, blocked_key), None)  # to the end: newest
                    self._not_blocked[(account, blocked_key)] = time.monotonic() + NOT_BLOCKED_S
                    while len(self._not_blocked) > MAX_MARKED:
                        self._not_blocked.pop(next(iter(self._not_blocked)))
                return blocked
            case CloseUserConnections(user, reason):
                return await self.service.close_user_connections(user, reason)
            case ChatBan():
                return await self.chat_bans.apply(effect)
            case ReadChatBan(account):
                if self._store is None and self._chat_bans is None:
                    return None  # no storage: no chat-wide ban can exist
                return await self.chat_bans.until(account, time.time())
            case FileReport(entity):
                return await self.moderation.file_report(entity)
            case ResolveReport():
                return await self.moderation.resolve(effect)
        raise TypeError(f"no executor for {type(effect).__name__}")

    # --- presence: read the truth, then chat.presence decides --------------------------------
    async def _reconcile(self, effect: Reconcile) -> None:
        room, user, now = effect.room, effect.user, effect.now
        if not presence.room_open(self.budgets.get(room), now):
            # The room's notice budget is spent (a crowd): no listing or record read, only a
            # mark for the whole room (the sweep compares the room's listing with its records).
            await self.carry_out(presence.unread(room, presence.ROOM_WIDE, now))
            return
        try:
            tabs = await self.service.list_connections(rooms.presence_group(room, user), top=1)
            if not tabs:
                self.listings.forget_user(room, user)
            record = await self.store.announced(room, user)
        except (ServiceUnavailable, StoreUnavailable) as error:
            log.warning("Presence of a user in %s not read: %s", room, error)
            await self.carry_out(presence.unread(room, user, now))
            return
        budget = self.budgets.get(room)  # now, after the reads: others may have spent it
        lists = self.list_budgets.get(room)
        plan = presence.reconcile(
            self.settings, room, user, bool(tabs), record, budget, now, effect.arrived, lists
        )
        await self.carry_out(plan)

    async def _mark(self, effect: MarkPending) -> None:
        key = (effect.room, effect.user)
        if self._marked.get(key, 0.0) > effect.now:
            return  # this instance's mark is not due yet: the sweep will see this change too
        await self.marks.mark(effect.room, effect.user, effect.due)
        self._marked.pop(key, None)
        self._marked[key] = effect.due
        while len(self._marked) > MAX_MARKED:
            self._marked.pop(next(iter(self._marked)))

    def _remembered(self, effect: Effect) -> Any:
        """The outcome this instance already knows without I/O, else _UNKNOWN: a user known
        to exist, a direct conversation's row known written (as _known_user and
        _keep_direct would answer)."""
        match effect:
            case KnownUser(user) if user in self._known:
                return True
            case IsBlocked(account, blocked_key):
                until = self._not_blocked.get((account, blocked_key))
                if until is not None and until > time.monotonic():
                    return False
            case KeepJoined(user, room, _, peer) if peer is not None:
                if f"{room}\n{user}" in self._known:
                    return False
        return _UNKNOWN

    def _remember(self, key: str) -> None:
        self._known[key] = None
        while len(self._known) > MAX_MARKED:
            self._known.pop(next(iter(self._known)))

    async def _known_user(self, user: str) -> bool:
        if user in self._known:
            return True
        lobby = rooms.presence_group(rooms.LOBBY, user)
        record, connections = await asyncio.gather(
            self.store.announced(rooms.LOBBY, user),
            self.service.list_connections(lobby, top=1),
        )
        known = record[0] is not None or bool(connections)
        if known:
            self._remember(user)
        return known

    async def _keep_direct(
        self, user: str, room: str, now: float, peer: tuple[str, str, str]
    ) -> bool:
        key = f"{room}\n{user}"
        if key in self._known:
            return False
        user_id, name, idp = peer
        fields = {"withUserId": user_id, "withName": name, "withIdp": idp}
        created = await self.conversations.keep_joined(user, room, now, **fields)
        self._remember(key)
        return created

    async def _note_activity(self, room: str, when: str, now: float) -> None:
        if not directory.due(self._activity.get(room), now):
            return
        self._activity.pop(room, None)
        self._activity[room] = now  # before the write: concurrent messages do not write too
        while len(self._activity) > MAX_MARKED:
            self._activity.pop(next(iter(self._activity)))
        await self.conversations.note_activity(room, when, now)

    async def _snapshot(self, effect: Snapshot) -> None:
        listed = await asyncio.shield(self.listings.get(effect.room))
        users, learn = presence.listed(listed, effect.user)
        if learn:
            # Listed before this connection was added: the shared listing learns it (up to
            # the snapshot's size), so the next joiner within the second sees it too.
            listed.append(effect.user)
        elif effect.user not in listed and isinstance(listed, presence.Listed):
            listed.complete = False  # full: this joiner (and the next) are not in it
        complete = getattr(listed, "complete", True)
        frame = presence.member_list(effect.room, users, complete)
        await self.service.send_to_connection(effect.connection_id, frame)

    async def _list_users(self, room: str) -> list[str]:
        top = presence.SNAPSHOT_CONNECTIONS
        return presence.listing_of(
            await self.service.list_connections(rooms.group(room), top=top), top
        )
