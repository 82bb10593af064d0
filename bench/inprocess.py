"""The app's own cost per call, in process: each webhook event, negotiate and the history
endpoint, side by side with the bare SDK calls they wrap: a table insert plus send_to_group
(to a local sink) for a chat message, a table query of the same page on the same Azurite for
history, get_client_access_token for negotiate.

The history room holds 500 messages of a busy room: Poisson arrivals at 3 messages a second
(30 people each writing every 10 s or so), keyed like the app keys them (the ce-time second,
so about 3 rows share a key prefix and the page is put in order when read), each stored a few
milliseconds after its arrival. The floor is one query of the page's 51 rows, newest first,
with the app's first filter: what a page costs when the key alone gives the order.

Edit, delete and reaction act on messages this instance sent (so it holds a copy of the row,
adapters/message_rows.py), and again with its copies forgotten before each call, as on an
instance that neither sent nor changed the message (the row found by a query first).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import azure.functions as func

from bench import procs, sink
from bench.report import median, percentile, table

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
HUB = "Sample_ChatApp"
PAYLOAD = {
    "id": "0123456789abcdef01234567",
    "from": "alice",
    "message": "hello there",
    "time": "2026-11-28T12:00:00.000Z",
}


LEASED = "message, from a leased token (no bucket write beside the insert)"
# The messages the edit and reaction cases act on: the ids chat.events.stable_id gives them.
ACTING_BASE = 20_000_000
DELETED_BASE = 50_000_000  # the delete cases' messages, one per call (ce-id base + call)


def _acting_id(n: int, base: int = ACTING_BASE) -> str:
    seed = f"bench-conn\nazure.webpubsub.user.message\n{base + n}".encode()
    return hashlib.sha256(seed).hexdigest()[:24]


ACTED, REACTED = _acting_id(0), _acting_id(1)
COLD = 1_000_000  # the cold delete case's messages: after the warm case's


def _deleted_id(n: int) -> str:
    return _acting_id(n, DELETED_BASE)


# Acting on a message (issue 18): from the copy of the row this instance wrote (it sent or last
# changed the message), and cold (another instance did: the row is found by a query first).
EDIT = "edit (conditional replace from this instance's copy, send)"
EDIT_COLD = "edit, no copy here (find, conditional replace, send)"
DELETE = "delete (conditional replace from this instance's copy, send)"
DELETE_COLD = "delete, no copy here (find, conditional replace, send)"
REACT = "reaction toggle (conditional replace from this instance's copy, send)"
REACT_COLD = "reaction toggle, no copy here (find, conditional replace, send)"
EDIT_LEASED = "edit from the copy, from a leased token (no bucket write before it)"
ACTING = (EDIT, EDIT_COLD, DELETE, DELETE_COLD, REACT, REACT_COLD)
ACT_BLOCK = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _event(
    ce_type: str,
    ce_id: int,
    body: bytes = b"",
    content_type: str = "",
    state: str | None = None,
    user: str = "alice",
) -> func.HttpRequest:
    from chat import signature

    headers = {
        "WebHook-Request-Origin": "127.0.0.1",
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": ce_type,
        "ce-id": str(ce_id),
        # As the service stamps it: the second the event occurred.
        "ce-time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ce-hub": HUB.lower(),
        "ce-connectionId": "bench-conn",
        "ce-eventName": ce_type.rsplit(".", 1)[-1],
        "ce-userId": user,
        "ce-signature": signature.header([KEY], "bench-conn"),
    }
    if content_type:
        headers["Content-Type"] = content_type
    if state:
        headers["ce-connectionState"] = state
    return func.HttpRequest("POST", "http://localhost/api/eventhandler", headers=headers, body=body)


async def _time_each(call: Callable[[int], Awaitable[Any]], count: int, start: int) -> list[float]:
    samples = []
    # A call may build its request untimed first (the worker builds requests, not the app).
    prepare = getattr(call, "prepare", None)
    for i in range(count):
        if prepare is not None:
            prepared = prepare(start + i)
            if inspect.isawaitable(prepared):
                await prepared
        t0 = time.perf_counter()
        await call(start + i)
        samples.append(time.perf_counter() - t0)
    return samples


async def _compare(
    app: Callable[[int], Awaitable[Any]],
    bare: Callable[[int], Awaitable[Any]] | None,
    rounds: int,
    block: int,
    part: Callable[[int], bool] | None = None,
) -> dict[str, Any]:
    """Alternate blocks of app and bare calls so machine noise lands on both alike.

    With `part`, the app calls it picks (by call number) are also summed up on their own.
    """
    app_samples: list[float] = []
    bare_samples: list[float] = []
    prepare = getattr(app, "prepare", None)
    if prepare is not None:
        prepared = prepare(0)
        if inspect.isawaitable(prepared):
            await prepared
    await app(0)  # warm both: connection pools, lazy imports
    if bare:
        await bare(0)
    picked: list[float] = []
    for r in range(rounds):
        samples = await _time_each(app, block, 1 + r * block)
        app_samples += samples
        if part:
            picked += [t for n, t in enumerate(samples, 1 + r * block) if part(n)]
        if bare:
            bare_samples += await _time_each(bare, block, 1 + r * block)
    if part and picked:
        result = _summary(picked, bare_samples)
        result["share"] = len(picked) / len(app_samples)
        return {"all": _summary(app_samples, bare_samples), "part": result}
    return _summary(app_samples, bare_samples)


def _summary(app_samples: list[float], bare_samples: list[float]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "app_us": median(app_samples) * 1e6,
        "app_p99_us": percentile(app_samples, 99) * 1e6,
        "calls": len(app_samples),
    }
    if bare_samples:
        result["bare_us"] = median(bare_samples) * 1e6
        result["bare_p99_us"] = percentile(bare_samples, 99) * 1e6
        result["ratio"] = result["app_us"] / result["bare_us"]
        result["p99_ratio"] = result["app_p99_us"] / result["bare_p99_us"]
    return result


async def _measure(endpoint: str, storage: str, rounds: int, block: int) -> dict[str, Any]:
    from azure.data.tables.aio import TableServiceClient
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

    import function_app
    from chat import connection_state, history

    connection = f"Endpoint={endpoint};AccessKey={KEY};Version=1.0;"
    os.environ["WebPubSubConnectionString"] = connection
    os.environ["WebPubSubHub"] = HUB
    os.environ["ChatStorage"] = storage
    # The benchmark sends thousands of messages from one connection: lift the flood limit.
    os.environ["ChatRateLimitMessages"] = "10000"
    # The edit case edits one message thousands of times: its cost, not the window, is measured.
    os.environ["ChatEditWindowSeconds"] = "86400"
    function_app.runtime.reset()
    bare_client = WebPubSubServiceClient.from_connection_string(connection, hub=HUB)
    tables = TableServiceClient.from_connection_string(storage)
    bare_table = await tables.create_table_if_not_exists("benchbare")
    history_table = tables.get_table_client("chatmessages")

    async def bare_insert_send(i: int) -> None:
        # What any store-then-broadcast handler must do: one insert, one send_to_group.
        entity = {"PartitionKey": "lobby", "RowKey": f"{10**13 - i:013d}-{i:024x}", **PAYLOAD}
        await bare_table.create_entity(entity)
        await bare_client.send_to_group("r.lobby", PAYLOAD, content_type="application/json")

    history_room = "benchhistory"
    history_request = func.HttpRequest(
        "GET",
        f"http://localhost/api/rooms/{history_room}/messages",
        params={"limit": "50"},
        route_params={"room": history_room},
        body=b"",
    )

    async def app_history(_: int) -> None:
        response = await function_app.room_messages(history_request)
        assert response.status_code == 200, response.get_body()

    async def bare_history(_: int) -> None:
        # The same page straight from the SDK: one ordered query of the room's partition.
        first = history.Read(None, history.END, 51)
        query, parameters = history.read_filter(history_room, first)
        pages = history_table.query_entities(
            query, parameters=parameters, results_per_page=51
        ).by_page()
        async for page in pages:
            [entity async for entity in page]
            break

    # Calls of the message case that spent a token the connection had leased: no write of
    # the user's bucket beside the insert (the other calls lease up to 5 tokens at once).
    from_lease: set[int] = set()

    def message_calls() -> Any:
        # The service hands each event the connection state the previous reply set. The
        # request and the bookkeeping are done untimed, before each call (`prepare`).
        last: dict[str, Any] = {"state": None, "sent": None, "request": None}

        def prepare(i: int) -> None:
            sent, reply = last["sent"], last["state"]
            if sent is not None and reply is not None:
                before = connection_state.decode(sent).get("user_rate")
                if connection_state.decode(reply).get("user_rate") == before:
                    from_lease.add(i - 1)  # the bucket's ETag is unchanged: it was not written
            last["sent"] = reply
            last["request"] = _event(
                "azure.webpubsub.user.message", 10**6 + i, b"hello there", "text/plain", reply
            )

        async def call(i: int) -> None:
            response = await function_app.eventhandler(last["request"])
            assert response.status_code == 204, response.get_body()
            last["state"] = response.headers.get("ce-connectionState")

        call.prepare = prepare  # type: ignore[attr-defined]
        return call

    async def bare_token_response(_: int) -> None:
        # The least any negotiate function does: the token, plus the response the worker needs.
        token = await bare_client.get_client_access_token(user_id="alice", minutes_to_expire=60)
        func.HttpResponse(json.dumps({"url": token["url"]}), mimetype="application/json")

    async def bare_token(_: int) -> None:
        await bare_client.get_client_access_token(user_id="alice", minutes_to_expire=60)

    def webhook(kind: str, body: bytes = b"", content_type: str = ""):
        # Requests are built beforehand: the worker builds them, not the app.
        if kind == "OPTIONS":
            options = func.HttpRequest(
                "OPTIONS",
                "http://localhost/api/eventhandler",
                headers={"WebHook-Request-Origin": "127.0.0.1"},
                body=b"",
            )
            requests = [options] * (rounds * block + 1)
        else:
            requests = [_event(kind, i, body, content_type) for i in range(rounds * block + 1)]

        async def call(i: int) -> None:
            response = await function_app.eventhandler(requests[i])
            assert response.status_code < 300, response.get_body()

        return call

    negotiate_request = func.HttpRequest(
        "GET", "http://localhost/api/negotiate", params={"id": "alice"}, body=b""
    )

    async def negotiate(_: int) -> None:
        response = await function_app.negotiate(negotiate_request)
        assert response.status_code == 200

    def part(n: int) -> bool:
        return n in from_lease

    # --- acting on messages (issue 18): a room of their own, so the message case's rows
    # never stand between a find and its message.
    acted_room = "benchacts"

    def copies() -> Any:
        """The webhook executor's copy of the message rows (adapters/message_rows.py)."""
        configured = function_app.runtime.configured()
        assert configured is not None
        return configured.events.effects.messages

    deleted_room = "benchdeletes"  # its own room: the edit's find never scans these rows

    async def post_to_delete(i: int) -> None:
        body = {"type": "message", "room": deleted_room, "message": "delete me"}
        request = _event(
            "azure.webpubsub.user.message",
            DELETED_BASE + i,
            json.dumps(body).encode(),
            "text/plain",
            connection_state.encode({"rooms": [deleted_room]}),
        )
        assert (await function_app.eventhandler(request)).status_code == 204

    def acting_calls(
        command: Callable[[int], dict[str, Any]],
        base: int,
        cold: bool = False,
        room: str = acted_room,
        post: Callable[[int], Awaitable[None]] | None = None,
        leased: set[int] | None = None,
    ) -> Any:
        """Act on a message, each call with the state the previous reply set (untimed before
        it: `post` sends the message acted on; `cold` forgets this instance's copies, as on an
        instance that neither sent nor changed the message)."""
        last: dict[str, Any] = {"state": connection_state.encode({"rooms": [room]})}

        async def prepare(i: int) -> None:
            if post is not None:
                await post(i)
            if cold:
                copies().forget()
            body = json.dumps(command(i)).encode()
            last["request"] = _event(
                "azure.webpubsub.user.message", base + i, body, "text/plain", last["state"]
            )

        async def call(i: int) -> None:
            response = await function_app.eventhandler(last["request"])
            assert response.status_code == 204, response.get_body()
            state = response.headers.get("ce-connectionState") or last["state"]
            if leased is not None and _user_rate(state) == _user_rate(last["state"]):
                leased.add(i)  # an edit spends a message token: this one was leased before
            last["state"] = state

        call.prepare = prepare  # type: ignore[attr-defined]
        return call

    def _user_rate(state: str) -> Any:
        return connection_state.decode(state).get("user_rate")

    edit_leased: set[int] = set()

    bare_row: dict[str, Any] = {"etag": None}

    async def bare_update_send(i: int) -> None:
        # The floor of an edit or delete: one conditional update (ETag), one send_to_group.
        from azure.core import MatchConditions

        entity = {"PartitionKey": "acts", "RowKey": "one", **PAYLOAD, "message": f"edit {i}"}
        if bare_row["etag"] is None:
            written = await bare_table.upsert_entity(entity)
        else:
            written = await bare_table.update_entity(
                entity, etag=bare_row["etag"], match_condition=MatchConditions.IfNotModified
            )
        bare_row["etag"] = written["etag"]
        await bare_client.send_to_group("r.lobby", PAYLOAD, content_type="application/json")

    async def bare_upsert_send(i: int) -> None:
        # The floor of a reaction toggle: one upsert, one send_to_group.
        entity = {"PartitionKey": "acts", "RowKey": f"r{i % 2}", "emoji": "x"}
        await bare_table.upsert_entity(entity)
        await bare_client.send_to_group("r.lobby", PAYLOAD, content_type="application/json")

    reacted_room = "benchreacted"
    reacted_request = func.HttpRequest(
        "GET",
        f"http://localhost/api/rooms/{reacted_room}/messages",
        params={"limit": "50"},
        route_params={"room": reacted_room},
        body=b"",
    )

    async def app_reacted_history(_: int) -> None:
        response = await function_app.room_messages(reacted_request)
        assert response.status_code == 200, response.get_body()

    # Issue 17: a person in 20 rooms asks for their conversations (unread per room), and a
    # page catches up on a room after an outage.
    from adapters.conversations import mine

    state_table = tables.get_table_client("chatstate")
    app_my_rooms, bare_twenty_rows = _my_rooms(), _twenty_rows(state_table)

    catch_up_request: list[func.HttpRequest] = []  # made once the room's times are known

    async def app_catch_up(_: int) -> None:
        response = await function_app.room_messages(catch_up_request[0])
        assert response.status_code == 200, response.get_body()

    async def bare_range(_: int) -> None:
        # The same seconds as one range query (what catch-up reads, without ordering them).
        pages = history_table.query_entities(
            "PartitionKey eq @room and RowKey lt @below",
            parameters={"room": history_room, "below": catch_up_below[0]},
            results_per_page=1000,
        ).by_page()
        async for page in pages:
            [entity async for entity in page]
            break

    catch_up_below = [""]

    def sys_event(name: str) -> str:
        return f"azure.webpubsub.sys.{name}"

    connect_body = b'{"claims":{},"query":{},"headers":{},"subprotocols":[]}'
    cases = {
        "OPTIONS (abuse protection)": (webhook("OPTIONS"), None),
        "connect": (webhook(sys_event("connect"), connect_body, "application/json"), None),
        "connected (presence: list, read the record, snapshot)": (
            webhook(sys_event("connected"), b"{}", "application/json"),
            None,
        ),
        "message (store, then send to the room)": (
            message_calls(),
            (bare_insert_send, "table insert + send_to_group"),
        ),
        "history page (50 of 500)": (app_history, (bare_history, "the same table query")),
        EDIT: (
            acting_calls(
                lambda i: {"type": "edit", "room": acted_room, "id": ACTED, "message": f"e{i}"},
                30_000_000,
                leased=edit_leased,
            ),
            (bare_update_send, "conditional update + send_to_group"),
        ),
        EDIT_COLD: (
            acting_calls(
                lambda i: {"type": "edit", "room": acted_room, "id": ACTED, "message": f"c{i}"},
                31_000_000,
                cold=True,
            ),
            (bare_update_send, "conditional update + send_to_group"),
        ),
        DELETE: (
            acting_calls(
                lambda i: {"type": "delete", "room": deleted_room, "id": _deleted_id(i)},
                32_000_000,
                room=deleted_room,
                post=post_to_delete,
            ),
            (bare_update_send, "conditional update + send_to_group"),
        ),
        DELETE_COLD: (
            acting_calls(
                lambda i: {"type": "delete", "room": deleted_room, "id": _deleted_id(i + COLD)},
                33_000_000,
                cold=True,
                room=deleted_room,
                post=lambda i: post_to_delete(i + COLD),
            ),
            (bare_update_send, "conditional update + send_to_group"),
        ),
        REACT: (
            acting_calls(
                lambda i: {"type": "react", "room": acted_room, "id": REACTED, "emoji": "👍"},
                40_000_000,
            ),
            (bare_upsert_send, "upsert + send_to_group"),
        ),
        REACT_COLD: (
            acting_calls(
                lambda i: {"type": "react", "room": acted_room, "id": REACTED, "emoji": "🎉"},
                41_000_000,
                cold=True,
            ),
            (bare_upsert_send, "upsert + send_to_group"),
        ),
        "history page, reactions on every message (50 of 500)": (
            app_reacted_history,
            (app_history, "today's page: the app's, of a room without reactions"),
        ),
        "GET /api/me/rooms (20 rooms)": (app_my_rooms, (bare_twenty_rows, "one 20-row query")),
        "catch-up (the last 60 s of the room)": (app_catch_up, (bare_range, "a range query")),
        "negotiate": (negotiate, (bare_token, "get_client_access_token")),
        "negotiate, same floor plus the HttpResponse every function returns": (
            negotiate,
            (bare_token_response, "get_client_access_token + func.HttpResponse"),
        ),
    }
    # 500 messages in the history room, through the app's own store: a busy room.
    configured = function_app.runtime.configured()
    if configured is None or configured.stateful is None:
        raise RuntimeError("the app is not configured for the benchmark")
    store = configured.stateful.store
    arrivals = random.Random(2026)
    occurred = 1_796_032_800.0
    for n in range(500):
        occurred += arrivals.expovariate(3.0)  # 3 messages a second on average
        stored = occurred + 0.004
        message = {
            "id": hashlib.sha256(b"%d" % n).hexdigest()[:24],  # ids are hashes
            "room": history_room, "from": "alice",
            "message": f"history {n}", "time": history.iso_time(stored),
        }  # fmt: skip
        key_ms, _ = history.row_time(int(occurred * 1000), int(stored * 1000))
        await store.add_message(history.to_entity(message, key_ms))
    # The messages edited and reacted to, stored through the app (now: within the edit window).
    for n in range(2):  # ACTED, then REACTED
        request = _event(
            "azure.webpubsub.user.message",
            ACTING_BASE + n,
            json.dumps({"type": "message", "room": acted_room, "message": "act on me"}).encode(),
            "text/plain",
            connection_state.encode({"rooms": [acted_room]}),
        )
        assert (await function_app.eventhandler(request)).status_code == 204
    # A room like the history room, each message with 3 emoji of 5 people each.
    from chat import reactions as reaction_rules

    state: Any = ()
    for emoji in ("👍", "🎉", "❤️"):
        for person in range(5):
            state = reaction_rules.toggle(state, emoji, f"user{person}", f"user{person}")
    arrivals = random.Random(2026)
    occurred = 1_796_032_800.0
    for n in range(500):
        occurred += arrivals.expovariate(3.0)
        stored = occurred + 0.004
        message = {
            "id": hashlib.sha256(b"r%d" % n).hexdigest()[:24],
            "room": reacted_room, "from": "alice",
            "message": f"history {n}", "time": history.iso_time(stored),
        }  # fmt: skip
        key_ms, _ = history.row_time(int(occurred * 1000), int(stored * 1000))
        entity = history.to_entity(message, key_ms) | {"reactions": reaction_rules.stored(state)}
        await store.add_message(entity)
    # The reader is in 20 rooms (the history room among them), nothing read yet.
    for n in range(19):
        await state_table.upsert_entity(
            {"PartitionKey": mine("reader"), "RowKey": f"room{n}", "kind": "room"}
        )
    await state_table.upsert_entity(
        {"PartitionKey": mine("reader"), "RowKey": history_room, "kind": "room"}
    )
    # Catch-up from 60 s before the room's newest message (about 180 messages).
    since_s = int(occurred) - 60
    catch_up_request.append(
        func.HttpRequest(
            "GET",
            f"http://localhost/api/rooms/{history_room}/messages",
            params={"since": history.iso_time(since_s)[:19] + "Z", "limit": "50"},
            route_params={"room": history_room},
            body=b"",
        )
    )
    catch_up_below[0] = history.row_key(since_s * 1000, "")[: history.PREFIX] + "."
    results: dict[str, Any] = {}
    message = "message (store, then send to the room)"
    for name, (app_call, bare) in cases.items():
        if name == message:
            split = await _compare(app_call, bare[0] if bare else None, rounds, block, part)
            results[name] = split["all"]
            results[LEASED] = split["part"]
            results[LEASED]["bare"] = bare[1] if bare else "-"
        elif name in ACTING:
            # The same calls in blocks of 10: a load spike on this shared machine lasts about
            # a block of 100 (0.5 s), enough to move one side's median alone.
            many = rounds * block // ACT_BLOCK
            floor = bare[0] if bare else None
            if name == EDIT:  # and the edits that spent a leased token, as for messages
                split = await _compare(app_call, floor, many, ACT_BLOCK, edit_leased.__contains__)
                results[name], results[EDIT_LEASED] = split["all"], split["part"]
                results[EDIT_LEASED]["bare"] = bare[1] if bare else "-"
            else:
                results[name] = await _compare(app_call, floor, many, ACT_BLOCK)
        else:
            results[name] = await _compare(app_call, bare[0] if bare else None, rounds, block)
        if bare:
            results[name]["bare"] = bare[1]
    # Before the DMs: they remake the runtime in sign-in mode, where ?id= names no one.
    results |= await _design_floors(bare_client, bare_table, state_table, rounds, block)
    results |= await _direct_messages(bare_client, bare_table, state_table, rounds, block)
    await bare_client.close()
    await tables.close()
    await function_app.runtime.close()
    return results


