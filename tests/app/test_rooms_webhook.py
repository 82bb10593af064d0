"""Rooms, history and typing through the registered functions: real SDKs, real Azurite."""

from __future__ import annotations

import json
import logging
import socket

import azure.functions as func
import pytest

import function_app
from chat import connection_state, rooms, storage_settings
from tests.support.azurite import Azurite

from .conftest import (
    RecordingService,
    configured,
    event_request,
    stateful,
)
from .store_races import read_announced_together

MESSAGE = "azure.webpubsub.user.message"
HUB = "Sample_ChatApp"


async def call(request: func.HttpRequest) -> func.HttpResponse:
    return await function_app.eventhandler(request)


async def command(
    value: object, state: str | None = None, ce_id: str = "1", **kwargs
) -> func.HttpResponse:
    body = value if isinstance(value, bytes) else json.dumps(value).encode()
    return await call(
        event_request(
            MESSAGE, body=body, content_type="text/plain", state=state, ce_id=ce_id, **kwargs
        )
    )


async def history(room: str, **params: str) -> func.HttpResponse:
    request = func.HttpRequest(
        "GET",
        f"http://localhost/api/rooms/{room}/messages",
        params=params,
        route_params={"room": room},
        body=b"",
    )
    return await function_app.room_messages(request)


def state_of(response: func.HttpResponse) -> str:
    return response.headers["ce-connectionState"]


async def joined(room: str, app: RecordingService) -> str:
    response = await command({"type": "join", "room": room})
    assert response.status_code == 204, response.get_body()
    return state_of(response)


async def test_join_then_message_is_stored_then_sent_to_the_room(app: RecordingService) -> None:
    app.connect("conn-0", "bob", "r.dev")
    app.connect("conn-1", "alice")
    state = await joined("dev", app)
    assert connection_state.decode(state)["rooms"] == ["dev"]
    puts = {r.path for r in app.requests if r.method == "PUT"}
    assert puts == {
        f"/api/hubs/{HUB}/groups/r.dev/connections/conn-1",
        f"/api/hubs/{HUB}/groups/{rooms.presence_group('dev', 'alice')}/connections/conn-1",
    }
    [snapshot] = app.sends("connections")
    assert snapshot.json() == {"type": "presence", "room": "dev", "users": ["bob", "alice"]}
    [notice] = [r.json() for r in app.sends("groups")]
    assert (notice["event"], notice["room"], notice["user"]) == ("joined", "dev", "alice")
    app.requests.clear()

    sent = await command({"type": "message", "room": "dev", "message": " hi dev "}, state, "2")
    assert sent.status_code == 204
    [broadcast] = app.sends("groups")
    assert broadcast.path == f"/api/hubs/{HUB}/groups/r.dev/:send"
    message = broadcast.json()
    assert message["room"] == "dev" and message["message"] == "hi dev"
    page = json.loads((await history("dev")).get_body())
    assert page == {"room": "dev", "messages": [message], "next": None}  # exactly as sent


async def test_the_senders_tag_is_echoed_on_the_broadcast_and_refusals_never_stored(
    app_with, service: RecordingService
) -> None:
    """Two tabs under one chosen name share a user id: the client's tag (1-16 lowercase hex)
    is how each tells its own lines and refusals; anything else is ignored, and history never
    holds it."""
    app_with(ChatMaxMessageLength="5")
    sent = await command({"type": "message", "room": "lobby", "message": "hi", "tag": "0a9f"})
    assert sent.status_code == 204
    [broadcast] = [r.json() for r in service.sends("groups")]
    assert broadcast["tag"] == "0a9f" and broadcast["message"] == "hi"
    [stored] = json.loads((await history("lobby")).get_body())["messages"]
    assert "tag" not in stored and stored["id"] == broadcast["id"]

    too_long = {"type": "message", "room": "lobby", "message": "123456", "tag": "beef"}
    refusal = json.loads((await command(too_long, ce_id="2")).get_body())
    assert refusal["event"] == "rejected" and refusal["tag"] == "beef"
    assert "limit is 5" in refusal["message"]

    service.requests.clear()
    for n, bad in enumerate(["0A9F", "0" * 17, "", "x1", 12, None, ["ab"], "ab\n", "ab "]):
        value = {"type": "message", "room": "lobby", "message": "m", "tag": bad}
        assert (await command(value, ce_id=f"b{n}")).status_code == 204
        refused = {**value, "message": "toolong"}
        reply = json.loads((await command(refused, ce_id=f"r{n}")).get_body())
        assert reply["event"] == "rejected" and "tag" not in reply
    assert all("tag" not in r.json() for r in service.sends("groups"))


