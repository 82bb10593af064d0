"""HTTP connection handling: header and keep-alive timeouts, quiet parse errors, nosniff.

Limits follow Kestrel (the real service's and the Functions host's front end): request
headers must arrive within ``header_timeout`` (30 s) of the request's first byte; a connection
with no request in progress (a fresh one or one between requests) is closed after
``keepalive_timeout`` (130 s); request line up to 8 KiB, header fields up to 32 KiB (the SDK
signs the full URL, so a long ``filter=`` makes a long Authorization header).

aiohttp provides the keep-alive timeout (``keepalive_timeout``, which also closes a connection
that never sends a request) and the size limits, but no header read timeout, so
``EmulatorRequestHandler`` adds one: a timer armed by the first byte of a request (not by blank
lines, nor by the drained rest of a body) and disarmed by ``request_started`` (the first
middleware, which runs once headers are parsed). The same design as the Functions host's
``devstack/host/connection.py``; the two could share one module. A WebSocket
is a request in progress for its whole life, so neither timer can cut it. As there, aiohttp's
keep-alive clock keeps running once a request's first byte arrives, so a request begun late in
the idle window must finish its headers before that window ends (Kestrel would allow 30 s).

Malformed requests get ``<status> <reason>`` with no request bytes echoed (aiohttp quotes the
offending bytes, which may hold an Authorization header) and an INFO log line without a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import StreamReader, web

log = logging.getLogger("devstack.emulator.http")

NOSNIFF = {"X-Content-Type-Options": "nosniff"}
LINGER_SECONDS = 2.0
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n"
    b"X-Content-Type-Options: nosniff\r\n\r\n"
)


@dataclass(frozen=True)
class HttpLimits:
    header_timeout: float = 30.0
    keepalive_timeout: float = 130.0
    max_line_size: int = 8192
    max_field_size: int = 32768

    def handler_kwargs(self) -> dict[str, Any]:
        return {
            "keepalive_timeout": self.keepalive_timeout,
            "max_line_size": self.max_line_size,
            "max_field_size": self.max_field_size,
            # aiohttp's access log would print client URLs with access_token.
            "access_log": None,
        }


class EmulatorRequestHandler(web.RequestHandler):
    def __init__(self, manager: web.Server, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._busy = False
        # The latest request's body: aiohttp drains what a handler left unread after the
        # response, and those bytes are not the start of a new request.
        self._body: StreamReader | None = None
        self._timed_out = False

    def data_received(self, data: bytes) -> None:
        if self._timed_out:
            return  # the 408 is out; the rest of that request is of no interest
        # The first byte of a request starts its header clock; blank lines between requests
        # (allowed by RFC 9112) and bytes of a request in progress or of its body do not.
        # _busy is tested first: it is True for every frame of a WebSocket.
        if (
            not self._busy
            and self._header_timer is None
            and (self._body is None or self._body.is_eof())
            and data.strip(b"\r\n")
        ):
            self._arm()
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def request_started(self, body: StreamReader) -> None:
        self._busy = True
        self._body = body
        self._disarm()

    def request_finished(self) -> None:
        self._busy = False

    def _arm(self) -> None:
        if self._header_timer is None and self._header_timeout > 0:
            loop = asyncio.get_running_loop()
            self._header_timer = loop.call_later(self._header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        transport = self.transport
        if self._busy or transport is None or transport.is_closing():
            return
        log.info("closing a connection: request headers took over %.0f s", self._header_timeout)
        self._timed_out = True
        transport.write(TIMEOUT_RESPONSE)
        # Closing at once while the client is still sending would answer with a TCP reset,
        # which can destroy the 408 before it is read: half-close, then close a little later.
        if transport.can_write_eof():
            transport.write_eof()
            asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)
        else:
            transport.close()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            resp = super().handle_error(request, status, exc, message)
            resp.headers.update(NOSNIFF)
            return resp
        log.info("bad request from %s: %d (%s)", request.remote, status, type(exc).__name__)
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send an error")
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        resp = web.Response(status=status, text=f"{status} {phrase}".strip(), headers=NOSNIFF)
        resp.force_close()
        return resp


def handler_factory(server: web.Server, limits: HttpLimits) -> Callable[[], EmulatorRequestHandler]:
    """The protocol factory for ``loop.create_server``: aiohttp's server with our handler."""

    def make() -> EmulatorRequestHandler:
        return EmulatorRequestHandler(
            server,
            loop=asyncio.get_running_loop(),
            header_timeout=limits.header_timeout,
            **limits.handler_kwargs(),
        )

    return make


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def track_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the connection its headers are in (stop the header clock) and when it is idle."""
    protocol = request.transport.get_protocol() if request.transport is not None else None
    tracked = protocol if isinstance(protocol, EmulatorRequestHandler) else None
    if tracked is not None:
        tracked.request_started(request.content)
    try:
        return await handler(request)
    finally:
        if tracked is not None:
            tracked.request_finished()


async def add_nosniff(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer, errors and 404s included, is not to be sniffed."""
    response.headers.update(NOSNIFF)
