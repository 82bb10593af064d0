"""`POST /admin/functions/<name>` runs a timer function by hand, through real HTTP requests.

The host answers 202 before the function runs, so the tests wait for the run to be seen
(the fixture's /api/runs), never for a time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devstack.host.server import KeyPolicy
from tests.host.helpers import InProcessHost, load_fixture_with_timers, start_in_process
from tests.support.waiting import until

KEY = "m4ster-key"


async def manual_run_host(keys: KeyPolicy | None = None) -> AsyncIterator[InProcessHost]:
    functions, timers = load_fixture_with_timers("manual_run")
    runner, base, executor = await start_in_process(functions, keys, timers=timers)
    try:
        async with aiohttp.ClientSession() as session:
            yield InProcessHost(base, session)
    finally:
        await runner.cleanup()
        executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
async def host() -> AsyncIterator[InProcessHost]:
    async for running in manual_run_host():
        yield running


@pytest.fixture
async def keyed_host() -> AsyncIterator[InProcessHost]:
    async for running in manual_run_host(KeyPolicy(enforce=True, key=KEY)):
        yield running


async def post(host: InProcessHost, path: str, **kwargs) -> tuple[int, dict, bytes]:
    async with host.session.post(host.base_url + path, **kwargs) as response:
        return response.status, dict(response.headers), await response.read()


async def runs(host: InProcessHost) -> list[dict]:
    async with host.session.get(host.base_url + "/api/runs") as response:
        assert response.status == 200
        return await response.json()


async def test_a_timer_runs_by_hand_with_202_and_an_empty_body(
    host: InProcessHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devstack.host.function")
    status, headers, body = await post(host, "/admin/functions/nightly", json={"input": ""})
    assert (status, body) == (202, b"")
    assert headers["X-Content-Type-Options"] == "nosniff"
    await until(lambda: _ran(host, "nightly"), what="the run asked for by hand")
    assert await runs(host) == [{"name": "nightly", "past_due": False}]
    assert any(
        r.getMessage().startswith(
            "Executing 'Functions.nightly' (Reason='This function was programmatically called "
            "via the host APIs.', Id="
        )
        for r in caplog.records
    )


async def _ran(host: InProcessHost, name: str) -> bool:
    return any(run["name"] == name for run in await runs(host))


async def test_names_and_the_route_are_case_insensitive_and_input_may_be_a_scalar(
    host: InProcessHost,
) -> None:
    status, _, _ = await post(host, "/Admin/Functions/NIGHTLY", json={"input": 42})
    assert status == 202
    status, _, _ = await post(host, "/admin/functions/nightly/", json={})
    assert status == 202
    await until(lambda: _count(host, "nightly", 2), what="two runs by hand")


async def _count(host: InProcessHost, name: str, expected: int) -> bool:
    return [run["name"] for run in await runs(host)].count(name) == expected


async def test_a_failing_run_is_logged_and_the_host_goes_on(
    host: InProcessHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devstack.host.function")
    status, _, _ = await post(host, "/admin/functions/broken", json={"input": "x"})
    assert status == 202  # the answer comes before the run, so it cannot tell of the failure

    def failed() -> bool:
        return any("Executed 'Functions.broken' (Failed" in r.getMessage() for r in caplog.records)

    await until(failed, what="the failed run's log line")
    assert await _ran(host, "broken")


JSON = "application/json"


@pytest.mark.parametrize(
    ("name", "content_type", "body", "expected"),
    [
        ("nobody", JSON, b'{"input": ""}', 404),
        ("list_runs", JSON, b'{"input": ""}', 404),  # an HTTP function: not a timer here
        ("nightly", None, b'{"input": ""}', 415),
        ("nightly", "text/plain", b"input=x", 415),
        ("nightly", JSON, b"", 400),
        ("nightly", JSON, b"{nope", 400),
        ("nightly", JSON, b"null", 400),  # binds no invocation
        ("nightly", JSON, b'["input"]', 400),
        ("nightly", JSON, b'{"input": {"a": 1}}', 400),  # input is a string, number or bool
    ],
)
async def test_refusals(
    host: InProcessHost, name: str, content_type: str | None, body: bytes, expected: int
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, answer, _ = await post(host, f"/admin/functions/{name}", data=body, headers=headers)
    assert status == expected
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert await runs(host) == []


async def test_other_methods_are_not_the_admin_route(host: InProcessHost) -> None:
    async with host.session.get(host.base_url + "/admin/functions/nightly") as response:
        assert response.status == 404
    assert await runs(host) == []


async def test_with_enforced_keys_the_master_key_is_needed(keyed_host: InProcessHost) -> None:
    body = {"input": ""}
    assert (await post(keyed_host, "/admin/functions/nightly", json=body))[0] == 401
    wrong = {"x-functions-key": "nope"}
    assert (await post(keyed_host, "/admin/functions/nightly", json=body, headers=wrong))[0] == 401
    # The key is checked before the body and the name, as the host's authorization runs first.
    assert (await post(keyed_host, "/admin/functions/nobody", data=b"x"))[0] == 401
    assert await runs(keyed_host) == []
    right = {"x-functions-key": KEY}
    assert (await post(keyed_host, "/admin/functions/nightly", json=body, headers=right))[0] == 202
    assert (await post(keyed_host, f"/admin/functions/nightly?code={KEY}", json=body))[0] == 202
    await until(lambda: _count(keyed_host, "nightly", 2), what="two keyed runs")
