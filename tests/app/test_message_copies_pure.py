"""Decisions on this instance's copy of a message row (Found.cached, adapters/message_rows.py)
and on the `replied` mark, without I/O: a copy is trusted only for a write conditional on its
ETag; a decision that would write nothing reads the row fresh; a reply marks its original
before it is stored, and a delete searches for replies only when the row is not marked unquoted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat import history
from chat.plan import FindMessage, Found, UpdateMessage

from .test_edits_pure import ID, command, past_lease, row


@pytest.mark.parametrize(
    "body",
    [
        {"type": "edit", "message": "fixed"},
        {"type": "delete"},
        {"type": "react", "emoji": "👍"},
    ],
)
def test_a_copy_of_the_row_is_written_with_its_etag_and_no_read(body: dict[str, Any]) -> None:
    plan = past_lease(command(body | {"room": "dev", "id": ID}))
    assert plan.then is not None
    plan = plan.then((Found(row(), "copy-etag", cached=True),))
    assert isinstance(plan.effects[0], UpdateMessage) and plan.effects[0].etag == "copy-etag"
    assert plan.then is not None
    # Another instance changed it: the write fails, the next read is the store's.
    again = plan.then((False,))
    assert isinstance(again.effects[0], FindMessage) and not again.effects[0].fresh


@pytest.mark.parametrize(
    ("body", "found", "ce_id"),
    [
        ({"type": "edit", "message": "x"}, row("bob"), "ce-1"),  # a refusal
        ({"type": "edit", "message": "x"}, history.tombstone(row()), "ce-1"),
        ({"type": "react", "emoji": "👍"}, history.tombstone(row()), "ce-1"),
        ({"type": "delete"}, history.tombstone(row()), "ce-1"),  # no change
        ({"type": "react", "emoji": "👍"}, row(ops=json.dumps(["x"])), "retry"),  # a retry
    ],
)
def test_a_decision_that_writes_nothing_reads_a_copy_again_fresh(
    body: dict[str, Any], found: dict[str, Any], ce_id: str
) -> None:
    if ce_id == "retry":
        done = command(body | {"room": "dev", "id": ID})
        assert done.then is not None
        update = done.then((Found(row(), "e"),)).effects[0]
        assert isinstance(update, UpdateMessage)
        found, ce_id = update.entity, "ce-1"
    plan = past_lease(command(body | {"room": "dev", "id": ID}, ce_id=ce_id))
    assert plan.then is not None
    again = plan.then((Found(found, "copy", cached=True),))
    assert again.effects == (
        FindMessage("dev", ID, again.effects[0].newer_than_ms, fresh=True),  # type: ignore[union-attr]
    )
    assert again.then is not None
    # The store's row decides: the same row, read fresh, is refused or told as it is.
    final = again.then((Found(found, "stored"),))
    assert final.then is None
    assert not any(isinstance(e, (FindMessage, UpdateMessage)) for e in final.effects)


def test_the_first_reply_marks_the_original_and_a_lost_mark_reads_it_again() -> None:
    body = {"type": "message", "room": "dev", "message": "yes", "replyTo": ID}
    plan = command(body)
    assert plan.then is not None
    unmarked = history.tombstone(row()) | {"deleted": False, "message": "hi", "replied": False}
    plan = plan.then((Found(unmarked, "e1"),))
    (mark,) = plan.effects
    assert isinstance(mark, UpdateMessage) and mark.etag == "e1"
    assert mark.entity == unmarked | {"replied": True}
    assert plan.then is not None
    # Deleted meanwhile: the mark fails, the original is read again and quoted as deleted.
    again = plan.then((False,))
    assert again.effects == (FindMessage("dev", ID, fresh=True),) and again.then is not None
    stored = again.then((Found(history.tombstone(row()), "e2"),))
    store = next(e for e in stored.effects if type(e).__name__ == "StoreMessage")
    quoted = json.loads(store.entity["replyTo"])  # type: ignore[union-attr]
    assert quoted == {"id": ID, "from": "alice", "deleted": True}


@pytest.mark.parametrize(("replied", "searched"), [(False, False), (True, True), (None, True)])
def test_a_delete_searches_replies_unless_the_row_says_none_quoted_it(
    replied: bool | None, searched: bool
) -> None:
    plan = command({"type": "delete", "room": "dev", "id": ID})
    assert plan.then is not None
    found = row() | ({} if replied is None else {"replied": replied})
    plan = plan.then((Found(found, "e"),))
    assert plan.then is not None
    sent = plan.then((True,))
    kinds = {type(e).__name__ for e in sent.effects}
    assert ("FindReplies" in kinds) is searched and "SendToGroup" in kinds
