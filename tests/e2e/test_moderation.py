"""Moderation through the real local stack in sign-in mode (emulated App Service
Authentication, ChatSignIn=required, ChatAdmins set): kick, ban (with the history route's
403), mute, slow mode, and a member's forged frame, over real WebSockets.

"Receives nothing more from the room" is checked by order, not by waiting: after the room's
message has reached another member, a lobby message is sent; frames on one connection arrive
in order, so once the kicked connection has the lobby message, the room's would have come
before it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import aiohttp
import pytest

from tests.e2e.test_sign_in import Person
from tests.support.chat_client import ChatClient
from tests.support.stack import LocalStack, local_stack
from tests.support.waiting import until

pytestmark = pytest.mark.stack

ADMIN_ID = f"e2e-admin-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with local_stack(sign_in=True, extra_host_env={"ChatAdmins": f"aad:{ADMIN_ID}"}) as started:
        yield started


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def rejected(frame: dict) -> bool:
    return frame.get("type") == "system" and frame.get("event") == "rejected"


def moderation(action: str, room: str) -> object:
    return lambda f: (
        f.get("event") == "moderation" and f.get("action") == action and f.get("room") == room
    )


async def in_room(person: Person, label: str, room: str) -> ChatClient:
    client = await person.join(label)
    await client.join_room(room)
    return client


async def history_status(person: Person, room: str) -> int:
    url = f"{person.base_url}/api/rooms/{room}/messages"
    async with person.session.get(url) as response:
        return response.status


async def reported(member: ChatClient, name: str, room: str, text: str, reason: str) -> dict:
    """`member` (shown as `name`) says `text` in `room` and reports it: the message, once the
    report is taken."""
    await member.say_in(room, text)
    said = await member.wait_chat(name, text)
    await member.send({"type": "report", "room": room, "id": said["id"], "reason": reason})
    assert (await member.wait_for(lambda f: f.get("event") == "reported"))["id"] == said["id"]
    return said


async def open_reports(admin: Person, room: str) -> list[dict]:
    """The room's open reports, as the admins' route lists them."""
    async with admin.session.get(f"{admin.base_url}/api/reports") as response:
        assert response.status == 200
        return [r for r in (await response.json())["reports"] if r["room"] == room]


async def receives_nothing_more_from(client: ChatClient, room: str, sender: ChatClient) -> None:
    """`sender` has just had its room message echoed; now a lobby marker: `client` gets the
    marker, and nothing of `room` came before it."""
    marker = f"marker-{_tag()}"
    start = len(client.seen)
    await sender.say(marker)
    await client.wait_for(lambda f: f.get("message") == marker and f.get("room") == "lobby")
    leaked = [f for f in client.seen[start:] if f.get("room") == room and "type" not in f]
    assert leaked == [], leaked


async def test_the_first_joiner_owns_the_room_and_bans_every_tab_of_a_member(people) -> None:
    room = f"ban-{_tag()}"
    (olga, olga_id), (bob, bob_id) = await people("aad", "olga"), await people("aad", "bob")
    owner = await in_room(olga, "olga", room)
    tab1, tab2 = await in_room(bob, "bob-1", room), await in_room(bob, "bob-2", room)
    async with olga.session.get(f"{olga.base_url}/api/rooms/{room}") as response:
        info = await response.json()
    assert info["owner"] == olga_id and info["moderators"] == []
    assert await history_status(bob, room) == 200

    await owner.send({"type": "ban", "room": room, "user": bob_id, "minutes": 10})
    notice = await owner.wait_for(moderation("ban", room))
    assert (notice["user"], notice["by"]) == (bob_id, olga_id) and notice["until"]
    for tab in (tab1, tab2):
        told = await tab.wait_for(moderation("ban", room))
        assert "You were banned from" in told["message"]

    await owner.say_in(room, "after the ban")
    await owner.wait_chat("olga", "after the ban")
    for tab in (tab1, tab2):
        await receives_nothing_more_from(tab, room, owner)

    await tab1.send({"type": "join", "room": room})
    refused = await tab1.wait_for(rejected)
    assert "banned from" in refused["message"]
    await tab2.say_in(room, "let me in")  # its state still lists the room: the gate refuses
    assert "banned from" in (await tab2.wait_for(rejected))["message"]
    assert await history_status(bob, room) == 403

    await owner.send({"type": "unban", "room": room, "user": bob_id})
    await owner.wait_for(moderation("unban", room))
    await tab1.join_room(room)
    assert await history_status(bob, room) == 200
    for client in (owner, tab1, tab2):
        await client.close()


async def test_a_kicked_member_stops_receiving_and_may_join_again(people) -> None:
    room = f"kick-{_tag()}"
    (olga, _), (carl, carl_id) = await people("aad", "olga"), await people("aad", "carl")
    owner, kicked = await in_room(olga, "olga", room), await in_room(carl, "carl", room)
    await owner.send({"type": "kick", "room": room, "user": carl_id})
    await owner.wait_for(moderation("kick", room))
    assert "may join it again" in (await kicked.wait_for(moderation("kick", room)))["message"]
    await owner.say_in(room, "carl is out")
    await owner.wait_chat("olga", "carl is out")
    await receives_nothing_more_from(kicked, room, owner)
    # Its connection state still listed the room: posting without joining again is refused.
    await kicked.say_in(room, "am I still in?")
    assert f"join the room {room} first" in (await kicked.wait_for(rejected))["message"]
    await kicked.join_room(room)
    await owner.say_in(room, "welcome back")
    await kicked.wait_chat("olga", "welcome back")
    await owner.close()
    await kicked.close()


async def test_mute_and_a_members_forged_frame(people) -> None:
    room = f"mute-{_tag()}"
    (olga, olga_id), (mel, mel_id) = await people("aad", "olga"), await people("aad", "mel")
    owner, member = await in_room(olga, "olga", room), await in_room(mel, "mel", room)
    # A member's forged moderation frame changes nothing.
    await member.send({"type": "ban", "room": room, "user": olga_id, "minutes": None})
    assert "Not done" in (await member.wait_for(rejected))["message"]
    await owner.say_in(room, "still here")
    await owner.wait_chat("olga", "still here")

    await owner.send({"type": "mute", "room": room, "user": mel_id, "minutes": 5})
    await member.wait_for(moderation("mute", room))
    await member.say_in(room, "can I talk?")
    assert "muted in" in (await member.wait_for(rejected))["message"]
    await owner.send({"type": "unmute", "room": room, "user": mel_id})
    await member.wait_for(moderation("unmute", room))
    await member.say_in(room, "thanks")
    await owner.wait_chat("mel", "thanks")
    await owner.close()
    await member.close()


async def test_slow_mode_and_an_admin_appointing_a_moderator(people) -> None:
    room = f"slow-{_tag()}"
    (olga, _), (sam, sam_id) = await people("aad", "olga"), await people("aad", "sam")
    (ada, _) = await people("aad", "ada", ADMIN_ID)
    owner, member = await in_room(olga, "olga", room), await in_room(sam, "sam", room)
    admin = await in_room(ada, "ada", room)

    await member.send({"type": "slowmode", "room": room, "seconds": 60})
    assert "Not done" in (await member.wait_for(rejected))["message"]
    await owner.send({"type": "slowmode", "room": room, "seconds": 60})
    assert (await member.wait_for(moderation("slowmode", room)))["seconds"] == 60

    await member.say_in(room, "one")
    await owner.wait_chat("sam", "one")
    await member.say_in(room, "two")
    refused = await member.wait_for(rejected)
    assert "slow mode" in refused["message"] and "Wait" in refused["message"]
    # The owner is free of slow mode.
    await owner.say_in(room, "a")
    await owner.say_in(room, "b")
    await member.wait_chat("olga", "b")

    # An admin (ChatAdmins, by account) appoints sam; moderators are free of slow mode too.
    await admin.send({"type": "mod", "room": room, "user": sam_id, "on": True})
    await member.wait_for(moderation("mod", room))
    await member.say_in(room, "three")
    await owner.wait_chat("sam", "three")
    for client in (owner, member, admin):
        await client.close()


async def test_a_report_reaches_the_admins_list_and_is_dismissed(people) -> None:
    room = f"report-{_tag()}"
    (rita, _), (ada, _) = await people("aad", "rita"), await people("aad", "ada", ADMIN_ID)
    member = await in_room(rita, "rita", room)
    said = await reported(member, "rita", room, "something rude", "rude")
    await member.send({"type": "report", "room": room, "id": said["id"], "reason": "again"})
    assert "already" in (await member.wait_for(rejected))["message"]

    async with rita.session.get(f"{rita.base_url}/api/reports") as response:
        assert response.status == 403
    mine = await open_reports(ada, room)
    assert [(r["id"], r["reason"]) for r in mine] == [(said["id"], "rude")]
    # The message as it is now, read by the route (the report keeps no copy of its text).
    assert (mine[0]["message"]["text"], mine[0]["message"]["userId"]) == (
        "something rude",
        said["userId"],
    )
    await member.send({"type": "report", "room": room, "id": "nosuchmessage1", "reason": ""})
    assert "no such message" in (await member.wait_for(rejected))["message"]

    admin = await ada.join("ada")
    await admin.send({"type": "resolve", "report": mine[0]["report"], "action": "dismiss"})
    await admin.send({"type": "resolve", "report": mine[0]["report"], "action": "dismiss"})
    assert "no such open report" in (await admin.wait_for(rejected))["message"]
    assert await open_reports(ada, room) == []
    await member.close()
    await admin.close()


async def test_a_moderator_deletes_anothers_message_and_a_member_may_not(people) -> None:
    room = f"del-{_tag()}"
    (olga, _), (mo, mo_id) = await people("aad", "olga"), await people("aad", "mo")
    (mel, _), (pat, _) = await people("aad", "mel"), await people("aad", "pat")
    owner, moderator = await in_room(olga, "olga", room), await in_room(mo, "mo", room)
    author, member = await in_room(mel, "mel", room), await in_room(pat, "pat", room)
    everyone = (owner, moderator, author, member)
    await owner.send({"type": "mod", "room": room, "user": mo_id, "on": True})
    await moderator.wait_for(moderation("mod", room))
    await owner.say_in(room, "the owner's words")
    kept = await member.wait_chat("olga", "the owner's words")
    await author.say_in(room, "something rude")
    rude = await member.wait_chat("mel", "something rude")

    async def history() -> dict[str, dict]:
        async with pat.session.get(f"{pat.base_url}/api/rooms/{room}/messages") as response:
            assert response.status == 200
            return {m["id"]: m for m in (await response.json())["messages"]}

    # A plain member's forged delete of someone else's message: refused, nothing changes.
    await member.send({"type": "delete", "room": room, "id": kept["id"]})
    assert "only its author" in (await member.wait_for(rejected))["message"]
    assert (await history())[kept["id"]]["message"] == "the owner's words"

    await moderator.send({"type": "delete", "room": room, "id": rude["id"]})
    for client in everyone:
        gone = await client.wait_for(lambda f: f.get("type") == "deleted")
        assert gone == {"type": "deleted", "room": room, "id": rude["id"]}
        notice = await client.wait_for(moderation("delete", room))
        assert (notice["id"], notice["by"]) == (rude["id"], mo_id)
    shown = await history()
    assert shown[rude["id"]]["deleted"] is True and "message" not in shown[rude["id"]]
    assert shown[kept["id"]]["message"] == "the owner's words"
    # No earlier `deleted` frame reached anyone: the member's refusal changed nothing.
    for client in everyone:
        assert [f["id"] for f in client.seen if f.get("type") == "deleted"] == [rude["id"]]
        await client.close()


async def test_a_report_resolved_by_delete_deletes_the_message(people) -> None:
    room = f"rdel-{_tag()}"
    (rita, _), (ada, ada_id) = await people("aad", "rita"), await people("aad", "ada", ADMIN_ID)
    member = await in_room(rita, "rita", room)
    said = await reported(member, "rita", room, "delete me", "spam")
    (mine,) = await open_reports(ada, room)

    admin = await ada.join("ada")  # in the lobby only: the report names the room
    await admin.send({"type": "resolve", "report": mine["report"], "action": "delete"})
    assert (await member.wait_for(lambda f: f.get("type") == "deleted"))["id"] == said["id"]
    notice = await member.wait_for(moderation("delete", room))
    assert notice["by"] == ada_id

    async def closed() -> bool:
        return await open_reports(ada, room) == []

    await until(closed, timeout=10, what="the report closed")
    async with rita.session.get(f"{rita.base_url}/api/rooms/{room}/messages") as response:
        shown = {m["id"]: m for m in (await response.json())["messages"]}
    assert shown[said["id"]]["deleted"] is True and "message" not in shown[said["id"]]
    await member.close()
    await admin.close()


async def closed(client: ChatClient) -> aiohttp.WSMessage:
    """The socket's close (any frames before it are kept in `seen`)."""
    while True:
        message = await asyncio.wait_for(client.ws.receive(), 10.0)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return message
        if message.type is aiohttp.WSMsgType.TEXT:
            client.seen.append(json.loads(message.data))


