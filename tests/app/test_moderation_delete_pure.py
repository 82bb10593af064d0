"""A moderator's delete (issue 19) without I/O: `delete` of someone else's message reads the
room's roles fresh in sign-in mode, audits, tombstones and tells the room `deleted` plus the
moderation notice; everyone else is refused and nothing changes (chat/edits.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat import connection_state, edits, events, history, moderation, roles, rooms
from chat.cloudevents import CloudEvent
from chat.plan import (
    Failed,
    FindMessage,
    FindReplies,
    Found,
    Moderate,
    Plan,
    ReadRoom,
    ResolveReport,
    SendToGroup,
    UpdateMessage,
)
from tests.app.test_moderation_pure import ADMIN, MEMBER, MOD, MOD2, OFF, OTHER, OWNER, RECORD
from tests.app.test_moderation_pure import SIGNED_IN as SIGNED_IN_SETTINGS

NOW = 1_800_000_000.0
ID = "0123456789abcdef01234567"
FACTS = moderation.Facts(RECORD)
DELETED = {"type": "deleted", "room": "dev", "id": ID}


def command(user: str, settings: Any = SIGNED_IN_SETTINGS, ce_id: str = "ce-1") -> Plan:
    state = connection_state.encode({"rooms": ["dev"]})
    event = CloudEvent(
        "azure.webpubsub.user.message", ce_id, "hub", "conn-1", "message", user, state, None
    )
    body = json.dumps({"type": "delete", "room": "dev", "id": ID}).encode()
    return events.command(event, body, "application/json", settings, NOW)


def row(author: str, signed_in: bool = True, **more: Any) -> dict[str, Any]:
    entity = {
        "PartitionKey": "dev",
        "RowKey": history.row_key(int(NOW - 60) * 1000, ID),
        "id": ID,
        "from": "someone",
        "message": "rude words",
        "time": history.iso_time(NOW - 60),
    }
    return entity | ({"userId": author} if signed_in else {"from": author}) | more


def rejected(plan: Plan) -> str | None:
    reply = plan.answer
    if reply.status != 200 or not reply.body:
        return None
    body = json.loads(reply.body)
    return body["message"] if body.get("event") == "rejected" else None


def step(plan: Plan, *outcomes: Any) -> Plan:
    assert plan.then is not None, plan
    return plan.then(outcomes)


def found(user: str, author: str, settings: Any = SIGNED_IN_SETTINGS, **more: Any) -> Plan:
    plan = command(user, settings)
    (find,) = plan.effects
    assert isinstance(find, FindMessage) and find.id == ID
    return step(plan, Found(row(author, settings.sign_in, **more), "etag-1"))


def deleted(plan: Plan) -> tuple[UpdateMessage, Plan]:
    """The tombstone written, the room told, the replies searched: the final plan."""
    (update,) = plan.effects
    assert isinstance(update, UpdateMessage) and update.etag == "etag-1"
    assert update.entity["deleted"] is True and "message" not in update.entity
    sent = step(plan, True)
    send, replies = sent.effects
    assert isinstance(send, SendToGroup) and send.payload == DELETED
    assert isinstance(replies, FindReplies)
    return update, step(sent, None, [])


# who, author, settings: the actor's role decides (read fresh, in sign-in mode only).
@pytest.mark.parametrize(
    ("actor", "author", "settings", "outcome"),
    [
        (MEMBER, MEMBER, SIGNED_IN_SETTINGS, "own"),  # the author: no role read at all
        (MOD, MEMBER, SIGNED_IN_SETTINGS, "moderated"),
        (OWNER, MOD, SIGNED_IN_SETTINGS, "moderated"),
        (ADMIN, OWNER, SIGNED_IN_SETTINGS, "moderated"),
        (MEMBER, OTHER, SIGNED_IN_SETTINGS, edits.NOT_AUTHOR_OR_MODERATOR_DELETE),
        (MOD, MOD2, SIGNED_IN_SETTINGS, roles.OUTRANKED),  # not a fellow moderator's
        (MOD, OWNER, SIGNED_IN_SETTINGS, roles.OUTRANKED),
        ("alice", "alice", OFF, "own"),
        ("bob", "alice", OFF, edits.NOT_AUTHOR_DELETE),  # no roles without sign-in
    ],
)
def test_who_may_delete_a_message(actor: str, author: str, settings: Any, outcome: str) -> None:
    plan = found(actor, author, settings)
    if outcome == "own":
        _, final = deleted(plan)
        assert final.effects == () and final.answer.status == 204
        return
    if not settings.sign_in:
        assert rejected(plan) == outcome and plan.effects == () and plan.then is None
        return
    (read,) = plan.effects
    assert read == ReadRoom("dev", str(roles.account(actor)), fresh=True)
    decided = step(plan, FACTS)
    if outcome != "moderated":
        assert rejected(decided) == outcome
        assert decided.effects == () and decided.then is None
        return
    (audit,) = decided.effects
    assert isinstance(audit, Moderate) and audit.action == roles.DELETE
    assert (audit.audit["by"], audit.audit["target"], audit.audit["detail"]) == (actor, author, ID)
    _, final = deleted(step(decided, True))
    (notice,) = final.effects
    assert notice == SendToGroup(
        rooms.group("dev"), moderation.deletion_notice("dev", ID, author, actor)
    )
    assert final.answer.status == 204


def test_roles_that_cannot_be_read_refuse_and_change_nothing() -> None:
    decided = step(found(MOD, MEMBER), Failed("down"))
    assert rejected(decided) == moderation.CANNOT_CHECK and decided.effects == ()


def test_a_failed_audit_changes_nothing() -> None:
    audited = step(step(found(MOD, MEMBER), FACTS), Failed("down"))
    assert rejected(audited) == edits.NOT_EDITED_SAVED and audited.effects == ()


def test_a_retried_event_changes_nothing_and_tells_nobody_twice() -> None:
    update, _ = deleted(step(step(found(MOD, MEMBER), FACTS), True))
    retry = step(command(MOD), Found(update.entity, "etag-2"))  # the row as it was left
    assert retry.then is None and retry.answer.status == 204
    assert retry.effects == (SendToGroup(rooms.group("dev"), DELETED),)  # no notice, no audit


def test_a_retry_after_the_audit_only_deletes_once_and_notices_once() -> None:
    """The first try wrote the audit and stopped: the audit row answers False, the delete
    goes on (the row has no trace of the first try)."""
    _, final = deleted(step(step(found(MOD, MEMBER), FACTS), False))
    assert [e.payload["event"] for e in final.effects if isinstance(e, SendToGroup)] == [
        "moderation"
    ]


def test_a_lost_etag_race_reads_the_row_again_without_reading_roles_again() -> None:
    updating = step(step(found(MOD, MEMBER), FACTS), True)
    again = step(updating, False)
    (find,) = again.effects
    assert isinstance(find, FindMessage)
    retried = step(again, Found(row(MEMBER), "etag-1"))
    assert isinstance(retried.effects[0], UpdateMessage)


def test_a_message_deleted_already_tells_the_room_again_without_audit_or_notice() -> None:
    gone = history.tombstone(row(MEMBER))
    plan = command(MOD)
    decided = step(step(plan, Found(gone, "etag-1")), FACTS)
    assert decided.effects == (SendToGroup(rooms.group("dev"), DELETED),)
    assert decided.then is None and decided.answer.status == 204


# --- a report resolved by deleting its message ----------------------------------------------------

REPORT = f"dev|{ID}|" + "0" * 32


def resolve(user: str = ADMIN, ce_id: str = "ce-7") -> Plan:
    event = CloudEvent(
        "azure.webpubsub.user.message", ce_id, "hub", "conn-1", "message", user, None, None
    )
    body = json.dumps({"type": "resolve", "report": REPORT, "action": "delete"}).encode()
    return events.command(event, body, "application/json", SIGNED_IN_SETTINGS, NOW)


def test_a_report_resolved_by_delete_deletes_as_an_admin_then_closes_it() -> None:
    plan = resolve()  # the admin is in no room: the report names it
    (find,) = plan.effects
    assert find == FindMessage("dev", ID)
    decided = step(step(plan, Found(row(MEMBER), "etag-1")), FACTS)
    (audit,) = decided.effects
    assert isinstance(audit, Moderate) and audit.audit["by"] == ADMIN
    _, final = deleted(step(decided, True))
    notice, close = final.effects
    assert isinstance(notice, SendToGroup) and notice.payload["action"] == "delete"
    assert isinstance(close, ResolveReport) and close.report == REPORT
    assert close.fields == {"open": False, "resolution": "delete", "resolvedBy": ADMIN}
    assert close.audit["RowKey"] == audit.audit["RowKey"] + "|resolve"  # beside the delete's
    assert final.reply is None
    closed = step(final, None, True)
    assert closed.answer.status == 204 and closed.then is None
    assert rejected(step(final, None, False)) == moderation.NO_SUCH_REPORT


def test_a_refused_or_failed_delete_leaves_the_report_open() -> None:
    unchecked = step(step(resolve(), Found(row(MEMBER), "e")), Failed("down"))
    assert rejected(unchecked) == moderation.CANNOT_CHECK and unchecked.effects == ()
    missing = step(resolve(), None)
    assert rejected(missing) == edits.no_such_message("dev") and missing.effects == ()
    updating = step(step(step(resolve(), Found(row(MEMBER), "etag-1")), FACTS), True)
    failed = step(step(updating, True), Failed("service down", 502), None)
    assert failed.answer.status == 502 and failed.effects == ()  # the service retries


def test_only_admins_resolve_by_delete() -> None:
    for user in (MOD, OWNER, MEMBER):
        refused = resolve(user)
        assert rejected(refused) == moderation.ADMINS_ONLY and refused.effects == ()
