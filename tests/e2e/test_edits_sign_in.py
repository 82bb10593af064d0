"""Issue 18 over the real local stack in sign-in mode (emulated App Service Authentication,
ChatSignIn=required, Azurite): edit, delete, reply, react and mention as signed-in people see
them, where authorship is the user id (two people may share a name), and retried events
(the service's retries carry the same ce-id) that change nothing a second time.

The stack runs with ChatEditWindowSeconds=5, so the window's refusal is seen after a few
seconds of real time; every other edit here comes right after its message."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from chat import connection_state
from tests.e2e.test_sign_in import Person
from tests.support.chat_client import ChatClient, Frame
from tests.support.stack import LocalStack, local_stack
from tests.support.waiting import until

pytestmark = pytest.mark.stack

EDIT_WINDOW_S = 5


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    env = {"ChatEditWindowSeconds": str(EDIT_WINDOW_S)}
    with local_stack(sign_in=True, extra_host_env=env) as started:
        yield started


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def of(kind: str, message_id: str):
    return lambda f: f.get("type") == kind and f.get("id") == message_id


def chat(text: str):
    return lambda f: "type" not in f and f.get("message") == text


def rejected(frame: Frame) -> bool:
    return frame.get("type") == "system" and frame.get("event") == "rejected"


async def in_room(person: Person, label: str, room: str) -> ChatClient:
    client = await person.join(label)
    await client.join_room(room)
    return client


async def history(person: Person, room: str) -> dict[str, dict]:
    url = f"{person.base_url}/api/rooms/{room}/messages"
    async with person.session.get(url) as response:
        assert response.status == 200, await response.text()
        return {m["id"]: m for m in (await response.json())["messages"]}


async def my_rooms(person: Person) -> dict[str, dict]:
    async with person.session.get(f"{person.base_url}/api/me/rooms") as response:
        assert response.status == 200, await response.text()
        return {r["room"]: r for r in (await response.json())["rooms"]}


async def nothing_more(client: ChatClient, sender: ChatClient, room: str) -> list[Frame]:
    """Every frame `client` got up to a marker `sender` says in `room` now: frames on one
    connection arrive in order, so what was sent to it before the marker is in the list."""
    marker = f"marker-{_tag()}"
    start = len(client.seen)
    await sender.say_in(room, marker)
    await client.wait_for(chat(marker))
    return client.seen[start:]


async def test_only_the_author_by_user_id_edits_and_deletes_not_a_namesake(people) -> None:
    """Two people called sam, through two providers: the second cannot edit or delete the
    first's message (authorship is the user id, never the name shown)."""
    room, name = f"sams-{_tag()}", f"sam-{_tag()}"
    (aad_sam, sam_id), (github_sam, namesake_id) = (
        await people("aad", name),
        await people("github", name),
    )
    assert sam_id != namesake_id
    author = await in_room(aad_sam, "sam (Microsoft)", room)  # the room's owner: first in
    namesake = await in_room(github_sam, "sam (GitHub)", room)
    await author.say_in(room, "teh plan")
    said = await namesake.wait_for(chat("teh plan"))
    assert (said["from"], said["userId"], said["idp"]) == (name, sam_id, "aad")
    message_id = said["id"]

    await namesake.send({"type": "edit", "room": room, "id": message_id, "message": "mine"})
    assert "only its author" in (await namesake.wait_for(rejected))["message"]
    await namesake.send({"type": "delete", "room": room, "id": message_id})
    assert "only its author" in (await namesake.wait_for(rejected))["message"]
    assert (await history(github_sam, room))[message_id]["message"] == "teh plan"

    await author.send({"type": "edit", "room": room, "id": message_id, "message": "the plan"})
    for client in (author, namesake):
        edited = await client.wait_for(of("edited", message_id))
        assert edited["message"] == "the plan" and edited["editedAt"]
    shown = (await history(github_sam, room))[message_id]
    assert (shown["message"], shown["editedAt"]) == ("the plan", edited["editedAt"])
    # The refused edit and delete reached nobody: one `edited`, no `deleted`.
    seen = await nothing_more(namesake, author, room)
    assert not [f for f in author.seen + namesake.seen if f.get("type") == "deleted"], seen
    assert len([f for f in namesake.seen if f.get("type") == "edited"]) == 1

    await author.send({"type": "delete", "room": room, "id": message_id})
    for client in (author, namesake):
        assert await client.wait_for(of("deleted", message_id)) == {
            "type": "deleted",
            "room": room,
            "id": message_id,
        }
    tombstone = (await history(github_sam, room))[message_id]
    assert tombstone == {
        "id": message_id,
        "room": room,
        "from": name,
        "userId": sam_id,
        "idp": "aad",
        "time": said["time"],
        "deleted": True,
    }
    # Deleted: its author cannot edit it back.
    await author.send({"type": "edit", "room": room, "id": message_id, "message": "back"})
    assert "was deleted" in (await author.wait_for(rejected))["message"]
    for client in (author, namesake):
        await client.close()


