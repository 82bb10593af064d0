"""Issue 17's decisions, as tables: case-insensitive rooms, read positions, the directory,
catch-up and direct messages (chat/rooms.py, read_marks.py, directory.py, catch_up.py,
direct.py, and their dispatch in chat/events.py)."""

from __future__ import annotations

import itertools
import json

import pytest

from chat import catch_up, connection_state, direct, directory, events, history, read_marks, rooms
from chat.cloudevents import CloudEvent
from chat.errors import Refused
from chat.identity import encode_user_id
from chat.plan import (
    AddToGroups,
    Failed,
    IsBlocked,
    KeepJoined,
    KnownUser,
    LeaseTokens,
    MarkRead,
    SendToGroup,
    SendToUser,
    StoreMessage,
)
from chat.presence import member_list
from chat.settings import load

ENV = {"WebPubSubConnectionString": "Endpoint=http://localhost:8080;AccessKey=a2V5;Version=1.0;"}
SETTINGS = load(ENV)
SIGNED = load(ENV | {"ChatSignIn": "required", "WEBSITE_AUTH_ENABLED": "true"})
NOW = 1_800_000_000.0
ALICE = encode_user_id("aad", "a-1", "Alice")
BOB = encode_user_id("github", "b-2", "Bob")
ID = "0123456789abcdef01234567"


def parse(value: object) -> rooms.Command:
    return rooms.parse(json.dumps(value).encode(), "text/plain", 100_000)


def event(user: str, state: dict | None = None) -> CloudEvent:
    encoded = connection_state.encode(state) if state is not None else None
    return CloudEvent(events.MESSAGE, "ce-1", "hub", "conn-1", "", user, encoded, None)


def command(value: object, user: str = "alice", state: dict | None = None, settings=SETTINGS):
    body = json.dumps(value).encode()
    return events.command(event(user, state), body, "text/plain", settings, NOW)


def rejected(plan) -> str:
    body = json.loads(plan.answer.body)
    assert body["event"] == "rejected", body
    return body["message"]


# --- room names are case-insensitive ---------------------------------------------------------


@pytest.mark.parametrize(("raw", "room"), [("Dev", "dev"), ("DEV", "dev"), ("dev", "dev")])
def test_room_names_fold_to_lowercase_in_every_command(raw: str, room: str) -> None:
    assert parse({"type": "join", "room": raw}).room == room
    assert parse({"type": "message", "room": raw, "message": "hi"}).room == room


def test_a_connection_state_of_mixed_case_rooms_reads_lowercase() -> None:
    assert rooms.rooms_of({"rooms": ["Dev", "dev", "OPS"]}) == ["lobby", "dev", "ops"]


@pytest.mark.parametrize(
    ("name", "direct_name"),
    [
        ("dm-" + "a" * 32, True),
        ("DM-" + "A" * 32, True),
        ("dm-general", False),
        ("dm-" + "a" * 31, False),
    ],
)
def test_a_direct_conversation_cannot_be_joined_as_a_room(name: str, direct_name: bool) -> None:
    if direct_name:
        with pytest.raises(Refused, match="direct conversation"):
            parse({"type": "join", "room": name})
    else:
        assert parse({"type": "join", "room": name}).room == name.lower()


