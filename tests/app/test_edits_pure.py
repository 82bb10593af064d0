"""Acting on messages without I/O: edit, delete, react, reply and mention decisions
(chat/edits.py, chat/reactions.py, chat/emoji.py, chat/mentions.py, chat/replies.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat import (
    connection_state,
    edits,
    emoji,
    events,
    history,
    mentions,
    reactions,
    replies,
    rooms,
)
from chat.cloudevents import CloudEvent
from chat.errors import Refused
from chat.plan import (
    Failed,
    FindMessage,
    Found,
    LeaseTokens,
    ListConnections,
    Plan,
    SendToGroup,
    SendToUser,
    UpdateMessage,
)
from chat.settings import load

SETTINGS = load(
    {"WebPubSubConnectionString": "Endpoint=http://localhost:8080;AccessKey=a2V5;Version=1.0;"}
)
NOW = 1_800_000_000.0
MESSAGE = "azure.webpubsub.user.message"
ID = "0123456789abcdef01234567"


def command(
    body: dict[str, Any],
    user: str = "alice",
    ce_id: str = "ce-1",
    settings: Any = SETTINGS,
    now: float = NOW,
) -> Plan:
    state = connection_state.encode({"rooms": ["dev"]})
    event = CloudEvent(MESSAGE, ce_id, "hub", "conn-1", "", user, state, "2027-01-15T08:00:00Z")
    return events.command(event, json.dumps(body).encode(), "text/plain", settings, now)


def row(author: str = "alice", sent: float = NOW - 60, **more: Any) -> dict[str, Any]:
    return {
        "PartitionKey": "dev",
        "RowKey": history.row_key(int(sent) * 1000, ID),
        "id": ID,
        "from": author,
        "message": "typo",
        "time": history.iso_time(sent),
    } | more


def past_lease(plan: Plan, outcome: Any = (5, None)) -> Plan:
    """An edit spends the user's flood limit first: the lease, granted (or as given)."""
    if plan.effects and isinstance(plan.effects[0], LeaseTokens):
        assert plan.then is not None
        return plan.then((outcome,))
    return plan


def rejected(plan: Plan) -> str | None:
    reply = plan.answer
    if reply.status != 200 or not reply.body:
        return None
    body = json.loads(reply.body)
    return body["message"] if body.get("event") == "rejected" else None


# --- who may, and when ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "age", "window", "allowed"),
    [
        ("alice", 0, 900, True),
        ("alice", 899.999, 900, True),
        ("alice", 900, 900, True),  # the window's last moment is in it
        ("alice", 900.001, 900, False),
        ("alice", 3600, 900, False),
        ("alice", -30, 900, True),  # another instance's clock ahead: just sent
        ("alice", 0, 0, False),  # 0 turns editing off
        ("alice", 5, 1, False),
        ("bob", 0, 900, False),
        ("", 0, 900, False),
        ("Alice", 0, 900, False),  # user ids are compared exactly
    ],
)
def test_may_edit_only_the_author_within_the_window(
    actor: str, age: float, window: int, allowed: bool
) -> None:
    assert (edits.may_edit(actor, "alice", NOW - age, NOW, window) is None) is allowed


def test_may_edit_says_why() -> None:
    assert edits.may_edit("bob", "alice", NOW, NOW, 900) == edits.NOT_AUTHOR_EDIT
    assert edits.may_edit("alice", "alice", NOW, NOW, 0) == edits.EDITING_OFF
    assert "15 minutes" in (edits.may_edit("alice", "alice", NOW - 901, NOW, 900) or "")
    assert edits.may_edit("alice", "alice", None, NOW, 900) is not None  # unreadable time


@pytest.mark.parametrize(
    ("actor", "author", "moderator", "allowed"),
    [
        ("alice", "alice", False, True),
        ("bob", "alice", False, False),
        ("bob", "alice", True, True),  # moderation (issue 19) plugs in here
        ("", "", False, False),
        ("alice", "Alice", False, False),
    ],
)
def test_may_delete(actor: str, author: str, moderator: bool, allowed: bool) -> None:
    assert edits.may_delete(actor, author, moderator) is allowed


def test_the_author_of_a_row_is_its_user_id_in_sign_in_mode() -> None:
    assert edits.author(row("alice")) == "alice"
    assert edits.author(row("Alice", userId="aad:1:Alice")) == "aad:1:Alice"


