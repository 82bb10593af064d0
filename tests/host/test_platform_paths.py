"""Request paths as Kestrel hands them to the Functions host, over a raw socket.

aiohttp's client would normalise `..` and re-encode escapes before sending, so these requests
are written byte for byte.
"""

from __future__ import annotations

import json

import pytest

from tests.host.helpers import InProcessHost
from tests.support.raw_http import RawResponse, connect, read_response, request


async def send(host: InProcessHost, target: str, method: str = "GET") -> RawResponse:
    reader, writer = await connect(host.base_url)
    try:
        writer.write(request(method, target, "Connection: close"))
        await writer.drain()
        return await read_response(reader)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # Kestrel decodes %0A like any escape; `{name}` takes it, as any other character.
        ("/api/items/lob%0Aby", b"name:lob\nby"),
        ("/api/items/lobby%0A", b"name:lobby\n"),
        ("/api/items/%0D%0A", b"name:\r\n"),
    ],
)
async def test_a_decoded_newline_is_routed_like_any_other_character(
    basic_host: InProcessHost, target: str, expected: bytes
) -> None:
    response = await send(basic_host, target)
    assert (response.status, response.body) == (200, expected)


@pytest.mark.parametrize(
    "target", ["/api/rooms/lobby%0A/messages", "/api/nothing%0Ahere", "/%0A", "/api/items/a%0A/b"]
)
async def test_an_unrouted_path_with_a_newline_gets_the_hosts_own_404(
    basic_host: InProcessHost, target: str
) -> None:
    """Every answer comes from the host's own path: empty 404 with nosniff, never a framework
    page that says what it is."""
    response = await send(basic_host, target)
    assert response.status == 404
    assert response.body == b""
    assert response.headers.get("x-content-type-options") == "nosniff"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/api/x/../plain", "héllo"),
        ("/api/x/%2e%2E/plain", "héllo"),  # dot segments are found after decoding
        ("/api/./plain", "héllo"),
        ("/api/%2E/plain", "héllo"),
        ("/../../api/plain", "héllo"),  # `..` never climbs above the root
        ("/api/items/new/../7", "int:7"),
        ("/api/items/7/./../new", "literal:new"),
    ],
)
async def test_dot_segments_are_removed_before_routing(
    basic_host: InProcessHost, target: str, expected: str
) -> None:
    response = await send(basic_host, target)
    assert response.status == 200, response
    assert response.body.decode() == expected


@pytest.mark.parametrize(
    ("target", "path", "rest"),
    [
        ("/api/echo/a/b/../c?q=1", "/api/echo/a/c?q=1", "a/c"),
        ("/api/echo/a/..%2Fb", "/api/echo/a/..%2Fb", "a/..%2Fb"),  # %2F stays: no dot segment
        ("/api/echo/a/b/..", "/api/echo/a/", "a"),  # a final `..` leaves its slash
        ("/api/echo/a/.", "/api/echo/a/", "a"),
        ("/api/echo/a.../..b", "/api/echo/a.../..b", "a.../..b"),  # dots, not dot segments
    ],
)
async def test_the_function_sees_the_normalised_path(
    basic_host: InProcessHost, target: str, path: str, rest: str
) -> None:
    response = await send(basic_host, target)
    assert response.status == 200, response
    seen = json.loads(response.body)
    assert seen["url"] == "http://localhost" + path  # raw_http sends `Host: localhost`
    assert seen["route_params"] == {"rest": rest}


async def test_the_status_endpoint_is_found_through_dot_segments(
    basic_host: InProcessHost,
) -> None:
    response = await send(basic_host, "/api/../admin/host/./status")
    assert response.status == 200
    assert json.loads(response.body) == {"state": "Running"}
