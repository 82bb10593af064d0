"""Reading like in a real chat, in Chromium: day separators, one name for consecutive lines,
avatars, the full time on hover and keyboard focus, the "new messages" divider and a polite
announcement of new messages that does not re-read the log (issue 20)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from playwright.sync_api import expect

from tests.support.stack import LocalStack

from .chat_page import MESSAGE_TIMEOUT_MS, OpenChat

pytestmark = [pytest.mark.browser, pytest.mark.stack]

# en-GB, as the browser tests' contexts: "Friday 4 December" (a comma after the weekday in
# some ICU versions), with the year when it is not this year's.
DATE_LABEL = re.compile(r"^[A-Z][a-z]+day,? \d{1,2} [A-Z][a-z]+( \d{4})?$")


def broadcast_at(stack: LocalStack, room: str, sender: str, text: str, when: datetime) -> None:
    """A chat frame with its own time, straight from the service (how a line said on another
    day arrives: the server stamps live lines with the current time)."""
    client = WebPubSubServiceClient.from_connection_string(stack.connection_string, hub=stack.hub)
    frame = {
        "id": f"{sender}-{when.timestamp()}",
        "room": room,
        "from": sender,
        "message": text,
        "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    with client:
        client.send_to_all(frame, content_type="application/json")


def test_days_grouping_avatars_and_the_full_time(
    open_chat: OpenChat, chat_stack: LocalStack, unique: Callable[[str], str]
) -> None:
    room = unique("reading")
    reader_name, writer_name, old_name = unique("reader"), unique("writer"), unique("old")
    reader = open_chat(f"#room={room}")
    reader.join(reader_name)
    reader.expect_history_loaded()
    # The reader's own arrival first, so the lines below come in a known order.
    expect(reader.notices("joined", reader_name)).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    now = datetime.now(UTC)
    broadcast_at(chat_stack, room, old_name, "three days ago", now - timedelta(days=3))
    expect(reader.chat_line(old_name, "three days ago")).to_have_count(1)
    broadcast_at(chat_stack, room, old_name, "yesterday", now - timedelta(days=1))
    expect(reader.chat_line(old_name, "yesterday")).to_have_count(1)
    writer = open_chat(f"#room={room}")
    writer.join(writer_name)
    for text in ("one", "two", "three"):
        writer.send(text)
    expect(reader.chat_lines(writer_name)).to_have_count(3, timeout=MESSAGE_TIMEOUT_MS)

    # A separator before each day's first line: the date, then Yesterday, then Today again.
    # Judged line by line (the day each line sits under), not by the separators' positions: a
    # notice of today's may arrive between the old lines on a busy machine, and rightly gets
    # its own "Today".
    days = reader.log.locator("li.day").all_inner_texts()
    assert days[0] == "Today"  # the reader's own arrival
    under = dict(
        reader.log.locator("li").evaluate_all(
            """items => {
                let day = null;
                const seen = [];
                for (const li of items) {
                    if (li.classList.contains('day')) { day = li.textContent; continue; }
                    const text = li.querySelector('.text');
                    if (text) seen.push([text.textContent, day]);
                }
                return seen;
            }"""
        )
    )
    assert DATE_LABEL.match(under["three days ago"]), (under, days)
    assert under["yesterday"] == "Yesterday", (under, days)
    assert under["one"] == under["two"] == under["three"] == "Today", (under, days)
    first_of_day = reader.log.locator("li.day + li").evaluate_all(
        "items => items.map(li => li.querySelector('.text')?.textContent)"
    )
    assert "three days ago" in first_of_day and "yesterday" in first_of_day

    # One name for consecutive lines of one person; the name stays in the text for screen
    # readers (visually hidden: the message starts at the bubble's edge), and the avatar keeps
    # its place.
    lines = reader.chat_lines(writer_name)
    assert lines.evaluate_all("ls => ls.map(l => l.classList.contains('continued'))") == [
        False,
        True,
        True,
    ]
    for n, name_shown in ((0, True), (1, False)):
        text_x = lines.nth(n).locator(".text").bounding_box()["x"]
        bubble_x = lines.nth(n).locator(".bubble").bounding_box()["x"]
        assert (text_x - bubble_x > 40) is name_shown, (n, text_x, bubble_x)
    expect(lines.nth(1).locator(".bubble")).to_have_text(f"{writer_name}: two")
    expect(lines.nth(0).locator(".avatar")).to_be_visible()
    expect(lines.nth(0).locator(".avatar")).to_have_text(writer_name[0].upper())
    expect(lines.nth(0).locator(".avatar")).to_have_attribute("aria-hidden", "true")
    expect(lines.nth(1).locator(".avatar")).to_be_hidden()
    # Someone else speaking breaks the group; own lines have no avatar.
    reader.send("mine")
    expect(reader.chat_line(reader_name, "mine")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(reader.chat_line(reader_name, "mine").locator(".avatar")).to_have_count(0)
    writer.send("four")
    four = reader.chat_line(writer_name, "four")
    expect(four).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(four).not_to_have_class(re.compile(r"\bcontinued\b"))

    # The full time: on hover, and on keyboard focus (the arrow keys walk the log's lines).
    full = re.compile(r"\d{4}.*\d{1,2}:\d{2}:\d{2}")
    two = lines.nth(1)
    expect(two.locator(".time-full")).to_be_hidden()
    # Hover: the time's tooltip (no text appears, so nothing below it moves).
    expect(two.locator("time")).to_have_attribute("title", full)
    two.locator("time").hover()
    expect(two.locator(".time-full")).to_be_hidden()
    reader.log.focus()
    reader.page.keyboard.press("ArrowUp")
    expect(four).to_be_focused()
    expect(four.locator(".time-full")).to_be_visible()
    expect(four.locator(".time-full")).to_have_text(full)
    reader.page.keyboard.press("ArrowUp")
    expect(reader.chat_line(reader_name, "mine")).to_be_focused()
    reader.page.keyboard.press("Escape")
    expect(reader.log).to_be_focused()


def test_new_messages_divider_and_a_polite_announcement(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room = unique("unread")
    reader_name, writer_name = unique("reader"), unique("writer")
    reader = open_chat(f"#room={room}")
    reader.join(reader_name)
    writer = open_chat(f"#room={room}")
    writer.join(writer_name)
    announcer = reader.page.locator("#announcer")
    # The log is not a live region (it would re-read itself on every room switch); the
    # announcer is, and says each new message of someone else in this room.
    expect(reader.page.get_by_role("log")).to_have_attribute("aria-live", "off")
    expect(announcer).to_have_attribute("aria-live", "polite")
    writer.send("hello there")
    expect(reader.chat_line(writer_name, "hello there")).to_have_count(
        1, timeout=MESSAGE_TIMEOUT_MS
    )
    expect(announcer).to_have_text(f"{writer_name}: hello there")
    reader.send("my own")
    expect(reader.chat_line(reader_name, "my own")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(announcer.locator("p")).to_have_count(1)  # one's own lines are not announced
    expect(reader.log.locator("li.unread-divider")).to_have_count(0)

    # Away in the lobby while two messages come; back in the room, the divider is before
    # the first of them, and nothing is announced again.
    reader.room_button("lobby").click()
    expect(reader.page.locator("#room-title")).to_have_text("lobby")
    writer.send("while away 1")
    writer.send("while away 2")
    expect(reader.room_button(room).locator(".badge")).to_have_text("2", timeout=MESSAGE_TIMEOUT_MS)
    reader.room_button(room).click()
    divider = reader.log.locator("li.unread-divider")
    expect(divider).to_have_count(1)
    expect(divider).to_have_text("New messages")
    assert divider.evaluate("d => d.nextElementSibling.querySelector('.text').textContent") == (
        "while away 1"
    )
    expect(announcer.locator("p")).to_have_count(1)

    # The place read up to is remembered across a reload: a message said meanwhile is new.
    reader.room_button("lobby").click()
    expect(reader.page.locator("#room-title")).to_have_text("lobby")
    reader.page.reload()
    reader.expect_connected(reader_name)
    writer.send("while reloading")
    # Live or from the history on entering (the reloaded page may not be back in the room yet).
    expect(writer.chat_line(writer_name, "while reloading")).to_have_count(
        1, timeout=MESSAGE_TIMEOUT_MS
    )
    reader.room_button(room).click()
    expect(reader.chat_line(writer_name, "while reloading")).to_have_count(
        1, timeout=MESSAGE_TIMEOUT_MS
    )
    reader.expect_history_loaded()
    expect(divider).to_have_count(1)
    assert divider.evaluate("d => d.nextElementSibling.querySelector('.text').textContent") == (
        "while reloading"
    )