async def test_an_edit_after_the_window_is_refused_and_changes_nothing(people) -> None:
    room = f"window-{_tag()}"
    (ana, _), (ben, _) = await people("aad", f"ana-{_tag()}"), await people("github", "ben")
    author, reader = await in_room(ana, "ana", room), await in_room(ben, "ben", room)
    await author.say_in(room, "on time")
    said = await reader.wait_for(chat("on time"))
    sent = datetime.fromisoformat(said["time"].replace("Z", "+00:00")).timestamp()
    # Real time must pass: the window is the server's clock against the message's time.
    await until(
        lambda: time.time() > sent + EDIT_WINDOW_S + 0.5,
        timeout=EDIT_WINDOW_S + 5,
        what="the edit window over",
    )
    await author.send({"type": "edit", "room": room, "id": said["id"], "message": "too late"})
    refusal = await author.wait_for(rejected)
    assert refusal["message"] == (
        f"Not edited: a message can be edited for {EDIT_WINDOW_S} seconds after it was sent."
    )
    assert refusal["room"] == room
    shown = (await history(ben, room))[said["id"]]
    assert shown["message"] == "on time" and "editedAt" not in shown
    seen = await nothing_more(reader, author, room)
    assert not [f for f in seen if f.get("type") == "edited"]
    # A delete has no window.
    await author.send({"type": "delete", "room": room, "id": said["id"]})
    await reader.wait_for(of("deleted", said["id"]))
    for client in (author, reader):
        await client.close()


async def test_a_reply_quotes_the_original_with_its_authors_user_id(people) -> None:
    room, tag = f"reply-{_tag()}", _tag()
    (ana, ana_id), (ben, _) = (
        await people("aad", f"ana-{tag}"),
        await people("github", f"ben-{tag}"),
    )
    author, replier = await in_room(ana, "ana", room), await in_room(ben, "ben", room)
    long_text = "é" * 60 + "👍🏽" * 30  # an excerpt cut between two graphemes
    await author.say_in(room, long_text)
    original = await replier.wait_for(chat(long_text))
    await replier.send(
        {"type": "message", "room": room, "message": "agreed", "replyTo": original["id"]}
    )
    reply = await author.wait_for(chat("agreed"))
    quote = reply["replyTo"]
    assert (quote["id"], quote["from"], quote["userId"]) == (original["id"], f"ana-{tag}", ana_id)
    assert long_text.startswith(quote["excerpt"]) and len(quote["excerpt"]) <= 100
    assert quote["excerpt"] == "é" * 60 + "👍🏽" * 20  # 100 code points, no half emoji
    assert (await history(ana, room))[reply["id"]]["replyTo"] == quote
    # A reply to no message of this room is refused, and nothing is stored.
    await replier.send({"type": "message", "room": room, "message": "lost", "replyTo": "0" * 24})
    assert "replies to is not in" in (await replier.wait_for(rejected))["message"]
    assert [m["message"] for m in (await history(ana, room)).values()] == [long_text, "agreed"]
    for client in (author, replier):
        await client.close()