# --- read positions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"type": "read", "room": "dev"}, "message id"),
        ({"type": "read", "room": "dev", "id": 5}, "message id"),
        ({"type": "read", "room": "dev", "id": "../x"}, "message id"),
        ({"type": "read", "room": "dev", "id": ID.upper()}, "message id"),
        ({"type": "read", "room": "d e v", "id": ID}, "room name"),
    ],
)
def test_a_read_frame_is_checked(value: dict, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        parse(value)


def test_read_in_a_room_not_joined_is_refused() -> None:
    plan = command({"type": "read", "room": "dev", "id": ID})
    assert rejected(plan) == events.not_member("dev")


def test_read_moves_the_mark_then_tells_the_users_other_connections() -> None:
    plan = command({"type": "read", "room": "Dev", "id": ID}, state={"rooms": ["dev"]})
    assert plan.effects == (MarkRead("alice", "dev", ID, NOW),)
    assert plan.then is not None
    moved = plan.then((True,))
    assert moved.answer.status == 204
    assert moved.effects == (
        SendToUser(
            "alice", {"type": "read", "room": "dev", "id": ID}, filter="connectionId ne 'conn-1'"
        ),
    )
    for outcome in (False, Failed("down")):
        kept = plan.then((outcome,))
        assert kept.answer.status == 204 and kept.effects == ()


def test_reads_are_limited_per_connection() -> None:
    state: dict = {"rooms": ["dev"]}
    for _ in range(events.READS):
        plan = command({"type": "read", "room": "dev", "id": ID}, state=state)
        assert plan.effects
        state = connection_state.decode(plan.then((False,)).answer.headers["ce-connectionState"])
    plan = command({"type": "read", "room": "dev", "id": ID}, state=state)
    assert plan.effects == () and plan.notes == {"read": "throttled"}


def row(second: int, stored: str, message_id: str) -> dict:
    return {"RowKey": history.row_key(second * 1000, message_id), "time": stored, "id": message_id}


A = row(100, "1970-01-01T00:01:40.100Z", "a" * 24)
B = row(100, "1970-01-01T00:01:40.900Z", "0" * 24)  # same second, later, smaller id
C = row(101, "1970-01-01T00:01:41.000Z", "c" * 24)


@pytest.mark.parametrize(
    ("new", "old", "forward"),
    [
        (C, A, True),
        (A, C, False),
        (B, A, True),  # within one second: by stored time, not by id
        (A, B, False),
        (A, A, False),
        (A, None, True),
    ],
)
def test_a_read_position_only_moves_forward(new: dict, old: dict | None, forward: bool) -> None:
    old_position = read_marks.position(old) if old else None
    assert read_marks.advances(read_marks.position(new), old_position) is forward


def test_unread_counts_what_is_after_the_mark_capped_at_100() -> None:
    newest_first = [C, B, A]
    assert read_marks.unread(newest_first, read_marks.position(A)) == 2
    assert read_marks.unread(newest_first, read_marks.position(C)) == 0
    assert read_marks.unread(newest_first, None) == 3
    # One's own messages are never unread.
    own = [dict(C, userId="me"), dict(B, **{"from": "me"}), A]
    assert read_marks.unread(own, None, "me") == 1
    many = [row(1000 + n, history.iso_time(1000 + n), f"{n:024x}") for n in range(150)]
    assert read_marks.unread(many[::-1], None) == read_marks.UNREAD_CAP
    # No mark yet: what came after the join.
    assert read_marks.unread(newest_first, read_marks.joined_at(100.5)) == 2
    assert read_marks.last_time(newest_first) == C["time"]
    assert read_marks.last_time([]) is None


OLDER = row(99, "1970-01-01T00:01:39.000Z", "9" * 24)
MARKER = {"RowKey": history.MARKER_PREFIX + "a" * 24}


@pytest.mark.parametrize(
    ("mark", "below"),
    [
        # The mark's second and every later one are below the bound; earlier ones are not.
        (A, [C, B, A]),
        (B, [C, B, A]),
        (C, [C]),
        (read_marks.joined_at(100.5), [C, B, A]),
        (read_marks.joined_at(101.0), [C]),
    ],
)
def test_an_unread_window_reads_from_the_marks_second_on(mark: object, below: list) -> None:
    position = read_marks.position(mark) if isinstance(mark, dict) else mark
    assert isinstance(position, tuple)
    end = read_marks.window_end(position)
    rows = sorted([C, B, A, OLDER, MARKER], key=lambda r: r["RowKey"])
    assert [r for r in rows if r["RowKey"] < end] == sorted(below, key=lambda r: r["RowKey"])
    # What is counted from the bounded window is what the whole history gives.
    assert read_marks.unread(below, position) == read_marks.unread([C, B, A, OLDER], position)


def test_an_unread_window_never_reaches_the_markers() -> None:
    assert read_marks.window_end(("", "", "")) <= history.END
    assert read_marks.window_end(("9" * 13, "", "")) < history.MARKER_PREFIX


def mentioning(base: dict, *users: str, **extra: str) -> dict:
    return dict(base, mentions=json.dumps(list(users)), **extra)


@pytest.mark.parametrize(
    ("rows", "mark", "count"),
    [
        ([mentioning(C, "me"), mentioning(B, "me"), mentioning(A, "me")], A, 2),  # A is read
        ([mentioning(C, "me"), mentioning(B, "me"), mentioning(A, "me")], None, 3),
        ([mentioning(C, "you", "me"), B, A], A, 1),  # one of several mentioned
        ([mentioning(C, "you"), mentioning(B, "mel")], A, 0),  # someone else; no substring
        ([mentioning(C, "me", userId="me"), mentioning(B, "me", **{"from": "me"})], A, 0),  # own
        ([dict(C, mentions="not json"), dict(B, mentions='{"me": 1}')], A, 0),  # not a list
        ([C, B, A], None, 0),  # no mentions at all
    ],
)
def test_mentions_counts_unread_rows_that_name_the_user(
    rows: list[dict], mark: dict | None, count: int
) -> None:
    position = read_marks.position(mark) if mark else None
    assert read_marks.mentions(rows, position, "me") == count


def test_mentions_are_capped_like_unread() -> None:
    many = [
        mentioning(row(1000 + n, history.iso_time(1000 + n), f"{n:024x}"), "me") for n in range(150)
    ]
    assert read_marks.mentions(many[::-1], None, "me") == read_marks.UNREAD_CAP


# --- the directory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "now", "due"),
    [(None, 5.0, True), (0.0, 9.99, False), (0.0, 10.0, True), (100.0, 50.0, False)],
)
def test_a_rooms_activity_row_is_written_once_per_10_s(last, now, due) -> None:
    assert directory.due(last, now) is due