async def test_messages_to_a_room_not_joined_are_refused(app: RecordingService) -> None:
    response = await command({"type": "message", "room": "secret", "message": "psst"})
    assert response.status_code == 200
    reply = json.loads(response.get_body())
    assert reply["event"] == "rejected" and reply["room"] == "secret"
    assert "join the room secret first" in reply["message"]
    assert app.requests == []
    assert json.loads((await history("secret")).get_body())["messages"] == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"type": "join", "room": "bad room"}, "only letters"),
        ({"type": "join", "room": "r." + "x"}, "only letters"),
        ({"type": "typing", "room": ""}, "missing room"),
        ({"type": "leave", "room": "lobby"}, "stays in the lobby"),
        ({"type": "fly", "room": "dev"}, "Unknown command"),
    ],
)
async def test_bad_commands_are_refused_with_a_reason(
    app: RecordingService, value: dict, reason: str
) -> None:
    response = await command(value)
    assert response.status_code == 200
    assert reason in json.loads(response.get_body())["message"]
    assert app.requests == []


async def test_leave_removes_the_connection_from_both_groups(app: RecordingService) -> None:
    state = await joined("dev", app)
    app.requests.clear()
    response = await command({"type": "leave", "room": "dev"}, state, "2")
    assert response.status_code == 204
    assert connection_state.decode(state_of(response))["rooms"] == []
    deleted = {r.path for r in app.requests if r.method == "DELETE"}
    assert deleted == {
        f"/api/hubs/{HUB}/groups/r.dev/connections/conn-1",
        f"/api/hubs/{HUB}/groups/{rooms.presence_group('dev', 'alice')}/connections/conn-1",
    }
    assert [r.json()["event"] for r in app.sends("groups")] == ["left"]


async def test_typing_goes_to_the_others_and_is_throttled(app: RecordingService) -> None:
    state = await joined("dev", app)
    app.requests.clear()
    first = await command({"type": "typing", "room": "dev"}, state, "2")
    second = await command({"type": "typing", "room": "dev"}, state_of(first), "3")
    assert first.status_code == second.status_code == 204
    [typing] = app.sends("groups")
    assert typing.json() == {"type": "typing", "room": "dev", "user": "alice"}
    assert typing.query["filter"] == "userId ne 'alice'"
    assert json.loads((await history("dev")).get_body())["messages"] == []  # never stored


async def test_typing_filter_escapes_quotes_in_user_ids(app: RecordingService) -> None:
    app.connect("conn-1", "o'brien", "r.dev")
    response = await command({"type": "join", "room": "dev"}, user="o'brien")
    typing = await command(
        {"type": "typing", "room": "dev"}, state_of(response), "2", user="o'brien"
    )
    assert typing.status_code == 204
    [sent] = [r for r in app.sends("groups") if r.json().get("type") == "typing"]
    assert sent.query["filter"] == "userId ne 'o''brien'"


