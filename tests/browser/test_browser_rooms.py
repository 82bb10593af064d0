"""Rooms in Debian's Chromium: history for late joiners, switching, typing, load earlier."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
from playwright.sync_api import expect

from tests.support.chat_client import join
from tests.support.stack import LocalStack

from .chat_page import IN_ROW, MESSAGE_TIMEOUT_MS, NAME_CUT, PHONE, OpenChat

pytestmark = [pytest.mark.browser, pytest.mark.stack]


# Where a line is on the screen.
TOP_ON_SCREEN = "line => line.getBoundingClientRect().top"


def history(stack: LocalStack, room: str, **params: str) -> dict:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"{stack.host_base_url}/api/rooms/{room}/messages?{query}"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        return json.load(response)


async def write_messages(stack: LocalStack, room: str, name: str, texts: list[str]) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        writers = [await join(session, stack.host_base_url, f"{name}w{n}") for n in range(4)]
        for writer in writers:
            await writer.join_room(room)
        for n, text in enumerate(texts):
            writer = writers[n % len(writers)]
            await writer.say_in(room, text)
            await writer.wait_chat(writer.user, text)
        for writer in writers:
            await writer.close()


def test_late_joiner_sees_earlier_messages_once_in_order(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room = unique("history")
    alice_name, bob_name = unique("alice"), unique("bob")
    alice = open_chat()
    alice.join(alice_name)
    alice.enter_room(room)
    said = [f"before bob {n}" for n in range(3)]
    for text in said:
        alice.send(text)
        expect(alice.chat_line(alice_name, text)).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)

    bob = open_chat(f"#room={room}")  # a shared link to the room
    bob.join(bob_name)
    expect(bob.page.locator("#room-title")).to_have_text(room)
    expect(bob.chat_lines(alice_name)).to_have_count(3, timeout=MESSAGE_TIMEOUT_MS)
    texts = bob.chat_lines(alice_name).locator("span.text").all_inner_texts()
    assert texts == said
    # A live message after the history shows once, and ids are never repeated.
    alice.send("after bob came")
    expect(bob.chat_line(alice_name, "after bob came")).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)
    ids = bob.line_ids()
    assert len(ids) == len(set(ids))
    assert bob.page.evaluate("() => location.hash") == f"#room={room}"


def test_switching_rooms_with_unread_counts_and_members(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    red, blue = unique("red"), unique("blue")
    alice_name, bob_name = unique("alice"), unique("bob")
    alice, bob = open_chat(), open_chat()
    alice.join(alice_name)
    bob.join(bob_name)
    for chat in (alice, bob):
        chat.enter_room(red)
    alice.enter_room(blue)  # alice is now looking at blue
    expect(alice.page).to_have_url(f"{alice.url}#room={blue}")
    bob.send("in red while alice looks at blue")
    badge = alice.room_button(red).locator(".badge")
    expect(badge).to_have_text("1", timeout=MESSAGE_TIMEOUT_MS)
    expect(alice.chat_lines(bob_name)).to_have_count(0)  # not shown in blue

    alice.room_button(red).click()
    expect(alice.page.locator("#room-title")).to_have_text(red)
    expect(alice.chat_line(bob_name, "in red while alice looks at blue")).to_be_visible()
    expect(badge).to_have_count(0)
    assert alice.page.evaluate("() => location.hash") == f"#room={red}"
    expect(alice.page.locator("#members-summary")).to_have_text("2 names here")
    members = alice.page.locator("#member-list .member-name").all_text_contents()
    assert sorted(members) == sorted([alice_name, bob_name])

    # The room list is remembered across a reload, and the URL keeps the room.
    alice.page.reload()
    alice.expect_connected(alice_name)
    expect(alice.room_button(blue)).to_be_visible()
    expect(alice.page.locator("#room-title")).to_have_text(red)
    # Leaving a room removes it from the list and goes back to the lobby.
    alice.page.locator(f'button.room-leave[data-leave="{blue}"]').click()
    expect(alice.room_button(blue)).to_have_count(0)


def test_a_room_left_while_the_room_list_loads_stays_left(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    """/api/me/rooms answered after a leave, still listing the room (asked before the leave):
    the page must not join it again as "joined on another device" (it did, now and then)."""
    blue, green, alice_name = unique("blue"), unique("green"), unique("alice")
    alice = open_chat()
    alice.join(alice_name)
    alice.enter_room(blue)
    held: list = []
    alice.page.route("**/api/me/rooms*", lambda route: held.append(route))
    alice.page.reload()
    alice.expect_connected(alice_name)
    while not held:  # pumps Playwright's events until the page has asked (bounded below)
        alice.page.wait_for_timeout(50)
        assert alice.page.evaluate("() => performance.now()") < 30_000, "never asked"
    alice.page.locator(f'button.room-leave[data-leave="{blue}"]').click()
    expect(alice.room_button(blue)).to_have_count(0)
    # The answer asked for before the leave: blue, and green joined on another device.
    entries = [
        {"room": name, "kind": "room", "lastMessageTime": None, "unread": 0, "mentions": 0}
        for name in ("lobby", blue, green)
    ]
    held[0].fulfill(status=200, json={"rooms": entries})
    expect(alice.room_button(green)).to_be_visible()  # the answer was taken in
    expect(alice.room_button(blue)).to_have_count(0)


def test_bad_room_names_are_refused_next_to_the_field(open_chat: OpenChat, unique) -> None:
    alice = open_chat()
    alice.join(unique("alice"))
    alice.page.locator("#room-input").fill("no spaces please")
    alice.page.locator("#room-input").press("Enter")
    expect(alice.page.locator("#room-error")).to_contain_text("letters")
    expect(alice.page.locator("#room-title")).to_have_text("lobby")


def test_typing_indicator(open_chat: OpenChat, unique: Callable[[str], str]) -> None:
    room = unique("typing")
    alice_name, bob_name = unique("alice"), unique("bob")
    alice, bob = open_chat(), open_chat()
    alice.join(alice_name)
    bob.join(bob_name)
    alice.enter_room(room)
    bob.enter_room(room)
    expect(bob.page.locator("#members-summary")).to_have_text("2 names here")
    alice.message_input.press_sequentially("hel")
    expect(bob.page.locator("#typing")).to_have_text(
        f"{alice_name} is typing…", timeout=MESSAGE_TIMEOUT_MS
    )
    expect(alice.page.locator("#typing")).to_have_text("")  # never one's own
    # It goes away on its own when the typing stops.
    expect(bob.page.locator("#typing")).to_have_text("", timeout=MESSAGE_TIMEOUT_MS)


def test_load_earlier_pages_back_without_duplicates(
    open_chat: OpenChat, chat_stack: LocalStack, unique: Callable[[str], str]
) -> None:
    room = unique("paging")
    alice_name = unique("alice")
    # 56 messages: the latest 50 come on entry, the first 6 behind "load earlier". Four
    # writers over plain WebSockets, so the per-user flood limit does not slow the set-up.
    texts = [f"m{n:02d}" for n in range(56)]
    # Playwright's sync API owns this thread's event loop: the writers run on another thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, write_messages(chat_stack, room, alice_name, texts)).result()
    assert len(history(chat_stack, room, limit="200")["messages"]) == 56

    reader = open_chat(f"#room={room}", viewport=PHONE)
    reader.join(unique("reader"))
    lines = reader.log.locator("li.message")
    expect(lines).to_have_count(50, timeout=MESSAGE_TIMEOUT_MS)
    load = reader.page.locator("#load-earlier")
    expect(load).to_be_visible()
    # The reader has scrolled up to the oldest line shown, m06, and asks for more.
    reader.log.evaluate("m => { m.scrollTop = 0; }")
    reader.page.wait_for_function("() => document.getElementById('messages').scrollTop === 0")
    oldest_shown = reader.log.locator("li.message", has_text="m06")
    before = oldest_shown.evaluate(TOP_ON_SCREEN)
    load.focus()
    reader.page.keyboard.press("Enter")  # by keyboard alone
    expect(lines).to_have_count(56, timeout=MESSAGE_TIMEOUT_MS)
    texts = lines.locator("span.text").all_inner_texts()
    assert texts == [f"m{n:02d}" for n in range(56)]
    # The view stayed on m06 (anchored: not a pixel up or down on the screen, though the
    # button above the log went away with the last page), with the older lines just above it
    # to scroll up to; it did not jump to the bottom.
    expect(load).to_be_hidden()
    assert abs(oldest_shown.evaluate(TOP_ON_SCREEN) - before) <= 1
    expect(oldest_shown).to_be_in_viewport()
    expect(reader.log.locator("li.message", has_text="m55")).not_to_be_in_viewport()
    assert reader.log.evaluate("m => m.scrollTop") > 0  # m00-m05 are up there
    expect(load).to_be_hidden()
    ids = reader.line_ids()
    assert len(ids) == len(set(ids))


def test_rooms_and_history_in_the_lazy_auth_flow(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room = unique("direct")
    alice_name, bob_name = unique("alice"), unique("bob")
    alice = open_chat("?connect=direct")  # straight to the service with ?id=, no negotiate
    alice.join(alice_name)
    alice.enter_room(room)
    alice.send("said before bob came")
    expect(alice.chat_line(alice_name, "said before bob came")).to_be_visible(
        timeout=MESSAGE_TIMEOUT_MS
    )
    bob = open_chat(f"?connect=direct#room={room}")
    bob.join(bob_name)
    expect(bob.chat_line(alice_name, "said before bob came")).to_be_visible(
        timeout=MESSAGE_TIMEOUT_MS
    )
    assert bob.page.evaluate("() => location.search + location.hash") == (
        f"?connect=direct#room={room}"
    )


def test_on_a_phone_the_current_room_is_scrolled_into_the_room_row(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    """The room list is one sideways row on a phone: a room joined past its right edge, or
    picked again at its left, is brought into the row's view."""
    chat = open_chat(viewport=PHONE)
    chat.join(unique("kate"))
    rooms = [unique(f"room-{n}-") for n in range(8)]
    for room in rooms:
        chat.enter_room(room)
    row = chat.page.locator("#room-list")
    assert row.evaluate("list => list.scrollWidth > list.clientWidth"), "the row overflows"

    def current_in_view(room: str) -> None:  # else: it is out of the row's view
        chat.wait_for_room_button(room, IN_ROW)

    expect(chat.page.locator("#room-title")).to_have_text(rooms[-1])
    current_in_view(rooms[-1])
    # Swiped back to the start, then another room is joined: the row follows again.
    row.evaluate("list => { list.scrollLeft = 0; }")
    more = unique("one-more-")
    chat.enter_room(more)
    current_in_view(more)
    # A name as long as names may be is cut with an ellipsis, whole in its title, and in view.
    row.evaluate("list => { list.scrollLeft = 0; }")
    wide = unique("a-room-name-as-long-as-a-room-name-may-be-for-sure-")
    chat.enter_room(wide)
    current_in_view(wide)
    chat.wait_for_room_button(wide, NAME_CUT)
    assert chat.room_button(wide).get_attribute("title") == wide