def test_the_directory_folds_names_hides_direct_conversations_and_orders_by_activity() -> None:
    activity = {
        "dev": "2026-01-01T10:00:00.000Z",
        "Dev": "2026-01-01T11:00:00.000Z",  # an old mixed-case row: the same room
        "ops": "2026-01-01T10:30:00.000Z",
        "dm-" + "a" * 32: "2026-01-01T12:00:00.000Z",
    }
    present = {"dev": 2, "DEV": 1, "quiet": 4, "dm-" + "a" * 32: 2}
    listed = directory.listing(activity, present, 50)
    assert listed == {
        "rooms": [
            {"room": "dev", "members": 3, "lastMessageTime": "2026-01-01T11:00:00.000Z"},
            {"room": "ops", "members": 0, "lastMessageTime": "2026-01-01T10:30:00.000Z"},
            {"room": "quiet", "members": 4, "lastMessageTime": None},
        ]
    }
    assert [r["room"] for r in directory.listing(activity, present, 1)["rooms"]] == ["dev"]


@pytest.mark.parametrize(("raw", "limit"), [(None, 50), ("", 50), ("1", 1), ("200", 200)])
def test_directory_limit(raw, limit) -> None:
    assert directory.parse_limit(raw) == limit


@pytest.mark.parametrize("raw", ["0", "201", "-1", "x", "1e3", "٣"])
def test_directory_bad_limit(raw) -> None:
    with pytest.raises(directory.BadQuery):
        directory.parse_limit(raw)


# --- catch-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "second_ms"),
    [
        ("1970-01-01T00:01:40Z", 100_000),
        ("1970-01-01T00:01:40.999Z", 100_000),
        ("1970-01-01T01:01:40+01:00", 100_000),
    ],
)
def test_since_is_an_rfc3339_time_from_its_whole_second(since: str, second_ms: int) -> None:
    assert catch_up.parse("dev", since, None) == catch_up.Since("dev", 50, second_ms)


@pytest.mark.parametrize(
    "since",
    ["", "yesterday", "1970-01-01", "1970-01-01T00:01:40", "0" * 13, "99999-01-01T00:00:00Z"],
)
def test_a_bad_since_is_refused(since: str) -> None:
    with pytest.raises(history.BadQuery):
        catch_up.parse("dev", since, None)


def test_catch_up_pages_forward_oldest_first_and_its_cursor_continues_after_the_last() -> None:
    query = catch_up.parse("dev", "1970-01-01T00:01:40Z", "2")
    rows = [dict(r, PartitionKey="dev", message="m", **{"from": "x"}) for r in (C, B, A)]
    kept = catch_up.kept(query, rows)
    assert [r["id"] for r in kept] == [A["id"], B["id"], C["id"]]
    body = catch_up.body(query, kept)
    assert [m["id"] for m in body["messages"]] == [A["id"], B["id"]]
    assert body["next"] is not None
    after = catch_up.parse("dev", body["next"], "2")
    assert [r["id"] for r in catch_up.kept(after, rows)] == [C["id"]]
    assert catch_up.body(after, catch_up.kept(after, rows))["next"] is None


