"""The client WebSocket endpoint ``/client/hubs/{hub}``: handshake, frames, recovery.

Close rules for reliable connections (decided in ``closecodes``): a client close with 1000 or
with no status code (JS ``stop()``) ends the connection at once (removed, ``disconnected`` sent);
1001, any other code, or a dropped socket keeps it recoverable for ``recovery_window`` seconds.
Service-side closes (REST close, 1003, 1007, 1009, slow client, failed recovery 1008) are final.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import WebSocketError, WSMsgType, web

from . import jsonprotocol as jp
from .audiences import ServedOrigins
from .clientmessages import INTERNAL_ERROR, ClientMessageHandler
from .closecodes import client_close_is_final
from .cloudevents import ConnectRejected, EventContext, UpstreamError
from .config import HUB_NAME_RE, EmulatorConfig
from .connections import RAW, RELIABLE, ClientOverflow, Connection, protocol_kind
from .events import Events
from .handshake import (
    HandshakeError,
    choose_subprotocol,
    connect_body,
    new_connection_id,
    offered_protocols,
    raw_mode_params,
)
from .hub import Registry
from .logsafe import redact_url
from .roles import Permissions
from .tokens import (
    ClaimError,
    TokenError,
    as_list,
    issue_reconnection_token,
    reconnection_token_valid,
    validate_client_token,
)

log = logging.getLogger("devstack.emulator.client")

NOT_RECOVERED = "The connection could not be recovered."
SERVER_CLOSED = "Application server closed the connection."
RECOVERY_EXPIRED = "The connection recovery timeout expired."
SLOW_CLIENT = "The client is too slow to receive messages."


class _Refused(Exception):
    """A handshake step refuses the client with this HTTP answer."""

    def __init__(self, status: int, text: str | None = None) -> None:
        super().__init__(status)
        self.response = web.Response(status=status, text=text)


@dataclass
class _Admission:
    """A client being admitted: what its token asked for, as the connect event leaves it."""

    hub: str
    offered: list[str]
    claims: dict[str, Any]
    ctx: EventContext
    user_id: str | None
    roles: list[str]
    groups: list[str]
    raw_mode: tuple[str, str | None, bool]
    subprotocol: str | None = None


class ClientEndpoint:
    def __init__(self, config: EmulatorConfig, registry: Registry, events: Events) -> None:
        self.config = config
        self.registry = registry
        self.events = events
        self.messages = ClientMessageHandler(registry, events)
        self.sockets: set[web.WebSocketResponse] = set()
        # Replaced by the server once it knows the port it really bound (port 0 in tests).
        self.origins = ServedOrigins.of(config.port, config.advertised_host, config.host)
        self._tasks: set[asyncio.Task[Any]] = set()
        registry.on_overflow = self._overflow

    # ---- handshake ------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Admit a client in named steps; any step may refuse with an HTTP answer."""
        try:
            hub_name, offered = self._check_upgrade(request)
            if "awps_connection_id" in request.rel_url.query:
                return await self._recover(request, hub_name, offered)
            claims = self._authenticate(request, hub_name)
            admission = self._admission(request, hub_name, offered, claims)
            await self._run_connect_event(request, admission)
            self._choose_subprotocol(admission)
        except _Refused as refused:
            return refused.response
        ws = self._socket(admission.subprotocol)
        await ws.prepare(request)
        conn = self._open(request, admission, ws)
        await self._serve(conn, ws)
        return ws

    def _check_upgrade(self, request: web.Request) -> tuple[str, list[str]]:
        """The hub name is valid and this is a WebSocket upgrade; the offered subprotocols."""
        hub_name = request.match_info.get("hub", "")
        if not HUB_NAME_RE.match(hub_name):
            raise _Refused(400, "Invalid hub name.")
        offered = offered_protocols(request.headers.getall("Sec-WebSocket-Protocol", []))
        if not web.WebSocketResponse(protocols=tuple(offered)).can_prepare(request).ok:
            raise _Refused(400, "A WebSocket upgrade request is required.")
        return hub_name, offered

    def _authenticate(self, request: web.Request, hub_name: str) -> dict[str, Any]:
        """The token's claims, or {} for an anonymous client the hub's policy allows."""
        token = request.rel_url.query.get("access_token")
        auth = request.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if not token:
            if not self.config.hub(hub_name).anonymous_connect:
                log.info("client %s rejected: no token and anonymous connect denied", hub_name)
                raise _Refused(401)
            return {}
        try:
            return validate_client_token(token, [self.config.access_key], self.origins, hub_name)
        except TokenError as exc:
            log.info("client %s rejected: invalid token (%s)", hub_name, exc)
            raise _Refused(401) from exc
        except ClaimError as exc:
            raise _Refused(400, str(exc)) from exc

    def _admission(
        self, request: web.Request, hub_name: str, offered: list[str], claims: dict[str, Any]
    ) -> _Admission:
        """What the token and query ask for, before the connect event may change it."""
        try:
            mode, raw_group, no_echo = raw_mode_params(request.rel_url.query)
        except HandshakeError as exc:
            raise _Refused(exc.status, str(exc)) from exc
        hub = self.registry.hub(hub_name)
        conn_id = new_connection_id()
        user_id = claims.get("sub") if isinstance(claims.get("sub"), str) else None
        return _Admission(
            hub=hub.name,
            offered=offered,
            claims=claims,
            ctx=EventContext(hub=hub.name, connection_id=conn_id, user_id=user_id or None),
            user_id=user_id,
            roles=as_list(claims.get("role")),
            groups=as_list(claims.get("webpubsub.group")),
            raw_mode=(mode, raw_group, no_echo),
        )

    async def _run_connect_event(self, request: web.Request, admission: _Admission) -> None:
        """Ask the hub's connect handler, if any; apply its userId/roles/groups/subprotocol."""
        if not self.events.has_connect_handler(admission.hub):
            return
        conn_id = admission.ctx.connection_id
        try:
            body = connect_body(
                request.rel_url.query, request.headers, admission.claims, admission.offered
            )
            overrides = await self.events.connect(admission.ctx, body)
        except ConnectRejected as exc:
            log.info("connection %s rejected by connect handler: %d", conn_id, exc.status)
            raise _Refused(exc.status) from exc
        except UpstreamError as exc:
            log.warning("connect event for %s failed: %s", conn_id, exc)
            raise _Refused(500) from exc
        if overrides.user_id is not None:
            admission.user_id = overrides.user_id or None
            admission.ctx.user_id = admission.user_id
        if overrides.roles is not None:
            admission.roles = overrides.roles
        if overrides.groups:
            admission.groups = overrides.groups
        admission.subprotocol = overrides.subprotocol

    def _choose_subprotocol(self, admission: _Admission) -> None:
        try:
            admission.subprotocol = choose_subprotocol(admission.offered, admission.subprotocol)
        except HandshakeError as exc:
            log.info("connection %s rejected: %s", admission.ctx.connection_id, exc)
            raise _Refused(exc.status, str(exc)) from exc

    def _open(
        self, request: web.Request, admission: _Admission, ws: web.WebSocketResponse
    ) -> Connection:
        """Register the accepted connection, join its groups and greet it."""
        hub = self.registry.hub(admission.hub)
        ctx, chosen = admission.ctx, admission.subprotocol
        ctx.subprotocol = chosen
        mode, raw_group, no_echo = admission.raw_mode
        conn = Connection(
            id=ctx.connection_id,
            hub=hub.name,
            subprotocol=chosen,
            user_id=admission.user_id,
            permissions=Permissions.from_roles(admission.roles),
            ctx=ctx,
            raw_mode=mode,
            raw_group=raw_group,
            raw_no_echo=no_echo,
            queue_limit=self.config.outbound_queue_limit,
            queue_bytes_limit=self.config.outbound_queue_bytes,
            buffer_limit=self.config.reliable_buffer_limit,
            buffer_bytes_limit=self.config.reliable_buffer_bytes,
        )
        hub.add(conn)
        for group in admission.groups:
            hub.join(conn, group)
        conn.attach(ws, request.transport)
        if conn.kind == RELIABLE:
            conn.reconnection_token = issue_reconnection_token(self.config.access_key, conn.id)
        if conn.kind != RAW:
            conn.send_control(jp.connected_message(conn.id, conn.user_id, conn.reconnection_token))
        log.info(
            "connection %s opened: hub=%s user=%s protocol=%s url=%s",
            conn.id,
            hub.name,
            conn.user_id,
            chosen or "raw",
            redact_url(str(request.rel_url)),
        )
        self.events.notify(conn, "connected", {})
        return conn

    def _socket(self, protocol: str | None) -> web.WebSocketResponse:
        return web.WebSocketResponse(
            protocols=(protocol,) if protocol else (),
            # aiohttp rejects a frame whose size equals max_msg_size; 1 MiB itself is allowed.
            max_msg_size=self.config.max_frame_bytes + 1,
            autoping=True,
        )

    async def _recover(
        self, request: web.Request, hub_name: str, offered: list[str]
    ) -> web.StreamResponse:
        query = request.rel_url.query
        conn_id = query.get("awps_connection_id", "")
        token = query.get("awps_reconnection_token", "")
        conn = self.registry.find(hub_name, conn_id)
        ok = (
            conn is not None
            and not conn.closed
            and conn.kind == RELIABLE
            and conn.subprotocol in offered
            and token == conn.reconnection_token
            and reconnection_token_valid(token, self.config.access_key, conn_id)
        )
        if not ok or conn is None:
            fallback = next((p for p in offered if p in jp.BUILTIN_PROTOCOLS), None)
            ws = self._socket(fallback)
            await ws.prepare(request)
            log.info("recovery of connection %s failed; closing with 1008", conn_id)
            await ws.close(code=1008, message=NOT_RECOVERED.encode())
            return ws
        ws = self._socket(conn.subprotocol)
        await ws.prepare(request)
        if conn.recovery_task is not None:
            conn.recovery_task.cancel()
            conn.recovery_task = None
        old = conn.ws
        if old is not None:
            # The old socket has not noticed it is dead yet; the new one takes over.
            await conn.detach()
            self._background(old.close(code=1000))
        conn.attach(ws, request.transport)
        log.info("connection %s recovered", conn_id)
        await self._serve(conn, ws)
        return ws

    # ---- frames ---------------------------------------------------------------------

    async def _serve(self, conn: Connection, ws: web.WebSocketResponse) -> None:
        self.sockets.add(ws)
        reason = ""
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    try:
                        keep = await self.messages.on_frame(conn, msg)
                    except ClientOverflow:
                        self._overflow(conn)
                        keep = False
                    if not keep:
                        await self._wait_writer(conn, ws)
                        break
                    continue
                if msg.type == WSMsgType.CLOSE:
                    reason = msg.extra or ""
                    if client_close_is_final(msg.data):
                        # A deliberate close ends even a reliable connection (closecodes.py).
                        conn.closed = True
                elif msg.type == WSMsgType.ERROR and isinstance(msg.data, WebSocketError):
                    # Protocol error or oversized frame: aiohttp already closed (e.g. 1009).
                    reason = str(msg.data)
                    conn.closed = True
                    conn.close_reason = reason
                break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("connection %s failed", conn.id)
            conn.closed = True
            with contextlib.suppress(Exception):
                await ws.close(code=1011, message=INTERNAL_ERROR.encode())
        finally:
            self.sockets.discard(ws)
            await self._socket_ended(conn, ws, reason)

    async def _wait_writer(self, conn: Connection, ws: web.WebSocketResponse) -> None:
        await conn.wait_sent(timeout=15)
        if not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _socket_ended(self, conn: Connection, ws: web.WebSocketResponse, reason: str) -> None:
        if conn.ws is not ws:
            return  # superseded by a recovered socket
        await conn.detach()
        if not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close()
        if not conn.closed and conn.kind == RELIABLE:
            log.info(
                "connection %s dropped; recoverable for %.0f s",
                conn.id,
                self.config.recovery_window,
            )
            conn.recovery_task = asyncio.create_task(self._expire(conn))
            return
        self.finish(conn, conn.close_reason or reason)

    async def _expire(self, conn: Connection) -> None:
        await asyncio.sleep(self.config.recovery_window)
        conn.recovery_task = None
        if conn.ws is None:
            self.finish(conn, RECOVERY_EXPIRED)

    def finish(self, conn: Connection, reason: str) -> None:
        """Remove a connection for good and send the disconnected event once."""
        conn.closed = True
        if conn.recovery_task is not None:
            conn.recovery_task.cancel()
            conn.recovery_task = None
        self.registry.hub(conn.hub).remove(conn)
        if not conn.disconnected_notified:
            conn.disconnected_notified = True
            log.info("connection %s closed: %s", conn.id, reason or "(no reason)")
            self.events.notify(conn, "disconnected", {"reason": reason})

    def close(self, conn: Connection, reason: str | None) -> None:
        """Service-initiated close (REST): disconnected JSON, then 1000."""
        text = SERVER_CLOSED + (f" Reason: {reason}" if reason else "")
        conn.closed = True
        conn.close_reason = text
        if conn.ws is None:
            self.finish(conn, text)
            return
        raw_reason = reason or "" if conn.kind == RAW else ""
        conn.request_close(1000, raw_reason, disconnected=text)

    def _overflow(self, conn: Connection) -> None:
        conn.closed = True
        conn.close_reason = SLOW_CLIENT
        ws = conn.ws
        if ws is None:
            self.finish(conn, SLOW_CLIENT)
            return
        self._background(self._abort(conn, ws))

    async def _abort(self, conn: Connection, ws: web.WebSocketResponse) -> None:
        # The peer is not reading, so a close frame would sit behind megabytes of data:
        # drop the TCP connection instead (the reader then ends and cleans up).
        await conn.stop_writer()
        conn.abort_transport()

    def _background(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        """Close every socket (concurrently, with a bound) so the server can stop."""
        conns = {id(c.ws): c for hub in self.registry.hubs.values() for c in hub.all() if c.ws}
        await asyncio.gather(
            *(
                close_socket(ws, 1001, "Server shutting down", conns.get(id(ws)))
                for ws in list(self.sockets)
            ),
            return_exceptions=True,
        )


async def close_socket(
    ws: web.WebSocketResponse, code: int, reason: str, conn: Connection | None
) -> None:
    """Close politely, or drop the TCP connection if the peer does not cooperate in 1 s."""
    try:
        async with asyncio.timeout(1):
            await ws.close(code=code, message=reason.encode())
    except Exception:  # any failure here means: just drop the connection
        if conn is not None:
            conn.abort_transport()


__all__ = ["ClientEndpoint", "protocol_kind"]
