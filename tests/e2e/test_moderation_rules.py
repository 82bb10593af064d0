"""Issue 19's rules over the real local stack in sign-in mode (Azurite, emulator, Functions
host, emulated App Service Authentication, ChatAdmins set), beside tests/e2e/test_moderation.py:
the topic and removing a moderator; a moderator cannot act on the owner or an admin and only an
admin bans the owner; the audit row is in the table before anyone hears of the action, and the
target's notice says what and for how long; a member's forged frames and a forged
`ce-connectionState` claiming a role change nothing; a retried event acts once; bans and
mutes expire at use, with no timer."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
import pytest

from adapters.chat_bans import ChatBans
from adapters.moderation_store import ModerationStore
from adapters.table_store import TableStore
from chat import connection_state, events, roles, signature, storage_settings
from chat.plan import ChatBan, Moderate
from tests.support.chat_client import ChatClient
from tests.support.stack import LocalStack
from tests.support.waiting import until

from .test_moderation import (  # noqa: F401  (fixtures)
    ADMIN_ID,
    closed,
    history_status,
    in_room,
    moderation,
    receives_nothing_more_from,
    rejected,
    stack,
)

pytestmark = pytest.mark.stack


def _tag() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
async def table(stack: LocalStack) -> AsyncIterator[TableStore]:  # noqa: F811
    """The stack's `chatstate` table, read (and written, as another instance) directly."""
    connection = stack.options.storage_connection_string
    settings = storage_settings.parse_connection_string("ChatStorage", connection)
    store = TableStore(settings)
    yield store
    await store.close()


async def audited(table: TableStore, partition: str) -> list[tuple[str, str, str]]:
    """(action, by, target) of the partition's audit rows."""
    rows, _ = await table.query_state(
        "audit", f"PartitionKey eq '{partition}'", {}, ["action", "by", "target"], 100
    )
    return [(r["action"], r["by"], r["target"]) for r in rows]


async def room_info(person, room: str) -> dict:
    async with person.session.get(f"{person.base_url}/api/rooms/{room}") as response:
        assert response.status == 200
        return dict(await response.json())


