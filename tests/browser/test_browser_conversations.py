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
from .page_checks import check_state

# The sign-in stack, its tabs and the sign-in steps are those of the sign-in tests (this module
# gets a stack of its own: the fixture is per module).
from .test_browser_sign_in import open_tab, sign_in, sign_in_stack  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.stack]

WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


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
    active = re.compile(r"^active (just now|\d+ min ago)$")
    expect(entry.locator(".browse-active")).to_have_text(active)
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


def before_content(locator) -> str:
    """What CSS puts before an element (the "#" of a room, the "@" of a person)."""
    return locator.evaluate("node => getComputedStyle(node, '::before').content")


def open_dm_with(chat: ChatPage, name: str) -> None:
    chat.page.locator("#members-summary").click()
    member = chat.page.locator("#member-list li", has_text=name)
    member.get_by_role("button", name=f"Message {name}").click()
    expect(chat.page.locator("#room-title")).to_have_text(name)


def erin_and_frank(open_tab) -> tuple[ChatPage, ChatPage, str, str]:  # noqa: F811
    """Two people signed in through two providers, with names of their own for this test."""
    tag = uuid.uuid4().hex[:6]
    erin_name, frank_name = f"erin-{tag}", f"frank-{tag}"
    erin, frank = open_tab(), open_tab()
    sign_in(erin, "Microsoft", erin_name)
    sign_in(frank, "GitHub", frank_name)
    return erin, frank, erin_name, frank_name


def test_typing_in_a_dm_shows_on_the_other_side_and_no_error_on_this_one(
    open_tab,  # noqa: F811
    artifacts_dir,
) -> None:
    erin, frank, erin_name, frank_name = erin_and_frank(open_tab)
    # Both open the conversation before a word is said (a message would end the typing line,
    # and the next notice waits out the 3 s throttle).
    open_dm_with(erin, frank_name)
    open_dm_with(frank, erin_name)

    frank.message_input.press_sequentially("are you th")
    expect(erin.page.locator("#typing")).to_have_text(f"{frank_name} is typing…")
    frank.send("are you there?")  # the server answers events of one connection in order
    expect(erin.chat_line(frank_name, "are you there?")).to_have_count(1)
    expect(erin.page.locator("#typing")).to_have_text("")  # the message ends it
    expect(frank.chat_line(frank_name, "are you there?")).to_have_count(1)
    expect(frank.page.locator("#messages li.rejected")).to_have_count(0)
    expect(frank.page.locator("#typing")).to_have_text("")  # not one's own notice

    erin.message_input.press_sequentially("yes")
    expect(frank.page.locator("#typing")).to_have_text(f"{erin_name} is typing…")
    expect(erin.page.locator("#messages li.rejected")).to_have_count(0)
    for chat, who in ((frank, "frank"), (erin, "erin")):
        chat.page.screenshot(path=str(artifacts_dir / f"dmview-typing-{who}.png"))


def test_a_dm_reads_as_a_person_who_is_online_or_not(open_tab, artifacts_dir) -> None:  # noqa: F811
    erin, frank, erin_name, frank_name = erin_and_frank(open_tab)
    title = frank.page.locator("#room-title")
    assert "#" in before_content(title)  # a room: "# lobby"
    expect(frank.page.locator("#members-summary")).to_be_visible()
    expect(frank.page.locator("#peer-status")).to_be_hidden()

    open_dm_with(frank, erin_name)
    frank.send("hi")
    expect(title).to_have_accessible_name(erin_name)  # the "@" is decoration
    assert "@" in before_content(title) and "#" not in before_content(title)
    expect(frank.page.locator("#room-peer-idp")).to_have_text("Microsoft")
    expect(frank.page.locator("#members")).to_be_hidden()  # no "0 here"
    status = frank.page.locator("#peer-status")
    expect(status).to_have_text("online")
    # The first-visit hint is about rooms: a DM has no link to share, so no hint; back in a
    # room it is there again.
    hint = frank.page.locator("#rooms-hint")
    expect(hint).to_be_hidden()
    frank.room_button("lobby").click()
    expect(hint).to_be_visible()
    expect(hint.locator("[data-room-link]")).to_have_text(re.compile(r"#room=design$"))
    dm_button(frank).click()
    expect(hint).to_be_hidden()
    expect(frank.page).not_to_have_url(re.compile("dm-"))
    for chat in (frank, erin):
        button = dm_button(chat)
        expect(button).to_have_count(1)
        name = button.locator(".room-name")
        assert "@" in before_content(name) and "#" not in before_content(name)
        assert "#" in before_content(chat.room_button("lobby").locator(".room-name"))

    # Erin's side, on a phone's width too.
    dm_button(erin).click()
    expect(erin.page.locator("#room-title")).to_have_text(frank_name)
    expect(erin.page.locator("#room-peer-idp")).to_have_text("GitHub")
    expect(erin.page.locator("#peer-status")).to_have_text("online")
    # Both sides, wide and on a phone: axe finds nothing serious, no text is cut, nothing
    # scrolls sideways (page_checks.check_state), and a picture for a person to look at.
    for chat, who in ((frank, "frank"), (erin, "erin")):
        for size, viewport in (("desktop", WIDE), ("390", PHONE)):
            chat.page.set_viewport_size(viewport)
            expect(chat.page.locator("#peer-status")).to_be_visible()
            check_state(chat.page, f"dm-view-{who}", artifacts_dir / "screens")
            chat.page.screenshot(path=str(artifacts_dir / f"dmview-{size}-{who}.png"))

    # Erin goes: Frank's header says so at once (the lobby's "left"), and again when she is back.
    erin.context.close()
    expect(status).to_have_text("offline")
    expect(status).to_have_attribute("data-state", "offline")
    again = open_tab()
    sign_in(again, "Microsoft", erin_name)
    expect(status).to_have_text("online")


def test_the_sidebar_reads_rooms_join_browse_then_people(open_tab) -> None:  # noqa: F811
    _, frank, erin_name, _ = erin_and_frank(open_tab)
    open_dm_with(frank, erin_name)
    frank.send("hi")
    expect(dm_button(frank)).to_have_count(1)
    order = [
        "#room-list",
        "#room-form",
        "#browse",
        "#dm-heading",
        "#dm-list",
    ]
    children = frank.page.locator("nav.rooms > *").evaluate_all(
        "nodes => nodes.map(n => '#' + n.id)"
    )
    assert children == order
    for viewport in (WIDE, PHONE):
        frank.page.set_viewport_size(viewport)
        tops = [frank.page.locator(s).bounding_box()["y"] for s in order]
        assert tops == sorted(tops), (viewport, tops)
        expect(frank.page.locator("#dm-heading")).to_be_visible()
        expect(frank.page.locator("#room-form")).to_be_visible()