ME_ROOMS_FLOOR = "GET /api/me/rooms (20 rooms), against its design floor"
FLOOR_ME_ROOMS = "/api/me/rooms design floor (bare SDK), against one 20-row query"
FLOOR_DM = "DM design floor (insert + 2 send_to_user at once), against insert + 1 send_to_user"


async def _alternate(
    calls: list[Callable[[int], Awaitable[Any]]], rounds: int, block: int
) -> list[list[float]]:
    """Like `_compare`, for any number of calls: blocks of each in turn, so noise lands on all."""
    for call in calls:
        await call(0)  # warm: connection pools, lazy imports
    samples: list[list[float]] = [[] for _ in calls]
    for r in range(rounds):
        for kept, call in zip(samples, calls, strict=True):
            kept += await _time_each(call, block, 1 + r * block)
    return samples


def _my_rooms() -> Callable[[int], Awaitable[None]]:
    """The app's `GET /api/me/rooms` for the reader (a person in 20 rooms)."""
    import function_app

    request = func.HttpRequest(
        "GET", "http://localhost/api/me/rooms", params={"id": "reader"}, body=b""
    )

    async def call(_: int) -> None:
        response = await function_app.my_rooms(request)
        assert response.status_code == 200, response.get_body()

    return call


def _twenty_rows(state_table: Any) -> Callable[[int], Awaitable[None]]:
    """The /api/me/rooms floor: one partition query of 20 rows, the reader's rooms, as any
    such list needs."""
    from adapters.conversations import mine

    async def query(_: int) -> None:
        pages = state_table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": mine("reader")}, results_per_page=20
        ).by_page()
        async for page in pages:
            [entity async for entity in page]
            break

    return query


