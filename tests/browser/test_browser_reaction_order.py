"""Issue 18 in Chromium: "clients converge whatever order frames arrive". Two toggles at once
are two broadcasts of the whole state, which may reach a page in either order; the page keeps
the state with the higher `rev`, so an older state arriving last does not undo a newer one."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from .chat_page import MESSAGE_TIMEOUT_MS, OpenChat

pytestmark = [pytest.mark.browser, pytest.mark.stack]

# Keep hold of the page's sockets, so the test can hand the page a frame as if the service sent it.
SOCKETS = (
    "(() => { const Real = window.WebSocket; window.__sockets = [];"
    " window.WebSocket = function (...args) {"
    "   const s = new Real(...args); window.__sockets.push(s); return s; };"
    " Object.assign(window.WebSocket, Real); window.WebSocket.prototype = Real.prototype; })();"
)


def test_an_older_reaction_state_arriving_last_does_not_undo_a_newer_one(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room = unique("order")
    alice_name, bob_name = unique("alice"), unique("bob")
    alice, bob = open_chat(), open_chat()
    bob.context.add_init_script(SOCKETS)
    bob.page.reload()
    alice.join(alice_name)
    bob.join(bob_name)
    alice.enter_room(room)
    bob.enter_room(room)
    alice.send("lunch?")
    line = bob.chat_line(alice_name, "lunch?")
    expect(line).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)
    message_id = line.get_attribute("data-id")
    assert message_id

    react = {"type": "react", "room": room, "id": message_id, "emoji": "👍"}
    script = "(frame) => window.__sockets.at(-1).send(JSON.stringify(frame))"
    bob.page.evaluate(script, react)  # rev 1: bob's
    chip = line.get_by_test_id("reaction-chip")
    expect(chip).to_have_text("👍 1", timeout=MESSAGE_TIMEOUT_MS)
    alice.chat_line(alice_name, "lunch?").get_by_test_id("reaction-chip").click()  # rev 2
    expect(chip).to_have_text("👍 2", timeout=MESSAGE_TIMEOUT_MS)

    # The first toggle's broadcast, delivered late (as a slower instance's send would be).
    stale = {
        "type": "reactions",
        "room": room,
        "id": message_id,
        "reactions": [{"emoji": "👍", "count": 1, "users": [bob_name]}],
        "rev": 1,
    }
    deliver = "(data) => window.__sockets.at(-1).dispatchEvent(new MessageEvent('message', {data}))"
    bob.page.evaluate(deliver, json.dumps(stale))
    # A marker after it: once the marker is shown, the stale frame has been handled.
    alice.send("marker")
    expect(bob.chat_line(alice_name, "marker")).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)
    expect(chip).to_have_text("👍 2")
    # A newer state still applies.
    bob.page.evaluate(script, react)  # bob takes his back: rev 3
    expect(chip).to_have_text("👍 1", timeout=MESSAGE_TIMEOUT_MS)
