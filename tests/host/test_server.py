"""The host's HTTP behaviour, through real requests to an in-process host on a free port."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re

import aiohttp
import pytest

from devstack.host.server import KeyPolicy
from tests.host.helpers import InProcessHost, load_fixture, start_in_process


async def get(host: InProcessHost, path: str, **kwargs) -> tuple[int, dict, bytes]:
    async with host.session.request(
        kwargs.pop("method", "GET"), host.base_url + path, **kwargs
    ) as response:
        return response.status, dict(response.headers), await response.read()


async def test_status_endpoint(basic_host: InProcessHost) -> None:
    status, headers, body = await get(basic_host, "/admin/host/status")
    assert status == 200
    assert json.loads(body) == {"state": "Running"}
    assert headers["Content-Type"].startswith("application/json")


async def test_request_reaches_the_function_like_the_worker_builds_it(
    basic_host: InProcessHost,
) -> None:
    status, _, body = await get(
        basic_host,
        "/API/Echo/a/b%20c?id=alice&id=bob&empty=&Name=x",
        method="POST",
        headers={"X-Mixed-Case": "v", "Content-Type": "text/plain"},
        data=b"payload",
    )
    assert status == 200
    seen = json.loads(body)
    assert seen["method"] == "POST"
    assert seen["url"] == f"{basic_host.base_url}/API/Echo/a/b%20c?id=alice&id=bob&empty=&Name=x"
    assert seen["headers"]["x-mixed-case"] == "v"
    assert all(name == name.lower() for name in seen["headers"])
    assert seen["params"] == {"id": "alice,bob", "Name": "x"}
    assert seen["route_params"] == {"rest": "a/b c"}
    assert seen["body"] == "payload"


async def test_repeated_headers_are_joined(basic_host: InProcessHost) -> None:
    # aiohttp's client folds repeated headers, so this request is written by hand.
    host, port = basic_host.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /api/echo/x HTTP/1.1\r\nHost: h\r\nX-Repeat: 1\r\nx-repeat: 2\r\n"
        b"X-REPEAT: 3\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["headers"]["x-repeat"] == "1,2,3"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/items/new", b"literal:new"),
        ("/api/items/42", b"int:42"),
        ("/api/items/forty-two", b"name:forty-two"),
        ("/api/optional", b"<none>"),
        ("/api/optional/word", b"word"),
    ],
)
async def test_route_precedence(basic_host: InProcessHost, path: str, expected: bytes) -> None:
    status, _, body = await get(basic_host, path)
    assert (status, body) == (200, expected)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nothing-here"),
        ("GET", "/echo/x"),  # the prefix is required
        ("DELETE", "/api/echo/x"),  # method not allowed -> 404, not 405
        ("HEAD", "/api/plain"),  # HEAD on a GET-only route
        ("GET", "/api/default_route"),  # POST-only
        ("GET", "/"),
    ],
)
async def test_no_match_is_404(basic_host: InProcessHost, method: str, path: str) -> None:
    status, _, body = await get(basic_host, path, method=method)
    assert status == 404
    assert body == b""


async def test_head_on_a_route_that_allows_every_method(basic_host: InProcessHost) -> None:
    status, _, body = await get(basic_host, "/api/whoami", method="HEAD")
    assert status == 200 and body == b""


async def test_str_return_is_text_plain(basic_host: InProcessHost) -> None:
    status, headers, body = await get(basic_host, "/api/plain")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body.decode("utf-8") == "héllo"


async def test_a_functions_own_content_encoding_passes_through_untouched(
    basic_host: InProcessHost,
) -> None:
    """Neither host compresses responses (Azure/azure-functions-host#7285): a function's own
    gzip goes out byte for byte, coded once, and nothing else is coded on the way."""
    async with aiohttp.ClientSession(auto_decompress=False) as raw:
        accept = {"Accept-Encoding": "gzip, deflate, br"}
        async with raw.get(basic_host.base_url + "/api/gzipped", headers=accept) as response:
            assert response.status == 200
            assert response.headers.getall("Content-Encoding") == ["gzip"]
            assert response.headers["Vary"] == "Accept-Encoding"
            body = await response.read()
            assert int(response.headers["Content-Length"]) == len(body)
        async with raw.get(basic_host.base_url + "/api/plain", headers=accept) as response:
            assert "Content-Encoding" not in response.headers
            assert (await response.read()).decode("utf-8") == "héllo"
    # What the fixture's function returns: the same call, the same bytes.
    assert body == gzip.compress(b"compress me " * 200, mtime=0)


async def test_binary_body_round_trip(basic_host: InProcessHost) -> None:
    payload = bytes(range(256)) * 10
    status, headers, body = await get(basic_host, "/api/default_route", method="POST", data=payload)
    assert status == 200
    assert body == payload
    assert headers["Content-Type"] == "application/octet-stream"


async def test_status_headers_and_cookies(basic_host: InProcessHost) -> None:
    async with basic_host.session.get(basic_host.base_url + "/api/status/418") as response:
        assert response.status == 418
        assert response.headers["X-Custom"] == "yes"
        assert response.headers.getall("Set-Cookie") == ["a=1; Path=/"]
        assert await response.read() == b"custom"
    async with basic_host.session.get(basic_host.base_url + "/api/cookies") as response:
        assert response.headers.getall("Set-Cookie") == [
            "first=1; Path=/",
            "second=2; HttpOnly; Path=/",
        ]


@pytest.mark.parametrize(
    ("path", "function"),
    [
        ("/api/boom", "boom"),
        ("/api/async-boom", "async_boom"),
        ("/api/returns-dict", "returns_dict"),
        ("/api/returns-none", "returns_none"),
    ],
)
async def test_failures_are_empty_500s_with_the_trace_in_the_log(
    basic_host: InProcessHost, caplog: pytest.LogCaptureFixture, path: str, function: str
) -> None:
    caplog.set_level(logging.INFO)
    status, _, body = await get(basic_host, path)
    assert status == 500
    assert body == b""
    assert b"kaboom" not in body
    failed = [r for r in caplog.records if "(Failed," in r.getMessage()]
    assert len(failed) == 1
    assert f"Executed 'Functions.{function}' (Failed, Id=" in failed[0].getMessage()
    assert failed[0].exc_info is not None


async def test_execution_log_lines(
    basic_host: InProcessHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await get(basic_host, "/api/plain")
    messages = [r.getMessage() for r in caplog.records]
    executing = next(m for m in messages if m.startswith("Executing 'Functions.plain'"))
    executed = next(m for m in messages if m.startswith("Executed 'Functions.plain'"))
    invocation = re.search(r"Id=([0-9a-f-]{36})", executing).group(1)
    assert re.fullmatch(
        rf"Executed 'Functions\.plain' \(Succeeded, Id={invocation}, Duration=\d+ms\)", executed
    )


async def test_context_and_threads(basic_host: InProcessHost) -> None:
    status, _, body = await get(basic_host, "/api/whoami")
    assert status == 200
    seen = json.loads(body)
    assert seen["function_name"] == "whoami"
    assert re.fullmatch(r"[0-9a-f-]{36}", seen["invocation_id"])
    assert seen["thread"] == "MainThread"  # async functions run on the event loop
    _, _, thread = await get(basic_host, "/api/sync-thread")
    assert thread.startswith(b"function")  # sync functions run in the worker thread pool


async def test_async_functions_run_concurrently(basic_host: InProcessHost) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    results = await asyncio.gather(*(get(basic_host, "/api/slow?s=0.5") for _ in range(5)))
    assert all(status == 200 for status, _, _ in results)
    assert loop.time() - started < 2.0


async def test_large_bodies_are_accepted(basic_host: InProcessHost) -> None:
    payload = b"x" * (3 * 1024 * 1024)  # above aiohttp's 1 MiB default
    status, _, body = await get(basic_host, "/api/default_route", method="POST", data=payload)
    assert status == 200 and len(body) == len(payload)


async def test_enforced_keys() -> None:
    import aiohttp

    runner, base, executor = await start_in_process(
        load_fixture("basic"), keys=KeyPolicy(enforce=True, key="s3cret")
    )
    try:
        async with aiohttp.ClientSession() as session:

            async def status(path: str, **kwargs) -> int:
                async with session.get(base + path, **kwargs) as response:
                    await response.read()
                    return response.status

            assert await status("/api/keyed") == 401
            assert await status("/api/keyed?code=wrong") == 401
            assert await status("/api/keyed?code=s3cret") == 200
            assert await status("/api/keyed", headers={"x-functions-key": "s3cret"}) == 200
            assert await status("/api/admin-only") == 401
            assert await status("/api/admin-only?code=s3cret") == 200
            assert await status("/api/plain") == 200  # anonymous
            assert await status("/api/nothing") == 404  # unknown routes stay 404
            assert await status("/admin/host/status") == 200
    finally:
        await runner.cleanup()
        executor.shutdown(wait=False)


async def test_keys_are_ignored_without_enforcement(basic_host: InProcessHost) -> None:
    status, _, body = await get(basic_host, "/api/keyed")
    assert (status, body) == (200, b"keyed ok")


@pytest.mark.parametrize(("code", "expected"), [(99, 500), (1000, 500), (204, 204), (599, 599)])
async def test_status_codes_outside_the_http_range_are_500(
    basic_host: InProcessHost, code: int, expected: int
) -> None:
    status, _, _ = await get(basic_host, f"/api/status/{code}")
    assert status == expected
