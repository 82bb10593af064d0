"""The presence sweep (timer function) against real Azurite and the real service SDK.

Time passing is played by ageing what the table holds (every presence record's `updated`
and every mark's `due` moved back), not by changing the clock: the app, the SDK's tokens and
the recording service keep real time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from azure.functions.timer import TimerRequest

import function_app
from adapters.presence_marks import PENDING
from chat import rooms, storage_settings
from chat import sweep as presence_sweep
from chat.presence import ROOM_WIDE
from tests.support.azurite import Azurite

from .conftest import (
    RecordingService,
    configured,
    connection_string,
    event_request,
    stateful,
)
from .store_races import read_announced_together

CONNECTED = "azure.webpubsub.sys.connected"
DISCONNECTED = "azure.webpubsub.sys.disconnected"


async def sweep(past_due: bool = False) -> None:
    result = await function_app.presence_sweep(TimerRequest(past_due=past_due))
    assert result is None


async def connect(app: RecordingService, connection: str, user: str, ce_id: str = "1") -> None:
    """A connection arrives: the service puts it in the lobby, then sends `connected`."""
    app.connect(connection, user, "r.lobby", rooms.presence_group("lobby", user))
    response = await function_app.eventhandler(
        event_request(CONNECTED, connection_id=connection, user=user, ce_id=ce_id)
    )
    assert response.status_code == 200


async def disconnect(app: RecordingService, connection: str, user: str) -> None:
    app.disconnect(connection)
    response = await function_app.eventhandler(
        event_request(DISCONNECTED, connection_id=connection, user=user)
    )
    assert response.status_code == 200


def notices(app: RecordingService, user: str | None = None) -> list[tuple[str, str]]:
    return [
        (n["event"], n["user"])
        for n in app.broadcasts
        if isinstance(n, dict) and n.get("type") == "system" and user in (None, n["user"])
    ]


def member_lists(app: RecordingService) -> list[dict]:
    return [r.json() for r in app.sends("groups") if r.json().get("type") == "presence"]


def age(azurite: Azurite, seconds: float) -> None:
    """As if `seconds` had passed: presence records and marks moved back in time."""
    from azure.data.tables import TableClient, UpdateMode

    with TableClient.from_connection_string(
        azurite.connection_string, storage_settings.STATE_TABLE
    ) as table:
        for entity in list(table.list_entities()):
            key = entity["PartitionKey"]
            if key.startswith("presence|"):
                entity["updated"] = float(entity["updated"]) - seconds
            elif key == PENDING:
                entity["due"] = float(entity["due"]) - seconds
            else:
                continue
            table.update_entity(entity, mode=UpdateMode.REPLACE)


def marks(azurite: Azurite) -> list[dict]:
    from azure.data.tables import TableClient

    with TableClient.from_connection_string(
        azurite.connection_string, storage_settings.STATE_TABLE
    ) as table:
        return list(table.query_entities("PartitionKey eq @pk", parameters={"pk": PENDING}))


async def test_a_notice_held_back_by_flapping_is_sent_by_the_sweep(
    app: RecordingService, azurite: Azurite
) -> None:
    for n in range(6):  # connect, close: the user's notice bucket (4) runs dry
        await connect(app, f"flap-{n}", "alice", str(n))
        await disconnect(app, f"flap-{n}", "alice")
    await connect(app, "stays", "alice", "last")
    told = notices(app, "alice")
    assert told == [("joined", "alice"), ("left", "alice")] * 2  # the last "joined" held back
    [mark] = marks(azurite)
    assert (mark["room"], mark["user"]) == ("lobby", "alice")
    app.requests.clear()

    await sweep()  # not due yet: the bucket refills one notice per 15 s
    assert notices(app) == []
    age(azurite, 30)
    await sweep()
    assert notices(app) == [("joined", "alice")]
    assert marks(azurite) == []
    await sweep()  # done: nothing is sent twice
    assert notices(app) == [("joined", "alice")]


async def test_a_change_whose_handling_failed_is_announced_by_the_sweep(
    app: RecordingService, azurite: Azurite
) -> None:
    app.status = 503  # the service refuses the listing: the webhook cannot tell
    await connect(app, "conn-1", "alice")
    assert notices(app) == []
    [mark] = marks(azurite)
    assert mark["user"] == "alice"
    app.status = 202
    app.requests.clear()
    age(azurite, 5)
    await sweep()
    assert notices(app) == [("joined", "alice")]
    assert marks(azurite) == []


async def test_nothing_due_sends_nothing_and_calls_no_service(app: RecordingService) -> None:
    await sweep()
    await sweep(past_due=True)
    assert app.requests == []


async def test_a_lost_disconnected_is_corrected(app: RecordingService, azurite: Azurite) -> None:
    await connect(app, "conn-1", "alice")
    await connect(app, "conn-2", "bob", "2")
    assert notices(app) == [("joined", "alice"), ("joined", "bob")]
    app.requests.clear()
    app.disconnect("conn-1")  # gone from the service, but no `disconnected` ever comes
    await sweep()
    assert notices(app) == []  # records written this minute are not re-checked yet
    age(azurite, presence_sweep.RECHECK_AFTER_S + 1)
    await sweep()
    assert notices(app) == [("left", "alice")]  # bob is still there: nothing about him
    app.requests.clear()
    await sweep()
    assert notices(app) == []


async def test_the_recheck_goes_round_all_present_users_a_page_per_run(
    app: RecordingService, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.table_store import user_key

    monkeypatch.setattr(presence_sweep, "RECHECKS_PER_RUN", 1)
    # Records sort by the user's key: the one who leaves unseen is the last of the three, so
    # only a re-check that continues where the last run stopped ever reaches her.
    *staying, gone = sorted(["ann", "ben", "cat"], key=user_key)
    for n, user in enumerate([*staying, gone]):
        await connect(app, f"conn-{n}", user, str(n))
    app.disconnect("conn-2")  # gone from the service, no `disconnected`
    age(azurite, presence_sweep.RECHECK_AFTER_S + 1)
    app.requests.clear()
    told: list[list[tuple[str, str]]] = []
    for _ in range(6):  # two rounds of three
        await sweep()
        told.append(notices(app))
        app.requests.clear()
    assert told == [[], [], [("left", gone)], [], [], []]


async def test_a_crowd_past_the_room_budget_gets_one_member_list(
    app: RecordingService, azurite: Azurite
) -> None:
    users = [f"user{n:02d}" for n in range(40)]
    for n, user in enumerate(users):
        await connect(app, f"conn-{n}", user, str(n))
    # The room's budget (20 at once, then 2 per s, on this instance) announced the first
    # ones; the others left one mark, for the whole room (written once per second at most).
    announced = [u for _, u in notices(app)]
    assert announced[:20] == users[:20] and len(announced) < 30
    assert [(m["room"], m["user"]) for m in marks(azurite)] == [("lobby", ROOM_WIDE)]
    app.requests.clear()
    age(azurite, 5)
    await sweep()
    # Many changes due at once: one list of the room, not a notice each.
    assert notices(app) == []
    [listed] = member_lists(app)
    assert (listed["room"], sorted(listed["users"])) == ("lobby", users)
    assert marks(azurite) == []
    # The records say what the room was told: the next change, once the room's budget has
    # refilled, is an ordinary notice.
    app.requests.clear()
    configured().budgets.forget()
    await disconnect(app, "conn-39", "user39")
    assert notices(app) == [("left", "user39")]


async def test_a_crowd_leaving_past_the_room_budget_gets_one_member_list(
    app: RecordingService, azurite: Azurite
) -> None:
    import time

    users = [f"user{n:02d}" for n in range(12)]
    for n, user in enumerate(users):
        await connect(app, f"conn-{n}", user, str(n))
    assert len(notices(app)) == 12 and marks(azurite) == []
    spent = configured().budgets  # the room's budget, spent on this instance
    while spent.spend("lobby", time.time()):
        pass
    app.requests.clear()
    for n in range(8):
        await disconnect(app, f"conn-{n}", users[n])
    assert notices(app) == []
    assert [m["user"] for m in marks(azurite)] == [ROOM_WIDE]
    age(azurite, 5)
    await sweep()
    [listed] = member_lists(app)
    assert sorted(listed["users"]) == users[8:]
    assert notices(app) == [] and marks(azurite) == []
    # The records now say the eight left: a second run has nothing to tell.
    app.requests.clear()
    age(azurite, presence_sweep.RECHECK_AFTER_S + 1)
    await sweep()
    assert app.sends("groups") == []


async def test_two_sweeps_at_once_announce_once(app: RecordingService, azurite: Azurite) -> None:
    from adapters.instance_memory import RoomBudgets
    from adapters.sweeper import PresenceSweep
    from adapters.table_store import TableStore
    from adapters.webpubsub import Service

    for n in range(5):
        await connect(app, f"flap-{n}", "alice", str(n))
        await disconnect(app, f"flap-{n}", "alice")
    await connect(app, "stays", "alice", "last")
    assert len(marks(azurite)) == 1
    age(azurite, 30)
    app.requests.clear()

    settings = configured().settings
    storage = stateful().storage
    runs = [
        PresenceSweep(settings, Service(settings), TableStore(storage), RoomBudgets())
        for _ in range(2)
    ]
    read_announced_together([run.store for run in runs])
    now = time.time()
    reports = await asyncio.gather(*(run.run(now) for run in runs))
    assert notices(app) == [("joined", "alice")]
    assert sorted(r.notices for r in reports) == [0, 1]
    assert marks(azurite) == []
    for run in runs:
        await run.service.close()
        await run.store.close()


async def test_unconfigured_the_sweep_does_nothing_and_says_so_once(
    configure, service: RecordingService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    configure(ChatStorage="")  # neither the service nor the store is configured
    await sweep()
    await sweep()
    logged = [r for r in caplog.records if "WebPubSubConnectionString" in r.getMessage()]
    assert len(logged) == 1
    assert service.requests == []
    configure(WebPubSubConnectionString=connection_string(service.endpoint), ChatStorage="")
    await sweep()
    await sweep()
    logged = [r for r in caplog.records if "ChatStorage" in r.getMessage()]
    assert len(logged) == 1
    assert service.requests == []


async def test_the_store_down_skips_the_run_without_an_error(
    configure, service: RecordingService, caplog: pytest.LogCaptureFixture
) -> None:
    from .test_rooms_webhook import dead_port

    dead = (
        "AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"TableEndpoint=http://127.0.0.1:{dead_port()}/devstoreaccount1"
    )
    configure(WebPubSubConnectionString=connection_string(service.endpoint), ChatStorage=dead)
    caplog.set_level(logging.WARNING)
    await sweep()
    assert any("Presence sweep skipped" in r.getMessage() for r in caplog.records)
    assert not any(r.exc_info for r in caplog.records)
    assert service.requests == []


def test_the_timer_is_registered_with_its_schedule(app_functions: dict) -> None:
    timer = app_functions["presence_sweep"]
    [binding] = [json.loads(b) for b in timer.get_raw_bindings()]
    assert binding == {
        "direction": "IN",
        "type": "timerTrigger",
        "name": "timer",
        "schedule": presence_sweep.SCHEDULE,
        "runOnStartup": False,
        "useMonitor": False,
    }
