"""Item: every response the host makes itself says nosniff and echoes nothing of the request.

Covered: the status endpoint, 404, 401 (--enforce-keys), 500 (exception, unusable return),
413, 400 for malformed HTTP and for a broken body. A function's own response is left as the
function built it (it sets its own headers, as in Azure).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devstack.host.server import KeyPolicy
from tests.host.helpers import InProcessHost, load_fixture, start_in_process
from tests.support.raw_http import (
    assert_quiet_400,
    connect,
    parse_response,
    read_until_closed,
    request,
    send_raw,
)

MARK = "zq7mark"  # appears in each hostile request; must never come back


@pytest.fixture
async def keyed_small_host() -> AsyncIterator[InProcessHost]:
    runner, base, executor = await start_in_process(
        load_fixture("basic"), KeyPolicy(enforce=True, key="s3cret"), max_body_bytes=1024
    )
    async with aiohttp.ClientSession() as session:
        yield InProcessHost(base, session)
    await runner.cleanup()
    executor.shutdown(wait=False, cancel_futures=True)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/admin/host/status", 200),
        ("GET", f"/api/nothing-here/<script>{MARK}</script>?q=<b>{MARK}", 404),
        ("DELETE", f"/api/items/7?{MARK}=1", 404),  # a method the route lacks: 404, not 405
        ("GET", f"/api/keyed?code={MARK}", 401),
        ("GET", "/api/admin-only", 401),
        ("GET", f"/api/boom?{MARK}", 500),
        ("GET", "/api/status/1000", 500),  # a status code the host cannot send
    ],
)
async def test_host_answers_carry_nosniff_and_no_request_bytes(
    keyed_small_host: InProcessHost, method: str, path: str, status: int
) -> None:
    url = keyed_small_host.base_url + path
    async with keyed_small_host.session.request(
        method, url, headers={"X-Echo-Me": MARK, "Accept": "text/html"}
    ) as response:
        body = await response.read()
        assert response.status == status
        assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert MARK.encode() not in body
    if status != 200:
        assert body == b""  # as the real host: empty 404/401/500


async def test_too_large_body_is_a_413_with_a_reason(keyed_small_host: InProcessHost) -> None:
    url = f"{keyed_small_host.base_url}/api/body-length?code=s3cret&{MARK}"
    async with keyed_small_host.session.post(url, data=MARK.encode() * 200) as response:
        body = await response.text()
        assert response.status == 413
        assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert "larger than 1024 bytes" in body and MARK not in body


@pytest.mark.parametrize(
    "raw",
    [
        f"G<script>{MARK}T / HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        # Over aiohttp's 8190-byte field limit, which the host keeps.
        f"GET /api/echo/x HTTP/1.1\r\nHost: x\r\nX: {MARK}{'a' * 9000}\r\n\r\n".encode(),
    ],
    ids=["method", "long-header"],
)
async def test_malformed_http_gets_a_plain_400_that_quotes_nothing(
    basic_host: InProcessHost, caplog: pytest.LogCaptureFixture, raw: bytes
) -> None:
    """The host answers through devstack/httpserver.py (its full table is in tests/httpserver)."""
    caplog.set_level(logging.DEBUG)
    response = await send_raw(basic_host.base_url, raw)
    assert_quiet_400(response, caplog.records, MARK)


async def test_a_broken_chunked_body_is_a_400(basic_host: InProcessHost) -> None:
    reader, writer = await connect(basic_host.base_url)
    try:
        head = request("POST", "/api/echo/x", "Transfer-Encoding: chunked", "Content-Length: 5")
        writer.write(head.replace(b"Content-Length: 5\r\n", b""))
        writer.write(f"zz{MARK}\r\n".encode())  # not a chunk size
        response = parse_response(await read_until_closed(reader))
    finally:
        writer.close()
    assert response.status == 400
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert MARK.encode() not in response.body


async def test_function_responses_are_left_as_the_function_built_them(
    basic_host: InProcessHost,
) -> None:
    async with basic_host.session.get(f"{basic_host.base_url}/api/status/404") as response:
        assert response.status == 404
        assert await response.text() == "custom"
        assert response.headers["X-Custom"] == "yes"
        assert "X-Content-Type-Options" not in response.headers
