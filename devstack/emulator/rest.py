"""The REST data-plane API under /api/hubs/{hub}/..., as the Python SDK 1.3.0 calls it."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from . import jsonprotocol as jp
from . import safejson
from .clientendpoint import ClientEndpoint
from .config import HUB_NAME_RE, EmulatorConfig
from .connections import Connection
from .filter import FilterError, compile_filter
from .hub import Hub, Registry
from .logsafe import redact_url
from .restroutes import MethodNotAllowed, RouteNotFound, route
from .roles import parse_permission_name
from .tokens import TokenError, issue_client_token, validate_rest_token

log = logging.getLogger("devstack.emulator.rest")

SUPPORTED_API_VERSIONS = ("2021-10-01", "2022-11-01", "2023-07-01", "2024-01-01", "2024-12-01")
SUPPORTED_HEADER = ", ".join(SUPPORTED_API_VERSIONS)
METADATA_PREFIX = "x-webpubsub-metadata-"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 200


class RestError(Exception):
    def __init__(self, status: int, code: str, message: str, target: str = "Request") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.target = status, code, message, target

    def response(self) -> web.Response:
        body = {"code": self.code, "message": self.message, "target": self.target, "details": []}
        return web.json_response(body, status=self.status, headers={"x-ms-error-code": self.code})


def bad_request(message: str, target: str = "Request") -> RestError:
    return RestError(400, "Error.BadRequest", message, target)


def connection_not_found(code: str = "Error.Connection.NotExisted") -> RestError:
    # The real service quotes the id; request values are not echoed here (issue 11, item 6).
    return RestError(404, code, "The connection is not found.", "Connection")


def filter_context(conn: Connection) -> dict[str, Any]:
    return {
        "userid": conn.user_id,
        "connectionid": conn.id,
        "groups": sorted(conn.groups),
        "protocol": conn.subprotocol,
    }


def check_api_version(query: MultiDictProxy[str]) -> None:
    values = query.getall("api-version", [])
    if len(values) > 1:
        raise bad_request("The api-version parameter must be given once.", "api-version")
    if values and values[0] not in SUPPORTED_API_VERSIONS:
        raise bad_request(f"Unsupported api-version; supported: {SUPPORTED_HEADER}.", "api-version")


def payload_from_body(content_type: str | None, body: bytes) -> jp.Payload:
    """Map a REST body to a message by Content-Type (missing = binary, as the emulator does)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "text/plain":
        charset = "utf-8"
        for part in (content_type or "").split(";")[1:]:
            name, _, value = part.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"')
        try:
            text = body.decode(charset)
        except (LookupError, UnicodeDecodeError) as exc:
            raise bad_request("The request body cannot be decoded with its charset.") from exc
        return jp.Payload.text(text)
    if media == "application/json":
        try:
            safejson.loads(body)
        except ValueError as exc:
            raise bad_request("The request body is not a valid JSON.") from exc
        return jp.Payload("json", body)
    if media in ("application/octet-stream", ""):
        return jp.Payload("binary", body)
    raise RestError(
        415,
        "Error.UnsupportedMediaType",
        "Unsupported Content-Type; use text/plain, application/json or application/octet-stream.",
    )


def metadata_from_headers(headers: Any) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    total = 0
    for name, value in headers.items():
        low = name.lower()
        if low.startswith(METADATA_PREFIX) and len(low) > len(METADATA_PREFIX):
            key = low[len(METADATA_PREFIX) :]
            out[key] = value.split(",")[-1].strip()
    for key, value in out.items():
        if len(key.encode()) > 256 or len(value.encode()) > 1024:
            raise bad_request("A metadata entry is too long.")
        total += len(key.encode()) + len(value.encode())
    if total > 8 * 1024:
        raise bad_request("The metadata is too long.")
    return tuple(out.items())


def check_ttl(query: MultiDictProxy[str]) -> None:
    raw = query.get("messageTtlSeconds")
    if raw is None:
        return
    try:
        ttl = int(raw)
    except ValueError as exc:
        raise bad_request("messageTtlSeconds must be an integer.", "messageTtlSeconds") from exc
    if not 0 <= ttl <= 300:
        raise bad_request("messageTtlSeconds must be between 0 and 300.", "messageTtlSeconds")


def predicate(query: MultiDictProxy[str]) -> Callable[[Connection], bool] | None:
    text = query.get("filter")
    if not text:
        return None
    try:
        fn = compile_filter(text)
    except FilterError as exc:
        raise bad_request(str(exc), "filter") from exc
    return lambda conn: fn(filter_context(conn))


def check_group(group: str) -> str:
    if not jp.valid_group_name(group):
        raise bad_request("Invalid group name.", "group")
    return group


def check_nonempty(value: str, target: str) -> str:
    if not value or not value.strip():
        raise bad_request(f"Invalid {target}.", target)
    return value