# --- emoji: exactly one RGI sequence ------------------------------------------------------------

ACCEPTED = [
    "👍",
    "👍🏽",  # skin tone
    "👍🏿",
    "❤️",  # text-default with VS16
    "©️",
    "☝🏻",
    "😀",
    "🎉",
    "🫠",  # Unicode 14
    "🇫🇷",  # flag
    "🇯🇵",
    "🇺🇳",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # subdivision flag (tag sequence)
    "🏴󠁧󠁢󠁷󠁬󠁳󠁿",
    "1️⃣",  # keycap
    "#️⃣",
    "*️⃣",
    "👨‍👩‍👧‍👦",  # ZWJ family
    "🏳️‍🌈",
    "🏳️‍⚧️",
    "👁️‍🗨️",
    "🧑🏻‍❤️‍💋‍🧑🏼",  # ZWJ with skin tones
    "🫱🏻‍🫲🏿",
    "👩🏽‍💻",
    "🧔‍♂️",
    "👨‍🦰",
    "🏃‍➡️",  # Unicode 15.1
    "🐈‍⬛",
]
REFUSED = [
    "",
    "a",
    "ok",
    "1",  # a digit is Emoji, but not one alone
    "#",
    "©",  # text style without VS16
    "❤",
    "🏻",  # a skin tone alone is a component
    "🇫",  # one regional indicator
    "🇫🇷🇫",
    "👍👍",  # two emoji
    "👍 ",
    " 👍",
    "👍\u200d",  # dangling joiner
    "\u200d👍",
    "\u200d",
    "\ufe0f",
    "1\ufe0f",  # keycap without its combining mark
    "👍\u0301",  # a combining mark
    "<b>👍</b>",
    "👨‍👩‍👧‍👦‍👦",  # five pictographs: no one draws that as one
    "🏴\U000e0067\U000e0062",  # tag sequence without the cancel tag
    "\U0001f3f4\U000e007f",
    ":+1:",
    "\u202e👍",
    "👍\n",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_one_emoji_is_accepted(text: str) -> None:
    assert emoji.problem(text) is None


@pytest.mark.parametrize("text", REFUSED)
def test_anything_else_is_refused_with_the_reason(text: str) -> None:
    reason = emoji.problem(text)
    assert reason is not None and reason.startswith("No reaction")


def test_the_emoji_table_is_big_enough() -> None:
    assert len(ACCEPTED) + len(REFUSED) >= 30


# --- reactions: toggle and limits ----------------------------------------------------------------


def test_toggle_adds_then_removes_and_keeps_order() -> None:
    state = reactions.toggle((), "👍", "alice", "alice")
    state = reactions.toggle(state, "🎉", "bob", "bob")
    state = reactions.toggle(state, "👍", "bob", "bob")
    assert not isinstance(state, str)
    assert reactions.public(state) == [
        {"emoji": "👍", "count": 2, "users": ["alice", "bob"]},
        {"emoji": "🎉", "count": 1, "users": ["bob"]},
    ]
    state = reactions.toggle(state, "🎉", "bob", "bob")
    assert not isinstance(state, str)
    assert [r["emoji"] for r in reactions.public(state)] == ["👍"]
    assert reactions.parse(json.loads(reactions.stored(state))) == state


def test_at_most_20_emoji_and_10_per_person() -> None:
    pictures = [chr(0x1F600 + n) for n in range(25)]
    state: Any = ()
    for n, picture in enumerate(pictures[:20]):
        state = reactions.toggle(state, picture, f"user{n}", f"user{n}")
    assert reactions.toggle(state, pictures[20], "zed", "zed") == reactions.TOO_MANY_EMOJI
    assert not isinstance(reactions.toggle(state, pictures[0], "zed", "zed"), str)
    mine: Any = ()
    for picture in pictures[:10]:
        mine = reactions.toggle(mine, picture, "alice", "alice")
    assert reactions.toggle(mine, pictures[10], "alice", "alice") == reactions.TOO_MANY_OF_YOURS
    assert not isinstance(reactions.toggle(mine, pictures[0], "alice", "alice"), str)  # removing


def test_users_lists_the_first_10_names_and_counts_all() -> None:
    state: Any = ()
    for n in range(15):
        state = reactions.toggle(state, "👍", f"u{n}", f"u{n}")
    [shown] = reactions.public(state)
    assert shown["count"] == 15 and shown["users"] == [f"u{n}" for n in range(10)]


def test_foreign_stored_values_are_dropped() -> None:
    assert reactions.parse([["👍", [["k", "n"], 3, ["x"]]], "junk", [1, []]]) == (
        ("👍", (("k", "n"),)),
    )
    assert reactions.parse({"a": 1}) == ()


# --- mentions -------------------------------------------------------------------------------------

MEMBERS = [
    ("alice", "alice"),
    ("bob", "bob"),
    ("ann", "Ann"),
    ("ann-lee", "Ann Lee"),
    ("émile", "émile"),
]


@pytest.mark.parametrize(
    ("text", "mentioned"),
    [
        ("hi @bob", ["bob"]),
        ("@bob hi", ["bob"]),
        ("@bob, @alice!", ["bob", "alice"]),
        ("@bob @bob", ["bob"]),
        ("@Ann Lee said", ["ann-lee"]),  # the longest name wins
        ("@Ann said", ["ann"]),
        ("@bobby", []),  # a longer word is not bob
        ("@carol", []),  # nobody: plain text
        ("mail bob@alice.example", []),  # an e-mail address mentions no one
        ("@Bob", []),  # names match exactly
        ("no at sign", []),
        ("@émile.", ["émile"]),
        ("@", []),
        ("(@alice)", ["alice"]),
    ],
)
def test_mention_resolution(text: str, mentioned: list[str]) -> None:
    assert mentions.resolve(text, MEMBERS) == mentioned


def test_mentions_are_capped() -> None:
    members = [(f"u{n}", f"u{n}") for n in range(30)]
    text = " ".join(f"@u{n}" for n in range(30))
    assert mentions.resolve(text, members) == [f"u{n}" for n in range(mentions.MAX_MENTIONS)]


# --- replies --------------------------------------------------------------------------------------


def test_an_excerpt_is_at_most_100_characters_cut_between_graphemes() -> None:
    assert replies.excerpt("short") == "short"
    assert replies.excerpt("a" * 150) == "a" * 100
    family = "👨‍👩‍👧‍👦"  # 7 code points, one grapheme
    text = "a" * 95 + family + "tail"
    assert replies.excerpt(text) == "a" * 95  # the family would end at 102: not cut inside it
    accented = "e\u0301" * 60
    cut = replies.excerpt(accented)
    assert len(cut) == 100 and cut.endswith("\u0301")


def test_a_reply_to_a_deleted_message_says_so_and_copies_no_text() -> None:
    assert replies.reply_to(row()) == {"id": ID, "from": "alice", "excerpt": "typo"}
    gone = history.tombstone(row())
    assert replies.reply_to(gone) == {"id": ID, "from": "alice", "deleted": True}
    assert "message" not in gone


# --- commands ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"type": "edit", "room": "dev", "message": "x"}, '"id" is not the id of a message'),
        ({"type": "edit", "room": "dev", "id": "nope", "message": "x"}, '"id" is not'),
        ({"type": "edit", "room": "dev", "id": ID}, '"message" must be text'),
        ({"type": "delete", "room": "dev", "id": ID.upper()}, '"id" is not'),
        ({"type": "react", "room": "dev", "id": ID}, '"emoji" must be one emoji'),
        ({"type": "react", "room": "dev", "id": ID, "emoji": "👍" * 70}, '"emoji" must be'),
        ({"type": "message", "room": "dev", "message": "x", "replyTo": 5}, '"replyTo" is not'),
    ],
)
def test_malformed_commands_are_refused_with_the_reason(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        rooms.parse(json.dumps(body).encode(), "text/plain", 10_000)


def test_acting_in_a_room_one_has_not_joined_is_refused() -> None:
    plan = command({"type": "delete", "room": "elsewhere", "id": ID})
    assert rejected(plan) == events.not_member("elsewhere")
    assert plan.effects == ()


# --- edit: find, decide, ETag replace, broadcast --------------------------------------------------


def test_edit_finds_within_the_window_replaces_with_the_etag_then_broadcasts() -> None:
    plan = past_lease(command({"type": "edit", "room": "dev", "id": ID, "message": "fixed"}))
    (find,) = plan.effects
    assert isinstance(find, FindMessage) and find.id == ID and find.newer_than_ms is not None
    assert plan.then is not None
    plan = plan.then((Found(row(), "etag-1"),))
    (update,) = plan.effects
    assert isinstance(update, UpdateMessage) and update.etag == "etag-1"
    assert update.entity["message"] == "fixed" and update.entity["editedAt"] == history.iso_time(
        NOW
    )
    assert plan.then is not None
    plan = plan.then((True,))
    (send,) = plan.effects
    assert send == SendToGroup(
        "r.dev",
        {
            "type": "edited",
            "room": "dev",
            "id": ID,
            "message": "fixed",
            "editedAt": history.iso_time(NOW),
        },
    )
    assert plan.then is not None
    assert plan.then((None,)).answer.status == 204


def test_a_lost_etag_race_reads_again_and_gives_up_after_some_tries() -> None:
    plan = command({"type": "react", "room": "dev", "id": ID, "emoji": "👍"})
    for _ in range(edits.TRIES):
        assert plan.then is not None and isinstance(plan.effects[0], FindMessage)
        plan = plan.then((Found(row(), "e"),))
        assert plan.then is not None and isinstance(plan.effects[0], UpdateMessage)
        plan = plan.then((False,))
    assert rejected(plan) == edits.BUSY


@pytest.mark.parametrize(
    ("body", "found", "reason"),
    [
        ({"type": "edit", "message": "x"}, row("bob"), edits.NOT_AUTHOR_EDIT),
        ({"type": "edit", "message": "x"}, row(sent=NOW - 901), edits.too_late(900)),
        ({"type": "edit", "message": "x"}, history.tombstone(row()), edits.WAS_DELETED),
        ({"type": "edit", "message": "   "}, row(), None),  # refused before any read
        ({"type": "delete"}, row("bob"), edits.NOT_AUTHOR_DELETE),
        ({"type": "react", "emoji": "👍"}, history.tombstone(row()), edits.WAS_DELETED),
        ({"type": "delete"}, None, edits.no_such_message("dev")),
        ({"type": "react", "emoji": "👍"}, None, edits.no_such_message("dev")),
        ({"type": "delete"}, Failed("down"), edits.NOT_EDITED_SAVED),
    ],
)
def test_refusals_change_nothing(body: dict[str, Any], found: Any, reason: str | None) -> None:
    plan = past_lease(command(body | {"room": "dev", "id": ID}))
    if reason is None:
        assert rejected(plan) is not None and plan.effects == ()
        return
    assert plan.then is not None
    final = plan.then((Found(found, "e") if isinstance(found, dict) else found,))
    assert rejected(final) == reason
    assert final.effects == () and final.then is None


def test_an_edit_of_a_message_older_than_the_window_is_refused_as_too_late() -> None:
    """The edit's read stops at the window; a miss reads once more without the bound, so an
    old message is "too late" (the reason), not "no such message" (a wrong one)."""
    plan = past_lease(command({"type": "edit", "room": "dev", "id": ID, "message": "x"}))
    (bounded,) = plan.effects
    assert isinstance(bounded, FindMessage) and bounded.newer_than_ms is not None
    assert plan.then is not None
    again = plan.then((None,))
    (unbounded,) = again.effects
    assert unbounded == FindMessage("dev", ID, None)
    assert again.then is not None
    final = again.then((Found(row(sent=NOW - 86_400), "e"),))
    assert rejected(final) == edits.too_late(900) and final.effects == ()
    missing = again.then((None,))
    assert rejected(missing) == edits.no_such_message("dev") and missing.effects == ()


@pytest.mark.parametrize(
    ("lease", "reason"), [((0, None), edits.TOO_FAST), (Failed("down"), edits.NOT_EDITED_SAVED)]
)
def test_an_edit_spends_the_users_flood_limit(lease: Any, reason: str) -> None:
    plan = command({"type": "edit", "room": "dev", "id": ID, "message": "x"})
    assert isinstance(plan.effects[0], LeaseTokens)
    final = past_lease(plan, lease)
    assert rejected(final) == reason and final.effects == ()


def test_editing_off_refuses_before_any_read() -> None:
    off = load(
        {
            "WebPubSubConnectionString": "Endpoint=http://localhost:8080;AccessKey=a2V5;Version=1.0;",
            "ChatEditWindowSeconds": "0",
        }
    )
    plan = command({"type": "edit", "room": "dev", "id": ID, "message": "x"}, settings=off)
    assert rejected(plan) == edits.EDITING_OFF and plan.effects == ()


def test_delete_leaves_a_tombstone_without_text_reactions_or_quote() -> None:
    stored = row(reactions='[["👍", [["k", "bob"]]]]', replyTo='{"id": "x"}', editedAt="t")
    plan = command({"type": "delete", "room": "dev", "id": ID})
    assert plan.then is not None
    plan = plan.then((Found(stored, "e"),))
    (update,) = plan.effects
    assert isinstance(update, UpdateMessage)
    entity = {k: v for k, v in update.entity.items() if k != "ops"}
    assert entity == {k: stored[k] for k in ("PartitionKey", "RowKey", "id", "from", "time")} | {
        "deleted": True
    }
    assert plan.then is not None
    sent = plan.then((True,))
    assert [type(e).__name__ for e in sent.effects] == ["SendToGroup", "FindReplies"]
    quoting = row(replyTo='{"id": "x", "from": "bob", "excerpt": "the text"}')
    assert sent.then is not None
    final = sent.then((None, [Found(quoting, "r1")]))
    (scrub,) = final.effects
    assert isinstance(scrub, UpdateMessage) and scrub.etag == "r1"
    assert json.loads(scrub.entity["replyTo"]) == {"id": "x", "from": "bob", "deleted": True}
    assert final.answer.status == 204
    assert history.from_entity(update.entity) == {
        "id": ID,
        "room": "dev",
        "from": "alice",
        "time": stored["time"],
        "deleted": True,
    }


def test_a_retried_event_changes_nothing_and_tells_the_room_the_state_again() -> None:
    plan = command({"type": "react", "room": "dev", "id": ID, "emoji": "👍"}, ce_id="ce-9")
    assert plan.then is not None
    update = plan.then((Found(row(), "e"),)).effects[0]
    assert isinstance(update, UpdateMessage)
    retry = command({"type": "react", "room": "dev", "id": ID, "emoji": "👍"}, ce_id="ce-9")
    assert retry.then is not None
    final = retry.then((Found(update.entity, "e2"),))  # the row as the first one left it
    assert final.then is None and final.answer.status == 204
    (send,) = final.effects
    assert isinstance(send, SendToGroup)
    assert send.payload["reactions"] == [{"emoji": "👍", "count": 1, "users": ["alice"]}]


def test_reaction_states_carry_a_revision_so_pages_keep_the_newest() -> None:
    """Two toggles at once on two instances: each broadcast is the whole state, but the two
    sends may reach a page in either order. `rev` (the row's reactions revision) tells the
    page which state is newer; history carries it as `reactionsRev`."""
    entity: dict[str, Any] = row()
    revs = []
    for user, ce_id in (("alice", "ce-a"), ("bob", "ce-b"), ("alice", "ce-c")):
        plan = command({"type": "react", "room": "dev", "id": ID, "emoji": "👍"}, user, ce_id)
        assert plan.then is not None
        plan = plan.then((Found(entity, "e"),))
        (update,) = plan.effects
        assert isinstance(update, UpdateMessage) and plan.then is not None
        entity = update.entity
        (send,) = plan.then((True,)).effects
        assert isinstance(send, SendToGroup)
        revs.append(send.payload["rev"])
        assert history.from_entity(entity)["reactionsRev"] == send.payload["rev"]
    assert revs == [1, 2, 3]
    assert history.from_entity(entity).get("reactions") == [
        {"emoji": "👍", "count": 1, "users": ["bob"]}
    ]
    # A retry tells the state again with the revision it has now.
    retry = command({"type": "react", "room": "dev", "id": ID, "emoji": "👍"}, "bob", "ce-b")
    assert retry.then is not None
    (again,) = retry.then((Found(entity, "e"),)).effects
    assert isinstance(again, SendToGroup) and again.payload["rev"] == 3
    # An edit does not move it: the revision orders reaction states only.
    edited = past_lease(command({"type": "edit", "room": "dev", "id": ID, "message": "v2"}))
    assert edited.then is not None
    (update,) = edited.then((Found(entity, "e"),)).effects
    assert isinstance(update, UpdateMessage) and update.entity["reactionsRev"] == 3


# --- a reply and mentions on the message path -----------------------------------------------------


def test_a_reply_quotes_the_original_and_a_missing_one_is_refused() -> None:
    body = {"type": "message", "room": "dev", "message": "yes", "replyTo": ID}
    plan = command(body)
    # Read fresh: a quote from a copy of the row could bring back text deleted elsewhere.
    assert plan.effects == (FindMessage("dev", ID, fresh=True),)
    assert plan.then is not None
    assert rejected(plan.then((None,))) == events.no_reply_target("dev")
    stored = plan.then((Found(row(message="a" * 300), "e"),))
    store = next(e for e in stored.effects if type(e).__name__ == "StoreMessage")
    quoted = json.loads(store.entity["replyTo"])  # type: ignore[union-attr]
    assert quoted == {"id": ID, "from": "alice", "excerpt": "a" * 100}


def test_mentions_list_the_room_then_notify_each_mentioned_user() -> None:
    plan = command({"type": "message", "room": "dev", "message": "@bob look, @nobody"})
    assert plan.effects == (ListConnections("r.dev", mentions.LISTED),)
    assert plan.then is not None
    listed = [{"connectionId": "c1", "userId": "bob"}, {"connectionId": "c2", "userId": "alice"}]
    plan = plan.then((listed,))
    store = next(e for e in plan.effects if type(e).__name__ == "StoreMessage")
    assert json.loads(store.entity["mentions"]) == ["bob"]  # type: ignore[union-attr]
    # The message's own steps: stored (leased tokens), then sent, then the mention.
    while plan.then is not None:
        outcomes = tuple(
            (5, None)
            if type(e).__name__ == "LeaseTokens"
            else True
            if type(e).__name__ == "StoreMessage"
            else None
            for e in plan.effects
        )
        plan = plan.then(outcomes)
    # Beside the directory's activity note (issue 17), one send: to the mentioned user.
    (mention,) = [e for e in plan.effects if isinstance(e, SendToUser)]
    assert mention.user == "bob"
    assert mention.payload == {
        "type": "mention",
        "room": "dev",
        "id": mention.payload["id"],
        "from": "alice",
        "message": "@bob look, @nobody",
    }


def test_a_failed_member_list_sends_the_message_without_mentions() -> None:
    plan = command({"type": "message", "room": "dev", "message": "@bob hi"})
    assert plan.then is not None
    plan = plan.then((Failed("down"),))
    store = next(e for e in plan.effects if type(e).__name__ == "StoreMessage")
    assert "mentions" not in store.entity  # type: ignore[union-attr]
    assert plan.warnings


def test_an_edit_mentions_again_and_notifies_only_the_newly_mentioned() -> None:
    plan = past_lease(command({"type": "edit", "room": "dev", "id": ID, "message": "@bob @carol"}))
    assert plan.effects == (ListConnections("r.dev", mentions.LISTED),)
    assert plan.then is not None
    listed = [{"connectionId": f"c{n}", "userId": u} for n, u in enumerate(["bob", "carol"])]
    plan = plan.then((listed,))
    assert isinstance(plan.effects[0], FindMessage) and plan.then is not None
    plan = plan.then((Found(row(mentions='["bob"]'), "e"),))
    (update,) = plan.effects
    assert isinstance(update, UpdateMessage)
    assert json.loads(update.entity["mentions"]) == ["bob", "carol"]
    assert plan.then is not None
    plan = plan.then((True,))
    (send,) = plan.effects
    assert isinstance(send, SendToGroup) and send.payload["mentions"] == ["bob", "carol"]
    assert plan.then is not None
    final = plan.then((None,))
    assert [(e.user, e.payload["type"]) for e in final.effects] == [("carol", "mention")]  # type: ignore[union-attr]


def test_an_edit_without_mentions_drops_the_earlier_ones() -> None:
    plan = past_lease(command({"type": "edit", "room": "dev", "id": ID, "message": "no one"}))
    assert plan.then is not None
    plan = plan.then((Found(row(mentions='["bob"]'), "e"),))
    (update,) = plan.effects
    assert isinstance(update, UpdateMessage) and "mentions" not in update.entity
