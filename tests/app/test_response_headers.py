"""Every response the app builds carries nosniff and a cache rule, on every path and status."""

from __future__ import annotations

import azure.functions as func
import pytest

import function_app

from .conftest import RecordingService, event_request

MESSAGE = "azure.webpubsub.user.message"
CONNECTED = "azure.webpubsub.sys.connected"


def http(method: str, route: str, *, params=None, headers=None, path=None) -> func.HttpRequest:
    return func.HttpRequest(
        method,
        f"http://localhost:7071/api/{route}",
        params=params or {},
        headers=headers or {},
        route_params={"path": path} if path is not None else {},
        body=b"",
    )


async def respond(request_kind: str) -> func.HttpResponse:
    """One request per path through the app; returns whatever the app answered."""
    calls = {
        "negotiate 200": lambda: function_app.negotiate(
            http("GET", "negotiate", params={"id": "a"})
        ),
        "negotiate 400": lambda: function_app.negotiate(http("GET", "negotiate")),
        "handshake 200": lambda: function_app.eventhandler(
            http("OPTIONS", "eventhandler", headers={"WebHook-Request-Origin": "127.0.0.1"})
        ),
        "handshake 400": lambda: function_app.eventhandler(http("OPTIONS", "eventhandler")),
        "event 401": lambda: function_app.eventhandler(
            event_request(MESSAGE, signature_header="sha256=00")
        ),
        "event 400": lambda: function_app.eventhandler(event_request(MESSAGE, hub="other")),
        "message 204": lambda: function_app.eventhandler(
            event_request(MESSAGE, body=b"hi", content_type="text/plain")
        ),
        "message refused 200": lambda: function_app.eventhandler(
            event_request(MESSAGE, body=b"", content_type="text/plain")
        ),
        "presence 200": lambda: function_app.eventhandler(event_request(CONNECTED)),
    }
    return await calls[request_kind]()


API_CASES = [
    ("negotiate 200", 200),
    ("negotiate 400", 400),
    ("handshake 200", 200),
    ("handshake 400", 400),
    ("event 401", 401),
    ("event 400", 400),
    ("message 204", 204),
    ("message refused 200", 200),
    ("presence 200", 200),
]


@pytest.mark.parametrize(("kind", "status"), API_CASES, ids=[c[0] for c in API_CASES])
async def test_api_responses(app: RecordingService, kind: str, status: int) -> None:
    response = await respond(kind)
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


async def test_service_failure_response(app: RecordingService) -> None:
    app.status = 500
    # A message is stored, then its send fails: 502 (presence events never fail on the service).
    response = await function_app.eventhandler(
        event_request(MESSAGE, body=b"hi", content_type="text/plain")
    )
    assert response.status_code == 502
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("kind", ["negotiate 200", "handshake 200", "message 204"])
async def test_unconfigured_503(configure, kind: str) -> None:
    configure(WebPubSubConnectionString="nonsense")
    response = await respond(kind)
    assert response.status_code == 503
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("route", "path", "headers", "status", "cache"),
    [
        ("index", None, {}, 200, "no-cache"),
        ("static", "app.js", {}, 200, "no-cache"),
        ("static", "style.css", {"If-None-Match": "*"}, 304, "no-cache"),
        ("static", "style.css", {"Accept-Encoding": "gzip"}, 200, "no-cache"),
        ("static", "missing.js", {}, 404, "no-store"),
        ("static", "../function_app.py", {}, 404, "no-store"),
    ],
)
def test_static_responses(
    app: RecordingService, route: str, path, headers: dict, status: int, cache: str
) -> None:
    request = http("GET", route, headers=headers, path=path)
    response = (function_app.index if route == "index" else function_app.static)(request)
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == cache


def test_unconfigured_static_503(configure) -> None:
    configure(WebPubSubConnectionString="nonsense")
    response = function_app.index(http("GET", "index"))
    assert response.status_code == 503
    assert response.headers["X-Content-Type-Options"] == "nosniff"