async def test_two_people_reacting_at_once_are_both_counted_and_converge(people) -> None:
    room, tag = f"react-{_tag()}", _tag()
    (ana, _), (ben, _) = await people("aad", f"ana-{tag}"), await people("github", f"ben-{tag}")
    first, second = await in_room(ana, "ana", room), await in_room(ben, "ben", room)
    await first.say_in(room, "lunch?")
    message_id = (await second.wait_for(chat("lunch?")))["id"]
    react = {"type": "react", "room": room, "id": message_id, "emoji": "👍🏽"}
    await first.send(react)  # both at once: neither waits for the other's frame
    await second.send(react)

    def both(f: Frame) -> bool:
        return of("reactions", message_id)(f) and f["reactions"][0]["count"] == 2

    for client in (first, second):
        state = await client.wait_for(both)
    (chip,) = state["reactions"]
    assert sorted(chip["users"]) == sorted([f"ana-{tag}", f"ben-{tag}"])
    assert (await history(ana, room))[message_id]["reactions"] == state["reactions"]

    # Ben takes his back; then the last state each page got is the stored one.
    await second.send(react)
    for client in (first, second):
        await client.wait_for(
            lambda f: of("reactions", message_id)(f) and f["reactions"][0]["count"] == 1
        )
    shown = (await history(ben, room))[message_id]
    stored = shown["reactions"]
    assert stored == [{"emoji": "👍🏽", "count": 1, "users": [f"ana-{tag}"]}]
    for client in (first, second):
        # Frames may arrive in any order: the newest (highest `rev`) is the stored state.
        await nothing_more(client, first, room)
        frames = [f for f in client.seen if of("reactions", message_id)(f)]
        newest = max(frames, key=lambda f: f["rev"])
        assert newest["reactions"] == stored and newest["rev"] == shown["reactionsRev"] == 3
    for client in (first, second):
        await client.close()


async def test_a_mention_reaches_every_connection_of_the_mentioned_only(people) -> None:
    room, tag = f"mention-{_tag()}", _tag()
    (ana, _), (ben, ben_id) = (
        await people("aad", f"ana-{tag}"),
        await people("github", f"ben-{tag}"),
    )
    (cat, _) = await people("aad", f"cat-{tag}")
    author = await in_room(ana, "ana", room)
    ben_here = await in_room(ben, "ben in the room", room)
    ben_away = await ben.join("ben's other tab, in the lobby only")
    other = await in_room(cat, "cat", room)

    text = f"@ben-{tag} and @nobody-{tag}, look"
    await author.say_in(room, text)
    said = await other.wait_for(chat(text))
    assert said["mentions"] == [ben_id]  # a name of no member is plain text
    for client in (ben_here, ben_away):
        note = await client.wait_for(lambda f: f.get("type") == "mention")
        assert note == {
            "type": "mention",
            "room": room,
            "id": said["id"],
            "from": f"ana-{tag}",
            "message": text,
        }
    assert not [f for f in ben_away.seen if chat(text)(f)]  # not viewing: only the mention
    for client, expected in ((other, 0), (author, 0), (ben_here, 1)):
        frames = await nothing_more(client, author, room)
        notes = [f for f in client.seen if f.get("type") == "mention"]
        assert len(notes) == expected, frames
    assert (await history(cat, room))[said["id"]]["mentions"] == [ben_id]

    mine = await my_rooms(ben)
    assert (mine[room]["mentions"], mine[room]["unread"]) == (1, 4)  # the text, 3 markers
    assert (await my_rooms(cat))[room]["mentions"] == 0
    # Reading past it clears the count (the read position moves over it).
    latest = [f for f in ben_here.seen if "type" not in f and f.get("room") == room][-1]
    await ben_here.send({"type": "read", "room": room, "id": latest["id"]})
    await ben_away.wait_for(lambda f: f.get("type") == "read" and f.get("room") == room)

    async def cleared() -> bool:
        entry = (await my_rooms(ben))[room]
        return entry["mentions"] == 0 and entry["unread"] == 0

    await until(cleared, timeout=5, what="mentions read")
    for client in (author, ben_here, ben_away, other):
        await client.close()


