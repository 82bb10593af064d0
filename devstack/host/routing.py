"""Pick the function for a request: path and method first, then ASP.NET route precedence.

Like endpoint routing in the host, every route whose template matches the path *and* whose
methods include the request method is a candidate, and the one with the best precedence wins
(declaration order breaks ties). No candidate - including a known path with a method the
function does not accept, HEAD on a GET-only route among them - is a 404, never a 405.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from devstack.host.route_template import RouteTemplate, split_path

T = TypeVar("T")


@dataclass(frozen=True)
class Route(Generic[T]):
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    target: T

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


@dataclass(frozen=True)
class Match(Generic[T]):
    route: Route[T]
    values: dict[str, str]


class RouteTable(Generic[T]):
    def __init__(self, routes: Sequence[Route[T]]) -> None:
        # A stable sort keeps declaration order among routes of equal precedence.
        self._routes = sorted(routes, key=lambda r: r.template.precedence)

    @property
    def routes(self) -> list[Route[T]]:
        return list(self._routes)

    def resolve(self, method: str, raw_path: str) -> Match[T] | None:
        segments = split_path(raw_path)
        for route in self._routes:
            if not route.allows(method):
                continue
            values = route.template.match(segments)
            if values is not None:
                return Match(route, values)
        return None
