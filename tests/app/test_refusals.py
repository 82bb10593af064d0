"""Refusals: whatever a route raises as a ChatError becomes its reply, and a failing service or
store becomes a logged 503 whose text names no host (function_app.refusals)."""

from __future__ import annotations

import logging

import azure.functions as func
import pytest

import function_app
from adapters.table_store import StoreUnavailable
from adapters.webpubsub import ServiceUnavailable
from chat.errors import BadRequest, Forbidden, Unauthorized, Unavailable

from .conftest import RecordingService, connection_string
from .test_rooms_webhook import dead_port

REQUEST = func.HttpRequest("GET", "http://localhost/api/x", body=b"")


def guarded(error: Exception):
    @function_app.refusals(unavailable="the thing is down right now")
    async def route(req: func.HttpRequest) -> func.HttpResponse:
        raise error

    return route


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BadRequest("bad page"), 400),
        (Unauthorized("sign in"), 401),
        (Forbidden("not yours"), 403),
        (Unavailable("later"), 503),
    ],
)
async def test_a_chat_error_is_its_status_and_reason(error: Exception, status: int) -> None:
    response = await guarded(error)(REQUEST)
    assert (response.status_code, response.get_body()) == (status, str(error).encode())
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "failure",
    [StoreUnavailable("query failed at 10.0.0.7:10002"), ServiceUnavailable(503, "host x down")],
)
async def test_a_failing_dependency_is_a_generic_503_with_the_cause_logged(
    failure: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    response = await guarded(failure)(REQUEST)
    assert (response.status_code, response.get_body()) == (503, b"the thing is down right now")
    assert str(failure) in caplog.text  # the cause is for the log only


async def test_anything_else_is_not_taken_for_a_refusal() -> None:
    with pytest.raises(KeyError):
        await guarded(KeyError("a bug"))(REQUEST)


async def test_history_with_the_store_down_is_the_routes_503(
    configure, service: RecordingService, caplog: pytest.LogCaptureFixture
) -> None:
    port = dead_port()
    configure(
        WebPubSubConnectionString=connection_string(service.endpoint),
        ChatStorage="AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1",
    )
    caplog.set_level(logging.ERROR)
    request = func.HttpRequest(
        "GET",
        "http://localhost/api/rooms/lobby/messages",
        params={"id": "alice"},
        route_params={"room": "lobby"},
        body=b"",
    )
    response = await function_app.room_messages(request)
    assert (response.status_code, response.get_body()) == (
        503,
        b"the chat history is unavailable right now",
    )
    assert "room_messages" in caplog.text
