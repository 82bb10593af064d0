"""Roles -> group permissions, including wildcards and REST grants/revocations."""

from __future__ import annotations

import pytest

from devstack.emulator.roles import (
    JOIN_LEAVE,
    SEND,
    Permissions,
    parse_permission_name,
    wildcard_regex,
)


@pytest.mark.parametrize(
    ("roles", "group", "join", "send"),
    [
        ([], "g", False, False),
        (["webpubsub.joinLeaveGroup"], "any", True, False),
        (["webpubsub.sendToGroup"], "any", False, True),
        (["webpubsub.joinLeaveGroup.g1"], "g1", True, False),
        (["webpubsub.joinLeaveGroup.g1"], "G1", False, False),
        (["webpubsub.sendToGroup.a.b"], "a.b", False, True),
        (["webpubsub.joinLeaveGroups.room.*"], "room.1", True, False),
        (["webpubsub.joinLeaveGroups.room.*"], "room.1.x", False, False),
        (["webpubsub.sendToGroups.room.**"], "room.1.x", False, True),
        (["webpubsub.sendToGroups.r?"], "r1", False, True),
        (["webpubsub.sendToGroups.r?"], "r.", False, False),
        (["webpubsub.sendToGroups.a\\*"], "a*", False, True),
        (["webpubsub.sendToGroups.a\\*"], "ab", False, False),
        (["webpubsub.sendToGroups.******"], "x", False, False),  # too many stars: ignored
        (["webpubsub.something"], "g", False, False),
    ],
)
def test_role_permissions(roles: list[str], group: str, join: bool, send: bool) -> None:
    perms = Permissions.from_roles(roles)
    assert perms.can_join_leave(group) is join
    assert perms.can_send(group) is send


def test_grant_and_revoke_override_roles() -> None:
    perms = Permissions.from_roles(["webpubsub.sendToGroup"])
    perms.revoke(SEND, "g")
    assert not perms.can_send("g")
    assert perms.can_send("h")
    perms.grant(SEND, "g")
    assert perms.can_send("g")
    perms.grant(JOIN_LEAVE, "x")
    assert perms.can_join_leave("x") and not perms.can_join_leave("y")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sendToGroup", SEND),
        ("SENDTOGROUP", SEND),
        ("joinLeaveGroup", JOIN_LEAVE),
        ("1", SEND),
        ("2", JOIN_LEAVE),
        ("other", None),
    ],
)
def test_permission_names(name: str, expected: str | None) -> None:
    assert parse_permission_name(name) == expected


def test_trailing_backslash_is_invalid() -> None:
    assert wildcard_regex("a\\") is None