async def _design_floors(
    bare_client: Any, bare_table: Any, state_table: Any, rounds: int, block: int
) -> dict[str, Any]:
    """The least any design of the contract can cost on these parts, beside the app and the
    issue's floors (docs/performance.md, "Design floors").

    /api/me/rooms must read the person's list and their rooms' activity rows, and Table Storage
    allows at most 15 comparisons in a filter, so 20 rooms (and the lobby every list has) take
    two activity queries of at most 14 keys: three requests, all at once at best. A DM must
    reach every connection of both people: two user-addressed sends."""
    from adapters.conversations import DIRECTORY, KEYS_PER_QUERY, mine
    from chat.rooms import LOBBY

    app, one_query = _my_rooms(), _twenty_rows(state_table)

    # The rooms the app reads the activity of: the person's list, and the lobby.
    names = [
        str(row["RowKey"])
        async for row in state_table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": mine("reader")}, select=["RowKey"]
        )
    ]
    names += [] if LOBBY in names else [LOBBY]
    parts = [names[i : i + KEYS_PER_QUERY] for i in range(0, len(names), KEYS_PER_QUERY)]
    # The filters and selects of adapters/conversations.py (joined, activity), written out.
    listed = ("PartitionKey eq @pk", {"pk": mine("reader")}, 1000, [
        "RowKey", "kind", "joined", "readGroup", "readTime", "readId",
        "withUserId", "withName", "withIdp",
    ])  # fmt: skip
    queries = [listed] + [
        (
            "PartitionKey eq @pk and ( "
            + " or ".join(f"RowKey eq @r{n}" for n in range(len(part)))
            + " )",
            {"pk": DIRECTORY} | {f"r{n}": name for n, name in enumerate(part)},
            len(part),
            ["RowKey", "lastMessageTime", "activeUntil"],
        )
        for part in parts
    ]

    async def query(text: str, parameters: dict[str, Any], size: int, select: list[str]) -> None:
        pages = state_table.query_entities(
            text, parameters=parameters, results_per_page=size, select=select
        ).by_page()
        async for page in pages:
            [entity async for entity in page]
            break

    async def floor(_: int) -> None:
        await asyncio.gather(*(query(*q) for q in queries))

    app_s, floor_s, one_s = await _alternate([app, floor, one_query], rounds, block)
    keys = " + ".join(str(len(part)) for part in parts)
    me = _summary(app_s, floor_s) | {"bare": f"the list + {len(parts)} activity queries "
                                     f"({keys} keys), at once"}  # fmt: skip
    least = _summary(floor_s, one_s) | {"bare": "one 20-row query"}

    user_a, user_b = "bench-floor-a", "bench-floor-b"  # the sink takes any user id

    async def insert(partition: str, i: int) -> None:
        entity = {"PartitionKey": partition, "RowKey": f"{10**13 - i:013d}-{i:024x}", **PAYLOAD}
        await bare_table.create_entity(entity)

    async def send(user: str) -> None:
        await bare_client.send_to_user(user, PAYLOAD, content_type="application/json")

    async def insert_send_both(i: int) -> None:
        await insert("dmfloor2", i)
        await asyncio.gather(send(user_a), send(user_b))

    async def insert_send_one(i: int) -> None:
        await insert("dmfloor1", i)
        await send(user_b)

    both_s, one_send_s = await _alternate([insert_send_both, insert_send_one], rounds, block)
    dm = _summary(both_s, one_send_s) | {"bare": "table insert + send_to_user"}
    return {ME_ROOMS_FLOOR: me, FLOOR_ME_ROOMS: least, FLOOR_DM: dm}


