"""Reports through the registered functions on Azurite (issue 19): one *open* report per person
and message. While it is open a second one is refused; once an admin has closed it, the same
person may report the message again (it may have been edited since, issue 18), and it is
listed open again with the new reason."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

import function_app
from chat.identity import encode_user_id

from .conftest import RecordingService, connection_string
from .test_moderation_webhook import command, join

ADMIN = encode_user_id("aad", "admin-1", "Ada")
RITA = encode_user_id("aad", "rita", "Rita")


@pytest.fixture
async def with_admin(configure, service: RecordingService):
    configure(
        WebPubSubConnectionString=connection_string(service.endpoint),
        ChatSignIn="required",
        WEBSITE_AUTH_ENABLED="True",
        ChatAdmins="aad:admin-1",
    )
    yield service


async def open_reports() -> list[dict]:
    headers = {
        "X-MS-CLIENT-PRINCIPAL-ID": "admin-1",
        "X-MS-CLIENT-PRINCIPAL-NAME": "Ada",
        "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
    }
    request = func.HttpRequest(
        "GET", "http://localhost/api/reports", headers=headers, params={}, body=b""
    )
    response = await function_app.reports(request)
    assert response.status_code == 200, response.get_body()
    return list(json.loads(response.get_body())["reports"])


def said(response: func.HttpResponse) -> dict:
    assert response.status_code == 200, response.get_body()
    return dict(json.loads(response.get_body()))


async def test_a_closed_report_may_be_filed_again_an_open_one_not(with_admin) -> None:
    state = await join(RITA, "rita-conn", "dev")
    report = {"type": "report", "room": "dev", "id": "abc123", "reason": "spam"}
    outside = said(await command(report | {"room": "elsewhere"}, RITA, "rita-conn", "r-0", state))
    assert outside["event"] == "rejected" and "join the room" in outside["message"]
    assert said(await command(report, RITA, "rita-conn", "r-1", state))["event"] == "reported"
    again = said(await command(report, RITA, "rita-conn", "r-2", state))
    assert again["event"] == "rejected" and "already" in again["message"]
    (listed,) = await open_reports()
    dismiss = {"type": "resolve", "report": listed["report"], "action": "dismiss"}
    closed = await command(dismiss, ADMIN, "admin-conn", "d-1")
    assert closed.status_code == 204, closed.get_body()
    assert await open_reports() == []

    edited = report | {"reason": "now it is abuse"}
    assert said(await command(edited, RITA, "rita-conn", "r-3", state))["event"] == "reported"
    (reopened,) = await open_reports()
    assert (reopened["report"], reopened["reason"]) == (listed["report"], "now it is abuse")
    refused = said(await command(edited, RITA, "rita-conn", "r-4", state))
    assert refused["event"] == "rejected" and "already" in refused["message"]
    # And it can be closed again.
    closed = await command(dismiss, ADMIN, "admin-conn", "d-2")
    assert closed.status_code == 204, closed.get_body()
    assert await open_reports() == []
