"""Fixture app for the host tests: one function per behaviour under test."""

import asyncio
import gzip
import json
import logging
import os
import threading

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _echo(req: func.HttpRequest) -> dict[str, object]:
    return {
        "method": req.method,
        "url": req.url,
        "headers": dict(req.headers),
        "params": dict(req.params),
        "route_params": dict(req.route_params),
        "body": req.get_body().decode("utf-8", "replace"),
    }


@app.route(route="echo/{*rest}", methods=["GET", "POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(_echo(req)), mimetype="application/json")


@app.route(route="items/{id:int}", methods=[func.HttpMethod.GET])
async def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return func.HttpResponse(f"int:{req.route_params['id']}")


@app.route(route="items/new", methods=["GET"])
def item_new(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("literal:new")


@app.route(route="items/{name}", methods=["GET"])
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"name:{req.route_params['name']}")


@app.route(route="files/{name}.{ext?}", methods=["GET"])
def file_parts(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")


@app.route(route="optional/{word?}", methods=["GET"])
def optional(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params.get("word", "<none>"))


@app.route(route="plain", methods=["GET"])
def plain(req: func.HttpRequest) -> str:
    return "héllo"


@app.route(route="whoami")
async def whoami(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    body = {
        "function_name": context.function_name,
        "invocation_id": context.invocation_id,
        "thread": threading.current_thread().name,
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="sync-thread", methods=["GET"])
def sync_thread(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(threading.current_thread().name)


@app.route(route="boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("kaboom-secret-detail")


@app.route(route="async-boom", methods=["GET"])
async def async_boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("async kaboom")


@app.route(route="returns-dict", methods=["GET"])
def returns_dict(req: func.HttpRequest):  # no annotation: the worker accepts it
    return {"not": "allowed"}


@app.route(route="returns-none", methods=["GET"])
def returns_none(req: func.HttpRequest) -> func.HttpResponse:
    return None  # type: ignore[return-value]


@app.route(route="status/{code:int}", methods=["GET"])
def status(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        "custom",
        status_code=int(req.route_params["code"]),
        headers={"X-Custom": "yes", "Set-Cookie": "a=1; Path=/"},
    )


@app.route(route="cookies", methods=["GET"])
def cookies(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse("cookies")
    response.headers.add("Set-Cookie", "first=1; Path=/")
    response.headers.add("Set-Cookie", "second=2; Path=/; HttpOnly")
    return response


@app.route(route="setting", methods=["GET"])
def setting(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(os.environ.get(req.params.get("name", ""), "<unset>"))


@app.route(route="cwd", methods=["GET"])
def cwd(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(os.getcwd())


@app.route(route="keyed", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def keyed(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("keyed ok")


@app.route(route="admin-only", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    logging.getLogger("fixture").info("admin-only called")
    return func.HttpResponse("admin ok")


@app.route(methods=["POST"])
def default_route(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/octet-stream")


@app.route(route="slow", methods=["GET"])
async def slow(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(float(req.params.get("s", "0.2")))
    return func.HttpResponse("slow done")


@app.route(route="body-length", methods=["POST"])
def body_length(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(str(len(req.get_body())))


# Compressed by the function itself (mtime 0: the same bytes every run, so tests can compare).
GZIPPED = gzip.compress(b"compress me " * 200, mtime=0)


@app.route(route="gzipped", methods=["GET"])
def gzipped(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        GZIPPED,
        mimetype="text/plain",
        headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
    )
