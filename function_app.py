"""The chat app: negotiate, the Web PubSub webhook and the chat page, on Azure Functions.

This module only adapts func.HttpRequest to the pure logic in the `chat` package and its
replies back to func.HttpResponse. Every refusal is a typed error (chat/errors.py) raised
anywhere inside a route; `refusals` turns it into the reply, in one place.

Cold start: indexing needs only this module, so what a route alone uses (the webhook's
stateful events, history, sign-in, the page, the timer's sweep) is imported on its first call
(inside the function or in adapters/runtime.py), and the Azure SDKs on their first use.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from json.encoder import encode_basestring
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING

import azure.functions as func

from adapters.runtime import Configured, Runtime, Stateful
from chat.errors import BadRequest, ChatError, Forbidden, Unavailable
from chat.reply import Reply

if TYPE_CHECKING:
    from adapters.table_store import TableStore
    from chat.cloudevents import CloudEvent
    from chat.identity import Caller
    from chat.settings import Settings

log = logging.getLogger("chat")
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
runtime = Runtime(os.environ, os.path.join(os.path.dirname(__file__), "static"))
# chat.sweep.SCHEDULE, spelled out: indexing reads it, and importing that module (and
# chat.presence behind it) would add half of what indexing costs; the timer's test keeps the
# two equal.
PRESENCE_SWEEP_SCHEDULE = "*/15 * * * * *"

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


TEXT = "text/plain; charset=utf-8"
Route = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]


def refusals(unavailable: str = UNCONFIGURED) -> Callable[[Route], Route]:
    """Turn every refusal a route raises into its reply: the one place error replies are made.

    A ChatError says its status and reason. The service or the store failing (the adapters'
    ServiceUnavailable / StoreUnavailable) is logged with its cause and answered 503 with
    `unavailable`, a generic text: the cause may name hosts or settings, never shown.
    """

    def wrap(route: Route) -> Route:
        @functools.wraps(route)
        async def guarded(req: func.HttpRequest) -> func.HttpResponse:
            try:
                return await route(req)
            except ChatError as error:
                return _refusal(error)
            except Exception as error:
                if not isinstance(error, _dependency_failures()):
                    raise
                log.error("%s: %s (%s)", route.__name__, unavailable, error)
                return _http(503, unavailable, TEXT, {})

        return guarded

    return wrap


def _refusal(error: ChatError) -> func.HttpResponse:
    return _http(error.status, error.reason, TEXT, {})


def _dependency_failures() -> tuple[type[Exception], ...]:
    # Imported only when something failed: whichever raised is loaded by then, and the success
    # path (and indexing) does not pay for the store's module.
    from adapters.table_store import StoreUnavailable
    from adapters.webpubsub import ServiceUnavailable

    return (StoreUnavailable, ServiceUnavailable)


@functools.cache
def _identity() -> ModuleType:
    """chat.identity, imported by the first call that needs it.

    Cached: an import statement in negotiate, the hottest path, would cost about a microsecond
    on every call (a tenth of the app's own share of it), this a dictionary look-up.
    """
    from chat import identity

    return identity


def _configured() -> Configured:
    configured = runtime.configured()
    if configured is None:
        raise Unavailable(UNCONFIGURED)
    return configured


def _stateful(configured: Configured) -> Stateful:
    if configured.stateful is None:
        raise Unavailable(UNCONFIGURED)
    return configured.stateful


@app.route(route="negotiate", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@refusals(unavailable="could not get a token from the Web PubSub service")
async def negotiate(req: func.HttpRequest) -> func.HttpResponse:
    configured = _configured()
    who = _identity().caller(req.headers, req.params, configured.settings)
    if configured.settings.sign_in and configured.stateful is not None:
        # Issue 19: a chat-wide ban, through this instance's copy (at most 10 s old; no
        # storage configured: no such ban can exist). Sign-in mode only: bans are by account.
        await _not_chat_banned(configured.stateful, who.user_id)
    url = await configured.service.client_url(who.user_id)
    # Built by hand rather than through json_reply: this is the hottest path of the app.
    return _http(200, '{"url":' + encode_basestring(url) + "}", "application/json", {})


async def _not_chat_banned(stateful: Stateful, user_id: str) -> None:
    """403 with the reason while the caller's account is banned from the whole chat."""
    bans = _chat_bans()
    account = bans.account(user_id)
    if account is None:
        return
    now = time.time()
    why = bans.refusal(await stateful.chat_bans.until(account, now), now)
    if why is not None:
        raise Forbidden(why)


@functools.cache
def _chat_bans() -> ModuleType:
    """chat.chat_bans (with chat.roles.account), imported by the first signed-in negotiate."""
    from chat import chat_bans

    return chat_bans


@app.route(
    route="eventhandler",
    methods=["OPTIONS", "GET", "POST"],
    auth_level=func.AuthLevel.FUNCTION,
)
@refusals()
async def eventhandler(req: func.HttpRequest) -> func.HttpResponse:
    from chat import cloudevents, events

    configured = _configured()
    settings = configured.settings
    headers = req.headers  # case-insensitive, as the chat modules expect
    if req.method.upper() in ("OPTIONS", "GET"):
        return _response(cloudevents.validate_webhook(headers, settings))
    event = cloudevents.authenticate(headers, settings)
    if not isinstance(event, cloudevents.CloudEvent):
        log.warning("Refused an upstream call (%s): %s", event.status, event.body.decode())
        return _response(event)
    # connect needs only the service (to count the user's connections); the others the store.
    stored = event.type in (cloudevents.CONNECTED, cloudevents.DISCONNECTED, events.MESSAGE)
    if stored:
        _stateful(configured)  # 503 when storage is not configured
    body, content_type = req.get_body(), headers.get("content-type")
    result = await configured.events.handle(event, body, content_type, time.time())
    # Chat messages are the bulk of the traffic: in Azure every log line is billed telemetry, so
    # a delivered message logs at DEBUG; presence events and refusals stay visible.
    _log_event(
        event, result.answer, result.notes, logging.DEBUG if result.delivered else logging.INFO
    )
    return _response(result.answer)


def _log_event(event: CloudEvent, reply: Reply, notes: dict[str, str], level: int) -> None:
    if not log.isEnabledFor(level):
        return  # a delivered message at DEBUG, usually: not even its notes are joined
    log.log(
        level,
        "Handled %s ce-id=%s connection=%s -> %s%s",
        event.type,
        event.id,
        event.connection_id,
        reply.status,
        "".join(f" {k}={v}" for k, v in notes.items()),
    )


@app.route(route="rooms/{room}/messages", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@refusals(unavailable="the chat history is unavailable right now")
async def room_messages(req: func.HttpRequest) -> func.HttpResponse:
    """A page of a room's history: oldest to newest, and the cursor of the page before it."""
    from chat import history, rooms
    from chat.reply import json_reply

    configured = _configured()
    settings = configured.settings
    store = _stateful(configured).store
    # Negotiate's rule (chat/identity.py), for a route that only reads: signed-in callers when
    # sign-in is required; anonymous ones, or a usable principal, when it is off.
    who = _identity().viewer(req.headers, settings)
    try:
        room = rooms.validate(req.route_params.get("room"))
    except rooms.InvalidRoom as error:
        raise BadRequest(str(error)) from error
    if rooms.is_direct(room):
        # Only its two participants (rows the server wrote when it delivered the DM).
        await _direct_participant(who, room, store, settings)
    elif settings.sign_in and who is not None:
        # Before any read, catch-up's included: a banned reader reads nothing of the room.
        await _not_banned(configured, room, who.user_id)
    try:
        if "since" in req.params:
            return await _catch_up(room, req, store)
        page = history.parse_query(room, dict(req.params))
    except history.BadQuery as error:
        raise BadRequest(str(error)) from error
    rows = await store.page(page)
    return _response(json_reply(200, history.page_body(room, rows, page.limit)))


async def _not_banned(configured: Configured, room: str, user_id: str) -> None:
    """A banned reader gets 403 (chat/moderation.py), read before the page is: the webhook's
    copy of the facts, at most chat.moderation.FACTS_TTL_S old (fresh on the instance that
    banned)."""
    from chat import moderation, roles
    from chat.errors import Forbidden

    now = time.time()
    account = roles.account(user_id)
    if account is None:
        raise Forbidden("sign in first")
    facts = await configured.events.effects.moderation.facts(room, account, now, fresh=False)
    if not moderation.may_read_history(facts, now):
        raise Forbidden(moderation.banned_from(room, facts.ban_until))


@app.route(route="rooms/{room}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@refusals(unavailable="the room is unavailable right now")
async def room_info(req: func.HttpRequest) -> func.HttpResponse:
    """{"room", "topic", "owner", "moderators", "slowModeSeconds"}: what the page shows and
    which buttons it offers (the webhook checks every command again)."""
    from chat import moderation, rooms
    from chat.reply import json_reply

    configured = _configured()
    _stateful(configured)
    _identity().viewer(req.headers, configured.settings)
    try:
        room = rooms.validate(req.route_params.get("room"))
    except rooms.InvalidRoom as error:
        raise BadRequest(str(error)) from error
    store = configured.events.effects.moderation
    facts = await store.facts(room, "", time.time(), fresh=True)
    return _response(json_reply(200, moderation.room_body(room, facts.record)))


@app.route(route="reports", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@refusals(unavailable="the reports are unavailable right now")
async def reports(req: func.HttpRequest) -> func.HttpResponse:
    """The open reports, for admins (ChatAdmins) only: 403 for everyone else."""
    from chat import moderation
    from chat.errors import Forbidden
    from chat.reply import json_reply

    configured = _configured()
    _stateful(configured)
    who = _identity().viewer(req.headers, configured.settings)
    if not moderation.may_list_reports(who.user_id if who else None, configured.settings):
        raise Forbidden("only admins may list reports")
    store = configured.events.effects.moderation
    rows = await store.open_reports(moderation.MAX_LISTED_REPORTS)
    # Each message as it is now (read, never copied into the report: issue 18's deletes).
    messages = await store.reported_messages(rows)
    return _response(json_reply(200, moderation.reports_body(rows, messages)))


async def _direct_participant(
    who: Caller | None, room: str, store: TableStore, settings: Settings
) -> None:
    """Issue 17: a direct conversation answers only its two participants. The caller is who
    the platform's headers say (never a name the caller picks: sign-in mode only)."""
    from adapters.conversations import Conversations
    from chat import direct
    from chat.errors import Forbidden, Unauthorized

    if not settings.sign_in or who is None:
        raise Unauthorized(direct.SIGN_IN_NEEDED)
    if not await Conversations(store).is_in(who.user_id, room):
        raise Forbidden(direct.NOT_YOURS)


async def _catch_up(room: str, req: func.HttpRequest, store: TableStore) -> func.HttpResponse:
    """Issue 17: the messages since a time (or a `next` cursor), oldest first."""
    from adapters.conversations import Conversations
    from chat import catch_up
    from chat.reply import json_reply

    query = catch_up.parse(room, req.params.get("since", ""), req.params.get("limit"))
    body = await Conversations(store).since(query, time.time())
    return _response(json_reply(200, body))


@app.route(route="me/rooms", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@refusals(unavailable="your conversations are unavailable right now")
async def my_rooms(req: func.HttpRequest) -> func.HttpResponse:
    """Issue 17: the rooms the caller joined and their direct conversations, with unread."""
    from adapters.conversations import Conversations
    from chat.reply import json_reply

    configured = _configured()
    stateful = _stateful(configured)
    who = _identity().caller(req.headers, req.params, configured.settings)
    body = await Conversations(stateful.store, stateful.listed_rooms).my_rooms(who.user_id)
    return _response(json_reply(200, body))


@app.route(route="me/blocks", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@refusals(unavailable="your blocks are unavailable right now")
async def my_blocks(req: func.HttpRequest) -> func.HttpResponse:
    """Issue 19: whom the caller blocks. Without sign-in nobody can block: always none."""
    from adapters.blocks_store import BlocksStore
    from chat import blocks, roles
    from chat.reply import json_reply

    configured = _configured()
    if not configured.settings.sign_in:
        return _response(json_reply(200, blocks.body([])))
    store = _stateful(configured).store
    who = _identity().caller(req.headers, req.params, configured.settings)  # 401 unsigned
    account = roles.account(who.user_id)
    rows = await BlocksStore(store).listed(account) if account is not None else []
    return _response(json_reply(200, blocks.body(rows)))


@app.route(route="rooms", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@refusals(unavailable="the room directory is unavailable right now")
async def room_directory(req: func.HttpRequest) -> func.HttpResponse:
    """Issue 17: the rooms, most recently active first, with who is present now."""
    from adapters.conversations import Conversations
    from chat import directory
    from chat.reply import json_reply

    configured = _configured()
    store = _stateful(configured).store
    _identity().caller(req.headers, req.params, configured.settings)  # negotiate's rule
    try:
        limit = directory.parse_limit(req.params.get("limit"))
    except directory.BadQuery as error:
        raise BadRequest(str(error)) from error
    return _response(json_reply(200, await Conversations(store).listing(limit)))


@app.timer_trigger(
    schedule=PRESENCE_SWEEP_SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=False
)
async def presence_sweep(timer: func.TimerRequest) -> None:
    """Announce the presence changes the notice budgets held back, and correct lost leaves.

    Any instance may run it (two at once announce each change once: see
    adapters/sweeper.py). Unconfigured, it does nothing; the settings' problem was
    logged once by name when they were first read.
    """
    configured = runtime.configured()
    if configured is None or configured.stateful is None:
        return
    try:
        report = await configured.stateful.sweep.run(time.time())
    except _dependency_failures() as error:
        log.warning("Presence sweep skipped: %s", error)
        return
    if report.due or report.notices or report.member_lists or report.failed or timer.past_due:
        log.info("Presence sweep%s: %s", " (past due)" if timer.past_due else "", report.line())


def _serve(req: func.HttpRequest, relative: str) -> func.HttpResponse:
    from chat import static_files

    configured = runtime.configured()
    if configured is None:  # a sync route (a file read may block): no `refusals` around it
        return _refusal(Unavailable(UNCONFIGURED))
    settings = configured.settings
    extra = static_files.security_headers(configured.service_origin)
    lazy_url = settings.client_url if settings.lazy_auth else None
    sign_in = settings.sign_in_providers if settings.sign_in else ()
    max_length = settings.max_message_length  # the page's compose counter counts against it
    asset = configured.assets.get(relative, lazy_url, sign_in, max_length)
    return _response(static_files.respond(asset, req.method, req.headers, extra))


@app.route(route="index", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def index(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, "index.html")


@app.route(route="static/{*path}", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def static(req: func.HttpRequest) -> func.HttpResponse:
    return _serve(req, req.route_params.get("path", ""))
