"""Reports through the registered functions on Azurite (issue 19): one *open* report per person
and message. While it is open a second one is refused; once an admin has closed it, the same
person may report the message again (it may have been edited since, issue 18), and it is
listed open again with the new reason. A report names a real message of the room, and the
admins' list shows that message as it is now (edited, deleted), read at list time."""

from __future__ import annotations

import asyncio
import json

import azure.functions as func
import pytest

import function_app
from adapters.table_store import StoreUnavailable
from chat import connection_state, moderation
from chat.identity import encode_user_id

from .conftest import SIGN_IN, RecordingService, get_request
from .test_moderation_webhook import chat_sends, command, join

ADMIN = encode_user_id("aad", "admin-1", "Ada")
RITA = encode_user_id("aad", "rita", "Rita")
OZ = encode_user_id("github", "oz-7", "Oz")


@pytest.fixture
def with_admin(app_with) -> RecordingService:
    return app_with(**SIGN_IN, ChatAdmins="aad:admin-1")


async def open_reports() -> list[dict]:
    request = get_request("http://localhost/api/reports", ("aad", "admin-1", "Ada"))
    response = await function_app.reports(request)
    assert response.status_code == 200, response.get_body()
    return list(json.loads(response.get_body())["reports"])


def said(response: func.HttpResponse) -> dict:
    assert response.status_code == 200, response.get_body()
    return dict(json.loads(response.get_body()))


async def say(service: RecordingService, text: str, room: str = "dev") -> tuple[str, str]:
    """Oz says `text` in the room: (the message's id, Oz's connection state)."""
    state = await join(OZ, "oz-conn", room)
    frame = {"type": "message", "room": room, "message": text}
    sent = await command(frame, OZ, "oz-conn", f"say-{text}", state)
    assert sent.status_code == 204, sent.get_body()
    (message,) = [m for m in chat_sends(service, room) if m["message"] == text]
    return str(message["id"]), sent.headers[connection_state.HEADER]


async def test_a_closed_report_may_be_filed_again_an_open_one_not(with_admin) -> None:
    message_id, _ = await say(with_admin, "rude words")
    state = await join(RITA, "rita-conn", "dev")
    report = {"type": "report", "room": "dev", "id": message_id, "reason": "spam"}
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


async def test_a_report_names_a_real_message_and_the_list_shows_it_as_it_is_now(
    with_admin,
) -> None:
    message_id, oz_state = await say(with_admin, "rude words")
    state = await join(RITA, "rita-conn", "dev")
    report = {"type": "report", "room": "dev", "id": message_id, "reason": "spam"}
    made_up = said(await command(report | {"id": "abc123"}, RITA, "rita-conn", "m-0", state))
    assert made_up["message"] == "Not done: there is no such message in dev."
    assert await open_reports() == []
    assert said(await command(report, RITA, "rita-conn", "m-1", state))["event"] == "reported"
    (listed,) = await open_reports()
    assert listed["message"] == {
        "from": "Oz",
        "userId": OZ,
        "text": "rude words",
        "time": listed["message"]["time"],
    }
    assert (listed["authorId"], listed["authorName"]) == (OZ, "Oz")

    # Edited since: the list shows the text as it is now, not as it was reported.
    edit = {"type": "edit", "room": "dev", "id": message_id, "message": "kind words"}
    edited = await command(edit, OZ, "oz-conn", "e-1", oz_state)
    assert edited.status_code == 204, edited.get_body()
    (listed,) = await open_reports()
    assert listed["message"]["text"] == "kind words" and "editedAt" in listed["message"]

    # Deleted by its author: "deleted", and no copy of the text is left in the report's row.
    delete = {"type": "delete", "room": "dev", "id": message_id}
    deleted = await command(delete, OZ, "oz-conn", "x-1", oz_state)
    assert deleted.status_code == 204, deleted.get_body()
    (listed,) = await open_reports()
    assert listed["message"] == {"deleted": True}
    store = function_app._configured().events.effects.moderation.store
    row = await store.read_state(moderation.REPORTS, listed["report"], "read report")
    assert row is not None and row["messageRow"] and "words" not in json.dumps(row)

    # A deleted message cannot be reported: it is gone already.
    again = said(await command(report, RITA, "rita-conn", "m-2", state))
    assert again["message"] == moderation.REPORTED_DELETED


async def test_a_report_whose_message_cannot_be_read_is_listed_unavailable(with_admin) -> None:
    """A report filed before reports kept their message's row (or any row that does not say
    where it is) is listed with "unavailable", never a 500."""
    message_id, _ = await say(with_admin, "hello")
    state = await join(RITA, "rita-conn", "dev")
    report = {"type": "report", "room": "dev", "id": message_id, "reason": ""}
    assert said(await command(report, RITA, "rita-conn", "u-1", state))["event"] == "reported"
    store = function_app._configured().events.effects.moderation.store
    old = {
        "PartitionKey": moderation.REPORTS,
        "RowKey": "dev|old1|" + "0" * 32,
        "room": "dev",
        "id": "old1",
        "reporter": RITA,
        "reason": "from before",
        "time": "2026-01-01T00:00:00Z",
        "open": True,
    }
    assert await store.create_state(old, "an old report")
    listed = {r["id"]: r["message"] for r in await open_reports()}
    assert listed == {"old1": {"unavailable": True}, message_id: listed[message_id]}
    assert listed[message_id]["text"] == "hello"


async def test_the_messages_are_read_at_once_and_a_failed_read_is_unavailable(
    with_admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /api/reports reads the listed reports' messages concurrently (not one round trip
    after another), and a read that fails shows "unavailable" in a 200, never a 500."""
    ids = [(await say(with_admin, f"line {n}"))[0] for n in range(4)]
    state = await join(RITA, "rita-conn", "dev")
    for n, message_id in enumerate(ids):
        report = {"type": "report", "room": "dev", "id": message_id, "reason": "spam"}
        assert said(await command(report, RITA, "rita-conn", f"c-{n}", state))["event"]
    store = function_app._configured().events.effects.moderation.store
    real = type(store).message_at
    in_flight, most = 0, 0

    async def message_at(self: object, partition: str, row_key: str) -> dict | None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0)  # every read is under way before any of them ends
            if row_key.endswith(ids[0]):
                raise StoreUnavailable("read message: ServiceRequestError")
            return await real(store, partition, row_key)
        finally:
            in_flight -= 1

    monkeypatch.setattr(type(store), "message_at", message_at)
    listed = {r["id"]: r["message"] for r in await open_reports()}
    assert listed[ids[0]] == {"unavailable": True}
    assert [listed[i]["text"] for i in ids[1:]] == ["line 1", "line 2", "line 3"]
    assert most == len(ids)