async def test_an_admin_bans_a_user_from_the_whole_chat_and_lifts_it(people) -> None:
    (ada, ada_id), (olga, _) = await people("aad", "ada", ADMIN_ID), await people("aad", "olga")
    (vic, vic_id) = await people("aad", "vic")
    admin, member = await ada.join("ada"), await olga.join("olga")
    tabs = [await vic.join("vic-1"), await vic.join("vic-2")]
    status, early_url = await vic.negotiate()  # a token issued before the ban
    assert status == 200

    # Not an admin: refused with the reason, nothing changes.
    await member.send({"type": "ban", "user": vic_id, "minutes": 5})
    assert "only admins" in (await member.wait_for(rejected))["message"]
    # An admin's frame without a room bans from the whole chat: every socket of theirs closes.
    await admin.send({"type": "ban", "user": vic_id, "minutes": 5, "reason": "spam"})
    told = await admin.wait_for(lambda f: f.get("event") == "moderation" and f["user"] == vic_id)
    assert (told["action"], told["room"], told["by"]) == ("ban", None, ada_id)
    for tab in tabs:
        await closed(tab)
    status, why = await vic.negotiate()
    assert status == 403 and "You are banned from the chat until" in why, why
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await vic.session.ws_connect(early_url)
    # Others are untouched.
    status, _ = await olga.negotiate()
    assert status == 200

    await admin.send({"type": "unban", "user": vic_id})
    await admin.wait_for(lambda f: f.get("event") == "moderation" and f["action"] == "unban")
    status, _ = await vic.negotiate()
    assert status == 200
    back = await vic.join("vic-3")
    await back.say("back again")
    await member.wait_chat("vic", "back again")
    for client in (admin, member, back):
        await client.close()
