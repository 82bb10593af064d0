"""What the service does with each message a connected client sends.

JSON-protocol messages (joinGroup, leaveGroup, sendToGroup, event, sequenceAck, ping; parsed
in ``jsonprotocol``) and raw-mode frames, turned into deliveries, acks and upstream events.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import WSMsgType

from . import jsonprotocol as jp
from .cloudevents import UpstreamError
from .connections import RAW, RELIABLE, Connection
from .events import Events
from .hub import Registry

log = logging.getLogger("devstack.emulator.client")

INVALID_MESSAGE = "The client message is not a valid JSON protocol message."
TEXT_REQUIRED = "The JSON subprotocol requires text messages."
INTERNAL_ERROR = "Internal server error"


class ClientMessageHandler:
    """Frames in, deliveries/acks/upstream events out. Returns False when the socket must close."""

    def __init__(self, registry: Registry, events: Events) -> None:
        self.registry = registry
        self.events = events

    async def on_frame(self, conn: Connection, msg: Any) -> bool:
        if conn.kind == RAW:
            return await self._on_raw_frame(conn, msg)
        if msg.type == WSMsgType.BINARY:
            log.info("connection %s sent a binary frame on the JSON protocol", conn.id)
            conn.close_reason = TEXT_REQUIRED
            conn.closed = True
            conn.request_close(1003, TEXT_REQUIRED)
            return False
        try:
            message = jp.parse_client_message(msg.data)
        except jp.ProtocolError as exc:
            log.info("connection %s sent an invalid message: %s", conn.id, exc)
            conn.close_reason = INVALID_MESSAGE
            conn.closed = True
            conn.request_close(1007, INVALID_MESSAGE)
            return False
        await self._on_message(conn, message)
        return True

    async def _on_raw_frame(self, conn: Connection, msg: Any) -> bool:
        if msg.type == WSMsgType.TEXT:
            payload = jp.Payload.text(msg.data)
        else:
            payload = jp.Payload("binary", bytes(msg.data))
        hub = self.registry.hub(conn.hub)
        if conn.raw_mode == "sendtogroup":
            group = conn.raw_group or ""
            if not conn.permissions.can_send(group):
                log.info("connection %s may not send to group %s; closing", conn.id, group)
                reason = f"The client does not have permission to send to group '{group}'."
                conn.closed = True
                conn.close_reason = reason
                conn.request_close(1008, reason)
                return False
            targets = hub.in_group(group)
            if conn.raw_no_echo:
                targets = [c for c in targets if c.id != conn.id]
            await hub.deliver(targets, payload, group=group, from_user_id=conn.user_id)
            return True
        started = time.monotonic()
        try:
            reply = await self.events.user_event(conn, "message", payload)
        except UpstreamError as exc:
            log.warning("message event of %s failed: %s; closing with 1011", conn.id, exc)
            conn.closed = True
            conn.close_reason = INTERNAL_ERROR
            conn.request_close(1011, INTERNAL_ERROR)
            return False
        log.info(
            "event message from %s handled in %.0f ms", conn.id, (time.monotonic() - started) * 1000
        )
        if reply is not None:
            conn.deliver(reply)
        return True

    async def _on_message(self, conn: Connection, message: jp.ClientMessage) -> None:
        hub = self.registry.hub(conn.hub)
        match message:
            case jp.SequenceAck(sequence_id=seq):
                if conn.kind == RELIABLE:
                    conn.sequence_ack(seq)
            case jp.Ping():
                conn.send_control(jp.pong_message())
            case (
                jp.JoinGroup(group=group, ack_id=ack_id) | jp.LeaveGroup(group=group, ack_id=ack_id)
            ):
                join = isinstance(message, jp.JoinGroup)
                if self._duplicate(conn, ack_id):
                    return
                if not conn.permissions.can_join_leave(group):
                    verb = "join" if join else "leave"
                    self._ack(
                        conn,
                        ack_id,
                        (
                            "Forbidden",
                            f"The client does not have permission to {verb} group '{group}'.",
                        ),
                    )
                    return
                if join:
                    hub.join(conn, group)
                else:
                    hub.leave(conn, group)
                log.info("connection %s %s group %s", conn.id, "joined" if join else "left", group)
                self._ack(conn, ack_id, None)
            case jp.SendToGroup(group=group, payload=payload, no_echo=no_echo, ack_id=ack_id):
                if self._duplicate(conn, ack_id):
                    return
                if not conn.permissions.can_send(group):
                    self._ack(
                        conn,
                        ack_id,
                        (
                            "Forbidden",
                            f"The client does not have permission to send to group '{group}'.",
                        ),
                    )
                    return
                targets = hub.in_group(group)
                if no_echo:
                    targets = [c for c in targets if c.id != conn.id]
                await hub.deliver(targets, payload, group=group, from_user_id=conn.user_id)
                self._ack(conn, ack_id, None)
            case jp.Event(event=name, payload=payload, ack_id=ack_id):
                if self._duplicate(conn, ack_id):
                    return
                started = time.monotonic()
                try:
                    reply = await self.events.user_event(conn, name, payload)
                except UpstreamError as exc:
                    log.warning("event %s of %s failed: %s", name, conn.id, exc)
                    self._ack(conn, ack_id, ("InternalServerError", INTERNAL_ERROR), cache=False)
                    return
                log.info(
                    "event %s from %s handled in %.0f ms",
                    name,
                    conn.id,
                    (time.monotonic() - started) * 1000,
                )
                if reply is not None:
                    conn.deliver(reply)
                self._ack(conn, ack_id, None)

    def _duplicate(self, conn: Connection, ack_id: int | None) -> bool:
        if ack_id is not None and ack_id in conn.ack_cache:
            conn.send_control(
                jp.ack_message(
                    ack_id, ("Duplicate", f"Message with ack-id: {ack_id} has been processed")
                )
            )
            return True
        return False

    def _ack(
        self,
        conn: Connection,
        ack_id: int | None,
        error: tuple[str, str] | None,
        cache: bool = True,
    ) -> None:
        if ack_id is None:
            return
        if error is None and cache:
            conn.ack_cache.add(ack_id)
        conn.send_control(jp.ack_message(ack_id, error))
