"""Retried events act once (issue 19): the service retries an event its handler answered
with a 5xx, with the same ce-id. A kick or ban whose removal from the room's groups failed is
answered 503 so that the removal is tried again; across both attempts the room and the target
are told exactly once, and the audit table holds one row. Pure, then through the registered
function on Azurite with the removal failing once on the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters import webpubsub
from adapters.table_store import TableStore
from chat import moderation, rooms, storage_settings
from chat.plan import (
    CloseUserConnections,
    Failed,
    Moderate,
    Plan,
    RemoveUserFromGroups,
    SendToGroup,
    SendToUser,
)
from tests.app.test_moderation_pure import ADMIN, MEMBER, MOD, RECORD, send
from tests.support.azurite import Azurite

from .conftest import RecordingService
from .test_moderation_webhook import MEMBER as MEL
from .test_moderation_webhook import OWNER, command, join


def attempt(frame: dict, audited: bool, removal: object) -> tuple[Plan, list[Any]]:
    """One delivery of the event: the record read, the audit row written (False: it was
    there, a retry), the removal's outcome; the final plan and every effect on the way."""
    plan = send(frame, MOD)
    seen: list[Any] = list(plan.effects)
    assert plan.then is not None
    plan = plan.then((moderation.Facts(RECORD),))
    seen += plan.effects
    (change,) = plan.effects
    assert isinstance(change, Moderate)
    assert plan.then is not None
    plan = plan.then((audited,))
    seen += plan.effects
    assert isinstance(plan.effects[0], RemoveUserFromGroups)
    if plan.then is not None:
        plan = plan.then((removal,))
        seen += plan.effects
    return plan, seen


@pytest.mark.parametrize("kind", ["kick", "ban"])
def test_a_removal_that_failed_once_is_retried_and_everyone_told_once(kind: str) -> None:
    frame = {"type": kind, "room": "dev", "user": MEMBER, "minutes": 10}
    failed, first = attempt(frame, audited=True, removal=Failed("down", 503))
    assert failed.answer.status == 503  # the service retries the event
    retried, second = attempt(frame, audited=False, removal=None)
    assert retried.answer.status == 204
    told = [e for e in first + second if isinstance(e, SendToUser)]
    room = [e for e in first + second if isinstance(e, SendToGroup)]
    assert [e.user for e in told] == [MEMBER]
    assert [e.group for e in room] == [rooms.group("dev")]
    if kind == "ban":
        assert "You were banned from dev" in told[0].payload["message"]
        assert "until 2027-01-15T08:10:00.000Z" in told[0].payload["message"]
        assert told[0].payload["until"] == "2027-01-15T08:10:00.000Z"
    else:
        assert "You were removed from dev" in told[0].payload["message"]


def test_a_retry_of_an_event_that_succeeded_tells_nobody_again() -> None:
    frame = {"type": "ban", "room": "dev", "user": MEMBER, "minutes": 10}
    _, first = attempt(frame, audited=True, removal=None)
    _, again = attempt(frame, audited=False, removal=None)
    assert sum(isinstance(e, SendToUser) for e in first) == 1
    assert not any(isinstance(e, SendToUser | SendToGroup) for e in again)
    assert any(isinstance(e, RemoveUserFromGroups) for e in again)  # acted again, idempotent


def chat_ban_attempt(written: bool, closed: object) -> tuple[Plan, list[Any]]:
    """One delivery of an admin's chat-wide ban: the ban written (False: its audit row was
    there, a retry), then the user's connections closed."""
    plan = send({"type": "ban", "user": MEMBER, "minutes": 10}, ADMIN)
    seen: list[Any] = list(plan.effects)
    assert plan.then is not None
    plan = plan.then((written,))
    seen += plan.effects
    assert any(isinstance(e, CloseUserConnections) for e in plan.effects)
    assert plan.then is not None
    plan = plan.then((closed,))
    return plan, seen + list(plan.effects)


@pytest.mark.parametrize("first_close", [None, Failed("down", 503)], ids=["ok", "failed"])
def test_a_retried_chat_wide_ban_tells_the_admin_once(first_close: object) -> None:
    first, seen = chat_ban_attempt(True, first_close)
    assert first.answer.status == (204 if first_close is None else 503)
    retried, again = chat_ban_attempt(False, None)
    assert retried.answer.status == 204
    told = [e for e in seen + again if isinstance(e, SendToUser)]
    assert [(e.user, e.payload["action"]) for e in told] == [(ADMIN, "ban")]
    # Acted again all the same: the connections closed again (idempotent).
    assert any(isinstance(e, CloseUserConnections) for e in again)


# --- through the registered function, on Azurite -------------------------------------------------


@pytest.fixture
def removal_fails_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The service's remove-user-from-group answers 503 once (then works)."""
    real = webpubsub.Service.remove_user_from_groups
    calls: list[str] = []

    async def flaky(self: webpubsub.Service, user: str, groups: list[str]) -> None:
        calls.append(user)
        if len(calls) == 1:
            raise webpubsub.ServiceUnavailable(503, "service answered 503")
        await real(self, user, groups)

    monkeypatch.setattr(webpubsub.Service, "remove_user_from_groups", flaky)
    yield calls


def notices(service: RecordingService, kind: str) -> list[dict]:
    return [
        body
        for body in (r.json() for r in service.sends(kind))
        if isinstance(body, dict) and body.get("event") == "moderation"
    ]


async def audit_rows(azurite: Azurite, room: str) -> list[dict]:
    settings = storage_settings.parse_connection_string("ChatStorage", azurite.connection_string)
    store = TableStore(settings)
    try:
        query = f"PartitionKey eq 'audit|{room}'"
        rows, _ = await store.query_state("audit", query, {}, ["RowKey", "action", "by"], 10)
    finally:
        await store.close()
    return rows


async def test_a_retried_ban_after_a_failed_removal_acts_and_tells_once(
    signed_in_app: RecordingService,
    removal_fails_once: list[str],
    azurite: Azurite,
) -> None:
    room = "retried"
    await join(OWNER, "owner-conn", room)
    await join(MEL, "member-conn", room)
    ban = {"type": "ban", "room": room, "user": MEL, "minutes": 10}
    first = await command(ban, OWNER, "owner-conn", "ban-1")
    assert first.status_code == 503  # the service will retry it, with the same ce-id
    again = await command(ban, OWNER, "owner-conn", "ban-1")
    assert again.status_code == 204, again.get_body()
    assert removal_fails_once == [MEL, MEL]
    told = notices(signed_in_app, "users")
    assert len(told) == 1 and "You were banned from retried" in told[0]["message"]
    assert told[0]["until"] and told[0]["until"] in told[0]["message"]
    assert [n["action"] for n in notices(signed_in_app, "groups")] == ["ban"]
    assert [r["action"] for r in await audit_rows(azurite, room)] == ["ban"]
    # A third delivery (the 204 lost on the way): acts again, tells nobody.
    third = await command(ban, OWNER, "owner-conn", "ban-1")
    assert third.status_code == 204
    assert len(notices(signed_in_app, "users")) == 1
    refused = await command({"type": "join", "room": room}, MEL, "member-conn", "re-1")
    assert "banned from retried" in json.loads(refused.get_body())["message"]
