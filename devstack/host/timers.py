"""Timer triggers, as the Functions host runs them: an NCRONTAB schedule, one run at a time.

What the real host (the WebJobs timer extension's TimerListener) does, and so this module:
- the schedule is NCRONTAB: six fields with seconds first (five without seconds are
  accepted too), in UTC unless a time zone is configured; `%Name%` takes it from an app
  setting. croniter evaluates it (with `second_at_beginning`); nothing here parses cron.
- `run_on_startup` runs the function once when the host starts, before the schedule;
- at start it logs the next 5 occurrences; each run is logged as
  "Executing 'Functions.<name>' (Reason='Timer fired at <time>', Id=<id>)" then
  "Executed ... (Succeeded|Failed, Id=..., Duration=...ms)";
- runs of one function never overlap: the next occurrence is computed from the start of the
  run that just ended, and if it has already passed the function runs again at once (once,
  not once per missed occurrence);
- an exception is logged with its trace and the schedule goes on;
- the function gets a TimerRequest decoded by azure-functions' own `timerTrigger` converter
  from the JSON the host sends ({"Schedule": {"AdjustForDST": true}, "ScheduleStatus": ...,
  "IsPastDue": ...}). Not emulated: the schedule monitor (`use_monitor`), which persists the
  last run in storage so a run missed while the app was down is made up on start with
  IsPastDue = true. Locally ScheduleStatus is null and IsPastDue false, as with
  use_monitor=False.
- a TimeSpan schedule ("00:00:15") works only on an App Service plan; this app targets Flex
  Consumption, so it is refused, like a malformed expression: the function is not loaded
  (logged as an error) and the host runs the others.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import logging
import os
import re
import time
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import azure.functions as func
from azure.functions import meta
from azure.functions.decorators.timer import TimerTrigger
from croniter import croniter

from devstack.host.invocation_context import InvocationContext

logger = logging.getLogger("devstack.host.function")
TIMER_TRIGGER = "timerTrigger"
# The reason the host logs for a run asked for through `POST /admin/functions/<name>`.
HOST_API_REASON = "This function was programmatically called via the host APIs."
_SETTING = re.compile(r"^%([^%]+)%$")
_TIMESPAN = re.compile(r"^\d+(\.\d+)?:\d+(:\d+)?$")


class TimerLoadError(ValueError):
    """A timer function cannot be loaded (the host logs it and runs the others)."""


@dataclass(frozen=True)
class TimerFunction:
    name: str
    user_function: Callable[..., object]
    trigger_param: str
    wants_context: bool
    schedule: str  # the NCRONTAB expression, app settings resolved
    run_on_startup: bool

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment` (UTC)."""
        fields = len(self.schedule.split())
        times = croniter(self.schedule, moment, second_at_beginning=fields == 6)
        return times.get_next(datetime)


def resolve_schedule(name: str, raw: str, environ: Mapping[str, str]) -> str:
    """The NCRONTAB expression of a timer function, or TimerLoadError saying what is wrong."""
    schedule = raw.strip()
    setting = _SETTING.match(schedule)
    if setting:
        value = environ.get(setting.group(1), "").strip()
        if not value:
            raise TimerLoadError(
                f"Error indexing method 'Functions.{name}': '%{setting.group(1)}%' does not "
                "resolve to a value (no app setting of that name)"
            )
        schedule = value
    if _TIMESPAN.match(schedule):
        raise TimerLoadError(
            f"Error indexing method 'Functions.{name}': the TimeSpan schedule '{schedule}' "
            "runs only on an App Service plan; use an NCRONTAB expression"
        )
    fields = len(schedule.split())
    if fields not in (5, 6) or not croniter.is_valid(schedule, second_at_beginning=fields == 6):
        raise TimerLoadError(
            f"Error indexing method 'Functions.{name}': the schedule expression '{schedule}' "
            "was not recognized as a valid cron expression or timespan string"
        )
    return schedule


def _signature(name: str, user_function: Callable[..., object], arg_name: str) -> bool:
    """The worker's rule: parameter names equal binding names (plus an optional context)."""
    params = set(inspect.signature(user_function).parameters)
    wants_context = "context" in params and arg_name != "context"
    if wants_context:
        params.discard("context")
    if params != {arg_name}:
        raise TimerLoadError(
            f"cannot load the {name} function: its parameters {sorted(params)} must be exactly "
            f"the trigger's name ['{arg_name}'] (plus an optional context)"
        )
    try:
        hints = typing.get_type_hints(user_function)
    except Exception:  # unresolvable hints: the worker then skips the check too
        hints = {}
    annotation = hints.get(arg_name)
    converter = meta.get_binding_registry().get(TIMER_TRIGGER)
    if annotation is not None and not (
        isinstance(annotation, type) and converter.check_input_type_annotation(annotation)
    ):
        raise TimerLoadError(
            f'cannot load the {name} function: type of {arg_name} binding "{TIMER_TRIGGER}" '
            f'does not match its Python annotation "{getattr(annotation, "__name__", annotation)}"'
        )
    return wants_context


