"""Issue 17 in Chromium: a page whose network was off while others said more than one history
page (60 messages) in another room shows every one of them once, in order, after it
reconnects, without a reload (catch-up merged by id with the latest page)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from .chat_page import HOLD_SOCKETS, ChatPage, OpenChat

pytestmark = [pytest.mark.browser, pytest.mark.stack]

RECOVERY_TIMEOUT_MS = 25_000
# The tab hidden or shown as the page sees it (headless Chromium never hides a page).
SET_HIDDEN = """(hidden) => {
  const define = (key, get) => Object.defineProperty(document, key, { configurable: true, get });
  define("visibilityState", () => (hidden ? "hidden" : "visible"));
  define("hidden", () => hidden);
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_a_page_offline_catches_up_on_more_than_a_page_of_messages(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room = unique("catchup")
    alice = open_chat()
    alice.context.add_init_script(HOLD_SOCKETS)
    alice.page.reload()
    alice.join(unique("alice"))
    alice.enter_room(room)
    senders: list[tuple[ChatPage, str]] = []
    for base in ("bob", "carol", "dave"):
        name = unique(base)
        chat = open_chat()
        chat.join(name)
        chat.enter_room(room)
        senders.append((chat, name))
    alice.room_button("lobby").click()

    alice.page.evaluate("window.__down = true; window.__sockets.forEach((s) => s.close())")
    expect(alice.status).to_have_attribute("data-state", "reconnecting", timeout=15_000)
    said = []
    # 20 each: the flood limit lets a user send 20 at once.
    for n in range(20):
        for chat, name in senders:
            text = f"{name} says {n}"
            chat.send(text)
            said.append(text)
    for chat, name in senders:
        expect(chat.chat_line(name, f"{name} says 19")).to_have_count(1)
    alice.page.evaluate("window.__down = false")
    alice.page.get_by_role("button", name="Reconnect now").click()
    expect(alice.status).to_have_attribute("data-state", "connected", timeout=RECOVERY_TIMEOUT_MS)

    alice.room_button(room).click()
    lines = alice.page.locator("#messages li.message .text")
    expect(lines).to_have_count(len(said), timeout=RECOVERY_TIMEOUT_MS)
    shown = lines.all_text_contents()
    assert sorted(shown) == sorted(said)  # each once
    for _, name in senders:  # and each person's in the order they said them
        mine = [t for t in shown if t.startswith(f"{name} says ")]
        assert mine == [f"{name} says {n}" for n in range(20)]


def test_a_hidden_tab_counts_in_its_title_what_it_caught_up_on_in_the_room_shown(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room = unique("away")
    alice, bob = open_chat(), open_chat()
    alice.context.add_init_script(HOLD_SOCKETS)
    alice.page.reload()
    alice.join(unique("alice"))
    alice.enter_room(room)
    bob_name = unique("bob")
    bob.join(bob_name)
    bob.enter_room(room)
    bob.send("before")
    expect(alice.chat_line(bob_name, "before")).to_have_count(1)

    alice.page.evaluate(SET_HIDDEN, True)
    alice.page.evaluate("window.__down = true; window.__sockets.forEach((s) => s.close())")
    expect(alice.status).to_have_attribute("data-state", "reconnecting", timeout=15_000)
    for text in ("one", "two"):
        bob.send(text)
        expect(bob.chat_line(bob_name, text)).to_have_count(1)
    # Back online (the page skips the rest of its back-off wait; a button could be gone by then).
    alice.page.evaluate("window.__down = false; window.dispatchEvent(new Event('online'))")
    expect(alice.status).to_have_attribute("data-state", "connected", timeout=RECOVERY_TIMEOUT_MS)
    # Caught up in the room shown, but nobody looked: the title says so until the tab is shown.
    expect(alice.chat_line(bob_name, "two")).to_have_count(1, timeout=RECOVERY_TIMEOUT_MS)
    expect(alice.page).to_have_title("(2) Chat")
    alice.page.evaluate(SET_HIDDEN, False)
    expect(alice.page).to_have_title("Chat")
