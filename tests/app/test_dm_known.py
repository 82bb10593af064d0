"""A conversation's later DMs on one instance: the recipient check and both `mine` rows are
known (docs/storage.md, Conversations), so they cost no table or service call and the
executor answers them from memory. Against Azurite and the recording service."""

from __future__ import annotations

from typing import Any

from chat import direct

from .conftest import RecordingService, stateful
from .test_conversations_store import ALICE, BOB, HEADERS, command, me, messages, signed_in

__all__ = ["signed_in"]  # the fixture, used by name


async def test_a_second_dm_reads_and_writes_only_the_message(signed_in: RecordingService) -> None:
    store = stateful().store
    calls: list[str] = []
    call = store.call

    async def spy(what: str, operation: Any) -> Any:
        calls.append(what)
        return await call(what, operation)

    store.call = spy  # type: ignore[method-assign]
    first = await command({"type": "dm", "to": BOB, "message": "one"}, user=ALICE, ce_id="k1")
    assert first.status_code == 204, first.get_body()
    assert {"read presence", "keep joined room"} <= set(calls)  # the first: looked up, rows
    calls.clear()
    signed_in.requests.clear()
    state = first.headers.get("ce-connectionState")
    second = await command(
        {"type": "dm", "to": BOB, "message": "two"}, state, user=ALICE, ce_id="k2"
    )
    assert second.status_code == 204, second.get_body()
    # The message, maybe a lease; "Bob blocks Alice?" was answered "no" 10 s ago at most
    # (a block since, on another instance, is kept from Bob by the send's filter).
    assert set(calls) <= {"store message", "rate limit"}
    # No listing of the lobby's presence group: only the two user-addressed sends.
    assert [r.method for r in signed_in.requests] == ["POST", "POST"]
    assert len(signed_in.sends("users")) == 2
    room = direct.conversation(ALICE, BOB)
    _, page = await messages(room, HEADERS[BOB])
    assert [m["message"] for m in page["messages"]] == ["one", "two"]
    assert (await me(BOB, HEADERS[BOB]))[room]["unread"] == 2
