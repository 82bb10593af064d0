"""History against a real Azurite, through the registered functions: one idempotent insert per
message, the order the room saw within one ce-time second, paging through a busy second, rows
of the earlier layout (keys from the handler's clock, with id markers) beside new ones."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest

import function_app
from chat import event_time, history, storage_settings
from tests.support.azurite import Azurite

from .conftest import RecordingService, event_request

MESSAGE = "azure.webpubsub.user.message"


def ce_time(shift_s: float = 0.0) -> str:
    """The current second as the service writes ce-time (whole seconds, Z)."""
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=shift_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def send(text: str, ce_id: str, when: str | None, **kwargs: Any) -> func.HttpResponse:
    drop = ("ce-time",) if when is None else ()
    request = event_request(
        MESSAGE,
        body=text.encode(),
        content_type="text/plain",
        ce_id=ce_id,
        ce_time=when,
        drop=drop,
        **kwargs,
    )
    return await function_app.eventhandler(request)


async def page(room: str = "lobby", **params: str) -> dict[str, Any]:
    request = func.HttpRequest(
        "GET",
        f"http://localhost/api/rooms/{room}/messages",
        params=params,
        route_params={"room": room},
        body=b"",
    )
    response = await function_app.room_messages(request)
    assert response.status_code == 200, response.get_body()
    return json.loads(response.get_body())


async def every_page(limit: int, room: str = "lobby") -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        body = await page(room, limit=str(limit), **({"before": cursor} if cursor else {}))
        assert len(body["messages"]) <= limit
        seen = [m["message"] for m in body["messages"]] + seen
        cursor = body["next"]
        if cursor is None:
            return seen
    raise AssertionError("paging did not end")


def stored_rows(azurite: Azurite) -> list[dict[str, Any]]:
    from azure.data.tables import TableClient

    connection = azurite.connection_string
    with TableClient.from_connection_string(connection, storage_settings.MESSAGES_TABLE) as t:
        return [dict(e) for e in t.list_entities()]


async def test_a_retried_event_is_one_row_stored_once_and_sent_once(
    app: RecordingService, azurite: Azurite
) -> None:
    when = ce_time()
    for _ in range(3):  # the service's retries carry the same ce-id and ce-time
        assert (await send("once", "7", when)).status_code == 204
    [sent] = app.broadcasts
    assert sent["message"] == "once"
    [row] = stored_rows(azurite)  # one entity: no marker beside it
    assert row["RowKey"] == history.row_key(event_time.epoch_ms(when), sent["id"])
    assert (await page())["messages"] == [sent]


@pytest.mark.parametrize(
    "when",
    [None, "yesterday", "2026-11-30 10:00:00Z", ce_time(86_400), ce_time(-7_200)],
    ids=["missing", "garbage", "not-rfc3339", "a-day-ahead", "two-hours-ago"],
)
async def test_without_a_usable_ce_time_a_marker_keeps_the_insert_idempotent(
    app: RecordingService, azurite: Azurite, when: str | None
) -> None:
    before_ms = int(time.time() * 1000)
    for _ in range(3):
        assert (await send("odd clock", "8", when)).status_code == 204
    assert (await send("next", "9", ce_time())).status_code == 204
    after_ms = int(time.time() * 1000)
    assert [b["message"] for b in app.broadcasts] == ["odd clock", "next"]
    rows = {r["RowKey"]: r for r in stored_rows(azurite)}
    [marker] = [key for key in rows if key.startswith(history.MARKER_PREFIX)]
    odd = rows[rows[marker]["row"]]
    assert odd["message"] == "odd clock" and len(rows) == 3
    # Keyed by the handler's clock (its second, like ce-time): never pinned above newer
    # messages, never lost below them, and in send order with the rest of its second.
    keyed_ms = history.row_key(0, "")[:13]
    keyed_ms = int(keyed_ms) - int(odd["RowKey"][:13])
    assert before_ms - before_ms % 1000 <= keyed_ms <= after_ms
    assert [m["message"] for m in (await page())["messages"]] == ["odd clock", "next"]


async def test_a_failed_send_takes_the_row_back_so_the_retry_stores_and_sends_it(
    app: RecordingService, azurite: Azurite
) -> None:
    when = ce_time()
    app.status = 500
    assert (await send("again", "5", when)).status_code == 502
    assert stored_rows(azurite) == []
    app.status = 202
    app.requests.clear()
    assert (await send("again", "5", when)).status_code == 204
    assert [b["message"] for b in app.broadcasts] == ["again"]
    assert len(stored_rows(azurite)) == 1


async def test_messages_of_one_second_come_back_in_the_order_sent(
    app: RecordingService, azurite: Azurite
) -> None:
    when = ce_time()
    sent = [f"m{n}" for n in range(9)]
    for n, text in enumerate(sent):
        assert (await send(text, f"busy-{n}", when)).status_code == 204
    ids = {b["message"]: b["id"] for b in app.broadcasts}
    # One ce-time second: the keys alone would order these by id, which is not the order sent.
    assert sorted(sent, key=lambda m: ids[m], reverse=True) != sent
    assert len({r["RowKey"][:13] for r in stored_rows(azurite)}) == 1
    assert [m["message"] for m in (await page())["messages"]] == sent
    # A second busier than a page: every message once, in order, whatever the page size.
    for limit in (1, 2, 4):
        assert await every_page(limit) == sent


async def test_rows_of_the_earlier_layout_page_before_new_ones(
    app: RecordingService, azurite: Azurite
) -> None:
    from azure.data.tables import TableClient

    connection = azurite.connection_string
    old_ms = int(time.time() * 1000) - 120_000
    old_rows = []
    # the table is created on first use: a message creates it, and comes after the old ones
    with TableClient.from_connection_string(connection, storage_settings.MESSAGES_TABLE) as t:
        t.create_table()
        for n in range(5):  # as the earlier layout stored them: a marker in one transaction
            message = {
                "id": f"{n:024x}",
                "room": "lobby",
                "from": "bob",
                "message": f"old{n}",
                "time": history.iso_time((old_ms + n * 700) / 1000),
            }
            entity = history.to_entity(message, old_ms + n * 700)
            t.submit_transaction(
                [("create", history.marker(message, entity["RowKey"])), ("create", entity)]
            )
            old_rows.append(entity)
    when = ce_time()
    for n in range(4):
        assert (await send(f"new{n}", f"new-{n}", when)).status_code == 204
    expected = [f"old{n}" for n in range(5)] + [f"new{n}" for n in range(4)]
    for limit in (1, 2, 3, 50):
        assert await every_page(limit) == expected
    # A cursor the earlier layout handed out (a plain row key) still pages on below its row.
    body = await page(limit="50", before=old_rows[3]["RowKey"])
    assert [m["message"] for m in body["messages"]] == ["old0", "old1", "old2"]
    assert body["next"] is None


async def test_history_returns_the_sign_in_fields_it_stored(
    app: RecordingService, azurite: Azurite
) -> None:
    # Written as sign-in mode writes them; the page must read them back (exactly as sent).
    from azure.data.tables import TableClient

    message = {
        "id": "f" * 24,
        "room": "lobby",
        "from": "alice",
        "userId": "github:583231:alice",
        "idp": "github",
        "message": "signed",
        "time": history.iso_time(time.time()),
    }
    connection = azurite.connection_string
    with TableClient.from_connection_string(connection, storage_settings.MESSAGES_TABLE) as t:
        t.create_table()
        t.create_entity(history.to_entity(message, int(time.time() * 1000)))
    assert (await page())["messages"] == [message]
