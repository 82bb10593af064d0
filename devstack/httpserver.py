"""Serving an aiohttp app the way Azure's front end (Kestrel) treats connections.

Both devstack servers (the Functions host and the Web PubSub emulator) stand in for services
behind Kestrel, so both serve through `start_server` here. Kestrel's rules, which this follows:
- keep-alive timeout (130 s): a connection with no request in progress (a new one that has sent
  nothing, or one idle after a response) is closed without a word;
- request-headers timeout (30 s): from the first byte of a request until its headers are
  complete; it is not reset by each line that arrives, nor started by blank lines between
  requests (RFC 9112 allows them) or by the drained rest of a body; when it expires the client
  gets `408 Request Timeout` (with `Connection: close`) and the connection closes shortly after.

aiohttp's own `keepalive_timeout` implements the first rule exactly (it runs from the
connection's start and after each response, and only closes a connection waiting for a
request). aiohttp has no header timeout, so `KestrelRequestHandler` adds one: a timer armed by
the first byte of a request and disarmed by `track_requests` (the outermost middleware, which
runs once the headers are parsed). A WebSocket is a request in progress for its whole life, so
neither timer can cut it. One difference remains: aiohttp's keep-alive timer keeps running once
a request's first byte arrives, so a request begun late in the idle window must finish its
headers before the idle window ends (Kestrel would give it the full header timeout).

The handler also replaces aiohttp's answer to malformed HTTP (400 with the offending request
bytes quoted in the body, which may hold an Authorization header, and a traceback in the log)
with a fixed text, `nosniff`, and one INFO log line.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

from aiohttp import StreamReader, web

logger = logging.getLogger("devstack.httpserver")

NOSNIFF = {"X-Content-Type-Options": "nosniff"}
REQUEST_HEADERS_TIMEOUT_S = 30.0
KEEP_ALIVE_TIMEOUT_S = 130.0
# aiohttp's defaults for one request line and one header field.
MAX_LINE_SIZE = 8190
MAX_FIELD_SIZE = 8190
SHUTDOWN_TIMEOUT_S = 5.0
# After a 408 the client may still be sending header lines. Closing at once would answer them
# with a TCP reset, which can destroy the 408 before the client reads it; so the server stops
# writing, ignores what still arrives for this long, then closes.
TIMED_OUT_LINGER_S = 2.0


@dataclass(frozen=True)
class ConnectionTimeouts:
    request_headers: float = REQUEST_HEADERS_TIMEOUT_S
    keep_alive: float = KEEP_ALIVE_TIMEOUT_S

    def __post_init__(self) -> None:
        named = (("request headers", self.request_headers), ("keep-alive", self.keep_alive))
        for name, value in named:
            if not value > 0:
                raise ValueError(f"the {name} timeout must be a positive number of seconds")


def request_timeout_bytes(now: float | None = None) -> bytes:
    """The 408 Kestrel sends when request headers do not arrive in time, written raw.

    Written straight to the socket: no request was parsed, so aiohttp has no request to
    answer through.
    """
    status = HTTPStatus.REQUEST_TIMEOUT
    lines = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        "Connection: close",
        f"Date: {formatdate(now, usegmt=True)}",
        "Content-Length: 0",
        *(f"{name}: {value}" for name, value in NOSNIFF.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class KestrelRequestHandler(web.RequestHandler):
    """aiohttp's connection handler plus Kestrel's request-headers timeout and quiet 400s."""

    __slots__ = ("_body", "_headers_timeout", "_headers_timer", "_in_request", "_timed_out")

    def __init__(self, manager: web.Server, *, headers_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._headers_timeout = headers_timeout
        self._headers_timer: asyncio.TimerHandle | None = None
        self._in_request = False
        # The body of the latest request; aiohttp drains what the app left unread after the
        # response, and those bytes are not the start of a new request.
        self._body: StreamReader | None = None
        self._timed_out = False

    def data_received(self, data: bytes) -> None:
        if self._timed_out:
            return  # the 408 is sent; the rest of the request is of no interest
        # The first byte of a request starts the clock (blank lines between requests do not,
        # as in Kestrel); bytes of a request being handled or of its body never do.
        # _in_request is tested first: it is True for every frame of a WebSocket, so a frame
        # costs one attribute test.
        if (
            not self._in_request
            and self._headers_timer is None
            and (self._body is None or self._body.is_eof())
            and data.strip(b"\r\n")
        ):
            self._headers_timer = asyncio.get_running_loop().call_later(
                self._headers_timeout, self._headers_timed_out
            )
        super().data_received(data)

    def request_began(self, body: StreamReader) -> None:
        """The headers are complete: aiohttp has handed the request to the application."""
        self._in_request = True
        self._body = body
        self._cancel_headers_timer()

    def request_ended(self) -> None:
        self._in_request = False

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_headers_timer()
        super().connection_lost(exc)

    def _cancel_headers_timer(self) -> None:
        if self._headers_timer is not None:
            self._headers_timer.cancel()
            self._headers_timer = None

    def _headers_timed_out(self) -> None:
        self._headers_timer = None
        transport = self.transport
        if self._in_request or transport is None or transport.is_closing():
            return
        logger.info(
            "Closed a connection: request headers not complete within %g s (408)",
            self._headers_timeout,
        )
        self._timed_out = True
        transport.write(request_timeout_bytes())
        if transport.can_write_eof():
            transport.write_eof()
            asyncio.get_running_loop().call_later(TIMED_OUT_LINGER_S, transport.close)
        else:
            transport.close()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Answer a request aiohttp could not parse or handle, without quoting it back.

        aiohttp's version puts the parser's message (which quotes the offending bytes) in the
        body and logs a traceback; here the body is the status phrase and the log one line.
        """
        if request.writer.output_size > 0:
            # Part of a response is on the wire already; aiohttp closes the connection.
            raise ConnectionError("response already started; cannot send an error response")
        if status >= 500:
            logger.error("Error handling a request (%d)", status, exc_info=exc)
        else:
            logger.info(
                "Answered %d to a malformed request from %s (%s)",
                status,
                request.remote,
                type(exc).__name__ if exc else "",
            )
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        response = web.Response(status=status, text=f"{status} {phrase}\n", headers=NOSNIFF)
        response.force_close()
        return response


