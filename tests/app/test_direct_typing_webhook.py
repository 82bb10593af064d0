"""'… is typing' in a direct conversation through the registered eventhandler (Azurite, the
recording service): one user-addressed send to the peer, never to the sender, kept from a
person who blocks the sender by the send's filter; the wrong pair, sign-in off and a second
notice within 3 s send nothing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest

import function_app
from chat import connection_state, direct, direct_typing, rooms
from devstack.emulator.filter import compile_filter

from .conftest import RecordingService, connection_string, event_request
from .test_conversations_store import ALICE, BOB, CAROL

MESSAGE = "azure.webpubsub.user.message"
ROOM = direct.conversation(ALICE, BOB)


async def command(value: object, **kw: Any):
    request = event_request(
        MESSAGE, body=json.dumps(value).encode(), content_type="text/plain", **kw
    )
    return await function_app.eventhandler(request)


def typing(to: object = BOB, room: str = ROOM) -> dict:
    return {"type": "typing", "room": room, "to": to}


def delivered_to(service: RecordingService, connection: str) -> list[dict]:
    """The user-addressed sends that reach `connection`, by its user and the send's filter,
    as the service would evaluate them (devstack/emulator/filter.py)."""
    user = service.users[connection]
    groups = {g for g, members in service.groups.items() if connection in members}
    reached = []
    for send in service.sends("users"):
        if unquote(send.path.split("/")[5]) != user:
            continue
        only = send.query.get("filter")
        context = {"userid": user, "connectionid": connection, "protocol": "", "groups": groups}
        if only is None or compile_filter(only)(context):
            reached.append(send.json())
    return reached


@pytest.fixture
async def people(configure, service: RecordingService):
    configure(
        WebPubSubConnectionString=connection_string(service.endpoint),
        ChatSignIn="required",
        ChatSignInProviders="aad,github",
        WEBSITE_AUTH_ENABLED="True",
    )
    for connection, user in (("conn-a", ALICE), ("conn-b", BOB), ("conn-c", CAROL)):
        service.connect(connection, user, "r.lobby", rooms.presence_group("lobby", user))
    yield service


async def test_the_peer_sees_it_the_sender_does_not_and_a_blocker_never_does(
    people: RecordingService,
) -> None:
    response = await command(typing(), user=ALICE, connection_id="conn-a", ce_id="t1")
    assert response.status_code == 204, response.get_body()
    notice = {"type": "typing", "room": ROOM, "user": ALICE}
    assert len(people.sends("users")) == 1 and people.sends("groups") == []
    assert delivered_to(people, "conn-b") == [notice]
    assert delivered_to(people, "conn-a") == [] and delivered_to(people, "conn-c") == []

    # Within 3 s on the same connection (its state comes back with the event): nothing more.
    state = response.headers[connection_state.HEADER]
    again = await command(typing(), user=ALICE, connection_id="conn-a", ce_id="t2", state=state)
    assert again.status_code == 204 and len(people.sends("users")) == 1

    # Bob blocks Alice: her next notice is still one send, which his connections skip.
    blocked = await command(
        {"type": "block", "user": ALICE}, user=BOB, connection_id="conn-b", ce_id="b1"
    )
    assert blocked.status_code == 204, blocked.get_body()
    people.requests.clear()
    response = await command(typing(), user=ALICE, connection_id="conn-a2", ce_id="t3")
    assert response.status_code == 204
    assert len(people.sends("users")) == 1
    assert delivered_to(people, "conn-b") == []


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (typing(to=CAROL), direct_typing.NOT_YOURS),  # Carol's pair with Alice is another room
        (typing(to=BOB, room=direct.conversation(BOB, CAROL)), direct_typing.NOT_YOURS),
        ({"type": "typing", "room": ROOM}, direct_typing.NOT_A_USER),
        (typing(to=42), direct_typing.NOT_A_USER),
        (typing(to=ALICE, room=direct.conversation(ALICE, ALICE)), direct_typing.TO_YOURSELF),
    ],
)
async def test_anything_else_is_refused_with_its_reason_and_sends_nothing(
    people: RecordingService, frame: dict, reason: str
) -> None:
    response = await command(frame, user=ALICE, connection_id="conn-a")
    assert response.status_code == 200
    body = json.loads(response.get_body())
    assert (body["event"], body["message"], body["room"]) == ("rejected", reason, frame["room"])
    assert people.sends("users") == [] and people.sends("groups") == []


async def test_with_sign_in_off_it_is_refused(app: RecordingService) -> None:
    room = direct.conversation("alice", "bob")
    response = await command(typing(to="bob", room=room), user="alice")
    assert json.loads(response.get_body())["message"] == direct_typing.NEED_SIGN_IN
    assert app.sends("users") == [] and app.sends("groups") == []
