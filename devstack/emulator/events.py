"""Which upstream handler gets which event, and what its answer means for the connection."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from .cloudevents import (
    ConnectOverrides,
    ConnectRejected,
    EventContext,
    UpstreamError,
    parse_connect_body,
    payload_content_type,
    reply_payload,
)
from .config import EmulatorConfig, EventHandler
from .connections import Connection
from .eventgates import EventGates, Gate
from .jsonprotocol import Payload
from .upstream import Upstream

log = logging.getLogger("devstack.emulator.events")

SYS = "azure.webpubsub.sys."
USER = "azure.webpubsub.user."
STATE_HEADER = "ce-connectionState"


class Events:
    def __init__(self, config: EmulatorConfig, upstream: Upstream) -> None:
        self.config = config
        self.upstream = upstream
        self.gates = EventGates(config.max_connect_events, config.max_system_events)
        self._pending: set[asyncio.Task[None]] = set()

    def _system_handler(self, hub: str, event: str) -> EventHandler | None:
        return self.config.hub(hub).handler_for_system(event)

    async def _post(
        self,
        handler: EventHandler,
        ctx: EventContext,
        *,
        ce_type: str,
        event: str,
        ce_id: str,
        body: bytes,
        content_type: str,
        metadata: tuple[tuple[str, str], ...] = (),
        gate: Gate | None = None,
    ):
        return await self.upstream.send_event(
            handler.url_for(ctx.hub, event),
            handler.url_for(ctx.hub, "validate"),
            ctx,
            ce_type=ce_type,
            event_name=event,
            ce_id=ce_id,
            body=body,
            content_type=content_type,
            metadata=metadata,
            gate=gate,
        )

    def has_connect_handler(self, hub: str) -> bool:
        return self._system_handler(hub, "connect") is not None

    async def connect(self, ctx: EventContext, body: dict[str, Any]) -> ConnectOverrides:
        """Run the blocking connect event; raise ConnectRejected or UpstreamError."""
        handler = self._system_handler(ctx.hub, "connect")
        if handler is None:
            return ConnectOverrides()
        resp = await self._post(
            handler,
            ctx,
            ce_type=SYS + "connect",
            event="connect",
            ce_id="0",
            body=json.dumps(body).encode("utf-8"),
            content_type="application/json; charset=utf-8",
            gate=self.gates.connect,  # a storm of handshakes waits its turn here
        )
        if not 200 <= resp.status < 300:
            raise ConnectRejected(resp.status)
        overrides = parse_connect_body(resp.body)
        if STATE_HEADER in resp.headers:
            ctx.state = resp.headers[STATE_HEADER]
        return overrides

    async def user_event(self, conn: Connection, event: str, payload: Payload) -> Payload | None:
        """Send a user event and return the reply to push back (None = no reply)."""
        handler = self.config.hub(conn.hub).handler_for_user(event)
        if handler is None:
            raise UpstreamError(f"no handler for user event {event!r}")
        resp = await self._post(
            handler,
            conn.ctx,
            ce_type=USER + event,
            event=event,
            ce_id=conn.next_event_id(),
            body=payload.data,
            content_type=payload_content_type(payload),
            metadata=payload.metadata,
        )
        if not 200 <= resp.status < 300:
            raise UpstreamError(f"handler answered {resp.status}")
        reply = reply_payload(resp.headers.get("Content-Type"), resp.body, resp.headers)
        if STATE_HEADER in resp.headers:
            conn.ctx.state = resp.headers[STATE_HEADER]
        return reply

    def notify(self, conn: Connection, event: str, body: dict[str, Any]) -> None:
        """Fire-and-forget connected/disconnected; failures are only logged."""
        handler = self._system_handler(conn.hub, event)
        if handler is None:
            return
        task = self.gates.in_order(conn.id, lambda: self._notify(handler, conn, event, body))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _notify(
        self, handler: EventHandler, conn: Connection, event: str, body: dict[str, Any]
    ) -> None:
        try:
            resp = await self._post(
                handler,
                conn.ctx,
                ce_type=SYS + event,
                event=event,
                ce_id=conn.next_event_id(),
                body=json.dumps(body).encode("utf-8"),
                content_type="application/json; charset=utf-8",
                gate=self.gates.system,
            )
            if not 200 <= resp.status < 300:
                log.warning("%s event for %s answered %d", event, conn.id, resp.status)
        except UpstreamError as exc:
            log.warning("%s event for %s failed: %s", event, conn.id, exc)

    async def drain(self, timeout: float = 5.0) -> None:
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout)
