"""Moderation through the registered functions in sign-in mode, on Azurite: a ban racing the
banned person's message, and what holds once the ban has answered."""

from __future__ import annotations

import asyncio
import json

import azure.functions as func
import pytest

import function_app
from chat import connection_state, rooms
from chat.identity import encode_user_id

from .conftest import RecordingService, event_request, get_request

MESSAGE = "azure.webpubsub.user.message"
OWNER = encode_user_id("aad", "owner-1", "Olga")
MEMBER = encode_user_id("aad", "member-1", "Mel")
OLGA = ("aad", "owner-1", "Olga")  # OWNER's principal, as the read routes get it


async def command(
    frame: dict, user: str, connection: str, ce_id: str, state: str | None = None
) -> func.HttpResponse:
    request = event_request(
        MESSAGE,
        body=json.dumps(frame).encode(),
        content_type="application/json",
        user=user,
        connection_id=connection,
        ce_id=ce_id,
        state=state,
    )
    return await function_app.eventhandler(request)


async def join(user: str, connection: str, room: str) -> str:
    response = await command({"type": "join", "room": room}, user, connection, f"join-{user}")
    assert response.status_code == 204, response.get_body()
    return response.headers[connection_state.HEADER]


def chat_sends(service: RecordingService, room: str) -> list[dict]:
    return [
        body
        for body in (r.json() for r in service.sends("groups"))
        if isinstance(body, dict) and "type" not in body and body.get("room") == room
    ]


async def history(room: str) -> list[dict]:
    # Sign-in mode: the route reads the principal; the owner reads (not banned).
    request = get_request(f"http://localhost/api/rooms/{room}/messages", OLGA, room=room)
    response = await function_app.room_messages(request)
    assert response.status_code == 200, response.get_body()
    return json.loads(response.get_body())["messages"]


@pytest.mark.parametrize("round_", range(3))
async def test_a_ban_racing_a_message(signed_in_app: RecordingService, round_: int) -> None:
    room = f"race{round_}"
    await join(OWNER, "owner-conn", room)  # the first joiner: the owner
    state = await join(MEMBER, "member-conn", room)
    ban = {"type": "ban", "room": room, "user": MEMBER, "minutes": None}
    said = {"type": "message", "room": room, "message": "in flight"}
    banned, sent = await asyncio.gather(
        command(ban, OWNER, "owner-conn", f"ban-{round_}"),
        command(said, MEMBER, "member-conn", f"msg-{round_}", state),
    )
    assert banned.status_code == 204, banned.get_body()
    # Either the message went out before the ban was seen, or it was refused: stored and
    # broadcast alike, never one without the other.
    broadcast = [m["message"] for m in chat_sends(signed_in_app, room)]
    stored = [m["message"] for m in await history(room)]
    assert broadcast == stored
    if sent.status_code == 200:
        assert "banned" in json.loads(sent.get_body())["message"]
        assert stored == []
    else:
        assert sent.status_code == 204 and stored == ["in flight"]

    # Once the ban has answered, nothing more gets through on this instance.
    after = await command(said, MEMBER, "member-conn", f"after-{round_}", state)
    assert after.status_code == 200 and "banned" in json.loads(after.get_body())["message"]
    rejoin = await command({"type": "join", "room": room}, MEMBER, "member-conn", f"re-{round_}")
    assert "banned" in json.loads(rejoin.get_body())["message"]
    assert [m["message"] for m in await history(room)] == stored
    removals = [
        r.path
        for r in signed_in_app.requests
        if r.method == "DELETE" and "/users/" in r.path and r.path.endswith(rooms.group(room))
    ]
    assert len(removals) == 1  # every connection of the user, in one call per group