async def test_history_pages_back_in_order_without_duplicates(app: RecordingService) -> None:
    state = await joined("dev", app)
    sent = []
    for n in range(5):
        response = await command(
            {"type": "message", "room": "dev", "message": f"m{n}"}, state, f"m{n}"
        )
        state = state_of(response)
        sent.append(f"m{n}")
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params = {"limit": "2"} | ({"before": cursor} if cursor else {})
        page = json.loads((await history("dev", **params)).get_body())
        seen = [m["message"] for m in page["messages"]] + seen
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == sent


@pytest.mark.parametrize(
    ("room", "params", "reason"),
    [
        ("bad room", {}, "only letters"),
        ("x" * 65, {}, "too long"),
        ("dev", {"limit": "500"}, "from 1 to 200"),
        ("dev", {"limit": "ten"}, "whole number"),
        ("dev", {"before": "not-a-cursor"}, "cursor"),
    ],
)
async def test_bad_history_requests_are_400(
    app: RecordingService, room: str, params: dict, reason: str
) -> None:
    response = await history(room, **params)
    assert response.status_code == 400
    assert reason in response.get_body().decode()
    assert response.headers["Cache-Control"] == "no-store"


async def test_user_limit_refusal_leaves_nothing_in_history(app_with) -> None:
    app_with(ChatRateLimitMessages="2", ChatRateLimitWindowSeconds="60")
    # Three connections of one user, each with a fresh per-connection bucket.
    outcomes = []
    for n in range(3):
        response = await command(f"msg{n}".encode(), connection_id=f"c{n}", ce_id=f"{n}")
        outcomes.append(json.loads(response.get_body() or b"{}").get("event", "sent"))
    assert outcomes == ["sent", "sent", "rejected"]
    messages = json.loads((await history("lobby")).get_body())["messages"]
    assert [m["message"] for m in messages] == ["msg0", "msg1"]


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_store_down_refuses_and_broadcasts_nothing(
    app_with, service: RecordingService
) -> None:
    dead = (
        "AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"TableEndpoint=http://127.0.0.1:{dead_port()}/devstoreaccount1"
    )
    app_with(ChatStorage=dead)
    response = await command(b"will anyone see this?")
    assert response.status_code == 200
    reply = json.loads(response.get_body())
    assert reply["event"] == "rejected" and "history cannot be saved" in reply["message"]
    assert service.sends("groups") == [] and service.sends("hub") == []
    page = await history("lobby")
    assert page.status_code == 503
    assert b"unavailable" in page.get_body()


async def test_missing_storage_is_503_and_logged_once_by_name(
    app_with, service: RecordingService, caplog
) -> None:
    caplog.set_level(logging.ERROR)
    app_with(ChatStorage="")
    first = await command(b"hi")
    second = await history("lobby")
    third = await command(b"hi again", ce_id="2")
    assert first.status_code == second.status_code == third.status_code == 503
    assert b"Traceback" not in first.get_body()
    logged = [r for r in caplog.records if "ChatStorage" in r.getMessage()]
    assert len(logged) == 1
    assert service.requests == []
    # negotiate does not need the store
    negotiate = await function_app.negotiate(
        func.HttpRequest("GET", "http://h/api/negotiate", params={"id": "a"}, body=b"")
    )
    assert negotiate.status_code == 200


async def test_user_bucket_is_cached_in_connection_state_and_a_forged_cache_gains_nothing(
    app_with, service: RecordingService
) -> None:
    app_with(ChatRateLimitMessages="2", ChatRateLimitWindowSeconds="60")
    first = await command(b"one")
    cached = connection_state.decode(state_of(first))["user_rate"]
    assert cached[0] == 1.0 and isinstance(cached[2], str) and cached[2]
    # A state claiming a full bucket under an ETag the store never issued: the conditional
    # update fails, the bucket is read, and the user's real count decides.
    forged = connection_state.encode({"user_rate": [1000.0, cached[1], 'W/"not-the-etag"']})
    second = await command(b"two", forged, "2")
    third = await command(b"three", state_of(second), "3")
    assert second.status_code == 204
    assert json.loads(third.get_body())["event"] == "rejected"
    assert [b["message"] for b in service.broadcasts] == ["one", "two"]