DM = "DM (sign-in mode: store, then send to both people)"
DM_BOTH = "DM, floor with the second person's send_to_user too (both at once, as the app)"


async def _direct_messages(
    bare_client: Any, bare_table: Any, state_table: Any, rounds: int, block: int
) -> dict[str, Any]:
    """Issue 17's DM, through the real path: the runtime is made again in sign-in mode, and
    the events come as the service sends a signed-in user's (ce-userId is the id negotiate
    signed). The recipient has a lobby presence record, as anyone who has been online has;
    the connection state the app returns goes into the next event, as the service does."""
    import function_app
    from adapters.table_store import user_key
    from chat.identity import encode_user_id

    os.environ["ChatSignIn"] = "required"
    os.environ["ChatSignInProviders"] = "aad,github"
    os.environ["WEBSITE_AUTH_ENABLED"] = "True"  # as App Service Authentication sets it
    function_app.runtime.reset()
    sender, recipient = (
        encode_user_id("aad", "a-1", "Alice"),
        encode_user_id("github", "b-2", "Bob"),
    )
    record = {"PartitionKey": "presence|lobby", "RowKey": user_key(recipient), "user": recipient}
    await state_table.upsert_entity(record | {"present": True, "tokens": 1.0, "updated": 0.0})
    body = json.dumps({"type": "dm", "to": recipient, "message": "hello there"}).encode()
    # The second comparison's calls are numbered on from the first's: new event ids and keys.
    last: dict[str, Any] = {"state": None, "request": None, "base": 50_000_000}

    def prepare(i: int) -> None:
        last["request"] = _event(
            "azure.webpubsub.user.message",
            last["base"] + i,
            body,
            "text/plain",
            last["state"],
            sender,
        )

    async def app_dm(i: int) -> None:
        response = await function_app.eventhandler(last["request"])
        assert response.status_code == 204, response.get_body()
        last["state"] = response.headers.get("ce-connectionState") or last["state"]

    app_dm.prepare = prepare  # type: ignore[attr-defined]

    async def bare_insert_send_to_user(i: int) -> None:
        # What any store-then-deliver DM must do: one insert, one user-addressed send.
        entity = {"PartitionKey": "dm", "RowKey": f"{10**13 - i:013d}-{i:024x}", **PAYLOAD}
        await bare_table.create_entity(entity)
        await bare_client.send_to_user(recipient, PAYLOAD, content_type="application/json")

    async def bare_insert_send_to_both(i: int) -> None:
        # What the contract's delivery needs: every connection of both people.
        entity = {"PartitionKey": "dm2", "RowKey": f"{10**13 - i:013d}-{i:024x}", **PAYLOAD}
        await bare_table.create_entity(entity)
        await asyncio.gather(
            *(
                bare_client.send_to_user(user, PAYLOAD, content_type="application/json")
                for user in (sender, recipient)
            )
        )

    one = await _compare(app_dm, bare_insert_send_to_user, rounds, block)
    last["base"] += 10**6
    both = await _compare(app_dm, bare_insert_send_to_both, rounds, block)
    one["bare"] = "table insert + send_to_user"
    both["bare"] = "table insert + 2 send_to_user at once"
    return {DM: one, DM_BOTH: both}