def seconds_until(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() - time.time()


def personal(action: str, room: str, words: str) -> object:
    """The target's own notice (the room's may come first: both are sent at once)."""
    check = moderation(action, room)
    return lambda f: check(f) and words in f.get("message", "")  # type: ignore[operator]


async def refused_with(client: ChatClient, frame: dict, reason: str) -> str:
    await client.send(frame)
    message = str((await client.wait_for(rejected))["message"])
    assert reason in message, (frame, message)
    return message


async def test_topic_removing_a_moderator_and_who_outranks_whom(people, table) -> None:
    room = f"ranks-{_tag()}"
    (olga, olga_id), (mo, mo_id) = await people("aad", "olga"), await people("aad", "mo")
    (mel, _), (ada, ada_id) = await people("aad", "mel"), await people("aad", "ada", ADMIN_ID)
    owner, moderator = await in_room(olga, "olga", room), await in_room(mo, "mo", room)
    member, admin = await in_room(mel, "mel", room), await in_room(ada, "ada", room)

    await owner.send({"type": "mod", "room": room, "user": mo_id, "on": True})
    made = await moderator.wait_for(personal("mod", room, "made you"))
    assert made["message"] == f"olga made you a moderator of {room}." and made["on"] is True

    # Topic: a moderator sets it, everyone is told, the room route shows it; a member may not.
    await moderator.send({"type": "topic", "room": room, "topic": "  Rust only  "})
    for client in (owner, member, admin):
        told = await client.wait_for(moderation("topic", room))
        assert told["topic"] == "Rust only" and told["by"] == mo_id
    assert (await room_info(mel, room))["topic"] == "Rust only"
    await refused_with(member, {"type": "topic", "room": room, "topic": "mine"}, "Not done")
    bad = {"type": "topic", "room": room, "topic": "x" * 201}
    await refused_with(moderator, bad, "at most 200")

    # A moderator cannot act on the owner or an admin; the owner cannot ban themself.
    for target in (olga_id, ada_id):
        for command in (
            {"type": "kick", "room": room, "user": target},
            {"type": "ban", "room": room, "user": target, "minutes": None},
            {"type": "mute", "room": room, "user": target, "minutes": 5},
        ):
            await refused_with(moderator, command, roles.OUTRANKED)
    ban_owner = {"type": "ban", "room": room, "user": olga_id, "minutes": None}
    await refused_with(owner, ban_owner, roles.NOT_YOURSELF)
    await owner.say_in(room, "still the owner")
    await member.wait_chat("olga", "still the owner")

    # Only an admin bans the owner from their own room.
    await admin.send(ban_owner)
    told = await owner.wait_for(moderation("ban", room))
    assert told["message"] == f"You were banned from {room} by ada until it is lifted."
    assert told["until"] is None
    assert await history_status(olga, room) == 403
    await owner.say_in(room, "am I banned?")
    assert "banned from" in (await owner.wait_for(rejected))["message"]
    await admin.send({"type": "unban", "room": room, "user": olga_id})
    await owner.wait_for(moderation("unban", room))
    assert await history_status(olga, room) == 200

    # The owner removes the moderator: their moderator commands are refused from then on.
    await owner.send({"type": "mod", "room": room, "user": mo_id, "on": False})
    unmade = await moderator.wait_for(personal("mod", room, "your moderator role"))
    assert unmade["on"] is False and "removed your moderator role" in unmade["message"]
    assert (await room_info(mel, room))["moderators"] == []
    await refused_with(moderator, {"type": "topic", "room": room, "topic": "x"}, "Not done")

    rows = await audited(table, f"audit|{room}")
    assert sorted(rows) == sorted(
        [
            ("mod", olga_id, mo_id),
            ("topic", mo_id, ""),
            ("ban", ada_id, olga_id),
            ("unban", ada_id, olga_id),
            ("mod", olga_id, mo_id),
        ]
    )
    for client in (owner, moderator, member, admin):
        await client.close()


async def test_audited_before_anyone_hears_and_the_notice_says_what_and_how_long(
    people,
    table,
) -> None:
    room = f"audit-{_tag()}"
    (olga, olga_id), (tim, tim_id) = await people("aad", "olga"), await people("aad", "tim")
    (ada, ada_id), (vic, vic_id) = await people("aad", "ada", ADMIN_ID), await people("aad", "vic")
    owner, target = await in_room(olga, "olga", room), await in_room(tim, "tim", room)
    admin = await in_room(ada, "ada", room)
    partition = f"audit|{room}"

    async def acted(frame: dict, action: str, by: str, on: str) -> dict:
        """Send `frame`; when the target (or, without one, the owner) hears of it, the
        audit row is already in the table."""
        await (admin if by == ada_id else owner).send(frame)
        if on:
            notice = await target.wait_for(personal(action, room, "You"))
        else:
            notice = await owner.wait_for(moderation(action, room))
        assert (action, by, on) in await audited(table, partition), (action, by, on)
        return notice

    said_ban = await acted(
        {"type": "ban", "room": room, "user": tim_id, "minutes": 10}, "ban", olga_id, tim_id
    )
    assert said_ban["message"].startswith(f"You were banned from {room} by olga until ")
    assert said_ban["until"] in said_ban["message"]
    assert 540 < seconds_until(said_ban["until"]) <= 600
    await acted({"type": "unban", "room": room, "user": tim_id}, "unban", olga_id, tim_id)
    await target.join_room(room)
    said_mute = await acted(
        {"type": "mute", "room": room, "user": tim_id, "minutes": 5}, "mute", olga_id, tim_id
    )
    assert said_mute["message"].startswith(f"You were muted in {room} by olga until ")
    assert 240 < seconds_until(said_mute["until"]) <= 300
    await acted({"type": "unmute", "room": room, "user": tim_id}, "unmute", olga_id, tim_id)
    said_kick = await acted({"type": "kick", "room": room, "user": tim_id}, "kick", olga_id, tim_id)
    assert "You were removed from" in said_kick["message"] and "until" not in said_kick
    await target.join_room(room)
    await owner.send({"type": "mod", "room": room, "user": tim_id, "on": True})
    await target.wait_for(personal("mod", room, "made you a moderator"))
    assert ("mod", olga_id, tim_id) in await audited(table, partition)
    slow = await acted({"type": "slowmode", "room": room, "seconds": 30}, "slowmode", olga_id, "")
    assert slow["seconds"] == 30 and "one message per 30 s" in slow["message"]
    await acted({"type": "topic", "room": room, "topic": "Go"}, "topic", olga_id, "")

    # A moderator's delete (here an admin's) and a report resolved by delete.
    await target.say_in(room, "rude one")
    rude = await owner.wait_chat("tim", "rude one")
    await admin.send({"type": "delete", "room": room, "id": rude["id"]})
    await target.wait_for(moderation("delete", room))
    rows = await audited(table, partition)
    assert ("delete", ada_id, tim_id) in rows
    await owner.say_in(room, "rude two")
    rude2 = await target.wait_chat("olga", "rude two")
    await target.send({"type": "report", "room": room, "id": rude2["id"], "reason": "rude"})
    await target.wait_for(lambda f: f.get("event") == "reported")
    async with ada.session.get(f"{ada.base_url}/api/reports") as response:
        (report,) = [r for r in (await response.json())["reports"] if r["room"] == room]
    await admin.send({"type": "resolve", "report": report["report"], "action": "dismiss"})

    async def resolved() -> bool:
        return ("resolve", ada_id, rude2["id"]) in await audited(table, partition)

    await until(resolved, timeout=10, what="the resolve audited")

    # A chat-wide ban: audited (chataudit) before the user's connections are closed, and the
    # close says what and for how long.
    banned = await vic.join("vic")
    await admin.send({"type": "ban", "user": vic_id, "minutes": 5})
    close = await closed(banned)
    assert ("ban", ada_id, vic_id) in await audited(table, "chataudit")
    assert "You were banned from the chat by ada until " in str(close.extra), close
    await admin.send({"type": "unban", "user": vic_id})
    await admin.wait_for(
        lambda f: f.get("event") == "moderation" and f["action"] == "unban" and f["room"] is None
    )
    assert ("unban", ada_id, vic_id) in await audited(table, "chataudit")
    for client in (owner, target, admin):
        await client.close()


async def post_event(
    stack: LocalStack,  # noqa: F811  (the module's stack, passed in)
    user: str,
    frame: dict,
    ce_id: str,
    state: dict,
    connection: str,
) -> tuple[int, str]:
    """A user event exactly as the service delivers it (signed with the stack's key), with
    the connection state given: what a stale page's or a tampered state would look like."""
    headers = {
        "WebHook-Request-Origin": "localhost",
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": "azure.webpubsub.user.message",
        "ce-source": f"/hubs/{stack.hub}/client/{connection}",
        "ce-id": ce_id,
        "ce-hub": stack.hub,
        "ce-connectionId": connection,
        "ce-eventName": "message",
        "ce-userId": user,
        "ce-signature": signature.header([stack.access_key], connection),
        connection_state.HEADER: connection_state.encode(state),
        "Content-Type": "application/json",
    }
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
        http.post(
            f"{stack.host_base_url}/api/eventhandler", data=json.dumps(frame), headers=headers
        ) as response,
    ):
        return response.status, await response.text()


