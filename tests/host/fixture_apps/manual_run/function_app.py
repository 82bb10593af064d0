"""Fixture app for running timer functions by hand (`POST /admin/functions/<name>`)."""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
runs: list[dict] = []


@app.timer_trigger(schedule="0 0 3 1 1 *", arg_name="timer", run_on_startup=False)
async def nightly(timer: func.TimerRequest, context: func.Context) -> None:
    """Once a year: any run seen by a test was asked for by hand."""
    runs.append({"name": context.function_name, "past_due": timer.past_due})


@app.timer_trigger(schedule="0 0 3 1 1 *", arg_name="timer", run_on_startup=False)
def broken(timer: func.TimerRequest) -> None:
    runs.append({"name": "broken"})
    raise RuntimeError("the manual run failed on purpose")


@app.route(route="runs", methods=["GET"])
def list_runs(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(runs), mimetype="application/json")
