"""The aiohttp front end: route each request to a function and relay its response."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from devstack.host import admin_invoke
from devstack.host.app_loader import HttpFunction
from devstack.host.easy_auth_routes import EasyAuth
from devstack.host.function_keys import is_authorized, presented_key
from devstack.host.host_responses import host_json, host_response
from devstack.host.http_binding import HostResponse, decode_request, request_datum
from devstack.host.invoker import Invoker
from devstack.host.request_body import body_forwarding
from devstack.host.request_mapping import join_headers, join_query
from devstack.host.request_path import remove_dot_segments
from devstack.host.routing import Route, RouteTable
from devstack.host.timers import TimerRunner

logger = logging.getLogger(__name__)

STATUS_PATH = "/admin/host/status"
# The host accepts request bodies up to 100 MB (aiohttp's default limit is 1 MiB).
MAX_BODY_BYTES = 100 * 1024 * 1024
# Kestrel computes framing itself; a function's own values would corrupt the response.
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection"}

FUNCTIONS_KEY = web.AppKey("functions", RouteTable[HttpFunction])


@dataclass(frozen=True)
class KeyPolicy:
    enforce: bool = False
    key: str | None = None


def build_route_table(functions: Sequence[HttpFunction]) -> RouteTable[HttpFunction]:
    return RouteTable(
        [Route(f.template, frozenset(f.methods) if f.methods else None, f) for f in functions]
    )


def to_aiohttp(response: HostResponse) -> web.Response:
    # ASP.NET refuses status codes outside 100-999; aiohttp would send them on the wire.
    if not 100 <= response.status <= 999:
        raise ValueError(f"invalid HTTP status code {response.status}")
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in response.headers:
        if name.lower() not in _FRAMING_HEADERS:
            headers.add(name, value)
    return web.Response(status=response.status, body=response.body, headers=headers)


async def read_forwarded_body(
    request: web.Request, function: str, headers: dict[str, str]
) -> bytes:
    """The body the function gets: only one announced by Content-Length > 0, as in Azure."""
    decision = body_forwarding(headers)
    if decision.forward:
        return await request.read()
    if decision.withheld_because is not None:
        # Read and drop it, so the connection stays usable for the next request.
        await request.read()
        logger.warning("Function '%s' gets an empty body: %s", function, decision.withheld_because)
    return b""


def create_app(
    functions: Sequence[HttpFunction],
    invoker: Invoker,
    keys: KeyPolicy = KeyPolicy(),
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    auth: EasyAuth | None = None,
    timers: TimerRunner | None = None,
) -> web.Application:
    table = build_route_table(functions)

    async def host_status(request: web.Request) -> web.Response:
        return host_json({"state": "Running"})

    async def run_by_hand(request: web.Request, name: str) -> web.Response:
        """`POST /admin/functions/<name>`, in the order the host's checks run (admin_invoke)."""
        if keys.enforce:
            query = join_query(request.rel_url.raw_query_string)
            presented = presented_key(join_headers(request.headers.items()), query)
            if not is_authorized(func.AuthLevel.ADMIN, presented, keys.key):
                logger.info("401 for a run of '%s' by hand: missing or wrong master key", name)
                return host_response(401)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return host_response(413, f"Request body larger than {max_body_bytes} bytes.")
        refused = admin_invoke.refusal(request.headers.get("Content-Type"), body)
        if refused is not None:
            return host_response(refused)
        if timers is None or (timer := timers.named(name)) is None:
            return host_response(404)
        timers.run_by_hand(timer)
        return host_response(202)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        path, mark, query_text = request.raw_path.partition("?")
        raw_path = remove_dot_segments(path)
        if raw_path != path:
            # Everything after Kestrel (sign-in, routing, the function's URL) sees the
            # normalised path, so no two parts can disagree on where a request goes.
            request = request.clone(rel_url=URL(raw_path + mark + query_text, encoded=True))
        if raw_path.rstrip("/").lower() == STATUS_PATH and request.method in ("GET", "HEAD"):
            return await host_status(request)
        admin_name = admin_invoke.function_name(request.method, raw_path)
        if admin_name is not None:
            return await run_by_hand(request, admin_name)
        # Emulated App Service Authentication runs in front of everything, as Azure's does.
        intercepted = await auth.intercept(request) if auth is not None else None
        if intercepted is not None:
            return intercepted
        match = table.resolve(request.method, raw_path)
        if match is None:
            return host_response(404)
        function = match.route.target
        headers = join_headers(request.headers.items())
        if auth is not None:
            headers = auth.headers(headers, request)
        query = join_query(request.rel_url.raw_query_string)
        if keys.enforce and not is_authorized(
            function.auth_level, presented_key(headers, query), keys.key
        ):
            logger.info("401 for '%s': missing or wrong function key", function.name)
            return host_response(401)
        try:
            body = await read_forwarded_body(request, function.name, headers)
        except web.HTTPRequestEntityTooLarge:
            logger.info("413 for '%s': request body over %d bytes", function.name, max_body_bytes)
            return host_response(413, f"Request body larger than {max_body_bytes} bytes.")
        except web.RequestPayloadError:
            logger.info("400 for '%s': the request body could not be read", function.name)
            return host_response(400, "The request body is malformed or incomplete.")
        datum = request_datum(
            method=request.method,
            url=f"{request.scheme}://{request.host}{raw_path}{mark}{query_text}",
            headers=headers,
            query=query,
            route_params=match.values,
            body=body,
        )
        response = await invoker.invoke(function, decode_request(datum))
        if response.failed:
            return host_response(500)
        try:
            return to_aiohttp(response)
        except ValueError:
            # e.g. a status code outside 100-999: the worker fails such an invocation, too.
            logger.exception("Function '%s' returned an unusable HTTP response", function.name)
            return host_response(500)

    @web.middleware
    async def every_request(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Every request goes to dispatch, whatever aiohttp's router made of it: a catch-all
        # route ("/{tail:.*}") does not match a decoded newline (%0A), and aiohttp's own 404
        # would then bypass the host's routing, its nosniff and its empty body.
        return await dispatch(request)

    app = web.Application(client_max_size=max_body_bytes, middlewares=[every_request])
    app[FUNCTIONS_KEY] = table
    return app