async def test_a_members_forged_frames_and_a_forged_connection_state_change_nothing(
    people,
    table,
    stack: LocalStack,  # noqa: F811
) -> None:
    room = f"forge-{_tag()}"
    (olga, olga_id), (mel, mel_id) = await people("aad", "olga"), await people("aad", "mel")
    owner, member = await in_room(olga, "olga", room), await in_room(mel, "mel", room)
    await owner.say_in(room, "the owner's words")
    said = await member.wait_chat("olga", "the owner's words")
    report_key = f"{room}|{said['id']}|" + "0" * 32
    forged = [
        {"type": "kick", "room": room, "user": olga_id},
        {"type": "ban", "room": room, "user": olga_id, "minutes": None},
        {"type": "unban", "room": room, "user": mel_id},
        {"type": "mute", "room": room, "user": olga_id, "minutes": 5},
        {"type": "unmute", "room": room, "user": mel_id},
        {"type": "slowmode", "room": room, "seconds": 600},
        {"type": "topic", "room": room, "topic": "pwned"},
        {"type": "mod", "room": room, "user": mel_id, "on": True},
        {"type": "delete", "room": room, "id": said["id"]},
        {"type": "ban", "user": olga_id, "minutes": None},
        {"type": "unban", "user": mel_id},
        {"type": "resolve", "report": report_key, "action": "delete"},
    ]
    # Over the member's real socket ("Not done", "Not deleted"), each with its reason.
    reasons = [await refused_with(member, frame, "Not d") for frame in forged]
    assert roles.NOT_MODERATOR in reasons and roles.NOT_OWNER in reasons, reasons
    # The same, delivered as the service would with a connection state claiming every role
    # (a stale page's or a tampered state): roles are read by id, the state is not believed.
    claims = {
        "rooms": [room, "lobby"],
        "role": "admin",
        "admin": True,
        "roles": {room: "owner"},
        "moderator": True,
        "owner": True,
    }
    for i, frame in enumerate(forged):
        status, body = await post_event(
            stack, mel_id, frame, f"{i + 1}", claims, f"forged-{_tag()}"
        )
        assert status == 200, (frame, status, body)
        answer = json.loads(body)
        # The same refusal, for the same reason, as without the claims.
        assert (answer["event"], answer["message"]) == ("rejected", reasons[i]), answer

    # A connection from before sign-in was required (a chosen name): refused, every command.
    for i, frame in enumerate(forged):
        status, body = await post_event(
            stack, "alice", frame, f"{i + 1}", claims, f"unsigned-{_tag()}"
        )
        assert status == 200, (frame, status, body)
        assert json.loads(body)["message"] == events.SIGN_IN_FIRST, (frame, body)

    # Nothing changed: no audit row, the room as it was, the owner in it, the message there.
    assert await audited(table, f"audit|{room}") == []
    assert all(by != mel_id for _, by, _ in await audited(table, "chataudit"))
    info = await room_info(mel, room)
    assert (info["owner"], info["moderators"], info["topic"], info["slowModeSeconds"]) == (
        olga_id,
        [],
        "",
        0,
    )
    await member.say_in(room, "one")
    await member.say_in(room, "two")  # no slow mode
    await owner.wait_chat("mel", "two")
    async with mel.session.get(f"{mel.base_url}/api/rooms/{room}/messages") as response:
        shown = {m["id"]: m for m in (await response.json())["messages"]}
    assert shown[said["id"]]["message"] == "the owner's words"
    assert not [f for f in owner.seen if f.get("event") == "moderation"]
    status, _ = await olga.negotiate()
    assert status == 200
    await owner.close()
    await member.close()