def user_bucket(connection: str, user: str) -> float:
    """The user's shared bucket, read straight from the table."""
    from azure.data.tables import TableClient

    from adapters.table_store import user_key

    with TableClient.from_connection_string(connection, storage_settings.STATE_TABLE) as table:
        return float(table.get_entity(f"rate|{user_key(user)}", "bucket")["tokens"])


async def test_a_connection_spends_leased_tokens_without_writing_the_users_bucket(
    app_with, service: RecordingService, azurite: Azurite
) -> None:
    app_with(
        ChatRateLimitMessages="20",
        ChatRateLimitWindowSeconds="3600",  # no refill worth counting during the test
    )
    response = await command(b"m0")
    assert connection_state.decode(state_of(response))["lease"][0] == 4
    assert user_bucket(azurite.connection_string, "alice") == pytest.approx(15, abs=0.1)
    leases = []
    for n in range(1, 5):  # the four other leased tokens: the table is not written
        response = await command(f"m{n}".encode(), state_of(response), str(n + 1))
        assert response.status_code == 204
        leases.append(connection_state.decode(state_of(response))["lease"][0])
        assert user_bucket(azurite.connection_string, "alice") == pytest.approx(15, abs=0.1)
    assert leases == [3, 2, 1, 0]
    # Spent: the next message leases again (a quarter of the 15 left: 3).
    response = await command(b"m5", state_of(response), "6")
    assert connection_state.decode(state_of(response))["lease"][0] == 2
    assert user_bucket(azurite.connection_string, "alice") == pytest.approx(12, abs=0.1)
    # A second tab of the same user leases from the same bucket.
    other = await command(b"tab2", connection_id="conn-2", ce_id="1")
    assert other.status_code == 204
    assert user_bucket(azurite.connection_string, "alice") == pytest.approx(9, abs=0.1)
    assert [b["message"] for b in service.broadcasts] == [f"m{n}" for n in range(6)] + ["tab2"]


async def test_a_forged_lease_in_connection_state_is_no_lease(
    app_with, service: RecordingService
) -> None:
    app_with(ChatRateLimitMessages="1", ChatRateLimitWindowSeconds="3600")
    first = await command(b"one")
    assert first.status_code == 204
    state = connection_state.decode(state_of(first))
    forged = connection_state.encode(state | {"lease": [1000, 9e12], "rate": [1, 9e9]})
    second = await command(b"two", forged, "2")
    assert json.loads(second.get_body())["event"] == "rejected"
    assert [b["message"] for b in service.broadcasts] == ["one"]


async def test_the_longest_allowed_message_fits_the_history_table(app_with) -> None:
    app_with(ChatMaxMessageLength="16000")
    text = "\U0001f600" * 16_000  # every character a surrogate pair in UTF-16: 64,000 bytes
    response = await command(text.encode())
    assert response.status_code == 204, response.get_body()[:200]
    [stored] = json.loads((await history("lobby")).get_body())["messages"]
    assert stored["message"] == text


async def test_joiners_of_one_room_share_a_listing_and_each_is_in_its_snapshot(
    app: RecordingService,
) -> None:
    app.connect("conn-1", "alice")
    app.connect("conn-2", "bob")
    app.connect("conn-3", "carol")
    await command({"type": "join", "room": "dev"})
    await command({"type": "join", "room": "dev"}, connection_id="conn-2", user="bob", ce_id="2")
    await command({"type": "join", "room": "dev"}, connection_id="conn-3", user="carol", ce_id="3")
    listings = [
        r
        for r in app.requests
        if r.method == "GET" and r.path.endswith("/groups/r.dev/connections")
    ]
    assert len(listings) == 1  # the second joiner, within a second, reused the first listing
    snapshots = {r.path.split("/")[-2]: r.json() for r in app.sends("connections")}
    assert snapshots["conn-1"]["users"] == ["alice"]
    assert snapshots["conn-2"]["users"] == ["alice", "bob"]  # bob added himself
    # ... and the shared listing learnt him: carol's snapshot names all three
    assert snapshots["conn-3"]["users"] == ["alice", "bob", "carol"]