def index_timers(
    functions: Sequence[object], environ: Mapping[str, str] = os.environ
) -> list[TimerFunction]:
    """The app's timer functions; others that are not HTTP are skipped with a warning, and a
    timer that cannot load is logged as an error and skipped (the host runs the rest)."""
    timers: list[TimerFunction] = []
    for function in functions:
        name = function.get_function_name() or function.get_user_function().__name__  # type: ignore[attr-defined]
        trigger = function.get_trigger()  # type: ignore[attr-defined]
        if not isinstance(trigger, TimerTrigger):
            logger.warning(
                "Function '%s' has a %s trigger; devstack.host runs HTTP and timer triggers "
                "only, so it is skipped",
                name,
                getattr(trigger, "type", "unknown"),
            )
            continue
        user_function = function.get_user_function()  # type: ignore[attr-defined]
        try:
            wants_context = _signature(name, user_function, trigger.name)
            schedule = resolve_schedule(name, trigger.schedule, environ)
        except TimerLoadError as error:
            logger.error("%s. The function is not loaded.", error)
            continue
        timers.append(
            TimerFunction(
                name=name,
                user_function=user_function,
                trigger_param=trigger.name,
                wants_context=wants_context,
                schedule=schedule,
                run_on_startup=bool(trigger.run_on_startup),
            )
        )
    return timers


def timer_request(past_due: bool = False) -> func.TimerRequest:
    """The trigger value, decoded by azure-functions' converter from the host's JSON."""
    payload = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": past_due}
    datum = meta.Datum(value=json.dumps(payload), type="json")
    converter = meta.get_binding_registry().get(TIMER_TRIGGER)
    return converter.decode(datum, trigger_metadata={})


def _dotnet_o(moment: datetime) -> str:
    """DateTime's round-trip ("o") format, as the host writes the trigger reason."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


def next_occurrences_line(timer: TimerFunction, now: datetime, count: int = 5) -> str:
    lines, moment = [], now
    for _ in range(count):
        moment = timer.next_after(moment)
        lines.append(moment.strftime("%m/%d/%Y %H:%M:%SZ"))
    return (
        f"The next {count} occurrences of the 'Host.Functions.{timer.name}' schedule "
        f"(Cron: '{timer.schedule}') will be:\n" + "\n".join(lines)
    )


class TimerRunner:
    """Runs each timer function on its schedule until stopped; one run at a time each."""

    def __init__(
        self,
        timers: Sequence[TimerFunction],
        app_dir: str,
        executor: ThreadPoolExecutor,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._timers = list(timers)
        self._app_dir = app_dir
        self._executor = executor
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self._by_hand: set[asyncio.Task[bool]] = set()

    def named(self, name: str) -> TimerFunction | None:
        """The timer function called `name`; the host looks names up case-insensitively."""
        wanted = name.lower()
        return next((t for t in self._timers if t.name.lower() == wanted), None)

    def run_by_hand(self, timer: TimerFunction) -> None:
        """Start one run now, beside the schedule, and return at once (the host answers 202
        before the function runs). Such a run does not move the schedule, as in the host."""
        task = asyncio.ensure_future(self.invoke(timer, reason=HOST_API_REASON))
        # Kept until done: the event loop holds only weak references to tasks.
        self._by_hand.add(task)
        task.add_done_callback(self._by_hand.discard)

    def start(self) -> None:
        for timer in self._timers:
            self._tasks.append(asyncio.ensure_future(self._schedule(timer)))

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._by_hand]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def _schedule(self, timer: TimerFunction) -> None:
        if timer.run_on_startup:
            await self.invoke(timer)
        logger.info("%s", next_occurrences_line(timer, self._clock()))
        due = timer.next_after(self._clock())
        while True:
            wait = (due - self._clock()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            started = self._clock()
            await self.invoke(timer)
            # From the run's start (or the occurrence, if it fired a little early), as the
            # host does: a run longer than the period is followed by one immediate run.
            due = timer.next_after(max(started, due))

    async def invoke(
        self, timer: TimerFunction, past_due: bool = False, reason: str | None = None
    ) -> bool:
        """One run, logged like the host; True when it succeeded. Never raises (but for
        cancellation): a failing function is logged and the schedule goes on."""
        invocation_id = str(uuid.uuid4())
        logger.info(
            "Executing 'Functions.%s' (Reason='%s', Id=%s)",
            timer.name,
            reason or f"Timer fired at {_dotnet_o(self._clock())}",
            invocation_id,
        )
        kwargs: dict[str, object] = {timer.trigger_param: timer_request(past_due)}
        if timer.wants_context:
            kwargs["context"] = InvocationContext(invocation_id, timer.name, self._app_dir, "")
        started = time.perf_counter()
        try:
            if timer.is_async:
                await timer.user_function(**kwargs)  # type: ignore[misc]
            else:
                call = functools.partial(
                    contextvars.copy_context().run, timer.user_function, **kwargs
                )
                await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except Exception:
            self._log_done(timer, invocation_id, started, "Failed", exc_info=True)
            return False
        self._log_done(timer, invocation_id, started, "Succeeded")
        return True

    @staticmethod
    def _log_done(
        timer: TimerFunction, invocation_id: str, started: float, outcome: str, exc_info=False
    ) -> None:
        logger.log(
            logging.INFO if outcome == "Succeeded" else logging.ERROR,
            "Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)",
            timer.name,
            outcome,
            invocation_id,
            round((time.perf_counter() - started) * 1000),
            exc_info=exc_info,
        )