async def test_acting_on_another_rooms_message_or_from_outside_the_room_changes_nothing(
    people,
) -> None:
    """Issue 18: an edit, delete or reaction on a message that is not in the room, or by
    someone not in the room, is refused with the reason and changes nothing; an edit is held
    to a new message's policy."""
    tag = _tag()
    here, there = f"here-{tag}", f"there-{tag}"
    (ana, _), (ben, _) = await people("aad", f"ana-{tag}"), await people("github", f"ben-{tag}")
    author = await in_room(ana, "ana", here)
    await author.join_room(there)
    outsider = await in_room(ben, "ben", there)  # in `there`, never in `here`
    await author.say_in(here, "stays as it is")
    said = await author.wait_for(chat("stays as it is"))
    message_id = said["id"]
    acts = [
        {"type": "edit", "id": message_id, "message": "changed"},
        {"type": "delete", "id": message_id},
        {"type": "react", "id": message_id, "emoji": "👍"},
    ]
    for act in acts:
        # Its author, naming the other room (of which they are a member): no such message.
        await author.send(act | {"room": there})
        refusal = await author.wait_for(rejected)
        assert refusal["message"] == f"Not done: there is no such message in {there}."
        # Someone not in the message's room, naming it: join it first.
        await outsider.send(act | {"room": here})
        refusal = await outsider.wait_for(rejected)
        assert refusal["message"] == f"Not done: join the room {here} first."
    # The message policy, as for a new message: too long, or nothing left once cleaned.
    too_long = {"type": "edit", "room": here, "id": message_id, "message": "x" * 2001}
    await author.send(too_long)
    assert (await author.wait_for(rejected))["message"].startswith("Not edited")
    await author.send({"type": "edit", "room": here, "id": message_id, "message": " \u200b "})
    assert (await author.wait_for(rejected))["message"].startswith("Not edited")

    assert (await history(ana, here))[message_id] == said  # as it was sent, nothing added
    seen = await nothing_more(author, author, here)
    changes = [f for f in author.seen if f.get("type") in ("edited", "deleted", "reactions")]
    assert changes == [], seen
    for client in (author, outsider):
        await client.close()


# --- retries: the service resends an event with the same ce-id ------------------------------


class Replayer:
    """Posts a signed user event to the app's webhook as the service does, again and again
    with the same ce-id: the e2e form of the service's retry (as in tests/e2e/test_rooms)."""

    def __init__(self, stack: LocalStack, session: aiohttp.ClientSession, user_id: str) -> None:
        self.stack, self.session, self.user_id = stack, session, user_id
        self.connection_id = f"conn-{uuid.uuid4().hex}"

    def headers(self, ce_id: str, ce_time: str, rooms: list[str]) -> dict[str, str]:
        signature = hmac.new(
            self.stack.access_key.encode(), self.connection_id.encode(), hashlib.sha256
        )
        state = connection_state.encode({"rooms": rooms})
        return {
            "Content-Type": "text/plain; charset=utf-8",
            "ce-specversion": "1.0",
            "ce-awpsversion": "1.0",
            "ce-type": "azure.webpubsub.user.message",
            "ce-source": f"/hubs/{self.stack.hub}/client/{self.connection_id}",
            "ce-id": ce_id,
            "ce-time": ce_time,
            "ce-hub": self.stack.hub,
            "ce-connectionId": self.connection_id,
            "ce-eventName": "message",
            "ce-userId": self.user_id,
            "ce-connectionState": state,
            "ce-signature": "sha256=" + signature.hexdigest(),
            "WebHook-Request-Origin": "localhost",
        }

    def event(self, room: str, command: dict[str, Any]) -> Delivery:
        """One event (its ce-id and ce-time fixed), to be delivered as often as wanted."""
        ce_time = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        headers = self.headers(f"retried-{uuid.uuid4().hex[:8]}", ce_time, [room])
        url = f"{self.stack.host_base_url}/api/eventhandler"
        return Delivery(self.session, url, headers, json.dumps(command))

    async def send(self, room: str, command: dict[str, Any], times: int) -> Delivery:
        delivery = self.event(room, command)
        for _ in range(times):
            await delivery.deliver()
        return delivery


