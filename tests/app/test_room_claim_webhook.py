"""Who owns a new room, through the registered functions in sign-in mode, on Azurite: a join
refused after the moderation gate let it through (the service failing the group add, the
connection's room changes spent, too many rooms) leaves the room unowned, and the next join
that succeeds makes its person the owner (GET /api/rooms/{room} reads the table fresh)."""

from __future__ import annotations

import json

import azure.functions as func

from chat import connection_state, events, rooms
from chat.identity import encode_user_id

from .conftest import RecordingService
from .test_moderation_races import answer, room_info
from .test_moderation_webhook import command

MEL = encode_user_id("aad", "member-1", "Mel")
OLGA = encode_user_id("aad", "owner-1", "Olga")


async def join(user: str, connection: str, room: str, ce_id: str, state: str | None = None):
    return await command({"type": "join", "room": room}, user, connection, ce_id, state)


def state_of(response: func.HttpResponse) -> str:
    return response.headers[connection_state.HEADER]


async def test_a_join_the_service_fails_leaves_the_room_to_the_next_joiner(
    signed_in_app: RecordingService,
) -> None:
    signed_in_app.add_status = 500
    refused = await join(MEL, "mel-conn", "fresh", "mel-1")
    assert answer(refused) == events.unavailable("join", "fresh")
    assert (await room_info("fresh"))["owner"] is None  # Mel never got in: not the owner

    signed_in_app.add_status = None
    assert answer(await join(OLGA, "olga-conn", "fresh", "olga-1")) == "done"
    assert (await room_info("fresh"))["owner"] == OLGA
    # Mel, in at last, is a member of Olga's room.
    assert answer(await join(MEL, "mel-conn", "fresh", "mel-2")) == "done"
    assert (await room_info("fresh"))["owner"] == OLGA


async def test_a_join_over_the_room_change_limit_leaves_the_room_unowned(
    signed_in_app: RecordingService,
) -> None:
    # Mel spends the connection's room changes on another room (each join is a real one).
    state = None
    for n in range(events.ROOM_CHANGES):
        kind = "join" if n % 2 == 0 else "leave"
        response = await command({"type": kind, "room": "busy"}, MEL, "mel-conn", f"m{n}", state)
        assert answer(response) == "done"
        state = state_of(response)
    refused = await join(MEL, "mel-conn", "fresh", "mel-fresh", state)
    assert answer(refused) == events.ROOMS_TOO_FAST
    assert (await room_info("fresh"))["owner"] is None

    assert answer(await join(OLGA, "olga-conn", "fresh", "olga-1")) == "done"
    assert (await room_info("fresh"))["owner"] == OLGA
    # "busy" went to its first (successful) joiner, Mel, as before.
    assert (await room_info("busy"))["owner"] == MEL


async def test_a_join_with_too_many_rooms_leaves_the_room_unowned(
    signed_in_app: RecordingService,
) -> None:
    full = {"rooms": [f"r{n}" for n in range(rooms.MAX_ROOMS_PER_CONNECTION - 1)]}
    refused = await join(MEL, "mel-conn", "fresh", "mel-1", connection_state.encode(full))
    assert "at most 20 rooms" in answer(refused)
    assert (await room_info("fresh"))["owner"] is None

    assert answer(await join(OLGA, "olga-conn", "fresh", "olga-1")) == "done"
    body = await room_info("fresh")
    assert (body["owner"], body["moderators"]) == (OLGA, [])
    assert json.dumps(body)  # the page's answer, as served
