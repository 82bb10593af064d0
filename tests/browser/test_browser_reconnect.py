"""The emulator dies and comes back: the page says so, reconnects by itself, loses nothing and
shows nothing twice. This module kills the stack's emulator, so it has a stack of its own."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.stack import LocalStack

from .chat_page import MESSAGE_TIMEOUT_MS, ChatPage, Joined

pytestmark = [pytest.mark.browser, pytest.mark.stack]

# Back-off is 0.5-1 s, 1-2 s, 2-4 s, 4-8 s ...; the emulator is down for a few seconds at most.
RECOVERY_TIMEOUT_MS = 25_000


def assert_no_line_twice(chat: ChatPage) -> None:
    ids = chat.line_ids()
    assert len(ids) == len(set(ids)), f"a line was shown twice: {ids}"


def test_the_page_reconnects_by_itself_after_the_emulator_restarts(
    joined: Joined, chat_stack: LocalStack
) -> None:
    (alice, alice_name), (bob, bob_name) = joined("alice"), joined("bob")
    alice.send("before the crash")
    expect(bob.chat_line(alice_name, "before the crash")).to_have_count(
        1, timeout=MESSAGE_TIMEOUT_MS
    )

    chat_stack.kill_emulator()

    for chat in (alice, bob):
        expect(chat.status).to_have_attribute(
            "data-state", "reconnecting", timeout=MESSAGE_TIMEOUT_MS
        )
        expect(chat.status).to_have_text(re.compile(r"^Reconnecting in \d+ s…$"))
        expect(chat.local_notes("Connection lost. Trying to reconnect…")).to_have_count(1)
        retry = chat.page.get_by_role("button", name="Reconnect now")
        expect(retry).to_be_visible()

    # While disconnected, Send explains itself and keeps the text.
    alice.send("written while offline")
    expect(alice.page.locator("#send-error")).to_have_text(re.compile(r"^Not connected"))
    expect(alice.message_input).to_have_value("written while offline")

    chat_stack.start_emulator()

    for chat in (alice, bob):
        expect(chat.status).to_have_attribute(
            "data-state", "connected", timeout=RECOVERY_TIMEOUT_MS
        )
        expect(chat.local_notes("Reconnected.")).to_have_count(1)
        expect(chat.page.locator("#retry-button")).to_be_hidden()
        # Only one "connection lost" note for the whole outage, however many attempts it took.
        expect(chat.local_notes("Connection lost")).to_have_count(1)
        history = chat.state_history()
        assert history[:3] == ["disconnected", "connecting", "connected"]
        assert "reconnecting" in history
        assert history[-1] == "connected"
    expect(alice.page.locator("#send-error")).to_have_text("")

    # The kept text goes out with one more Enter, and chat works both ways again.
    alice.message_input.press("Enter")
    expect(bob.chat_line(alice_name, "written while offline")).to_have_count(
        1, timeout=MESSAGE_TIMEOUT_MS
    )
    bob.send("welcome back")
    expect(alice.chat_line(bob_name, "welcome back")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)

    for chat in (alice, bob):
        for sender, text in (
            (alice_name, "before the crash"),
            (alice_name, "written while offline"),
            (bob_name, "welcome back"),
        ):
            expect(chat.chat_line(sender, text)).to_have_count(1)
        assert_no_line_twice(chat)


def test_reconnect_now_skips_the_wait(joined: Joined, chat_stack: LocalStack) -> None:
    chat, name = joined("eager")

    chat_stack.kill_emulator()
    # Wait until the back-off has grown to a wait of 3 s or more ...
    expect(chat.status).to_have_text(
        re.compile(r"^Reconnecting in ([3-9]|\d\d+) s…$"), timeout=RECOVERY_TIMEOUT_MS
    )
    chat_stack.start_emulator()
    # ... then ask for a retry by keyboard: it connects well before the wait would be over.
    retry = chat.page.get_by_role("button", name="Reconnect now")
    retry.focus()
    chat.page.keyboard.press("Enter")
    expect(chat.status).to_have_attribute("data-state", "connected", timeout=1_500)
    chat.send("after a manual retry")
    expect(chat.chat_line(name, "after a manual retry")).to_have_count(
        1, timeout=MESSAGE_TIMEOUT_MS
    )
    assert_no_line_twice(chat)
