"""The chat app: negotiate, the Web PubSub webhook and the chat page, on Azure Functions.

This module only adapts func.HttpRequest to the pure logic in the `chat` package and its
replies back to func.HttpResponse.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Mapping
from json.encoder import encode_basestring
from pathlib import Path
from types import MappingProxyType

import azure.functions as func

from adapters.runtime import Runtime
from adapters.table_store import StoreUnavailable
from adapters.webpubsub import ServiceUnavailable
from chat import cloudevents, events, history, identity, rooms, static_files, user_id
from chat.reply import Reply, json_reply
from chat.reply import text as text_reply
from chat.sweep import SCHEDULE as PRESENCE_SWEEP_SCHEDULE

log = logging.getLogger("chat")
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
runtime = Runtime(os.environ, Path(__file__).parent / "static")

# On every response the app builds: no content sniffing (an API answer is never a script or a
# page), and nothing cached unless the reply says otherwise (the page and its assets do).
ALWAYS = {"X-Content-Type-Options": "nosniff"}
DEFAULT_CACHE = {"Cache-Control": "no-store"}
UNCONFIGURED = "service unavailable: the app is not configured (see the function app log)"


def _merge(
    content_type: str | None, headers: Mapping[str, str]
) -> tuple[Mapping[str, str], str | None]:
    merged = {**DEFAULT_CACHE, **headers, **ALWAYS}
    if content_type:
        merged["Content-Type"] = content_type  # the header is what the worker sends
    mimetype = content_type.split(";", 1)[0] if content_type else None
    return merged, mimetype


@functools.lru_cache(maxsize=32)  # a handful of content types; bounded all the same
def _merged_defaults(content_type: str | None) -> tuple[Mapping[str, str], str | None]:
    # Most replies add no headers of their own (negotiate's never does): merge those once per
    # content type. Read-only, as it is shared; func.HttpResponse copies what it is given.
    merged, mimetype = _merge(content_type, {})
    return MappingProxyType(merged), mimetype


def _http(
    status: int, body: bytes | str, content_type: str | None, headers: Mapping[str, str]
) -> func.HttpResponse:
    """The one place responses are built."""
    merged, mimetype = _merge(content_type, headers) if headers else _merged_defaults(content_type)
    return func.HttpResponse(body=body, status_code=status, headers=merged, mimetype=mimetype)


def _response(reply: Reply) -> func.HttpResponse:
    return _http(reply.status, reply.body, reply.content_type, reply.headers)


@app.route(route="negotiate", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def negotiate(req: func.HttpRequest) -> func.HttpResponse:
    settings = runtime.settings()
    if settings is None:
        return _response(text_reply(503, UNCONFIGURED))
    who = identity.caller(req.headers, req.params, settings)
    if isinstance(who, Reply):
        return _response(who)
    try:
        url = await runtime.service().client_url(who.user_id)
    except ServiceUnavailable as error:
        log.error("negotiate failed for a user: %s", error.reason)
        return _response(text_reply(503, "could not get a token from the Web PubSub service"))
    # Built by hand rather than through json_reply: this is the hottest path of the app.
    return _http(200, '{"url":' + encode_basestring(url) + "}", "application/json", {})


@app.route(
    route="eventhandler",
    methods=["OPTIONS", "GET", "POST"],
    auth_level=func.AuthLevel.FUNCTION,
)
async def eventhandler(req: func.HttpRequest) -> func.HttpResponse:
    settings = runtime.settings()
    if settings is None:
        return _response(text_reply(503, UNCONFIGURED))
    headers = req.headers  # case-insensitive, as the chat modules expect
    if req.method.upper() in ("OPTIONS", "GET"):
        return _response(cloudevents.validate_webhook(headers, settings))
    event = cloudevents.authenticate(headers, settings)
    if isinstance(event, Reply):
        log.warning("Refused an upstream call (%s): %s", event.status, event.body.decode())
        return _response(event)
    # connect needs only the service (to count the user's connections); the others the store.
    stored = event.type in (cloudevents.CONNECTED, cloudevents.DISCONNECTED, events.MESSAGE)
    if stored and runtime.storage() is None:
        return _response(text_reply(503, UNCONFIGURED))
    body, content_type = req.get_body(), headers.get("content-type")
    result = await runtime.events().handle(event, body, content_type, time.time())
    # Chat messages are the bulk of the traffic: in Azure every log line is billed telemetry, so
    # a delivered message logs at DEBUG; presence events and refusals stay visible.
    _log_event(
        event, result.answer, result.notes, logging.DEBUG if result.delivered else logging.INFO
    )
    return _response(result.answer)


def _log_event(
    event: cloudevents.CloudEvent, reply: Reply, notes: dict[str, str], level: int
) -> None:
    log.log(
        level,
        "Handled %s ce-id=%s connection=%s -> %s%s",
        event.type,
        event.id,
        event.connection_id,
        reply.status,
        "".join(f" {k}={v}" for k, v in notes.items()),
    )


def caller(req: func.HttpRequest) -> str | None:
    """Who is calling, by the app's one rule for callers (negotiate and history use it).

    The signed-in user when App Service Authentication vouches for one, else None: anonymous
    callers are allowed in the default mode. InvalidUserId when the principal is unusable.
    """
    return user_id.from_client_principal(req.headers)


@app.route(route="rooms/{room}/messages", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def room_messages(req: func.HttpRequest) -> func.HttpResponse:
    """A page of a room's history: oldest to newest, and the cursor of the page before it."""
    settings = runtime.settings()
    if settings is None or runtime.storage() is None:
        return _response(text_reply(503, UNCONFIGURED))
    if settings.sign_in:
        # The same rule as negotiate (chat/identity.py): only signed-in callers.
        who = identity.caller(req.headers, req.params, settings)
        if isinstance(who, Reply):
            return _response(who)
    else:
        try:
            caller(req)
        except user_id.InvalidUserId as error:
            return _response(text_reply(400, str(error)))
    try:
        room = rooms.validate(req.route_params.get("room"))
        page = history.parse_query(room, dict(req.params))
    except (rooms.InvalidRoom, history.BadQuery) as error:
        return _response(text_reply(400, str(error)))
    try:
        rows = await runtime.store().page(page)
    except StoreUnavailable as error:
        log.error("History of %s could not be read: %s", room, error)
        return _response(text_reply(503, "the chat history is unavailable right now"))
    return _response(json_reply(200, history.page_body(room, rows, page.limit)))


