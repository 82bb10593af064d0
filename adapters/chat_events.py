"""The chat's events, carried out: rooms, history, presence and typing.

The decisions are the pure modules' (chat.rooms, chat.history, chat.presence, chat.rate_limit,
chat.token_lease, chat.typing_notice); this module performs them against the service and the
table store, in an order that keeps two promises:
- store first, then broadcast: a message is in the history table before anyone sees it, and
  one the store refuses is never broadcast (its sender is told why);
- a retried event (same ce-id) is stored once and broadcast once: the message's row key comes
  from the event's id and its ce-time, both the same on a retry, so a second insert answers
  409 and nothing is sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from adapters.presence_marks import ROOM_WIDE, PresenceMarks
from adapters.table_store import StoreUnavailable, TableStore
from adapters.webpubsub import Service, ServiceUnavailable
from chat import (
    connection_state,
    event_time,
    history,
    identity,
    message_text,
    presence,
    presence_sweep,
    rate_limit,
    rooms,
    token_lease,
    typing_notice,
    webhook,
)
from chat.cloudevents import CloudEvent
from chat.reply import Reply, json_reply, text
from chat.settings import Settings

log = logging.getLogger("chat")
T = TypeVar("T")
# The presence snapshot lists the users of at most this many of the room's connections
# (one page of the service's list): enough for a member list, bounded for a crowded room.
SNAPSHOT_CONNECTIONS = 100
# Joiners of one room within this long share one listing (a crowd arriving costs one list
# call per second and room, not one per newcomer). The listing learns the joins and leaves
# this instance handles meanwhile; those handled by other instances show up within this long.
SNAPSHOT_REUSE_S = 1.0
MAX_LISTINGS = 1000
MAX_MARKED = 10_000


@dataclass
class Result:
    reply: Reply
    notes: dict[str, str] = field(default_factory=dict)  # for the log line, never secrets
    delivered: bool = False  # a chat message went out (logged at DEBUG: it is the bulk)


def refusal(reason: str, room: str | None) -> dict[str, Any]:
    body = webhook.rejection(reason)
    return body | {"room": room} if room else body


def presence_notice(
    settings: Settings, room: str, user: str, event: str, now: float
) -> dict[str, Any]:
    """A "joined"/"left" notice, as the webhook and the presence sweep send it."""
    sender = identity.sender(user, settings) or {"from": user}
    shown = sender.pop("from")
    return {
        "type": "system",
        "event": event,
        "room": room,
        # `user` stays the user id (members are keyed by it); the page shows the name.
        "user": user,
        **sender,
        "message": f"{shown} {event}",
        "id": presence.notice_id(room, user, event, now),
        "time": history.iso_time(now),
    }


async def _settled(call: Awaitable[T]) -> T | StoreUnavailable:
    """The call's result, or the StoreUnavailable it raised (which the caller answers)."""
    try:
        return await call
    except StoreUnavailable as error:
        return error


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class ChatEvents:
    def __init__(
        self,
        settings: Settings,
        service: Service,
        store: TableStore,
        notices: presence.RoomNotices,
    ) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.notices = notices
        self.marks = PresenceMarks(store)
        # (room, user) -> due time of the pending mark this instance last wrote (bounded).
        self._marked: dict[tuple[str, str], float] = {}
        self._listings: dict[str, tuple[float, asyncio.Future[list[str]]]] = {}
        self._listings_loop: asyncio.AbstractEventLoop | None = None

    # --- system events -----------------------------------------------------------------------
    async def connected(self, event: CloudEvent, now: float) -> Result:
        """The connect reply put it in the lobby: announce the user, send the member list."""
        if event.user_id:
            await asyncio.gather(
                self._reconcile(rooms.LOBBY, event.user_id, now),
                self._snapshot(rooms.LOBBY, event.connection_id, event.user_id),
            )
        return Result(Reply(200))

    async def disconnected(self, event: CloudEvent, now: float) -> Result:
        """The service has dropped the connection from its groups: who is gone for good?"""
        if event.user_id:
            state = connection_state.decode(event.connection_state)
            await asyncio.gather(
                *(self._reconcile(room, event.user_id, now) for room in rooms.rooms_of(state))
            )
        return Result(Reply(200))

    # --- user events -------------------------------------------------------------------------
    async def command(
        self,
        event: CloudEvent,
        body: bytes,
        content_type: str | None,
        now: float,
    ) -> Result:
        state = connection_state.decode(event.connection_state)
        # Room for 4-byte UTF-8, JSON escapes and the command's own keys.
        max_bytes = self.settings.max_message_length * 6 + 1024
        try:
            command = rooms.parse(body, content_type, max_bytes)
        except rooms.Rejected as error:
            return self._refuse(str(error), error.room, state, "command")
        if not event.user_id:
            return self._refuse(
                "Not done: anonymous connections cannot chat.", command.room, state, "anonymous"
            )
        if identity.sender(event.user_id, self.settings) is None:
            # Sign-in mode, a connection from before sign-in was required: a chosen name.
            return self._refuse(
                "Not done: sign in first, then reconnect.", command.room, state, "not signed in"
            )
        if command.kind == rooms.JOIN:
            return await self._join(event, command.room, state, now)
        if command.room not in rooms.rooms_of(state):
            return self._refuse(
                f"Not done: join the room {command.room} first.", command.room, state, "member"
            )
        if command.kind == rooms.LEAVE:
            return await self._leave(event, command.room, state, now)
        if command.kind == rooms.TYPING:
            return await self._typing(event, command.room, state, now)
        return await self._message(event, command, state, now)

    def _refuse(self, reason: str, room: str | None, state: dict, why: str) -> Result:
        headers = {connection_state.HEADER: connection_state.encode(state)}
        return Result(json_reply(200, refusal(reason, room), headers), {"rejected": why})

    @staticmethod
    def _ok(state: dict) -> Reply:
        return Reply(204, headers={connection_state.HEADER: connection_state.encode(state)})

    async def _join(self, event: CloudEvent, room: str, state: dict, now: float) -> Result:
        user = event.user_id or ""
        try:
            state = rooms.with_room(state, room)
        except rooms.Rejected as error:
            return self._refuse(str(error), room, state, "rooms")
        groups = [rooms.group(room), rooms.presence_group(room, user)]
        try:
            await self.service.add_to_groups(event.connection_id, groups)
        except ServiceUnavailable as error:
            log.error("Join of %s failed: %s", room, error.reason)
            return self._refuse(
                f"Could not join {room}: the service is unavailable. Try again.",
                room,
                state,
                "service",
            )
        await asyncio.gather(
            self._reconcile(room, user, now), self._snapshot(room, event.connection_id, user)
        )
        return Result(self._ok(state), {"joined": room})

    async def _leave(self, event: CloudEvent, room: str, state: dict, now: float) -> Result:
        if room == rooms.LOBBY:
            return self._refuse(
                "Not done: every connection stays in the lobby.", room, state, "lobby"
            )
        user = event.user_id or ""
        state = rooms.without_room(state, room)
        groups = [rooms.group(room), rooms.presence_group(room, user)]
        try:
            await self.service.remove_from_groups(event.connection_id, groups)
        except ServiceUnavailable as error:
            log.error("Leave of %s failed: %s", room, error.reason)
            return self._refuse(
                f"Could not leave {room}: the service is unavailable. Try again.",
                room,
                rooms.with_room(state, room),
                "service",
            )
        await self._reconcile(room, user, now)
        return Result(self._ok(state), {"left": room})

    async def _typing(self, event: CloudEvent, room: str, state: dict, now: float) -> Result:
        allowed, state = typing_notice.allow(state, room, now)
        if allowed:
            user = event.user_id or ""
            notice = {"type": "typing", "room": room, "user": user}
            try:
                # To the room's other members: none of the typist's own tabs.
                await self.service.send_to_group(
                    rooms.group(room), notice, filter=f"userId ne {_odata_string(user)}"
                )
            except ServiceUnavailable as error:
                log.warning("Typing notice not sent: %s", error.reason)
        return Result(self._ok(state), {} if allowed else {"typing": "throttled"})

    async def _message(
        self,
        event: CloudEvent,
        command: rooms.Command,
        state: dict,
        now: float,
    ) -> Result:
        room, user, settings = command.room, event.user_id or "", self.settings
        # First a free guard per connection (kept in its state), then the user's shared bucket.
        capacity, window = settings.rate_limit_messages, settings.rate_limit_window_seconds
        bucket = rate_limit.Bucket.from_state(state.get("rate"), capacity, now)
        allowed, bucket = rate_limit.take(bucket, capacity, window, now)
        state = state | {"rate": bucket.to_state()}
        too_fast = "Message not sent: you are sending too fast. Wait a moment."
        if not allowed:
            return self._refuse(too_fast, room, state, "rate")
        try:
            cleaned = message_text.clean(command.text or "", settings.max_message_length)
        except message_text.Rejected as error:
            return self._refuse(str(error), room, state, "policy")

        message = {
            "id": webhook.stable_id(event),
            "room": room,
            # Sign-in mode: `from` is the name shown, plus `userId` and `idp` (chat/identity.py).
            **(identity.sender(user, settings) or {"from": user}),
            "message": cleaned,
            "time": history.iso_time(now),
        }
        # The key's time is the event's own (ce-time): a retry makes the same key, so one
        # insert is idempotent. Without a usable ce-time the key comes from this clock, and
        # a marker row for the id keeps the insert idempotent instead.
        key_ms, stable = history.row_time(event_time.epoch_ms(event.time), int(now * 1000))
        entity = history.to_entity(message, key_ms)
        marker = None if stable else history.marker(message, entity["RowKey"])
        if not stable:
            log.warning(
                "Event ce-id=%s has no usable ce-time: keyed by the handler's clock", event.id
            )
        # The user's limit: a token this connection leased earlier costs no table call;
        # without one, a new lease and the insert go to the store together (one round trip
        # of latency, not two), and a message the bucket refuses is deleted before anyone
        # sees it.
        lease = token_lease.Lease.from_state(state.get("lease"), capacity, window, now)
        leased, lease = token_lease.spend(lease, now)
        outcome: list[Any]
        if leased:
            # The table bucket was charged when the token was leased: the insert alone (no
            # gather, whose tasks cost this common path a loop turn or two for nothing).
            outcome = [(1, None), await _settled(self.store.add_message(entity, marker))]
        else:
            outcome = await asyncio.gather(
                _settled(
                    self.store.lease_tokens(user, capacity, window, now, state.get("user_rate"))
                ),
                _settled(self.store.add_message(entity, marker)),
                return_exceptions=True,
            )
        for result in outcome:
            if isinstance(result, BaseException) and not isinstance(result, StoreUnavailable):
                raise result
        taken, stored = outcome
        allowed_user: bool | StoreUnavailable
        if isinstance(taken, StoreUnavailable):
            allowed_user = taken
        elif leased:
            allowed_user = True
        else:
            tokens, cache = taken
            allowed_user, lease = token_lease.granted(tokens, capacity, window, now)
            state = state | {"user_rate": cache}
        state = state | {"lease": lease.to_state()}
        if stored is True and allowed_user is not True:
            await self._forget(entity, marker)
        if isinstance(stored, StoreUnavailable) or isinstance(allowed_user, StoreUnavailable):
            failure = stored if isinstance(stored, StoreUnavailable) else allowed_user
            log.error("Message %s not stored: %s", message["id"], failure)
            return self._refuse(
                "Message not sent: the chat history cannot be saved right now. Try again.",
                room,
                state,
                "store",
            )
        if allowed_user is False:
            return self._refuse(too_fast, room, state, "user-rate")
        if stored is False:
            # A retry of an event whose message is already stored and sent.
            return Result(self._ok(state), {"duplicate": str(message["id"])})
        try:
            await self.service.send_to_group(rooms.group(room), message)
        except ServiceUnavailable as error:
            # Take it back out, so the service's retry of this event stores and sends it.
            await self._forget(entity, marker)
            log.error(
                "Broadcast failed for event ce-id=%s connection=%s: %s",
                event.id,
                event.connection_id,
                error.reason,
            )
            return Result(text(error.status, "could not reach the Web PubSub service"))
        return Result(self._ok(state), {"room": room}, delivered=True)

    async def _forget(self, entity: dict[str, Any], marker: dict[str, Any] | None) -> None:
        try:
            await self.store.delete_message(entity, marker)
        except StoreUnavailable as error:
            log.error("Could not remove unsent message %s: %s", entity["id"], error)

    # --- presence ----------------------------------------------------------------------------
    async def _reconcile(self, room: str, user: str, now: float) -> None:
        """Compare the service's truth with what the room was told; announce a change once.

        A change the budgets hold back (or that fails half-way) leaves a pending mark: the
        presence sweep (adapters/presence_sweep.py) announces it when it may."""
        if not self.notices.open(room, now):
            # The room's notice budget is spent (a crowd): no listing or record read, only a
            # mark for the whole room, written at most once per room and instance until it
            # is due (a second): the sweep compares the room's listing with its records.
            await self._mark_pending(room, ROOM_WIDE, None, now)
            return
        announced: presence.Announced | None = None
        try:
            tabs = await self.service.list_connections(rooms.presence_group(room, user), top=1)
            if not tabs:
                self._forget_listed(room, user)
            announced, etag = await self.store.announced(room, user)
            transition = presence.decide(announced, bool(tabs), now)
            if transition is None:
                told = announced.present if announced is not None else False
                if told != bool(tabs):  # a change the user's notice bucket holds back
                    await self._mark_pending(room, user, announced, now)
                return
            if not self.notices.allow(room, now):
                await self._mark_pending(room, user, announced, now)
                return
            if not await self.store.save_announced(room, user, transition.record, etag):
                return  # another instance announced this change
            notice = presence_notice(self.settings, room, user, transition.event, now)
            await self.service.send_to_group(rooms.group(room), notice)
        except (ServiceUnavailable, StoreUnavailable) as error:
            # Presence is advisory: the sweep looks again.
            log.warning("Presence of a user in %s not updated: %s", room, error)
            await self._mark_pending(room, user, announced, now)

    async def _mark_pending(
        self, room: str, user: str, announced: presence.Announced | None, now: float
    ) -> None:
        key = (room, user)
        if self._marked.get(key, 0.0) > now:
            return  # this instance's mark is not due yet: the sweep will see this change too
        due = presence_sweep.mark_due(announced, now)
        try:
            await self.marks.mark(room, user, due)
        except StoreUnavailable as error:
            log.warning("Presence change in %s not marked for the sweep: %s", room, error)
            return
        self._marked.pop(key, None)
        self._marked[key] = due
        while len(self._marked) > MAX_MARKED:
            self._marked.pop(next(iter(self._marked)))

    async def _snapshot(self, room: str, connection_id: str, user: str) -> None:
        try:
            listed = await asyncio.shield(self._listing(room))
            users = list(listed)
            if user not in listed:
                # Listed before this connection was added: the shared listing learns it (up
                # to the snapshot's size), so the next joiner within the second sees it too.
                users.append(user)
                if len(listed) < SNAPSHOT_CONNECTIONS:
                    listed.append(user)
            snapshot = {"type": "presence", "room": room, "users": users}
            await self.service.send_to_connection(connection_id, snapshot)
        except ServiceUnavailable as error:
            log.warning("Presence snapshot of %s not sent: %s", room, error.reason)

    def _listing(self, room: str) -> asyncio.Future[list[str]]:
        """The users of the room's group, listed at most SNAPSHOT_REUSE_S ago (or now)."""
        loop = asyncio.get_running_loop()
        if self._listings_loop is not loop:  # futures belong to one event loop
            self._listings, self._listings_loop = {}, loop
        now = loop.time()
        entry = self._listings.get(room)
        if entry is not None:
            listed_at, future = entry
            failed = future.done() and future.exception() is not None
            if now - listed_at <= SNAPSHOT_REUSE_S and not failed:
                return future
        future = asyncio.ensure_future(self._list_users(room))
        self._listings.pop(room, None)
        self._listings[room] = (now, future)
        while len(self._listings) > MAX_LISTINGS:
            self._listings.pop(next(iter(self._listings)))
        return future

    def _forget_listed(self, room: str, user: str) -> None:
        entry = self._listings.get(room)
        if entry is not None and entry[1].done() and entry[1].exception() is None:
            users = entry[1].result()
            if user in users:
                users.remove(user)

    async def _list_users(self, room: str) -> list[str]:
        connections = await self.service.list_connections(
            rooms.group(room), top=SNAPSHOT_CONNECTIONS
        )
        return presence.snapshot_users(connections)