def test_catch_up_windows_start_small_and_double_to_now() -> None:
    query = catch_up.Since("dev", 50, 0)
    windows = catch_up.windows(query, 1000.0)
    assert windows[0] == catch_up.Window(0, catch_up.WINDOW_S * 1000)
    assert all(b.start_ms == a.end_ms for a, b in itertools.pairwise(windows))
    assert windows[-1].end_ms > (1000 + catch_up.FUTURE_S) * 1000 >= windows[-1].start_ms
    assert len(windows) <= 6  # 64 s doubling covers 1,061 s in 5 windows
    # A key range: the window's seconds, newest first.
    w = catch_up.Window(100_000, 102_000)
    inside = history.row_key(101_000, "a" * 24)
    assert w.after < inside < w.below
    assert not (w.after < history.row_key(102_000, "a" * 24) < w.below)
    assert w.after < history.row_key(100_000, "a" * 24) < w.below


# --- direct messages --------------------------------------------------------------------------


def test_a_conversation_is_named_alike_from_both_sides() -> None:
    name = direct.conversation(ALICE, BOB)
    assert name == direct.conversation(BOB, ALICE)
    assert rooms.is_direct(name) and rooms.validate(name) == name
    assert direct.conversation(ALICE, "carol") != name


def test_a_dm_with_sign_in_off_is_refused() -> None:
    plan = command({"type": "dm", "to": "bob", "message": "hi"})
    assert rejected(plan) == direct.NEED_SIGN_IN


@pytest.mark.parametrize(
    "value",
    [
        {"type": "dm", "message": "hi"},
        {"type": "dm", "to": 7, "message": "hi"},
        {"type": "dm", "to": BOB},
        {"type": "dm", "to": "x" * 3000, "message": "hi"},
    ],
)
def test_a_bad_dm_frame_is_refused(value: dict) -> None:
    with pytest.raises(Refused):
        parse(value)


def test_a_dm_to_a_name_that_is_no_signed_in_user_is_refused() -> None:
    plan = command({"type": "dm", "to": "bob", "message": "hi"}, user=ALICE, settings=SIGNED)
    assert rejected(plan) == direct.UNKNOWN


def test_a_dm_checks_the_recipient_keeps_both_rows_then_stores_and_sends_to_both() -> None:
    plan = command({"type": "dm", "to": BOB, "message": "hi"}, user=ALICE, settings=SIGNED)
    room = direct.conversation(ALICE, BOB)
    assert plan.effects[0] == KnownUser(BOB) and isinstance(plan.effects[1], IsBlocked)
    assert plan.then is not None
    assert rejected(plan.then((False, False))) == direct.UNKNOWN
    rows = plan.then((True, False))
    assert {type(e) for e in rows.effects} == {KeepJoined}
    assert {(e.user, e.room) for e in rows.effects} == {(ALICE, room), (BOB, room)}
    peers = {e.user: e.peer for e in rows.effects}
    assert peers[ALICE] == (BOB, "Bob", "github") and peers[BOB] == (ALICE, "Alice", "aad")
    assert rows.then is not None
    assert rejected(rows.then((True, Failed("down")))) == events.NOT_SAVED
    stored = rows.then((True, False))
    lease, store = stored.effects
    assert isinstance(lease, LeaseTokens) and isinstance(store, StoreMessage)
    assert store.entity["PartitionKey"] == room
    assert stored.then is not None
    sent = stored.then(((5, None), True))
    assert [type(e) for e in sent.effects] == [SendToUser, SendToUser]
    assert {e.user for e in sent.effects} == {ALICE, BOB}
    frame = sent.effects[0].payload
    assert frame["room"] == room and frame["message"] == "hi"
    assert frame["to"] == {"userId": BOB, "name": "Bob", "idp": "github"}
    assert (frame["from"], frame["userId"], frame["idp"]) == ("Alice", ALICE, "aad")
    assert sent.then is not None
    final = sent.then((None, None))
    assert final.answer.status == 204 and final.delivered and final.effects == ()  # no directory
    failed = sent.then((None, Failed("down", 503)))
    assert failed.answer.status == 503  # taken back out: the retry sends both
    # A retried event: already stored, nothing is sent again.
    assert stored.then(((5, None), False)).effects == ()


