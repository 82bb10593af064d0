"""REST route table."""

from __future__ import annotations

import pytest

from devstack.emulator import EmulatorConfig
from devstack.emulator.rest import RestApi
from devstack.emulator.restroutes import ROUTES, MethodNotAllowed, RouteNotFound, route
from devstack.emulator.server import build_app

H = "/api/hubs/Chat"


@pytest.mark.parametrize(
    ("method", "path", "op", "params"),
    [
        ("POST", H + "/:send", "send_to_all", {}),
        ("POST", H + "/users/user%2F1/:send", "send_to_user", {"user": "user/1"}),
        ("POST", H + "/connections/c1/:send", "send_to_connection", {"connection": "c1"}),
        ("POST", H + "/groups/grp%201/:send", "send_to_group", {"group": "grp 1"}),
        (
            "PUT",
            H + "/groups/g/connections/c",
            "add_connection_to_group",
            {"group": "g", "connection": "c"},
        ),
        (
            "DELETE",
            H + "/groups/g/connections/c",
            "remove_connection_from_group",
            {"group": "g", "connection": "c"},
        ),
        (
            "DELETE",
            H + "/connections/c/groups",
            "remove_connection_from_all_groups",
            {"connection": "c"},
        ),
        ("PUT", H + "/users/u/groups/g", "add_user_to_group", {"user": "u", "group": "g"}),
        ("DELETE", H + "/users/u/groups/g", "remove_user_from_group", {"user": "u", "group": "g"}),
        ("DELETE", H + "/users/u/groups", "remove_user_from_all_groups", {"user": "u"}),
        ("DELETE", H + "/connections/c", "close_connection", {"connection": "c"}),
        ("HEAD", H + "/connections/c", "connection_exists", {"connection": "c"}),
        ("POST", H + "/:closeConnections", "close_all_connections", {}),
        ("POST", H + "/groups/g/:closeConnections", "close_group_connections", {"group": "g"}),
        ("POST", H + "/users/u/:closeConnections", "close_user_connections", {"user": "u"}),
        ("HEAD", H + "/groups/g", "group_exists", {"group": "g"}),
        ("HEAD", H + "/users/u", "user_exists", {"user": "u"}),
        (
            "PUT",
            H + "/permissions/sendToGroup/connections/c",
            "grant_permission",
            {"permission": "sendToGroup", "connection": "c"},
        ),
        (
            "DELETE",
            H + "/permissions/sendToGroup/connections/c",
            "revoke_permission",
            {"permission": "sendToGroup", "connection": "c"},
        ),
        (
            "HEAD",
            H + "/permissions/sendToGroup/connections/c",
            "has_permission",
            {"permission": "sendToGroup", "connection": "c"},
        ),
        ("GET", H + "/groups/g/connections", "list_connections", {"group": "g"}),
        ("POST", H + "/:generateToken", "generate_token", {}),
        ("POST", H + "/:addToGroups", "add_to_groups", {}),
        ("POST", H + "/:removeFromGroups", "remove_from_groups", {}),
    ],
)
def test_routes(method: str, path: str, op: str, params: dict[str, str]) -> None:
    assert route(method, path) == (op, {**params, "hub": "Chat"})


@pytest.mark.parametrize(
    "path",
    ["/api/other", H, H + "/nothing", H + "/connections", "/api/hubs//:send", H + "/groups/g/x"],
)
def test_unknown_paths(path: str) -> None:
    with pytest.raises(RouteNotFound):
        route("POST", path)


def test_wrong_method() -> None:
    with pytest.raises(MethodNotAllowed):
        route("GET", H + "/:send")


def test_every_route_has_an_operation_and_back() -> None:
    """The dispatch table in rest.py names exactly the operations of the route table."""
    _, clients, _, _ = build_app(EmulatorConfig())
    api = RestApi(EmulatorConfig(), clients.registry, clients)
    assert {op for _, _, op in ROUTES} == set(api.operations)
