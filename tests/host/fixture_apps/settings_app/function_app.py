"""Reads settings at import time and per request (local.settings.json is written by the tests)."""

import os

import azure.functions as func

IMPORT_TIME_VALUE = os.environ.get("FIXTURE_AT_IMPORT", "<unset>")

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="setting/{name}", methods=["GET"])
def setting(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(os.environ.get(req.route_params["name"], "<unset>"))


@app.route(route="import-time", methods=["GET"])
def import_time(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(IMPORT_TIME_VALUE)