@pytest.mark.parametrize(
    ("text", "state", "reason"),
    [
        ("   ", None, "Message not sent"),  # nothing left once cleaned
        ("x" * 2001, None, "Message not sent"),  # over the length limit
        ("hi", {"rate": [0, NOW]}, events.TOO_FAST),  # the connection's guard is spent
    ],
)
def test_a_dm_the_policy_or_the_guard_refuses_touches_nothing(
    text: str, state: dict | None, reason: str
) -> None:
    """Refused before the recipient is looked up or either conversation row is written: a
    refused DM must not put a conversation into the recipient's list."""
    plan = command(
        {"type": "dm", "to": BOB, "message": text}, user=ALICE, state=state, settings=SIGNED
    )
    assert rejected(plan).startswith(reason)
    assert plan.effects == () and plan.then is None


def test_a_dm_from_a_connection_in_as_many_rooms_as_it_may_be_is_not_refused() -> None:
    """A DM costs no group and no place in the connection's rooms (at most 20)."""
    full = {"rooms": [f"r{n}" for n in range(rooms.MAX_ROOMS_PER_CONNECTION - 1)]}
    assert len(rooms.rooms_of(full)) == rooms.MAX_ROOMS_PER_CONNECTION
    plan = command({"type": "dm", "to": BOB, "message": "hi"}, ALICE, full, SIGNED)
    assert plan.effects[0] == KnownUser(BOB) and isinstance(plan.effects[1], IsBlocked)
    steps = [(True, False), (True, True), ((5, None), True), (None, None)]
    for outcomes in steps:
        assert plan.then is not None and not any(
            isinstance(e, AddToGroups | SendToGroup) for e in plan.effects
        )
        plan = plan.then(outcomes)
    assert plan.answer.status == 204 and plan.delivered
    state = connection_state.decode(plan.answer.headers[connection_state.HEADER])
    assert rooms.rooms_of(state) == rooms.rooms_of(full)


def test_a_note_to_oneself_is_delivered_once() -> None:
    frame = {"id": "x"}
    assert direct.sends(ALICE, ALICE, frame) == (SendToUser(ALICE, frame),)


def test_a_dm_room_message_needs_membership_like_any_room() -> None:
    room = direct.conversation(ALICE, BOB)
    plan = command({"type": "message", "room": room, "message": "hi"}, user=ALICE, settings=SIGNED)
    assert rejected(plan) == events.not_member(room)
    assert not any(isinstance(e, SendToGroup) for e in plan.effects)


def test_a_listing_that_stopped_at_its_size_makes_a_partial_member_list() -> None:
    from chat import presence

    top = presence.SNAPSHOT_CONNECTIONS
    full = presence.listing_of([{"userId": f"u{n % 7}"} for n in range(top)], top)
    short = presence.listing_of([{"userId": "u1"}, {"userId": "u1"}], top)
    assert (full.complete, list(full)) == (False, [f"u{n}" for n in range(7)])
    assert (short.complete, list(short)) == (True, ["u1"])
    assert member_list("dev", full, full.complete)["partial"] is True
    assert "partial" not in member_list("dev", short, short.complete)


def test_member_lists_carry_members_in_sign_in_mode_only() -> None:
    assert "members" not in member_list("dev", ["alice", "bob"])
    frame = member_list("dev", [ALICE, BOB])
    assert frame["users"] == [ALICE, BOB]
    assert frame["members"] == [
        {"user": "Alice", "userId": ALICE, "idp": "aad"},
        {"user": "Bob", "userId": BOB, "idp": "github"},
    ]


@pytest.mark.parametrize(
    ("until", "since", "may"),
    [
        (None, "2026-01-01T00:00:00.000Z", False),  # no message since the feature
        ("2026-01-01T00:00:12.000Z", "2026-01-01T00:00:05.000Z", True),
        ("2026-01-01T00:00:12.000Z", "2026-01-01T00:00:12.000Z", True),
        ("2026-01-01T00:00:12.000Z", "2026-01-01T00:00:13.000Z", False),
    ],
)
def test_a_room_quiet_since_the_read_position_needs_no_read(until, since, may) -> None:
    assert directory.may_have_unread(until, since) is may


def test_an_activity_row_promises_the_throttle_span_and_a_margin() -> None:
    assert directory.active_until(100.0) == history.iso_time(112.0)