def _encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    try:
        data = safejson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError as exc:
        raise bad_request("Invalid continuation token.", "continuationToken") from exc
    if not isinstance(data, dict) or not isinstance(data.get("after"), str):
        raise bad_request("Invalid continuation token.", "continuationToken")
    return data


def _positive_int(query: MultiDictProxy[str], name: str, maximum: int) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"{name} must be an integer.", name) from exc
    if not 1 <= value <= maximum:
        raise bad_request(f"{name} must be between 1 and {maximum}.", name)
    return value


Operation = Callable[[web.Request, Hub, dict[str, str]], Awaitable[web.StreamResponse]]


class RestApi:
    def __init__(self, config: EmulatorConfig, registry: Registry, clients: ClientEndpoint) -> None:
        self.config = config
        self.registry = registry
        self.clients = clients
        # Operation name (restroutes.ROUTES) -> method; spelled out so each route is greppable.
        self.operations: dict[str, Operation] = {
            "send_to_all": self.op_send_to_all,
            "send_to_user": self.op_send_to_user,
            "send_to_connection": self.op_send_to_connection,
            "send_to_group": self.op_send_to_group,
            "add_connection_to_group": self.op_add_connection_to_group,
            "remove_connection_from_group": self.op_remove_connection_from_group,
            "remove_connection_from_all_groups": self.op_remove_connection_from_all_groups,
            "add_user_to_group": self.op_add_user_to_group,
            "remove_user_from_group": self.op_remove_user_from_group,
            "remove_user_from_all_groups": self.op_remove_user_from_all_groups,
            "close_connection": self.op_close_connection,
            "connection_exists": self.op_connection_exists,
            "close_all_connections": self.op_close_all_connections,
            "close_group_connections": self.op_close_group_connections,
            "close_user_connections": self.op_close_user_connections,
            "group_exists": self.op_group_exists,
            "user_exists": self.op_user_exists,
            "grant_permission": self.op_grant_permission,
            "revoke_permission": self.op_revoke_permission,
            "has_permission": self.op_has_permission,
            "list_connections": self.op_list_connections,
            "generate_token": self.op_generate_token,
            "add_to_groups": self.op_add_to_groups,
            "remove_from_groups": self.op_remove_from_groups,
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        try:
            response = await self._dispatch(request)
        except RestError as exc:
            response = exc.response()
        except web.HTTPRequestEntityTooLarge:
            response = RestError(
                413, "Error.RequestEntityTooLarge", "The body is over 1 MiB."
            ).response()
        response.headers["api-supported-versions"] = SUPPORTED_HEADER
        log.info(
            "rest %s %s -> %d (%.0f ms)",
            request.method,
            redact_url(str(request.rel_url)),
            response.status,
            (time.monotonic() - started) * 1000,
        )
        return response

    @property
    def _endpoint(self) -> str:
        """The advertised endpoint (as in the connection string), with the bound port."""
        return f"http://{self.config.advertised_host}:{self.clients.origins.port}"

    def _authorize(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        if not auth.lower().startswith("bearer "):
            raise RestError(401, "", "")
        raw_path = request.raw_path.split("?", 1)[0]
        try:
            validate_rest_token(
                auth[7:].strip(), [self.config.access_key], self.clients.origins, raw_path
            )
        except TokenError as exc:
            log.info("rest call rejected: %s", exc)
            raise RestError(401, "", "") from exc

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.raw_path.split("?", 1)[0]
        try:
            op, params = route(request.method, raw_path)
        except RouteNotFound:
            return web.Response(status=404)
        except MethodNotAllowed:
            return web.Response(status=405)
        try:
            self._authorize(request)
        except RestError:
            return web.Response(status=401)
        check_api_version(request.rel_url.query)
        if not HUB_NAME_RE.match(params["hub"]):
            raise bad_request("Invalid hub name.", "hub")
        hub = self.registry.hub(params["hub"])
        return await self.operations[op](request, hub, params)

    # ---- send -----------------------------------------------------------------------

    async def _payload(self, request: web.Request) -> jp.Payload:
        if request.content_length is None and request.body_exists:
            raise bad_request("The request body must have a known length.")
        if (request.content_length or 0) > self.config.max_rest_body_bytes:
            raise RestError(413, "Error.RequestEntityTooLarge", "The body is over 1 MiB.")
        body = await request.read()
        payload = payload_from_body(request.headers.get("Content-Type"), body)
        metadata = metadata_from_headers(request.headers)
        check_ttl(request.rel_url.query)
        if metadata:
            payload = jp.Payload(payload.data_type, payload.data, metadata)
        return payload

    async def op_send_to_all(self, request, hub: Hub, p) -> web.Response:
        payload = await self._payload(request)
        q = request.rel_url.query
        targets = hub.select(hub.all(), q.getall("excluded", []), predicate(q))
        await hub.deliver(targets, payload)
        return web.Response(status=202)

    async def op_send_to_user(self, request, hub: Hub, p) -> web.Response:
        payload = await self._payload(request)
        user = check_nonempty(p["user"], "userId")
        targets = hub.select(hub.of_user(user), (), predicate(request.rel_url.query))
        await hub.deliver(targets, payload)
        return web.Response(status=202)

    async def op_send_to_connection(self, request, hub: Hub, p) -> web.Response:
        payload = await self._payload(request)
        conn = hub.get(check_nonempty(p["connection"], "connectionId"))
        if conn is not None:
            await hub.deliver([conn], payload)
        return web.Response(status=202)

    async def op_send_to_group(self, request, hub: Hub, p) -> web.Response:
        payload = await self._payload(request)
        group = check_group(p["group"])
        q = request.rel_url.query
        targets = hub.select(hub.in_group(group), q.getall("excluded", []), predicate(q))
        await hub.deliver(targets, payload, group=group)
        return web.Response(status=202)

    # ---- groups ---------------------------------------------------------------------

    async def op_add_connection_to_group(self, request, hub: Hub, p) -> web.Response:
        group = check_group(p["group"])
        conn = hub.get(p["connection"])
        if conn is None:
            raise connection_not_found()
        hub.join(conn, group)
        return web.Response(status=200)

    async def op_remove_connection_from_group(self, request, hub: Hub, p) -> web.Response:
        group = check_group(p["group"])
        conn = hub.get(p["connection"])
        if conn is not None:
            hub.leave(conn, group)
        return web.Response(status=204)

    async def op_remove_connection_from_all_groups(self, request, hub: Hub, p) -> web.Response:
        conn = hub.get(check_nonempty(p["connection"], "connectionId"))
        if conn is not None:
            hub.leave_all(conn)
        return web.Response(status=204)

    async def op_add_user_to_group(self, request, hub: Hub, p) -> web.Response:
        group = check_group(p["group"])
        conns = hub.of_user(check_nonempty(p["user"], "userId"))
        if not conns:
            raise RestError(404, "Error.User.NotExisted", "The user is not found.", "User")
        for conn in conns:
            hub.join(conn, group)
        return web.Response(status=200)

    async def op_remove_user_from_group(self, request, hub: Hub, p) -> web.Response:
        group = check_group(p["group"])
        for conn in hub.of_user(check_nonempty(p["user"], "userId")):
            hub.leave(conn, group)
        return web.Response(status=204)

    async def op_remove_user_from_all_groups(self, request, hub: Hub, p) -> web.Response:
        for conn in hub.of_user(check_nonempty(p["user"], "userId")):
            hub.leave_all(conn)
        return web.Response(status=204)

    async def _bulk_groups(self, request, hub: Hub, add: bool) -> web.Response:
        media = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media != "application/json":
            raise RestError(
                415, "Error.UnsupportedMediaType", "Content-Type must be application/json."
            )
        try:
            body = safejson.loads(await request.read())
        except ValueError as exc:
            raise bad_request("The request body is not a valid JSON.") from exc
        groups = body.get("groups") if isinstance(body, dict) else None
        if (
            not isinstance(groups, list)
            or not groups
            or not all(jp.valid_group_name(g) for g in groups)
        ):
            raise bad_request("'groups' must be a non-empty array of valid group names.", "groups")
        text = body.get("filter")
        if text is not None and not isinstance(text, str):
            raise bad_request("'filter' must be a string.", "filter")
        fn = None
        if text:
            try:
                compiled = compile_filter(text)
            except FilterError as exc:
                raise bad_request(str(exc), "filter") from exc
            fn = lambda conn: compiled(filter_context(conn))  # noqa: E731
        for conn in hub.select(hub.all(), (), fn):
            for group in groups:
                (hub.join if add else hub.leave)(conn, group)
        return web.Response(status=200)

    async def op_add_to_groups(self, request, hub: Hub, p) -> web.Response:
        return await self._bulk_groups(request, hub, True)

    async def op_remove_from_groups(self, request, hub: Hub, p) -> web.Response:
        return await self._bulk_groups(request, hub, False)

    # ---- close ----------------------------------------------------------------------

    def _close(self, conns: list[Connection], request) -> web.Response:
        q = request.rel_url.query
        reason = q.get("reason")
        for conn in Hub.select(conns, q.getall("excluded", [])):
            self.clients.close(conn, reason)
        return web.Response(status=204)

    async def op_close_connection(self, request, hub: Hub, p) -> web.Response:
        conn = hub.get(check_nonempty(p["connection"], "connectionId"))
        if conn is not None:
            self.clients.close(conn, request.rel_url.query.get("reason"))
        return web.Response(status=204)

    async def op_close_all_connections(self, request, hub: Hub, p) -> web.Response:
        return self._close(hub.all(), request)

    async def op_close_group_connections(self, request, hub: Hub, p) -> web.Response:
        return self._close(hub.in_group(check_group(p["group"])), request)

    async def op_close_user_connections(self, request, hub: Hub, p) -> web.Response:
        return self._close(hub.of_user(check_nonempty(p["user"], "userId")), request)

    # ---- existence ------------------------------------------------------------------

    async def op_connection_exists(self, request, hub: Hub, p) -> web.Response:
        return web.Response(status=200 if hub.get(p["connection"]) else 404)

    async def op_group_exists(self, request, hub: Hub, p) -> web.Response:
        return web.Response(status=200 if hub.in_group(check_group(p["group"])) else 404)

    async def op_user_exists(self, request, hub: Hub, p) -> web.Response:
        return web.Response(status=200 if hub.of_user(p["user"]) else 404)

    # ---- permissions ----------------------------------------------------------------

    def _permission_target(self, request, p) -> tuple[str, str]:
        permission = parse_permission_name(p["permission"])
        if permission is None:
            raise bad_request(
                "Unknown permission; use sendToGroup or joinLeaveGroup.", "permission"
            )
        target = request.rel_url.query.get("targetName")
        if target is None or not jp.valid_group_name(target):
            raise bad_request(
                "targetName is required and must be a valid group name.", "targetName"
            )
        return permission, target

    async def op_grant_permission(self, request, hub: Hub, p) -> web.Response:
        permission, target = self._permission_target(request, p)
        conn = hub.get(p["connection"])
        if conn is None:
            raise connection_not_found("Info.Connection.NotExisted")
        conn.permissions.grant(permission, target)
        return web.Response(status=200)

    async def op_revoke_permission(self, request, hub: Hub, p) -> web.Response:
        permission, target = self._permission_target(request, p)
        conn = hub.get(p["connection"])
        if conn is not None:
            conn.permissions.revoke(permission, target)
        return web.Response(status=204)

    async def op_has_permission(self, request, hub: Hub, p) -> web.Response:
        permission, target = self._permission_target(request, p)
        conn = hub.get(p["connection"])
        ok = conn is not None and conn.permissions.allows(permission, target)
        return web.Response(status=200 if ok else 404)

    # ---- listing and tokens ---------------------------------------------------------

    async def op_list_connections(self, request, hub: Hub, p) -> web.Response:
        group = check_group(p["group"])
        q = request.rel_url.query
        page_size = _positive_int(q, "maxpagesize", MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
        top = _positive_int(q, "top", 2**31 - 1)
        after = ""
        if q.get("continuationToken"):
            state = _decode_token(q["continuationToken"])
            after = state["after"]
            if isinstance(state.get("top"), int):
                top = state["top"]
        members = [c for c in hub.in_group(group) if c.id > after]
        limit = page_size if top is None else min(page_size, top)
        page = members[:limit]
        remaining = None if top is None else top - len(page)
        next_link = None
        if len(members) > len(page) and (remaining is None or remaining > 0):
            token = _encode_token({"after": page[-1].id, "top": remaining})
            next_link = (
                f"{self._endpoint}{request.path}?maxpagesize={page_size}&continuationToken={token}"
            )
        value = [{"connectionId": c.id, "userId": c.user_id} for c in page]
        return web.json_response({"value": value, "nextLink": next_link})

    async def op_generate_token(self, request, hub: Hub, p) -> web.Response:
        q = request.rel_url.query
        minutes_raw = q.get("minutesToExpire", "60")
        try:
            minutes = int(minutes_raw)
        except ValueError as exc:
            raise bad_request("minutesToExpire must be an integer.", "minutesToExpire") from exc
        if minutes < 1:
            raise bad_request("minutesToExpire must be at least 1.", "minutesToExpire")
        client_type = q.get("clientType", "Default")
        paths = {"default": "client", "mqtt": "clients/mqtt", "socketio": "clients/socketio"}
        if client_type.lower() not in paths:
            raise bad_request("Invalid clientType.", "clientType")
        groups = q.getall("group", [])
        if not all(jp.valid_group_name(g) for g in groups):
            raise bad_request("Invalid group name.", "group")
        # The token's audience is this service's own endpoint (lower-cased, as the SDK does),
        # never the caller's Host header.
        audience = f"{self._endpoint.lower()}/{paths[client_type.lower()]}/hubs/{hub.name}"
        token = issue_client_token(
            self.config.access_key,
            audience,
            user_id=q.get("userId"),
            roles=q.getall("role", []),
            groups=groups,
            minutes=minutes,
        )
        return web.json_response({"token": token})