async def test_a_retried_event_acts_once(people, table, stack: LocalStack) -> None:  # noqa: F811
    room = f"retry-{_tag()}"
    (olga, olga_id), (ron, ron_id) = await people("aad", "olga"), await people("aad", "ron")
    owner, target = await in_room(olga, "olga", room), await in_room(ron, "ron", room)
    ban = {"type": "ban", "room": room, "user": ron_id, "minutes": 10}
    state = {"rooms": ["lobby"]}
    connection = f"retry-{_tag()}"
    # The service's retry of one event: the same ce-id, connection and body, twice.
    for _ in range(2):
        status, body = await post_event(stack, olga_id, ban, "7", state, connection)
        assert status == 204, body
    await target.wait_for(moderation("ban", room))
    await owner.wait_for(moderation("ban", room))
    # Frames on one connection arrive in order: once the lobby marker is in, a second notice
    # would have come before it.
    await owner.say_in(room, "after the ban")
    await owner.wait_chat("olga", "after the ban")
    await receives_nothing_more_from(target, room, owner)
    assert sum(f.get("event") == "moderation" for f in target.seen) == 1
    assert sum(f.get("event") == "moderation" for f in owner.seen) == 1
    assert await audited(table, f"audit|{room}") == [("ban", olga_id, ron_id)]
    await owner.close()
    await target.close()


def written(room: str, action: str, account: str, user_id: str, until: float) -> Moderate:
    audit = {"PartitionKey": f"audit|{room}", "RowKey": _tag(), "by": "test", "action": action}
    return Moderate(room, audit, action, account, user_id, until=until, at=0.0)