@contextmanager
def _round_trip(rtt_ms: float, endpoint: str, storage: str) -> Iterator[tuple[str, str, Any]]:
    """With `rtt_ms`, the sink and Azurite behind bench/latency.py's proxy (half the round
    trip each way), for the app and the floors alike: the endpoint and connection string that
    go through it, and what it adds to a call as measured (`--rtt-ms`, docs/performance.md)."""
    if rtt_ms <= 0:
        yield endpoint, storage, None
        return
    from bench import latency

    loopback = re.compile(r"http://127\.0\.0\.1:(\d+)")
    sink_port, storage_port = (int(loopback.findall(s)[0]) for s in (endpoint, storage))
    targets = [("127.0.0.1", sink_port), ("127.0.0.1", storage_port)]
    with latency.round_trip(rtt_ms, targets) as ((via_sink, via_storage), trip):
        yield (
            loopback.sub(f"http://127.0.0.1:{via_sink}", endpoint),
            loopback.sub(f"http://127.0.0.1:{via_storage}", storage),
            trip,
        )


@contextmanager
def _settings_restored() -> Iterator[None]:
    """The app's settings as they were: the cases set them in this process (sign-in mode for
    the DM last), and a later benchmark's hosts inherit this environment (coldstart's host
    answered 503 in sign-in mode with a storage that had stopped)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run(quick: bool, rtt_ms: float = 0.0) -> tuple[dict[str, Any], list[str]]:
    rounds, block = (4, 100) if quick else (10, 300)
    with (
        sink.running(_free_port()) as direct_endpoint,
        procs.azurite() as direct_storage,
        _round_trip(rtt_ms, direct_endpoint, direct_storage) as (endpoint, storage, trip),
        _settings_restored(),
    ):
        results = asyncio.run(_measure(endpoint, storage, rounds, block))
    targets = {
        "message (store, then send to the room)": "median <= 1.15",
        "history page (50 of 500)": "p99 <= 1.2",
        EDIT: "median <= 1.2",
        DELETE: "median <= 1.2",
        REACT: "median <= 1.2",
        "history page, reactions on every message (50 of 500)": "p99 <= 1.3",
        "GET /api/me/rooms (20 rooms)": "p99 <= 1.5",
        "catch-up (the last 60 s of the room)": "median <= 1.2",
        DM: "median <= 1.15",
        "negotiate": "median <= 1.1",
    }
    rows = [
        [
            name + (f", {r['share']:.0%} of the calls" if "share" in r else ""),
            r.get("bare", "-"),
            r["app_us"],
            r.get("bare_us", "-"),
            f"{r['ratio']:.2f}" if "ratio" in r else "-",
            f"{r['p99_ratio']:.2f}" if "p99_ratio" in r else "-",
            targets.get(name, "-"),
        ]
        for name, r in results.items()
    ]
    title = (
        "Per-call cost in process (median us; sends go to a local HTTP sink, the tables "
        "to Azurite in memory)"
    )
    if trip is not None:
        title += (
            f", every store and service call {rtt_ms:g} ms away (a proxy delays each direction "
            f"{trip['each_way_ms']:.2f} ms; measured: {trip['measured_added_ms']:.2f} ms added "
            "per call)"
        )
    data = results if trip is None else results | {"round_trip": trip}
    return data, [
        table(
            title,
            ["call", "bare SDK floor", "app us", "floor us", "ratio", "p99 ratio", "target"],
            rows,
        )
    ]
