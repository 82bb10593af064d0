"""The pure decisions behind rooms, history, presence, typing and storage settings: tables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat import identity, presence, rooms, storage_settings, typing_notice
from chat.settings import SettingsError

MAX = 2000 * 6 + 1024


# --- room names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lobby", "a", "A-Z_09", "x" * 64, "room-1", "_", "-"])
def test_valid_room_names(name: str) -> None:
    # Case-insensitive (issue 17): every name is answered in lowercase.
    assert rooms.validate(name) == name.lower()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        (42, "missing"),
        ("x" * 65, "too long"),
        ("a b", "only letters"),
        ("a.b", "only letters"),  # '.' would let a room name reach into another group's name
        ("a/b", "only letters"),
        ("p.lobby.alice", "only letters"),
        ("caf\u00e9", "only letters"),
        (" lobby", "only letters"),
        ("lobby\n", "only letters"),
        ("\u0660", "only letters"),  # an Arabic-Indic digit: \\w would take it, we do not
    ],
)
def test_invalid_room_names(name: object, reason: str) -> None:
    with pytest.raises(rooms.InvalidRoom, match=reason):
        rooms.validate(name)


def test_groups_cannot_collide() -> None:
    assert rooms.group("lobby") == "r.lobby"
    assert rooms.presence_group("lobby", "a.b").startswith("p2.lobby.")
    assert rooms.presence_group("lobby", "a.b") != rooms.presence_group("lobby", "a.c")
    assert rooms.presence_group("lobby", "a") != rooms.presence_group("lobb", "ya")
    assert rooms.group("x") != rooms.presence_group("x", "")


def test_every_group_name_fits_the_services_limit() -> None:
    """The longest signed-in user id (every character of a 128-character id and a
    256-character name escaped) and the longest room name: still within 1,024 characters."""
    longest_room = "r" * rooms.MAX_ROOM_LENGTH
    longest_user = identity.encode_user_id(
        "x" * 32, ":" * identity.MAX_ID_LENGTH, ":" * identity.MAX_NAME_LENGTH
    )
    assert len(longest_user) == identity.MAX_USER_ID_LENGTH
    assert identity.parse_user_id(longest_user) is not None  # a user id we really sign
    for user in (longest_user, "\ud800" * 2000, "", "a"):
        for name in (rooms.group(longest_room), rooms.presence_group(longest_room, user)):
            assert 1 <= len(name) <= rooms.MAX_GROUP_LENGTH == 1024
    assert len(rooms.presence_group(longest_room, longest_user)) <= 100


# --- commands --------------------------------------------------------------------------------


def j(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"hello", "text/plain", rooms.Command("message", "lobby", "hello")),
        (b"{not json", "text/plain", rooms.Command("message", "lobby", "{not json")),
        (j(["join"]), "text/plain", rooms.Command("message", "lobby", '["join"]')),
        (j({"room": "x"}), "text/plain", rooms.Command("message", "lobby", '{"room": "x"}')),
        (j({"message": "hi"}), "application/json", rooms.Command("message", "lobby", "hi")),
        (j({"type": "join", "room": "dev"}), "text/plain", rooms.Command("join", "dev")),
        (j({"type": "leave", "room": "dev"}), "text/plain", rooms.Command("leave", "dev")),
        (j({"type": "typing", "room": "dev"}), "text/plain", rooms.Command("typing", "dev")),
        (
            j({"type": "message", "room": "dev", "message": "yo"}),
            "text/plain",
            rooms.Command("message", "dev", "yo"),
        ),
        (
            j({"type": "message", "room": "dev", "message": "yo"}),
            "application/octet-stream",
            rooms.Command("message", "dev", "yo"),
        ),
    ],
)
def test_commands(body: bytes, content_type: str, expected: rooms.Command) -> None:
    assert rooms.parse(body, content_type, MAX) == expected


@pytest.mark.parametrize(
    ("body", "reason", "room"),
    [
        (j({"type": "shout", "room": "dev"}), "Unknown command 'shout'", None),
        (j({"type": None}), "Unknown command 'NoneType'", None),
        (j({"type": "join"}), "missing room name", None),
        (j({"type": "join", "room": "a b"}), "only letters", None),
        (j({"type": "join", "room": "r" * 65}), "too long", None),
        (j({"type": "message", "room": "dev"}), '"message" must be text', "dev"),
        (j({"type": "message", "room": "dev", "message": 5}), '"message" must be text', "dev"),
        (b"x" * (MAX + 1), "too long", None),
        (b"\xff\xfe", "UTF-8", "lobby"),
        (b"[" * 100_000, "too long", None),
    ],
)
def test_refused_commands(body: bytes, reason: str, room: str | None) -> None:
    with pytest.raises(rooms.Rejected, match=reason) as caught:
        rooms.parse(body, "text/plain", MAX)
    assert caught.value.room == room


def test_deeply_nested_json_is_plain_text_not_a_crash() -> None:
    body = b"{" + b'"a":{' * 50_000 + b"}" * 50_001
    command = rooms.parse(body, "text/plain", len(body))
    assert command.kind == "message" and command.room == "lobby"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({}, ["lobby"]),
        ({"rooms": ["a", "b"]}, ["lobby", "a", "b"]),
        ({"rooms": ["a", "a", "lobby", 5, "bad name", None]}, ["lobby", "a"]),
        ({"rooms": "a"}, ["lobby"]),
        ({"rooms": [f"r{i}" for i in range(50)]}, ["lobby"] + [f"r{i}" for i in range(20)]),
    ],
)
def test_rooms_of_a_connection(state: dict, expected: list[str]) -> None:
    assert rooms.rooms_of(state) == expected


def test_joining_and_leaving_rooms_in_state() -> None:
    state = rooms.with_room({"rate": [1, 2]}, "dev")
    assert state == {"rate": [1, 2], "rooms": ["dev"]}
    assert rooms.with_room(state, "dev") == state
    left = rooms.without_room(state | {"typing": {"dev": 1.0, "x": 2.0}}, "dev", 4.5)
    assert left == {"rate": [1, 2], "rooms": [], "typing": {"x": 2.0}}  # dev's is 3.5 s old


def test_leaving_keeps_a_typing_time_that_still_throttles() -> None:
    """Issue 15 item 3: typing, leave, join, typing... must not reset the typing throttle."""
    state, sent = rooms.with_room({}, "dev"), 0
    for n in range(100):
        now = 1000.0 + n * 0.05  # 100 rounds in 5 s
        allowed, state = typing_notice.allow(state, "dev", now)
        sent += allowed
        state = rooms.with_room(rooms.without_room(state, "dev", now), "dev")
    assert sent == 2  # one at the start, one 3 s later
    assert len(state["typing"]) == 1


def test_a_connection_cannot_join_too_many_rooms() -> None:
    full = {"rooms": [f"r{i}" for i in range(rooms.MAX_ROOMS_PER_CONNECTION - 1)]}
    with pytest.raises(rooms.Rejected, match="at most 20 rooms"):
        rooms.with_room(full, "one-more")


# --- presence --------------------------------------------------------------------------------

A = presence.Announced


@pytest.mark.parametrize(
    ("announced", "present", "now", "event"),
    [
        (None, False, 0.0, None),
        (None, True, 0.0, "joined"),
        (A(True, 4.0, 0.0), True, 1.0, None),  # another tab: nothing
        (A(True, 4.0, 0.0), False, 1.0, "left"),  # the last tab went
        (A(False, 3.0, 0.0), True, 1.0, "joined"),
        (A(False, 0.2, 0.0), True, 1.0, None),  # flapping: the bucket is empty
        (A(False, 0.2, 0.0), True, 15.0, "joined"),  # refilled after 15 s
    ],
)
def test_presence_transitions(
    announced: presence.Announced | None, present: bool, now: float, event: str | None
) -> None:
    transition = presence.decide(announced, present, now)
    assert (transition.event if transition else None) == event
    if transition:
        assert transition.record.present is present and transition.record.updated == now


def test_a_flapping_connection_gives_a_bounded_number_of_notices() -> None:
    record, notices = None, 0
    for cycle in range(100):  # 100 connect/close cycles in 10 s
        for present in (True, False):
            transition = presence.decide(record, present, cycle * 0.1)
            if transition:
                record, notices = transition.record, notices + 1
    assert notices <= presence.USER_NOTICES + 1


def test_room_notices_are_bounded_per_room() -> None:
    budgets: dict[str, Any] = {}  # the adapter keeps the buckets; the rule is pure

    def allow(room: str, now: float) -> bool:
        allowed, budgets[room] = presence.take_room_notice(budgets.get(room), now)
        return allowed

    assert presence.room_open(budgets.get("busy"), 0.0)
    allowed = sum(allow("busy", 0.0) for _ in range(1000))
    assert allowed == presence.ROOM_NOTICES
    assert not presence.room_open(budgets["busy"], 0.0)
    assert presence.room_available(budgets["busy"], 0.0) == 0
    assert presence.room_open(budgets["busy"], presence.ROOM_WINDOW_S / presence.ROOM_NOTICES)
    assert allow("quiet", 0.0)
    assert allow("busy", presence.ROOM_WINDOW_S)  # refilled


def test_snapshot_lists_each_user_once() -> None:
    listed = [
        {"connectionId": "1", "userId": "alice"},
        {"connectionId": "2", "userId": "bob"},
        {"connectionId": "3", "userId": "alice"},
        {"connectionId": "4", "userId": None},
        {"connectionId": "5", "userId": ""},
    ]
    assert presence.snapshot_users(listed) == ["alice", "bob"]


def test_notice_ids_are_shared_by_instances_and_differ_by_change() -> None:
    one = presence.notice_id("dev", "alice", "joined", 1.0)
    assert one == presence.notice_id("dev", "alice", "joined", 1.0)
    assert one != presence.notice_id("dev", "alice", "left", 1.0)


# --- typing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "now", "allowed"),
    [
        ({}, 10.0, True),
        ({"typing": {"dev": 9.0}}, 10.0, False),
        ({"typing": {"dev": 7.0}}, 10.0, True),
        ({"typing": {"other": 9.9}}, 10.0, True),
        ({"typing": {"dev": "x"}}, 10.0, True),
        ({"typing": {"dev": True}}, 10.0, True),
        ({"typing": "junk"}, 10.0, True),
        ({"typing": {"dev": 50.0}}, 10.0, True),  # a clock from the future is not trusted
    ],
)
def test_typing_throttle(state: dict, now: float, allowed: bool) -> None:
    ok, new_state = typing_notice.allow(state, "dev", now)
    assert ok is allowed
    if ok:
        assert new_state["typing"]["dev"] == now


# --- storage settings ------------------------------------------------------------------------

AZ = (
    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;"
    "EndpointSuffix=core.windows.net"
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"ChatStorage": "UseDevelopmentStorage=true"},
            ("ChatStorage", "http://127.0.0.1:10002/devstoreaccount1", "devstoreaccount1"),
        ),
        (
            {"AzureWebJobsStorage": "UseDevelopmentStorage=true"},
            ("AzureWebJobsStorage", "http://127.0.0.1:10002/devstoreaccount1", "devstoreaccount1"),
        ),
        ({"ChatStorage": AZ}, ("ChatStorage", "https://acct.table.core.windows.net", "acct")),
        (
            {"ChatStorage": "AccountName=a;AccountKey=k;TableEndpoint=http://127.0.0.1:9/a/"},
            ("ChatStorage", "http://127.0.0.1:9/a", "a"),
        ),
        (
            {"ChatStorage": AZ, "AzureWebJobsStorage": "UseDevelopmentStorage=true"},
            ("ChatStorage", "https://acct.table.core.windows.net", "acct"),
        ),
        (
            {"ChatStorage__tableServiceUri": "https://acct.table.core.windows.net/"},
            ("ChatStorage__tableServiceUri", "https://acct.table.core.windows.net", None),
        ),
        (
            {"AzureWebJobsStorage__accountName": "acct"},
            ("AzureWebJobsStorage__accountName", "https://acct.table.core.windows.net", None),
        ),
    ],
)
def test_storage_settings(env: dict, expected: tuple) -> None:
    loaded = storage_settings.load(env)
    assert (loaded.setting, loaded.table_endpoint, loaded.account_name) == expected


def test_identity_storage_carries_the_client_id_and_no_secret() -> None:
    loaded = storage_settings.load(
        {
            "ChatStorage__tableServiceUri": "https://acct.table.core.windows.net",
            "ChatStorage__clientId": "00000000-0000-0000-0000-000000000001",
        }
    )
    assert loaded.identity_mode and loaded.client_id.endswith("1")
    assert "a2V5" not in repr(storage_settings.load({"ChatStorage": AZ}))  # the key never shows


@pytest.mark.parametrize(
    ("env", "name", "reason"),
    [
        ({}, "ChatStorage", "missing"),
        ({"ChatStorage": "  "}, "ChatStorage", "missing"),
        ({"ChatStorage": "nonsense"}, "ChatStorage", "Key=Value"),
        ({"ChatStorage": "AccountName=a"}, "ChatStorage", "no AccountKey"),
        ({"ChatStorage": "AccountKey=k;TableEndpoint=https://x"}, "ChatStorage", "AccountName"),
        ({"ChatStorage": "Foo=bar"}, "ChatStorage", "no AccountName"),
        (
            {"ChatStorage": "AccountName=a;AccountKey=k;TableEndpoint=ftp://x"},
            "ChatStorage",
            "http",
        ),
        (
            {"ChatStorage": "AccountName=a;AccountKey=k;DefaultEndpointsProtocol=ftp"},
            "ChatStorage",
            "https",
        ),
        (
            {"ChatStorage__tableServiceUri": "http://acct.table.core.windows.net"},
            "ChatStorage__tableServiceUri",
            "https",
        ),
        (
            {"AzureWebJobsStorage__accountName": "Not_An_Account"},
            "AzureWebJobsStorage__accountName",
            "not a storage account",
        ),
        ({"AzureWebJobsStorage": "nonsense"}, "AzureWebJobsStorage", "Key=Value"),
    ],
)
def test_bad_storage_settings_name_the_setting(env: dict, name: str, reason: str) -> None:
    with pytest.raises(SettingsError, match=reason) as caught:
        storage_settings.load(env)
    assert caught.value.name == name
    assert "a2V5" not in str(caught.value)
