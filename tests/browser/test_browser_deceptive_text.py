"""Text that tries to deceive the eye, rendered by Chromium: towers of combining marks, very
tall messages, right-to-left names. Measured on the rendered page (boxes and pixels)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from playwright.sync_api import expect

from tests.support.stack import LocalStack

from .chat_page import MESSAGE_TIMEOUT_MS, ChatPage, OpenChat

pytestmark = [pytest.mark.browser, pytest.mark.stack]

# The collapsed bubble stays well under this (the issue measured 1,475 px for 60 lines).
MAX_COLLAPSED_PX = 400


def send_as(chat: ChatPage, name: str, text: str) -> None:
    """Send one text frame as `name` from a plain WebSocket client, through the real app.

    Runs in the page (same origin as negotiate, allowed to reach the service by its CSP):
    negotiate, connect, send, close: any sender name, and text as any client may send it.
    """
    chat.page.evaluate(
        """async ([name, text]) => {
            const answer = await fetch("negotiate?id=" + encodeURIComponent(name));
            const { url } = await answer.json();
            await new Promise((resolve, reject) => {
                const socket = new WebSocket(url);
                socket.onopen = () => { socket.send(text); socket.close(); resolve(); };
                socket.onerror = () => reject(new Error("socket failed"));
            });
        }""",
        [name, text],
    )


def broadcast_raw(stack: LocalStack, sender: str, text: str, frame_id: str) -> None:
    """A chat frame straight from the service, past the app's policy: what an older or
    misbehaving server could send. The page must stay safe whatever arrives."""
    client = WebPubSubServiceClient.from_connection_string(stack.connection_string, hub=stack.hub)
    frame = {
        "id": frame_id,
        "from": sender,
        "message": text,
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    with client:
        client.send_to_all(frame, content_type="application/json")


def test_combining_marks_do_not_draw_over_the_line_above(
    open_chat: OpenChat, chat_stack: LocalStack, unique: Callable[[str], str]
) -> None:
    reader = open_chat()
    reader.join(unique("reader"))
    # The list is rebuilt when the history page arrives: the lines compared below must stay.
    reader.expect_history_loaded()
    above_name, tower_name = unique("alice"), unique("zalgo")
    broadcast_raw(chat_stack, above_name, "the line above", unique("above-"))
    above = reader.chat_line(above_name, "the line above")
    expect(above).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    tower = "Z" + "\u0301\u0300\u0302" * 100  # 300 marks on one letter
    broadcast_raw(chat_stack, tower_name, tower, unique("tower-"))
    tower_line = reader.chat_lines(tower_name)
    expect(tower_line).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)

    with_tower = above.screenshot(animations="disabled")
    box = tower_line.bounding_box()
    # The control: the same line with a bare "Z". Its box must not move, and the line above
    # must look the same pixel for pixel: nothing of the tower was drawn on it.
    tower_line.locator(".text").evaluate("node => { node.textContent = 'Z'; }")
    assert tower_line.bounding_box() == box
    assert above.screenshot(animations="disabled") == with_tower


def test_a_very_tall_message_is_collapsed_with_a_keyboard_show_more(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    reader = open_chat()
    reader.join(unique("reader"))
    sender = unique("tall")
    text = "\n".join(f"line {n}" for n in range(1, 61))
    send_as(reader, sender, text)
    line = reader.chat_lines(sender)
    expect(line).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    bubble = line.locator(".bubble")
    assert bubble.bounding_box()["height"] <= MAX_COLLAPSED_PX
    expect(line.locator(".text")).to_have_text(text)  # collapsed, not cut: all text is there

    expect(line.get_by_role("button", name="Show more")).to_have_count(1)
    toggle = line.locator("button.show-more")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.focus()
    reader.page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_have_text("Show less")
    assert bubble.bounding_box()["height"] > 1000  # all 60 lines shown
    reader.page.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    assert bubble.bounding_box()["height"] <= MAX_COLLAPSED_PX


def test_a_short_message_has_no_show_more(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    reader = open_chat()
    reader.join(unique("reader"))
    sender = unique("brief")
    send_as(reader, sender, "one\ntwo\nthree")
    line = reader.chat_lines(sender)
    expect(line).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    # No "Show more" toggle (the line's own actions menu is the only button it has).
    expect(line.locator("button.show-more")).to_have_count(0)
    expect(line.get_by_role("button", name=re.compile("Show (more|less)"))).to_have_count(0)


LEFT_OF_TEXT = """line => {
    const name = line.querySelector(".from").getBoundingClientRect();
    const node = line.querySelector(".text").firstChild;
    const range = document.createRange();
    range.setStart(node, 0);
    range.setEnd(node, 2);  // the message's first two characters
    const first = range.getBoundingClientRect();
    return { nameLeft: name.left, nameRight: name.right, textLeft: first.left };
}"""


def test_a_right_to_left_name_does_not_reorder_the_message_after_it(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    reader = open_chat()
    reader.join(unique("reader"))
    sender = unique("\u05d3\u05e0\u05d4")  # a Hebrew name, e.g. "דנה7"
    send_as(reader, sender, "42 is the answer")
    line = reader.chat_lines(sender)
    expect(line).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    boxes = line.evaluate(LEFT_OF_TEXT)
    # Reading order on screen: the name, then the message, as for any other name. Without
    # isolation "42" joins the name's right-to-left run and is drawn left of it.
    assert boxes["textLeft"] >= boxes["nameRight"] - 1, boxes


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("\u0430lice", "mixes scripts"),  # Cyrillic U+0430
        ("alice\u3164", "invisible"),  # Hangul filler
        ("\u2800\u2800", "invisible"),  # Braille blanks
    ],
)
def test_a_deceptive_name_is_refused_with_the_servers_reason(
    open_chat: OpenChat, name: str, reason: str
) -> None:
    chat = open_chat()
    chat.page.locator("#name-input").fill(name)
    chat.page.locator("#join-button").click()
    expect(chat.page.locator("#name-error")).to_contain_text(reason, timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.page.locator("#join-panel")).to_be_visible()