@web.middleware
async def track_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Tell the connection its headers are in (stop the header clock) and when it is idle."""
    connection = request.protocol
    tracked = isinstance(connection, KestrelRequestHandler)
    if tracked:
        connection.request_began(request.content)
    try:
        return await handler(request)
    finally:
        if tracked:
            connection.request_ended()


class KestrelSite(web.SockSite):
    """A SockSite whose connections are KestrelRequestHandler instances.

    aiohttp builds its own RequestHandler in `Server.__call__` with no hook for a subclass, so
    `start` creates the listening server itself, as SockSite.start does (through the attributes
    aiohttp's sites share); the timeout and 400 tests fail if a new aiohttp changes that.
    """

    def __init__(
        self, runner: web.AppRunner, sock: socket.socket, handler_args: dict[str, Any]
    ) -> None:
        super().__init__(runner, sock)
        self._handler_args = handler_args

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with the runner
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()

        def new_connection() -> KestrelRequestHandler:
            return KestrelRequestHandler(server, loop=loop, **self._handler_args)

        self._server = await loop.create_server(
            new_connection, sock=self._sock, backlog=self._backlog
        )


async def start_server(
    app: web.Application,
    sock: socket.socket,
    timeouts: ConnectionTimeouts,
    *,
    max_line_size: int = MAX_LINE_SIZE,
    max_field_size: int = MAX_FIELD_SIZE,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT_S,
) -> web.AppRunner:
    """Serve `app` on the bound socket `sock`; stop it with `await runner.cleanup()`."""
    # Outermost, so a request answered by any other middleware still counts as begun.
    app.middlewares.insert(0, track_requests)
    handler_args: dict[str, Any] = {
        "headers_timeout": timeouts.request_headers,
        "keepalive_timeout": timeouts.keep_alive,
        "max_line_size": max_line_size,
        "max_field_size": max_field_size,
        # aiohttp's access log would print URLs, which may hold an access_token.
        "access_log": None,
    }
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    try:
        await KestrelSite(runner, sock, handler_args).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