async def test_a_crowd_does_not_grow_each_snapshot_past_its_size(
    app: RecordingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chat import presence

    monkeypatch.setattr(presence, "SNAPSHOT_CONNECTIONS", 3)
    for n in range(6):
        app.connect(f"conn-{n}", f"user{n}")
        response = await command(
            {"type": "join", "room": "dev"},
            connection_id=f"conn-{n}",
            user=f"user{n}",
            ce_id=str(n),
        )
        assert response.status_code == 204
    frames = {r.path.split("/")[-2]: r.json() for r in app.sends("connections")}
    snapshots = {connection: frame["users"] for connection, frame in frames.items()}
    assert snapshots["conn-0"] == ["user0"]
    assert snapshots["conn-2"] == ["user0", "user1", "user2"]
    # Past the size, a joiner is named in its own snapshot but the shared listing stays at 3,
    # and says it is partial (the page then shows no one absent from it as offline).
    assert snapshots["conn-5"] == ["user0", "user1", "user2", "user5"]
    assert frames["conn-5"]["partial"] is True and "partial" not in frames["conn-0"]


async def test_two_instances_announce_two_tabs_once(app: RecordingService) -> None:
    """Two Functions instances handle alice's two tabs at the same moment: the conditional
    write of the presence record lets exactly one of them announce her."""
    import asyncio

    from adapters.effects import Effects
    from adapters.instance_memory import RoomBudgets
    from adapters.table_store import TableStore
    from adapters.webhook_events import WebhookEvents
    from adapters.webpubsub import Service
    from chat.cloudevents import authenticate

    settings = configured().settings
    storage = stateful().storage
    instances = [
        WebhookEvents(Effects(settings, Service(settings), TableStore(storage), RoomBudgets()))
        for _ in range(2)
    ]
    for n in (1, 2):
        app.connect(f"conn-{n}", "alice", "r.lobby", rooms.presence_group("lobby", "alice"))
    events = [
        authenticate(
            event_request("azure.webpubsub.sys.connected", connection_id=f"conn-{n}").headers,
            settings,
        )
        for n in (1, 2)
    ]
    # Both read the (absent) record before either writes: the race at its tightest.
    read_announced_together([instance.store for instance in instances])
    now = 1_800_000_000.0
    await asyncio.gather(*(i.connected(e, now) for i, e in zip(instances, events, strict=True)))
    notices = [n for n in app.broadcasts if n.get("type") == "system"]
    assert [(n["event"], n["user"]) for n in notices] == [("joined", "alice")]
    for instance in instances:
        await instance.service.close()
        await instance.store.close()


# --- issue 15 item 3: typing and room changes are throttled --------------------------------


async def test_leaving_and_joining_again_does_not_reset_the_typing_throttle(
    app: RecordingService,
) -> None:
    app.connect("conn-0", "bob", "r.dev")
    state = await joined("dev", app)
    app.requests.clear()
    for n in range(100):
        for value in ({"type": "typing"}, {"type": "leave"}, {"type": "join"}):
            response = await command(value | {"room": "dev"}, state, f"{n}-{value['type']}")
            state = state_of(response)
    typing = [r for r in app.sends("groups") if r.json().get("type") == "typing"]
    assert 1 <= len(typing) <= 2  # one now, at most one more if the loop outlasts 3 s


async def test_a_burst_of_joins_and_leaves_is_refused_with_the_reason(
    app: RecordingService,
) -> None:
    from chat import events

    state, replies = None, []
    for n in range(events.ROOM_CHANGES + 5):
        kind = "join" if n % 2 == 0 else "leave"
        response = await command({"type": kind, "room": "dev"}, state, str(n))
        state = state_of(response)
        replies.append(json.loads(response.get_body() or b'{"event": "done"}'))
    assert [r["event"] for r in replies[: events.ROOM_CHANGES]] == ["done"] * events.ROOM_CHANGES
    refused = replies[events.ROOM_CHANGES]  # a join: the connection's changes are spent
    assert (refused["event"], refused["message"], refused["room"]) == (
        "rejected",
        events.ROOMS_TOO_FAST,
        "dev",
    )
    assert all(r["event"] == "rejected" for r in replies[events.ROOM_CHANGES :])
    changes = [r for r in app.requests if r.method in ("PUT", "DELETE")]
    assert len(changes) == 2 * events.ROOM_CHANGES  # the refused ones cost no service call


async def test_a_users_room_changes_are_limited_across_connections(
    app: RecordingService,
) -> None:
    import time

    from chat import events

    started, outcomes = time.monotonic(), []
    for connection in range(7):  # each connection stays within its own limit
        state = None
        for n in range(events.ROOM_CHANGES):
            kind = "join" if n % 2 == 0 else "leave"
            response = await command(
                {"type": kind, "room": "dev"},
                state,
                f"{connection}-{n}",
                connection_id=f"c{connection}",
            )
            state = state_of(response)
            outcomes.append(json.loads(response.get_body() or b'{"message": "done"}')["message"])
    refill = (
        (time.monotonic() - started) * events.USER_ROOM_CHANGES / events.USER_ROOM_CHANGES_WINDOW_S
    )
    assert outcomes.count("done") <= events.USER_ROOM_CHANGES + refill + 1
    assert events.ROOMS_TOO_FAST in outcomes
    # (a leave after a refused join is refused too: the connection is not in the room)
    assert set(outcomes) <= {"done", events.ROOMS_TOO_FAST, events.not_member("dev")}


async def test_a_join_the_service_fails_is_refused_and_not_in_the_connection_state(
    app: RecordingService,
) -> None:
    """The add to the room's groups failed: the connection is not in the room, so its state
    must not say it is (it would take the room's messages, typing and reads as a member's)."""
    app.add_status = 500
    response = await command({"type": "join", "room": "dev"})
    assert response.status_code == 200
    reply = json.loads(response.get_body())
    assert reply["event"] == "rejected" and reply["room"] == "dev"
    assert reply["message"] == "Could not join dev: the service is unavailable. Try again."
    state = state_of(response)
    assert rooms.rooms_of(connection_state.decode(state)) == [rooms.LOBBY]
    # Whatever part of the add went through is taken back; nobody hears of a join.
    removed = {r.path for r in app.requests if r.method == "DELETE"}
    assert f"/api/hubs/{HUB}/groups/r.dev/connections/conn-1" in removed
    assert app.sends("groups") == [] and app.sends("connections") == []

    app.add_status = None
    app.requests.clear()
    sent = await command({"type": "message", "room": "dev", "message": "psst"}, state, "2")
    assert "join the room dev first" in json.loads(sent.get_body())["message"]
    assert app.sends("groups") == []
    state = await joined("dev", app)  # the service is back: the join goes through
    assert connection_state.decode(state)["rooms"] == ["dev"]


async def test_a_repeated_join_the_service_fails_keeps_the_room_already_joined(
    app: RecordingService,
) -> None:
    state = await joined("dev", app)
    app.add_status = 503
    app.requests.clear()
    response = await command({"type": "join", "room": "dev"}, state, "2")
    assert json.loads(response.get_body())["event"] == "rejected"
    assert connection_state.decode(state_of(response))["rooms"] == ["dev"]
    assert [r for r in app.requests if r.method == "DELETE"] == []  # it was in, it stays in
