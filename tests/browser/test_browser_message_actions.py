"""Acting on messages in Chromium: the menu by keyboard and mouse, edit in place, reaction
chips, the tombstone, a reply's quote and a mention's highlight, on a desktop and a 390 px
phone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from .chat_page import MESSAGE_TIMEOUT_MS, OpenChat

pytestmark = [pytest.mark.browser, pytest.mark.stack]

PHONE_390 = {"width": 390, "height": 844}


def test_edit_react_reply_mention_and_delete(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room = unique("acts")
    alice_name, bob_name = unique("alice"), unique("bob")
    alice, bob = open_chat(), open_chat(viewport=PHONE_390)
    alice.join(alice_name)
    bob.join(bob_name)
    alice.enter_room(room)
    bob.enter_room(room)
    alice.send("teh plan")
    line = bob.chat_line(alice_name, "teh plan")
    expect(line).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)

    # Keyboard: focus the line, Enter opens the menu, Edit, type, Enter saves.
    own = alice.chat_line(alice_name, "teh plan")
    own.focus()
    alice.page.keyboard.press("Enter")
    alice.page.get_by_role("menuitem", name="Edit").click()
    edit = alice.page.get_by_test_id("edit-input")
    edit.fill("the plan")
    edit.press("Enter")
    edited = bob.chat_line(alice_name, "the plan")
    expect(edited).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)
    expect(edited.locator(".edited")).to_have_text("(edited)")
    # Up arrow in the empty composer edits one's last message; Esc cancels.
    alice.message_input.fill("")
    alice.message_input.press("ArrowUp")
    expect(alice.page.get_by_test_id("edit-input")).to_have_value("the plan")
    alice.page.get_by_test_id("edit-input").press("Escape")
    expect(alice.page.get_by_test_id("edit-input")).to_have_count(0)

    # Mouse (on the phone): the menu button, React, a picked emoji; both see the chip.
    edited.get_by_test_id("menu-button").click()
    bob.page.get_by_role("menuitem", name="React").click()
    bob.page.get_by_test_id("emoji-picker").get_by_role("button", name="👍").first.click()
    chip = alice.chat_line(alice_name, "the plan").get_by_test_id("reaction-chip")
    expect(chip).to_have_text("👍 1", timeout=MESSAGE_TIMEOUT_MS)
    mine = bob.chat_line(alice_name, "the plan").get_by_test_id("reaction-chip")
    expect(mine).to_have_attribute("aria-pressed", "true", timeout=MESSAGE_TIMEOUT_MS)
    chip.click()  # alice adds hers by clicking the chip
    expect(mine).to_have_text("👍 2", timeout=MESSAGE_TIMEOUT_MS)

    # Reply with a quote, and a mention of bob highlighted on his page.
    bob.chat_line(alice_name, "the plan").get_by_test_id("menu-button").click()
    bob.page.get_by_role("menuitem", name="Reply").click()
    expect(bob.page.get_by_test_id("reply-bar")).to_be_visible()
    bob.send("agreed")
    reply = alice.chat_line(bob_name, "agreed")
    expect(reply).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)
    expect(reply.get_by_test_id("reply-quote")).to_contain_text("the plan")
    # bob looks at the lobby: the mention is counted in the room's badge.
    bob.room_button("lobby").click()
    expect(bob.page.locator("#room-title")).to_have_text("lobby")
    # `@` autocomplete from the room's members: Enter picks the name.
    alice.message_input.fill("")
    alice.message_input.press_sequentially("@" + bob_name[:3])
    option = alice.page.get_by_test_id("mention-list").get_by_role("option", name=bob_name)
    expect(option).to_be_visible()
    alice.message_input.press("Enter")
    expect(alice.message_input).to_have_value(f"@{bob_name} ")
    alice.message_input.press_sequentially("look")
    alice.message_input.press("Enter")
    expect(bob.room_button(room)).to_have_attribute(
        "data-mentions", "1", timeout=MESSAGE_TIMEOUT_MS
    )
    bob.room_button(room).click()
    expect(bob.room_button(room)).not_to_have_attribute("data-mentions", "1")
    mention = bob.chat_line(alice_name, f"@{bob_name} look")
    expect(mention).to_have_class("message mentions-me", timeout=MESSAGE_TIMEOUT_MS)

    # Delete, confirmed in the page: a tombstone on both.
    alice.chat_line(alice_name, "the plan").get_by_test_id("menu-button").click()
    alice.page.get_by_role("menuitem", name="Delete").click()
    alice.page.get_by_test_id("delete-confirm").get_by_role("button", name="Delete").click()
    expect(bob.log.locator('li[data-deleted="true"]')).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(bob.log.locator('li[data-deleted="true"] .tombstone')).to_have_text(" deleted a message")
    expect(bob.chat_line(alice_name, "the plan")).to_have_count(0)
    # bob's reply quoted it: the quote says it was deleted, with none of its text.
    quote = alice.chat_line(bob_name, "agreed").get_by_test_id("reply-quote")
    expect(quote).to_contain_text("(deleted message)", timeout=MESSAGE_TIMEOUT_MS)
    expect(quote).not_to_contain_text("the plan")