@app.timer_trigger(
    schedule=PRESENCE_SWEEP_SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=False
)
async def presence_sweep(timer: func.TimerRequest) -> None:
    """Announce the presence changes the notice budgets held back, and correct lost leaves.

    Any instance may run it (two at once announce each change once: see
    adapters/presence_sweep.py). Unconfigured, it does nothing; the settings' problem was
    logged once by name when they were first read.
    """
    if runtime.settings() is None or runtime.storage() is None:
        return
    try:
        report = await runtime.sweep().run(time.time())
    except (StoreUnavailable, ServiceUnavailable) as error:
        log.warning("Presence sweep skipped: %s", error)
        return
    if report.due or report.notices or report.member_lists or report.failed or timer.past_due:
        log.info("Presence sweep%s: %s", " (past due)" if timer.past_due else "", report.line())


def _serve(req: func.HttpRequest, relative: str) -> func.HttpResponse:
    settings = runtime.settings()
    if settings is None:
        return _response(text_reply(503, UNCONFIGURED))
    extra = static_files.security_headers(runtime.service_origin())
    path = static_files.safe_path(runtime.static_root, relative)
    lazy_url = settings.client_url if settings.lazy_auth else None
    sign_in = settings.sign_in_providers if settings.sign_in else ()
    asset = runtime.asset(path, lazy_url, sign_in) if path is not None else None
    return _response(static_files.respond(asset, req.method, req.headers, extra))


@app.route(route="index", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def index(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "index.html")


@app.route(route="static/{*path}", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def static(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, req.route_params.get("path", ""))
