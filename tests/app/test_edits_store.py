"""Edit, delete, react, reply and mention against a real Azurite: through the registered
webhook for the flows, and two executors with their own store clients (two instances) for the
races, made as tight as they get (every instance reads the row before any writes it)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import azure.functions as func

import function_app
from adapters.effects import Effects
from adapters.instance_memory import RoomBudgets
from adapters.table_store import TableStore
from adapters.webpubsub import Service
from chat import connection_state, events, storage_settings
from chat.cloudevents import CloudEvent
from chat.plan import Plan
from tests.support.azurite import Azurite

from .conftest import RecordingService, configured, event_request, stateful

MESSAGE = "azure.webpubsub.user.message"


async def send(body: dict[str, Any] | str, ce_id: str, user: str = "alice") -> func.HttpResponse:
    raw = body if isinstance(body, str) else json.dumps(body)
    request = event_request(
        MESSAGE, body=raw.encode(), content_type="text/plain", ce_id=ce_id, user=user
    )
    return await function_app.eventhandler(request)


def rejection(response: func.HttpResponse) -> str | None:
    if response.status_code != 200:
        return None
    return json.loads(response.get_body()).get("message")


async def page() -> list[dict[str, Any]]:
    request = func.HttpRequest(
        "GET",
        "http://localhost/api/rooms/lobby/messages",
        params={},
        route_params={"room": "lobby"},
        body=b"",
    )
    response = await function_app.room_messages(request)
    assert response.status_code == 200
    return json.loads(response.get_body())["messages"]


def rows(azurite: Azurite) -> list[dict[str, Any]]:
    from azure.data.tables import TableClient

    with TableClient.from_connection_string(
        azurite.connection_string, storage_settings.MESSAGES_TABLE
    ) as table:
        return [dict(e) | {"etag": e.metadata["etag"]} for e in table.list_entities()]


def frames(app: RecordingService, kind: str) -> list[dict[str, Any]]:
    return [b for b in app.broadcasts if isinstance(b, dict) and b.get("type") == kind]


async def posted(app: RecordingService, text: str = "typo") -> str:
    assert (await send(text, f"post-{text}")).status_code == 204
    return next(b["id"] for b in app.broadcasts if isinstance(b, dict) and b.get("message") == text)


async def test_edit_then_history_returns_the_edited_text(
    app: RecordingService, azurite: Azurite
) -> None:
    message_id = await posted(app)
    response = await send(
        {"type": "edit", "room": "lobby", "id": message_id, "message": "fixed"}, "e1"
    )
    assert response.status_code == 204
    [edited] = frames(app, "edited")
    assert edited["message"] == "fixed" and edited["id"] == message_id and edited["editedAt"]
    [shown] = await page()
    assert shown["message"] == "fixed" and shown["editedAt"] == edited["editedAt"]
    refused = await send(
        {"type": "edit", "room": "lobby", "id": message_id, "message": "x"}, "e2", "bob"
    )
    assert "only its author" in (rejection(refused) or "")
    assert (await page())[0]["message"] == "fixed"


async def test_a_retried_delete_changes_nothing_a_second_time(
    app: RecordingService, azurite: Azurite
) -> None:
    message_id = await posted(app)
    command = {"type": "delete", "room": "lobby", "id": message_id}
    assert (await send(command, "d1")).status_code == 204
    [before] = rows(azurite)
    assert "message" not in before and before["deleted"] is True
    assert (await send(command, "d1")).status_code == 204  # the service's retry
    assert rows(azurite) == [before]  # not even written again (same ETag)
    assert {f["id"] for f in frames(app, "deleted")} == {message_id}
    assert await page() == [
        {
            "id": message_id,
            "room": "lobby",
            "from": "alice",
            "time": before["time"],
            "deleted": True,
        }
    ]
    refused = await send({"type": "react", "room": "lobby", "id": message_id, "emoji": "👍"}, "r1")
    assert rejection(refused) == "Not done: that message was deleted."


async def test_a_reply_quotes_and_a_reply_to_nothing_is_refused(
    app: RecordingService, azurite: Azurite
) -> None:
    message_id = await posted(app, "the original " + "x" * 120)
    reply = {"type": "message", "room": "lobby", "message": "agreed", "replyTo": message_id}
    assert (await send(reply, "p1")).status_code == 204
    sent = next(b for b in app.broadcasts if isinstance(b, dict) and b.get("message") == "agreed")
    assert sent["replyTo"] == {
        "id": message_id,
        "from": "alice",
        "excerpt": ("the original " + "x" * 120)[:100],
    }
    assert (await page())[-1]["replyTo"] == sent["replyTo"]
    missing = reply | {"replyTo": "f" * 24}
    assert rejection(await send(missing, "p2")) == events.no_reply_target("lobby")
    assert len(rows(azurite)) == 2


async def test_deleting_takes_the_text_out_of_its_replies_quotes(
    app: RecordingService, azurite: Azurite
) -> None:
    message_id = await posted(app, "secret plan")
    reply = {"type": "message", "room": "lobby", "message": "ok", "replyTo": message_id}
    assert (await send(reply, "q1")).status_code == 204
    assert (
        await send({"type": "delete", "room": "lobby", "id": message_id}, "q2")
    ).status_code == 204
    assert not any("secret" in json.dumps(row, default=str) for row in rows(azurite))
    shown = {m["id"]: m for m in await page()}
    replied = next(m for m in shown.values() if m.get("message") == "ok")
    assert replied["replyTo"] == {"id": message_id, "from": "alice", "deleted": True}


async def test_a_mention_goes_to_the_user_and_is_stored(
    app: RecordingService, azurite: Azurite
) -> None:
    app.connect("bob-tab", "bob", "r.lobby")
    assert (await send("@bob look @nobody", "m1")).status_code == 204
    [to_bob] = [r for r in app.requests if r.path.endswith("/users/bob/:send")]
    assert to_bob.json() == {
        "type": "mention",
        "room": "lobby",
        "id": to_bob.json()["id"],  # type: ignore[index]
        "from": "alice",
        "message": "@bob look @nobody",
    }
    assert (await page())[0]["mentions"] == ["bob"]


# --- races between two instances ------------------------------------------------------------------


def read_together(stores: list[TableStore]) -> None:
    """Each store's first find_message waits until every store has read the row (a loser's
    second read, after its ETag failed, goes straight on)."""
    barrier = asyncio.Barrier(len(stores))
    for store in stores:
        find = store.find_message
        first = [True]

        async def together(*args: Any, find: Any = find, first: list[bool] = first) -> Any:
            found = await find(*args)
            if first[0]:
                first[0] = False
                await asyncio.wait_for(barrier.wait(), 30)
            return found

        store.find_message = together  # type: ignore[method-assign]


def instance() -> Effects:
    settings = configured().settings
    return Effects(settings, Service(settings), TableStore(stateful().storage), RoomBudgets())


def decided(body: dict[str, Any], user: str, ce_id: str, connection: str) -> Plan:
    state = connection_state.encode({})
    event = CloudEvent(MESSAGE, ce_id, "sample_chatapp", connection, "", user, state, None)
    return events.command(
        event, json.dumps(body).encode(), "text/plain", configured().settings, time.time()
    )


async def closed(*executors: Effects) -> None:
    for executor in executors:
        await executor.service.close()
        await executor.store.close()


async def test_two_reactions_at_once_on_two_instances_are_both_counted(
    app: RecordingService, azurite: Azurite
) -> None:
    message_id = await posted(app)
    one, two = instance(), instance()
    read_together([one.store, two.store])
    react = {"type": "react", "room": "lobby", "id": message_id, "emoji": "👍"}
    plans = await asyncio.gather(
        one.carry_out(decided(react, "alice", "a", "c1")),
        two.carry_out(decided(react, "bob", "b", "c2")),
    )
    assert [p.answer.status for p in plans] == [204, 204]
    [shown] = await page()
    assert shown["reactions"] == [
        {"emoji": "👍", "count": 2, "users": shown["reactions"][0]["users"]}
    ]
    assert sorted(shown["reactions"][0]["users"]) == ["alice", "bob"]
    # The two sends may reach the room in either order: the newest state (the highest `rev`,
    # the one the page keeps) is the whole state, whichever write came second.
    sent = frames(app, "reactions")
    assert sorted(f["rev"] for f in sent) == [1, 2] and shown["reactionsRev"] == 2
    assert max(sent, key=lambda f: f["rev"])["reactions"][0]["count"] == 2
    await closed(one, two)


async def test_an_edit_racing_a_delete_never_brings_the_text_back(
    app: RecordingService, azurite: Azurite
) -> None:
    message_id = await posted(app)
    one, two = instance(), instance()
    read_together([one.store, two.store])
    plans = await asyncio.gather(
        one.carry_out(
            decided(
                {"type": "edit", "room": "lobby", "id": message_id, "message": "new"},
                "alice",
                "e",
                "c1",
            )
        ),
        two.carry_out(
            decided({"type": "delete", "room": "lobby", "id": message_id}, "alice", "d", "c2")
        ),
    )
    [row] = rows(azurite)
    assert row["deleted"] is True and "message" not in row
    assert (await page())[0].get("deleted") is True
    edit, delete = plans
    assert delete.answer.status == 204
    # The edit either went first (then the delete replaced it) or was refused as deleted.
    if edit.answer.status == 200:
        assert "was deleted" in json.loads(edit.answer.body)["message"]
    await closed(one, two)
