"""Fixture app for the host's timer triggers: what ran, when, and with what."""

import asyncio
import json
import os
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
runs: list[dict] = []
running = {"now": 0, "most": 0}


@app.timer_trigger(schedule="* * * * * *", arg_name="timer", run_on_startup=False)
async def tick(timer: func.TimerRequest) -> None:
    runs.append({"name": "tick", "past_due": timer.past_due, "type": type(timer).__name__})


@app.timer_trigger(schedule="*/1 * * * * *", arg_name="clock", run_on_startup=False)
async def slow(clock: func.TimerRequest) -> None:
    """Takes 2.5 s with a schedule of 1 s: runs must never overlap."""
    running["now"] += 1
    running["most"] = max(running["most"], running["now"])
    try:
        await asyncio.sleep(2.5)
    finally:
        running["now"] -= 1
    runs.append({"name": "slow"})


@app.timer_trigger(schedule="* * * * * *", arg_name="timer")
def fails(timer: func.TimerRequest) -> None:
    """Sync, and raises every time: logged, and the schedule goes on."""
    runs.append({"name": "fails"})
    raise RuntimeError("the timer function failed on purpose")


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def once(timer: func.TimerRequest, context: func.Context) -> None:
    """Once a year, and once on startup."""
    runs.append({"name": "once", "at": time.time(), "function": context.function_name})


@app.timer_trigger(schedule="%TIMER_FIXTURE_SCHEDULE%", arg_name="timer")
async def from_setting(timer: func.TimerRequest) -> None:
    runs.append({"name": "from_setting"})


@app.timer_trigger(schedule="every second", arg_name="timer")
async def bad_schedule(timer: func.TimerRequest) -> None:
    runs.append({"name": "bad_schedule"})


@app.timer_trigger(schedule="00:00:01", arg_name="timer")
async def timespan(timer: func.TimerRequest) -> None:
    runs.append({"name": "timespan"})


@app.route(route="runs", methods=["GET"])
def list_runs(req: func.HttpRequest) -> func.HttpResponse:
    body = {"runs": runs, "most_at_once": running["most"], "pid": os.getpid()}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