async def test_bans_and_mutes_expire_at_use_with_no_timer(people, table) -> None:
    """Rows written (as another instance would) seconds before they expire, for people the
    host has not read yet: refused until then, admitted after, with nothing run at expiry."""
    room = f"expire-{_tag()}"
    (olga, _), (vic, vic_id), (mia, mia_id) = (
        await people("aad", "olga"),
        await people("aad", "vic"),
        await people("aad", "mia"),
    )
    owner = await in_room(olga, "olga", room)
    elsewhere = ModerationStore(table)
    vic_account, mia_account = roles.account(vic_id), roles.account(mia_id)
    assert vic_account and mia_account
    soon = time.time() + 3.0
    await elsewhere.apply(written(room, roles.BAN, vic_account, vic_id, soon))
    await elsewhere.apply(written(room, roles.MUTE, mia_account, mia_id, soon))

    banned = await vic.join("vic")
    await banned.send({"type": "join", "room": room})
    assert "banned from" in (await banned.wait_for(rejected))["message"]
    assert await history_status(vic, room) == 403
    muted = await in_room(mia, "mia", room)  # a mute does not keep anyone out
    await muted.say_in(room, "too early")
    assert "muted in" in (await muted.wait_for(rejected))["message"]

    async def history_open() -> bool:
        return await history_status(vic, room) == 200

    await until(history_open, timeout=12, what="the ban expired")
    assert time.time() >= soon
    await banned.join_room(room)
    await muted.say_in(room, "on time")
    await owner.wait_chat("mia", "on time")
    for client in (owner, banned, muted):
        await client.close()


async def test_a_mute_refuses_messages_edits_and_reactions_until_lifted(people) -> None:
    room = f"mute-{_tag()}"
    (olga, _), (mel, mel_id) = await people("aad", "olga"), await people("aad", "mel")
    owner, member = await in_room(olga, "olga", room), await in_room(mel, "mel", room)
    await member.say_in(room, "before")
    before = await owner.wait_chat("mel", "before")
    await owner.send({"type": "mute", "room": room, "user": mel_id, "minutes": 5})
    await member.wait_for(personal("mute", room, "You were muted"))
    for frame in (
        {"type": "message", "room": room, "message": "muted?"},
        {"type": "edit", "room": room, "id": before["id"], "message": "edited"},
        {"type": "react", "room": room, "id": before["id"], "emoji": "👍"},
    ):
        await refused_with(member, frame, f"muted in {room}")
    # Joining is not posting: a muted member may still join (and read) the room.
    tab = await mel.join("mel-2")
    await tab.join_room(room)
    await owner.send({"type": "unmute", "room": room, "user": mel_id})
    await member.wait_for(personal("unmute", room, "You may post"))
    await member.send({"type": "edit", "room": room, "id": before["id"], "message": "edited"})
    edited = await owner.wait_for(lambda f: f.get("type") == "edited")
    assert edited["id"] == before["id"]
    # Nothing the mute refused reached anyone.
    assert not [f for f in owner.seen if f.get("message") == "muted?"]
    assert not [f for f in owner.seen if f.get("type") == "reactions"]
    for client in (owner, member, tab):
        await client.close()


async def test_a_chat_wide_ban_expires_at_use(people, table) -> None:
    """A chat-wide ban row written (as another instance would) seconds before it expires:
    negotiate answers 403 until then and 200 after, with nothing run at the expiry."""
    (zoe, zoe_id) = await people("aad", "zoe")
    account = roles.account(zoe_id)
    assert account
    soon = time.time() + 3.0
    audit = {"PartitionKey": "chataudit", "RowKey": _tag(), "by": "test", "action": "ban"}
    await ChatBans(table).apply(ChatBan(audit, account, zoe_id, soon))
    status, why = await zoe.negotiate()
    assert status == 403 and "You are banned from the chat until" in why, why

    async def admitted() -> bool:
        return (await zoe.negotiate())[0] == 200

    await until(admitted, timeout=12, what="the chat-wide ban expired")
    assert time.time() >= soon
    client = await zoe.join("zoe")
    await client.close()


async def test_the_lobby_has_no_owner(people) -> None:
    (first, _) = await people("aad", "first")
    client = await in_room(first, "first", "lobby")
    info = await room_info(first, "lobby")
    assert (info["owner"], info["moderators"]) == (None, [])
    await refused_with(client, {"type": "topic", "room": "lobby", "topic": "mine"}, "Not done")
    await client.close()
