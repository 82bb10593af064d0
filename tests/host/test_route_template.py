"""ASP.NET route templates: parsing, matching, constraints and precedence (table-tested)."""

from __future__ import annotations

import pytest

from devstack.host.route_template import (
    RouteTemplateError,
    join_prefix,
    parse_template,
    split_path,
)
from devstack.host.routing import Route, RouteTable


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("api/negotiate", "/api/negotiate", {}),
        ("api/negotiate", "/API/Negotiate", {}),  # literals are case-insensitive
        ("api/negotiate", "/api/negotiate/", {}),  # one trailing slash is ignored
        ("api/negotiate", "/api/negotiate/x", None),
        ("api/negotiate", "/api", None),
        ("api/items/{id}", "/api/items/42", {"id": "42"}),
        ("api/items/{id}", "/api/items/Caf%C3%A9", {"id": "Café"}),  # values are decoded
        ("api/items/{id}", "/api/items/a%2Fb", {"id": "a%2Fb"}),  # %2F stays encoded
        ("api/items/{id}", "/api/items", None),
        ("api/items/{id}", "/api/items//", None),
        ("api/items/{id:int}", "/api/items/42", {"id": "42"}),
        ("api/items/{id:int}", "/api/items/-7", {"id": "-7"}),
        ("api/items/{id:int}", "/api/items/4x", None),
        ("api/items/{id:int}", "/api/items/2147483648", None),  # beyond Int32
        ("api/items/{id:long}", "/api/items/2147483648", {"id": "2147483648"}),
        ("api/items/{id:int:min(10)}", "/api/items/9", None),
        ("api/items/{id:int:min(10)}", "/api/items/10", {"id": "10"}),
        ("api/items/{id:range(1,3)}", "/api/items/3", {"id": "3"}),
        ("api/items/{id:range(1,3)}", "/api/items/4", None),
        ("api/items/{id:max(3)}", "/api/items/4", None),
        ("api/a/{b:bool}", "/api/a/TRUE", {"b": "TRUE"}),
        ("api/a/{b:bool}", "/api/a/yes", None),
        (
            "api/a/{g:guid}",
            "/api/a/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            {"g": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
        ),
        ("api/a/{g:guid}", "/api/a/not-a-guid", None),
        ("api/a/{d:double}", "/api/a/1.5e3", {"d": "1.5e3"}),
        ("api/a/{d:decimal}", "/api/a/1.5e3", None),
        ("api/a/{d:datetime}", "/api/a/2024-01-31", {"d": "2024-01-31"}),
        ("api/a/{d:datetime}", "/api/a/yesterday", None),
        ("api/a/{s:alpha}", "/api/a/abcXYZ", {"s": "abcXYZ"}),
        ("api/a/{s:alpha}", "/api/a/abc1", None),
        ("api/a/{s:length(3)}", "/api/a/abcd", None),
        ("api/a/{s:length(2,4)}", "/api/a/abcd", {"s": "abcd"}),
        ("api/a/{s:minlength(2)}", "/api/a/a", None),
        ("api/a/{s:maxlength(2)}", "/api/a/abc", None),
        ("api/a/{s:regex(^[a-c]+$)}", "/api/a/ABC", {"s": "ABC"}),  # regex is case-insensitive
        ("api/a/{s:regex(^[a-c]+$)}", "/api/a/abd", None),
        ("api/a/{s:regex(^\\d{{3}}$)}", "/api/a/123", {"s": "123"}),  # {{ }} escape braces
        ("api/a/{s:regex(^\\d{{3}}$)}", "/api/a/1234", None),
        ("api/opt/{word?}", "/api/opt", {}),
        ("api/opt/{word?}", "/api/opt/hi", {"word": "hi"}),
        ("api/def/{word=hello}", "/api/def", {"word": "hello"}),
        ("api/def/{word=hello}", "/api/def/bye", {"word": "bye"}),
        ("api/static/{*path}", "/api/static/css/site.css", {"path": "css/site.css"}),
        ("api/static/{*path}", "/api/static", {}),
        ("api/static/{**path}", "/api/static/a/b", {"path": "a/b"}),
        ("api/files/{name}.{ext}", "/api/files/a.b.txt", {"name": "a.b", "ext": "txt"}),
        ("api/files/{name}.{ext?}", "/api/files/readme", {"name": "readme"}),
        ("api/files/{name}.{ext?}", "/api/files/readme.md", {"name": "readme", "ext": "md"}),
        ("api/v{version:int}/x", "/api/V2/x", {"version": "2"}),
        ("", "/", {}),
        ("", "/x", None),
    ],
)
def test_match(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert parse_template(template).match(split_path(path)) == expected


@pytest.mark.parametrize(
    "template",
    [
        "api/{id:nosuch}",  # unknown constraint: ASP.NET fails at startup
        "api/{*rest}/more",  # catch-all must be last
        "api/{a}/{A}",  # parameter names are case-insensitive and unique
        "api/{a}{b}",  # two parameters need a literal between them
        "api/{unclosed",
        "api/closed}",
        "api/{*rest?}",
        "api/{opt?}/more",
        "api/{id:length(x)}",
        "api/{id:regex(()}",
        "api//double",
    ],
)
def test_invalid_templates_are_rejected(template: str) -> None:
    with pytest.raises(RouteTemplateError):
        parse_template(template)


@pytest.mark.parametrize(
    ("prefix", "route", "expected"),
    [
        ("api", "negotiate", "api/negotiate"),
        ("api", "/negotiate/", "api/negotiate"),
        ("", "negotiate", "negotiate"),
        ("v1/api", "x", "v1/api/x"),
        ("api", "", "api"),
    ],
)
def test_join_prefix(prefix: str, route: str, expected: str) -> None:
    assert join_prefix(prefix, route) == expected


def _table(*routes: tuple[str, frozenset[str] | None]) -> RouteTable[str]:
    return RouteTable([Route(parse_template(t), m, t) for t, m in routes])


GET = frozenset({"GET"})


@pytest.mark.parametrize(
    ("method", "path", "winner"),
    [
        ("GET", "/api/items/new", "api/items/new"),  # literal beats parameter
        ("GET", "/api/items/42", "api/items/{id:int}"),  # constrained beats plain parameter
        ("GET", "/api/items/abc", "api/items/{name}"),
        ("GET", "/api/items/a/b", "api/items/{*rest}"),  # catch-all loses to everything else
        ("GET", "/api/items", "api/items/{*rest}"),
        ("POST", "/api/items/new", "api/items/{*rest}"),  # method filters first
        ("HEAD", "/api/items/new", None),  # HEAD on GET-only routes: no match (404)
        ("DELETE", "/api/items/x", None),
        ("GET", "/elsewhere", None),
    ],
)
def test_precedence_and_methods(method: str, path: str, winner: str | None) -> None:
    table = _table(
        ("api/items/{*rest}", frozenset({"GET", "POST"})),
        ("api/items/{name}", GET),
        ("api/items/{id:int}", GET),
        ("api/items/new", GET),
    )
    found = table.resolve(method, path)
    assert (found.route.target if found else None) == winner


def test_same_route_split_by_method() -> None:
    table = _table(("api/thing", GET), ("api/thing", frozenset({"POST"})))
    get, post = table.routes
    assert table.resolve("GET", "/api/thing").route is get
    assert table.resolve("POST", "/api/thing").route is post
    assert table.resolve("PUT", "/api/thing") is None


def test_route_without_methods_accepts_any_method() -> None:
    table = _table(("api/any", None))
    for method in ("GET", "POST", "PATCH", "OPTIONS", "HEAD"):
        assert table.resolve(method, "/api/any") is not None
