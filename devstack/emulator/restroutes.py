"""REST route table: (method, path) -> operation name and path parameters. Pure."""

from __future__ import annotations

from urllib.parse import unquote

PREFIX = "/api/hubs/"

# (method, path pattern after /api/hubs/{hub}/, operation)
ROUTES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("POST", (":send",), "send_to_all"),
    ("POST", ("users", "{user}", ":send"), "send_to_user"),
    ("POST", ("connections", "{connection}", ":send"), "send_to_connection"),
    ("POST", ("groups", "{group}", ":send"), "send_to_group"),
    ("PUT", ("groups", "{group}", "connections", "{connection}"), "add_connection_to_group"),
    (
        "DELETE",
        ("groups", "{group}", "connections", "{connection}"),
        "remove_connection_from_group",
    ),
    ("DELETE", ("connections", "{connection}", "groups"), "remove_connection_from_all_groups"),
    ("PUT", ("users", "{user}", "groups", "{group}"), "add_user_to_group"),
    ("DELETE", ("users", "{user}", "groups", "{group}"), "remove_user_from_group"),
    ("DELETE", ("users", "{user}", "groups"), "remove_user_from_all_groups"),
    ("DELETE", ("connections", "{connection}"), "close_connection"),
    ("HEAD", ("connections", "{connection}"), "connection_exists"),
    ("POST", (":closeConnections",), "close_all_connections"),
    ("POST", ("groups", "{group}", ":closeConnections"), "close_group_connections"),
    ("POST", ("users", "{user}", ":closeConnections"), "close_user_connections"),
    ("HEAD", ("groups", "{group}"), "group_exists"),
    ("HEAD", ("users", "{user}"), "user_exists"),
    ("PUT", ("permissions", "{permission}", "connections", "{connection}"), "grant_permission"),
    ("DELETE", ("permissions", "{permission}", "connections", "{connection}"), "revoke_permission"),
    ("HEAD", ("permissions", "{permission}", "connections", "{connection}"), "has_permission"),
    ("GET", ("groups", "{group}", "connections"), "list_connections"),
    ("POST", (":generateToken",), "generate_token"),
    ("POST", (":addToGroups",), "add_to_groups"),
    ("POST", (":removeFromGroups",), "remove_from_groups"),
)


class RouteNotFound(Exception):
    pass


class MethodNotAllowed(Exception):
    pass


def _match(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for part, seg in zip(pattern, segments, strict=True):
        if part.startswith("{"):
            params[part[1:-1]] = unquote(seg)
        elif part != seg:
            return None
    return params


def route(method: str, raw_path: str) -> tuple[str, dict[str, str]]:
    """Resolve a raw (still percent-encoded) path; raise RouteNotFound / MethodNotAllowed."""
    if not raw_path.startswith(PREFIX):
        raise RouteNotFound(raw_path)
    segments = raw_path[len(PREFIX) :].split("/")
    if len(segments) < 2 or not segments[0]:
        raise RouteNotFound(raw_path)
    hub, rest = unquote(segments[0]), segments[1:]
    path_known = False
    for route_method, pattern, op in ROUTES:
        params = _match(pattern, rest)
        if params is None:
            continue
        path_known = True
        if route_method == method.upper():
            params["hub"] = hub
            return op, params
    if path_known:
        raise MethodNotAllowed(raw_path)
    raise RouteNotFound(raw_path)