class Delivery:
    def __init__(
        self, session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: str
    ) -> None:
        self.session, self.url, self.headers, self.body = session, url, headers, body

    async def deliver(self) -> None:
        """Every delivery is answered as the first was (204: done, nothing refused)."""
        async with self.session.post(self.url, headers=self.headers, data=self.body) as r:
            assert r.status == 204, (r.status, await r.text())


async def test_a_retried_event_acts_once(stack: LocalStack, people) -> None:
    room, tag = f"retry-{_tag()}", _tag()
    (ana, ana_id), (ben, ben_id) = (
        await people("aad", f"ana-{tag}"),
        await people("github", f"ben-{tag}"),
    )
    author = await in_room(ana, "ana", room)
    reader = await in_room(ben, "ben", room)
    ben_away = await ben.join("ben in the lobby")
    again = Replayer(stack, ana.session, ana_id)

    # A message with a mention, delivered three times: stored once, sent once, one mention.
    text = f"@ben-{tag} once"
    await again.send(room, {"type": "message", "room": room, "message": text}, times=3)
    said = await reader.wait_for(chat(text))
    assert said["mentions"] == [ben_id]
    await ben_away.wait_for(lambda f: f.get("type") == "mention" and f["id"] == said["id"])
    await nothing_more(reader, author, room)
    await nothing_more(ben_away, author, "lobby")
    assert len([f for f in reader.seen if chat(text)(f)]) == 1
    assert len([f for f in reader.seen + ben_away.seen if f.get("type") == "mention"]) == 2
    assert [m["id"] for m in (await history(ben, room)).values() if m.get("message") == text] == [
        said["id"]
    ]
    message_id = said["id"]

    # A reaction toggles: its retry must not toggle it back off.
    react = {"type": "react", "room": room, "id": message_id, "emoji": "🎉"}
    await again.send(room, react, times=2)
    await reader.wait_for(of("reactions", message_id))
    await nothing_more(reader, author, room)
    assert (await history(ben, room))[message_id]["reactions"] == [
        {"emoji": "🎉", "count": 1, "users": [f"ana-{tag}"]}
    ]

    # An edit, then a newer edit; the first one's retry does not bring its text back.
    edit = {"type": "edit", "room": room, "id": message_id, "message": "v1"}
    first_edit = await again.send(room, edit, times=1)
    await reader.wait_for(lambda f: of("edited", message_id)(f) and f["message"] == "v1")
    await author.send({"type": "edit", "room": room, "id": message_id, "message": "v2"})
    await reader.wait_for(lambda f: of("edited", message_id)(f) and f["message"] == "v2")
    await first_edit.deliver()  # the very same event again, after the newer edit
    await nothing_more(reader, author, room)
    edited = [f for f in reader.seen if of("edited", message_id)(f)]
    assert [f["message"] for f in edited][-1] == "v2", edited  # a retry tells the state again
    assert (await history(ben, room))[message_id]["message"] == "v2"

    # A delete delivered twice: one tombstone, the second delivery changes nothing.
    await again.send(room, {"type": "delete", "room": room, "id": message_id}, times=2)
    await reader.wait_for(of("deleted", message_id))
    tombstone = (await history(ben, room))[message_id]
    assert tombstone["deleted"] is True and "message" not in tombstone
    for client in (author, reader, ben_away):
        await client.close()
