"""One logical client connection: identity, groups, permissions and outbound delivery.

Every physical WebSocket gets its own writer task fed by a queue, so a slow client only
delays itself. Reliable connections number their messages and keep them until the
client acknowledges them, so they can be replayed after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from . import jsonprotocol as jp
from .cloudevents import EventContext
from .roles import Permissions

log = logging.getLogger("devstack.emulator.connections")

RAW = "raw"
JSON = "json"
RELIABLE = "reliable"


def protocol_kind(subprotocol: str | None) -> str:
    if subprotocol == jp.RELIABLE_JSON_PROTOCOL:
        return RELIABLE
    if subprotocol == jp.JSON_PROTOCOL:
        return JSON
    return RAW


@dataclass(frozen=True)
class _Close:
    code: int
    message: str


class ClientOverflow(Exception):
    """The client cannot keep up (outbound queue or reliable buffer over its limit)."""


@dataclass
class Connection:
    id: str
    hub: str
    subprotocol: str | None
    user_id: str | None
    permissions: Permissions
    ctx: EventContext
    raw_mode: str = "sendevent"
    raw_group: str | None = None
    raw_no_echo: bool = False
    groups: set[str] = field(default_factory=set)
    ack_cache: set[int] = field(default_factory=set)
    reconnection_token: str | None = None
    queue_limit: int = 1000
    queue_bytes_limit: int = 16 * 1024 * 1024
    buffer_limit: int = 1000
    buffer_bytes_limit: int = 16 * 1024 * 1024
    # Runtime state
    ws: web.WebSocketResponse | None = None
    closed: bool = False
    close_reason: str = ""
    disconnected_notified: bool = False
    recovery_task: asyncio.Task[None] | None = None
    _event_counter: int = 0
    _next_sequence: int = 1
    _buffer: deque[tuple[int, str]] = field(default_factory=deque)
    _buffer_bytes: int = 0
    _queue: asyncio.Queue[str | bytes | _Close] | None = None
    _queued_bytes: int = 0
    _low_water: int = 0  # the transport's: below it, a write never waits for drain
    _inflight: int = 0  # frames queued and not yet written (direct writes must wait for them)
    _transport: asyncio.BaseTransport | None = None
    _writer: asyncio.Task[None] | None = None

    @property
    def kind(self) -> str:
        return protocol_kind(self.subprotocol)

    @property
    def attached(self) -> bool:
        return self.ws is not None

    def next_event_id(self) -> str:
        self._event_counter += 1
        return str(self._event_counter)

    # ---- delivery -------------------------------------------------------------------

    def deliver(
        self, payload: jp.Payload, *, group: str | None = None, from_user_id: str | None = None
    ) -> None:
        """Queue a data message (group or server) in the right form for this client."""
        frame = self._frame_for(payload, group, from_user_id)
        if frame is not None:
            self._enqueue(frame)

    async def deliver_now(
        self, payload: jp.Payload, *, group: str | None = None, from_user_id: str | None = None
    ) -> None:
        """Like deliver, but write straight to the socket when that cannot wait or reorder.

        A broadcast reaches most clients this way: skipping the writer task's wake-up per
        client and message is what lets fan-out keep up with a bare broadcast loop.
        """
        frame = self._frame_for(payload, group, from_user_id)
        if frame is None:
            return
        if not self._can_write_now(frame):
            self._enqueue(frame)
            return
        assert self.ws is not None
        try:
            if isinstance(frame, bytes):
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_str(frame)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("direct write to %s failed: %s", self.id, exc)

    def _frame_for(
        self, payload: jp.Payload, group: str | None, from_user_id: str | None
    ) -> str | bytes | None:
        """The frame this client gets; reliable clients number and buffer it for replay."""
        if self.closed:
            return None
        if self.kind == RAW:
            return jp.raw_frame(payload)
        sequence_id = None
        if self.kind == RELIABLE:
            sequence_id = self._next_sequence
            self._next_sequence += 1
        if group is not None:
            frame = jp.group_message(group, payload, from_user_id, sequence_id)
        else:
            frame = jp.server_message(payload, sequence_id)
        if sequence_id is not None:
            self._buffer.append((sequence_id, frame))
            self._buffer_bytes += len(frame)
            if (
                len(self._buffer) > self.buffer_limit
                or self._buffer_bytes > self.buffer_bytes_limit
            ):
                raise ClientOverflow("reliable buffer over its limit")
        return frame

    def _can_write_now(self, frame: str | bytes) -> bool:
        """Nothing queued ahead of it, and the socket keeping up.

        With at most the low-water mark buffered and a frame no larger than that, the buffer
        stays under the high-water mark, so aiohttp's send never waits for drain: a slow
        client cannot hold up the caller, and order is kept because the queue is empty.
        """
        if self._queue is None or self._inflight or self.ws is None:
            return False
        transport = self._transport
        if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
            return False
        low = self._low_water
        return len(frame) <= low and transport.get_write_buffer_size() <= low

    def send_control(self, frame: str) -> None:
        """Queue an unnumbered frame (system, ack, pong); dropped while detached."""
        self._enqueue(frame)

    def _enqueue(self, item: str | bytes | _Close) -> None:
        if self._queue is None:
            return
        if not isinstance(item, _Close):
            if self._queue.qsize() >= self.queue_limit:
                raise ClientOverflow("outbound queue over its message limit")
            if self.pending_bytes() + len(item) > self.queue_bytes_limit:
                raise ClientOverflow("outbound queue over its byte limit")
            self._queued_bytes += len(item)
        self._inflight += 1
        self._queue.put_nowait(item)

    def pending_bytes(self) -> int:
        """Bytes queued or sitting unsent in the transport's buffer."""
        buffered = 0
        transport = self._transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            buffered = transport.get_write_buffer_size()
        return self._queued_bytes + buffered

    def sequence_ack(self, sequence_id: int) -> None:
        while self._buffer and self._buffer[0][0] <= sequence_id:
            _, frame = self._buffer.popleft()
            self._buffer_bytes -= len(frame)

    # ---- physical socket ------------------------------------------------------------

    def attach(
        self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None = None
    ) -> None:
        """Start serving a (new) socket; a reliable connection replays unacked messages."""
        self.ws = ws
        self._transport = transport
        if isinstance(transport, asyncio.WriteTransport):
            self._low_water = transport.get_write_buffer_limits()[0]
        self._queue = asyncio.Queue()
        self._queued_bytes = 0
        self._inflight = 0
        for _, frame in self._buffer:
            self._queue.put_nowait(frame)
            self._queued_bytes += len(frame)
            self._inflight += 1
        self._writer = asyncio.create_task(self._write_loop(ws, self._queue))

    def abort_transport(self) -> None:
        """Drop the TCP connection at once (for a peer that stopped reading)."""
        if self._transport is not None:
            self._transport.abort()

    async def wait_sent(self, timeout: float) -> None:
        """Wait (bounded) until the writer has sent what was queued, including a close."""
        writer = self._writer
        if writer is not None and writer is not asyncio.current_task():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(writer), timeout=timeout)

    async def stop_writer(self) -> None:
        """Stop sending on the current socket (its queue is dropped)."""
        writer, self._writer, self._queue = self._writer, None, None
        self._queued_bytes = 0
        self._inflight = 0
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    async def detach(self) -> None:
        """Forget the current socket (after it has ended)."""
        await self.stop_writer()
        self.ws = None
        self._transport = None

    def request_close(
        self, code: int, message: str = "", *, disconnected: str | None = None
    ) -> None:
        """Close after the frames already queued; JSON clients get the disconnected JSON first."""
        if self._queue is None:
            return
        if disconnected is not None and self.kind != RAW:
            self._queue.put_nowait(jp.disconnected_message(disconnected))
            self._inflight += 1
        self._queue.put_nowait(_Close(code, message))
        self._inflight += 1  # never written back down: nothing goes out directly after a close

    async def _write_loop(self, ws: web.WebSocketResponse, queue: asyncio.Queue) -> None:
        try:
            while True:
                item = await queue.get()
                if not isinstance(item, _Close):
                    self._queued_bytes -= len(item)
                if isinstance(item, _Close):
                    await ws.close(code=item.code, message=_close_reason(item.message))
                    return
                if isinstance(item, bytes):
                    await ws.send_bytes(item)
                else:
                    await ws.send_str(item)
                self._inflight -= 1
        except (ConnectionError, RuntimeError) as exc:
            # The socket went away under us; the reader side handles the cleanup.
            log.debug("writer for %s stopped: %s", self.id, exc)


def _close_reason(message: str) -> bytes:
    """Close reasons are limited to 123 bytes by RFC 6455."""
    data = message.encode("utf-8")[:123]
    return data.decode("utf-8", errors="ignore").encode("utf-8")
