"""Timer triggers in the local host: discovery, NCRONTAB schedules, one run at a time, logs."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import aiohttp
import azure.functions as func
import pytest

from devstack.host.app_loader import load_app
from devstack.host.timers import (
    TimerFunction,
    TimerLoadError,
    TimerRunner,
    index_timers,
    next_occurrences_line,
    resolve_schedule,
    timer_request,
)
from tests.support.waiting import until

from .helpers import FIXTURE_APPS, host_env, isolated_import, start_host_process

APP = FIXTURE_APPS / "timers"
SETTING = {"TIMER_FIXTURE_SCHEDULE": "*/2 * * * * *"}


def load_timers(environ: dict[str, str] | None = None) -> dict[str, TimerFunction]:
    others: list = []
    with isolated_import():
        http = load_app(APP, "api", others)
    assert [f.name for f in http] == ["list_runs"]
    return {t.name: t for t in index_timers(others, SETTING if environ is None else environ)}


def runs_of(timers: dict[str, TimerFunction]) -> list[dict]:
    return next(iter(timers.values())).user_function.__globals__["runs"]  # type: ignore[attr-defined]


def test_timer_functions_are_found_and_bad_schedules_are_not_loaded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    timers = load_timers()
    assert sorted(timers) == ["fails", "from_setting", "once", "slow", "tick"]
    assert timers["from_setting"].schedule == "*/2 * * * * *"  # %Name% from the app settings
    assert timers["once"].run_on_startup and not timers["tick"].run_on_startup
    assert timers["once"].wants_context and not timers["tick"].wants_context
    assert timers["slow"].trigger_param == "clock"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("'every second' was not recognized" in e for e in errors)
    assert any("TimeSpan schedule '00:00:01' runs only on an App Service plan" in e for e in errors)
    assert all("The function is not loaded" in e for e in errors) and len(errors) == 2


def test_a_schedule_from_a_missing_setting_is_not_loaded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    timers = load_timers(environ={})
    assert "from_setting" not in timers and "tick" in timers
    assert any(
        "'%TIMER_FIXTURE_SCHEDULE%' does not resolve to a value" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        # NCRONTAB: seconds first
        ("*/15 * * * * *", "2026-01-01T00:00:07", "2026-01-01T00:00:15"),
        ("0 */5 * * * *", "2026-01-01T00:01:00", "2026-01-01T00:05:00"),
        ("0 30 9 * * 1-5", "2026-01-02T10:00:00", "2026-01-05T09:30:00"),  # Fri -> Mon
        ("0 0 0 1 1 *", "2026-06-01T00:00:00", "2027-01-01T00:00:00"),
        # five fields: no seconds, as the host also accepts
        ("*/5 * * * *", "2026-01-01T00:01:00", "2026-01-01T00:05:00"),
    ],
)
def test_ncrontab_occurrences(schedule: str, after: str, expected: str) -> None:
    timer = TimerFunction("t", lambda timer: None, "timer", False, schedule, False)
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert timer.next_after(moment) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


@pytest.mark.parametrize("schedule", ["* * * *", "61 * * * * *", "* * * * * * *", "00:00:15"])
def test_bad_schedules_are_refused(schedule: str) -> None:
    with pytest.raises(TimerLoadError):
        resolve_schedule("t", schedule, {})


def test_the_trigger_value_is_the_converters_timer_request() -> None:
    request = timer_request(past_due=True)
    assert isinstance(request, func.TimerRequest)
    assert request.past_due is True
    assert request.schedule == {"AdjustForDST": True}
    assert request.schedule_status == {}
    assert timer_request().past_due is False


def test_next_occurrences_are_logged_like_the_host() -> None:
    timer = TimerFunction("sweep", lambda timer: None, "timer", False, "*/15 * * * * *", False)
    line = next_occurrences_line(timer, datetime(2026, 1, 1, 0, 0, 7, tzinfo=UTC))
    assert line.splitlines() == [
        "The next 5 occurrences of the 'Host.Functions.sweep' schedule "
        "(Cron: '*/15 * * * * *') will be:",
        "01/01/2026 00:00:15Z",
        "01/01/2026 00:00:30Z",
        "01/01/2026 00:00:45Z",
        "01/01/2026 00:01:00Z",
        "01/01/2026 00:01:15Z",
    ]


async def test_runs_on_schedule_one_at_a_time_and_failures_do_not_stop_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    timers = load_timers()
    runs = runs_of(timers)
    runs.clear()
    executor = ThreadPoolExecutor(max_workers=2)
    runner = TimerRunner(list(timers.values()), str(APP), executor)
    started = time.time()
    runner.start()
    await asyncio.sleep(4.2)
    await runner.stop()
    executor.shutdown()
    names = [r["name"] for r in runs]
    # once: on startup only (its schedule is yearly), before anything else of its own
    assert names.count("once") == 1
    [once] = [r for r in runs if r["name"] == "once"]
    assert once["at"] - started < 1.0 and once["function"] == "once"
    assert 3 <= names.count("tick") <= 5  # every second
    assert 3 <= names.count("fails") <= 5  # raising did not stop its schedule
    assert 1 <= names.count("from_setting") <= 3  # every 2 s
    # 2.5 s runs on a 1 s schedule: never two at once, the next right after the last
    globals_ = timers["slow"].user_function.__globals__  # type: ignore[attr-defined]
    assert globals_["running"]["most"] == 1
    assert 1 <= names.count("slow") <= 2
    assert all(r["type"] == "TimerRequest" and r["past_due"] is False for r in runs if "type" in r)
    messages = [r.getMessage() for r in caplog.records]
    failed = [r for r in caplog.records if "Executed 'Functions.fails' (Failed" in r.getMessage()]
    assert failed and all(r.exc_info for r in failed)
    assert any(
        re.fullmatch(
            r"Executing 'Functions\.tick' \(Reason='Timer fired at "
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00', Id=[0-9a-f-]{36}\)",
            m,
        )
        for m in messages
    )
    assert any(
        re.match(r"Executed 'Functions\.tick' \(Succeeded, Id=.*, Duration=\d+ms\)", m)
        for m in messages
    )


async def test_the_host_process_runs_timers_beside_http() -> None:
    host = start_host_process(APP, env=host_env(**SETTING))
    body: dict = {}
    try:
        async with aiohttp.ClientSession() as session:

            async def names() -> list[str]:
                async with session.get(f"{host.base_url}/api/runs") as response:
                    assert response.status == 200
                    body.update(await response.json())
                return [r["name"] for r in body["runs"]]

            # State, not a sleep: a busy machine makes the first tick late, never missing.
            await until(lambda: _has(names(), "tick", 1), timeout=20, what="a scheduled tick")
            # `once` is yearly: a second run can only be the one asked for by hand.
            async with session.post(
                f"{host.base_url}/admin/functions/once", json={"input": ""}
            ) as response:
                assert (response.status, await response.read()) == (202, b"")
            await until(lambda: _has(names(), "once", 2), timeout=20, what="the run by hand")
    finally:
        code = host.stop()
    names_seen = [r["name"] for r in body["runs"]]
    assert names_seen[0] == "once"  # run on startup
    assert code == 0
    text = host.text
    assert "tick: timerTrigger" in text
    assert (
        "The next 5 occurrences of the 'Host.Functions.tick' schedule (Cron: '* * * * * *')" in text
    )
    assert "Executed 'Functions.fails' (Failed" in text
    assert "RuntimeError: the timer function failed on purpose" in text
    assert "'every second' was not recognized" in text
    assert "Traceback" in text  # the failure's trace goes to the log, and the host lives on
    assert "Executing 'Functions.once' (Reason='This function was programmatically called" in text


async def _has(names: Awaitable[list[str]], name: str, count: int) -> bool:
    return (await names).count(name) >= count
