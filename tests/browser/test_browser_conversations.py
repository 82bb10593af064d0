"""Issue 17 in Chromium, sign-in mode: "Message" on a member starts a DM that shows in the
sidebar with the other person's name and provider, unread badges and the tab title come from
the server and clear on another device at once, "Browse rooms" lists and searches the
directory, and unread survives a reload."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from .chat_page import ChatPage

# The sign-in stack, its tabs and the sign-in steps are those of the sign-in tests (this module
# gets a stack of its own: the fixture is per module).
from .test_browser_sign_in import open_tab, sign_in, sign_in_stack  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def dm_button(chat: ChatPage):
    return chat.page.locator("#dm-list button.room-button")


def test_a_dm_from_the_member_list_with_unread_across_two_devices(open_tab) -> None:  # noqa: F811
    tag = uuid.uuid4().hex[:6]
    alice_name, bob_name = f"alice-{tag}", f"bob-{tag}"
    laptop, phone, bob = open_tab(), open_tab(), open_tab()
    sign_in(laptop, "Microsoft", alice_name)
    sign_in(phone, "Microsoft", alice_name)  # the same person on a second device
    sign_in(bob, "GitHub", bob_name)

    # Bob: "Message" on Alice in the lobby's member list.
    bob.page.locator("#members-summary").click()
    alice_member = bob.page.locator("#member-list li", has_text=alice_name)
    alice_member.get_by_role("button", name=f"Message {alice_name}").click()
    expect(bob.page.locator("#room-title")).to_have_text(alice_name)
    bob.send("hi alice")
    expect(bob.chat_line(bob_name, "hi alice")).to_have_count(1)

    for device in (laptop, phone):
        button = dm_button(device)
        expect(button).to_have_count(1)
        expect(button.locator(".room-name")).to_have_text(bob_name)
        expect(button.locator(".idp")).to_have_text("GitHub")
        expect(button.locator(".badge")).to_have_text("1")
        expect(device.page).to_have_title("(1) Chat")

    # Reading on the laptop clears the phone's badge at once (the server's `read` frame).
    dm_button(laptop).click()
    expect(laptop.chat_line(bob_name, "hi alice")).to_have_count(1)
    expect(dm_button(phone).locator(".badge")).to_have_count(0)
    expect(phone.page).to_have_title("Chat")

    # Alice answers from the phone while the laptop looks at the lobby; Bob gets it in the
    # same conversation. Her own line from the phone is not unread on the laptop (as the
    # server counts it): after Bob's next line its badge says 1, not 2.
    laptop.room_button("lobby").click()
    dm_button(phone).click()
    phone.send("hi bob")
    expect(bob.chat_line(alice_name, "hi bob")).to_have_count(1)
    bob.send("and you?")
    expect(dm_button(laptop).locator(".badge")).to_have_text("1")
    expect(laptop.page).to_have_title("(1) Chat")
    dm_button(laptop).click()
    expect(laptop.chat_line(alice_name, "hi bob")).to_have_count(1)
    expect(laptop.chat_line(bob_name, "and you?")).to_have_count(1)


def test_browse_rooms_and_unread_that_survives_a_reload(open_tab) -> None:  # noqa: F811
    tag = uuid.uuid4().hex[:6]
    room = f"proj-{tag}"
    alice, bob = open_tab(), open_tab()
    sign_in(alice, "Microsoft", f"alice-{tag}")
    sign_in(bob, "GitHub", f"bob-{tag}")
    bob.page.locator("#room-input").fill(f"Proj-{tag}")  # any case: one room
    bob.page.locator("#room-input").press("Enter")
    expect(bob.page.locator("#room-title")).to_have_text(room)
    bob.send("first")
    expect(bob.chat_line(f"bob-{tag}", "first")).to_have_count(1)

    alice.page.get_by_text("Browse rooms").click()
    alice.page.locator("#browse-search").fill(f"PROJ-{tag}")
    entry = alice.page.locator(f'#browse-list button[data-browse="{room}"]')
    expect(entry).to_have_count(1)
    expect(entry.locator(".browse-members")).to_have_text(re.compile(r"^\d+ here$"))
    entry.click()
    expect(alice.page.locator("#room-title")).to_have_text(room)
    expect(alice.chat_line(f"bob-{tag}", "first")).to_have_count(1)

    alice.room_button("lobby").click()
    bob.send("while away")
    expect(alice.room_button(room).locator(".badge")).to_have_text("1")
    alice.page.reload()
    alice.expect_connected(f"alice-{tag}")
    expect(alice.room_button(room).locator(".badge")).to_have_text("1")
    expect(alice.page).to_have_title("(1) Chat")


def set_hidden(chat: ChatPage, hidden: bool) -> None:
    """The tab hidden or shown, as the page sees it: headless Chromium never hides a page, so
    document.visibilityState and document.hidden are patched and the event dispatched."""
    chat.page.evaluate(
        """(hidden) => {
          const state = hidden ? "hidden" : "visible";
          const define = (key, get) =>
            Object.defineProperty(document, key, { configurable: true, get });
          define("visibilityState", () => state);
          define("hidden", () => hidden);
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def test_the_tab_title_counts_unread_while_hidden_and_clears_when_read_elsewhere(
    open_tab,  # noqa: F811
) -> None:
    """One writer of the title: lines in the open room while the tab is hidden count with the
    unread of the other conversations; showing the tab clears only the first; a read on another
    device clears either, hidden or not."""
    tag = uuid.uuid4().hex[:6]
    alice_name, bob_name = f"alice-{tag}", f"bob-{tag}"
    laptop, phone, bob = open_tab(), open_tab(), open_tab()
    sign_in(laptop, "Microsoft", alice_name)
    sign_in(phone, "Microsoft", alice_name)
    sign_in(bob, "GitHub", bob_name)
    phone.enter_room(f"side-{tag}")  # the phone reads none of the lobby until told to
    expect(laptop.page).to_have_title("Chat")

    set_hidden(laptop, True)
    bob.send("while you were away")  # the laptop's open room: seen by nobody
    expect(laptop.page).to_have_title("(1) Chat")
    bob.page.locator("#members-summary").click()
    alice_member = bob.page.locator("#member-list li", has_text=alice_name)
    alice_member.get_by_role("button", name=f"Message {alice_name}").click()
    bob.send("hi alice")
    expect(dm_button(phone).locator(".badge")).to_have_text("1")
    expect(laptop.page).to_have_title("(2) Chat")

    # Back in the tab: the lobby's line is seen, the DM is still unread; hiding it keeps that.
    set_hidden(laptop, False)
    expect(laptop.page).to_have_title("(1) Chat")
    set_hidden(laptop, True)
    expect(laptop.page).to_have_title("(1) Chat")

    # Read on the phone: the hidden laptop's title clears at once (the server's `read` frame).
    dm_button(phone).click()
    expect(phone.chat_line(bob_name, "hi alice")).to_have_count(1)
    expect(laptop.page).to_have_title("Chat")

    bob.room_button("lobby").click()
    bob.send("again")
    expect(laptop.page).to_have_title("(1) Chat")
    expect(phone.room_button("lobby").locator(".badge")).to_have_text("1")
    expect(phone.page).to_have_title("(1) Chat")  # the phone shows the DM: the lobby is unread
    phone.room_button("lobby").click()
    expect(phone.chat_line(bob_name, "again")).to_have_count(1)
    expect(phone.page).to_have_title("Chat")
    expect(laptop.page).to_have_title("Chat")
    set_hidden(laptop, False)
    expect(laptop.page).to_have_title("Chat")
    expect(laptop.chat_line(bob_name, "again")).to_have_count(1)
