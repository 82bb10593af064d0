"""Writing like in a real chat, in Chromium: Enter sends and Shift+Enter is a new line, the box
grows, a blank box is never sent, refused text comes back into the box, a counter near the
limit, and http(s) links in messages (issue 20, items 3, 7 and 8)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, WebSocketRoute, expect

from tests.support.stack import LocalStack, local_stack

from .chat_page import MESSAGE_TIMEOUT_MS, ChatPage, OpenChat, tabs

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def record_sent_messages(chat: ChatPage) -> list[str]:
    """The `message` of every chat command the page sends on its WebSockets, as it sends it."""
    sent: list[str] = []

    def on_frame(payload: str | bytes) -> None:
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        if isinstance(frame, dict) and frame.get("type") == "message":
            sent.append(frame.get("message"))

    chat.page.on("websocket", lambda ws: ws.on("framesent", on_frame))
    return sent


def box_height(chat: ChatPage) -> float:
    return chat.message_input.evaluate("box => box.getBoundingClientRect().height")


def test_a_blank_box_is_never_sent_by_enter_or_the_send_button(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    name = unique("blank")
    chat = open_chat()
    sent = record_sent_messages(chat)
    chat.join(name)
    url = chat.page.url
    send_button = chat.page.locator("#send-button")
    box = chat.message_input

    box.press("Enter")  # an empty box
    box.fill("   \n \t ")
    box.press("Enter")  # a blank one
    expect(send_button).to_have_attribute("aria-disabled", "true")
    send_button.focus()
    chat.page.keyboard.press("Space")  # Space on the focused Send button
    expect(box).to_be_focused()  # back in the box, ready to type
    # A mouse click too (forced: Playwright will not click what says it is disabled; a person can).
    send_button.click(force=True)

    # A real message after them: had any blank one gone out, it would have gone out first.
    chat.send("a real one")
    expect(chat.chat_line(name, "a real one")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    assert sent == ["a real one"]
    expect(chat.rejections()).to_have_count(0)
    expect(chat.page.locator("#send-error")).to_have_text("")
    assert chat.page.url == url


def test_a_refused_long_message_stays_in_the_box_and_the_counter_warned(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    chat = open_chat()
    chat.join(unique("writer"))
    box = chat.message_input
    counter = chat.page.locator("#message-counter")

    box.fill("x" * 1600)  # 80 % of the limit: no counter yet
    expect(counter).to_be_hidden()
    box.fill("x" * 1700)
    expect(counter).to_be_visible()
    expect(counter).to_have_text("1,700 / 2,000")
    expect(counter).to_have_attribute("data-state", "near")
    # Counted as the server counts: "e" + a combining accent is one "é" (NFC), the spaces and
    # tab at the ends are trimmed away.
    box.fill("  " + "e\u0301" * 1700 + " \t")
    expect(counter).to_have_text("1,700 / 2,000")

    text = "y" * 2100
    box.fill(text)
    expect(counter).to_have_text("2,100 / 2,000 (100 too many)")
    expect(counter).to_have_attribute("data-state", "over")
    expect(box).to_have_attribute("aria-invalid", "true")
    box.press("Enter")
    expect(chat.rejections()).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.rejections()).to_have_text(re.compile(r"2100 characters; the limit is 2000"))
    # The server's refusal brings the text back into the box, whole, to shorten and resend.
    expect(box).to_have_value(text, timeout=MESSAGE_TIMEOUT_MS)
    expect(counter).to_have_attribute("data-state", "over")
    expect(chat.page.locator("#send-error")).to_have_text(re.compile("back in the message box"))


def test_messages_refused_by_the_flood_limit_come_back_into_the_box(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    name = unique("burst")
    chat = open_chat()
    chat.join(name)
    texts = [f"burst {n}" for n in range(25)]
    # 25 sends as fast as the page can take them (the limit is 20 per 10 s per connection).
    chat.page.evaluate(
        """texts => {
            const box = document.getElementById("message-input");
            for (const text of texts) { box.value = text; box.form.requestSubmit(); }
        }""",
        texts,
    )
    chat.page.wait_for_function(
        "n => document.querySelectorAll('#messages li.message.own, #messages li.rejected')"
        ".length >= n",
        arg=len(texts),
        timeout=MESSAGE_TIMEOUT_MS,
    )
    shown = chat.chat_lines(name).locator("span.text").all_inner_texts()
    refused = [text for text in texts if text not in shown]
    assert len(refused) >= 1
    assert len(shown) + len(refused) == len(texts)
    # None is lost: the refused ones are back in the box, in order, one per line.
    expect(chat.message_input).to_have_value("\n".join(refused))


def test_shift_enter_is_a_new_line_enter_sends_and_the_box_grows(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    name, peer_name = unique("poet"), unique("reader")
    chat = open_chat()
    chat.join(name)
    peer = open_chat()
    peer.join(peer_name)
    keyboard = chat.page.keyboard
    expect(chat.message_input).to_be_focused()
    one_line = box_height(chat)

    keyboard.type("roses are red")
    keyboard.press("Shift+Enter")
    keyboard.type("violets are blue")
    expect(chat.message_input).to_have_value("roses are red\nviolets are blue")
    assert box_height(chat) > one_line  # grown to show both lines
    # It grows up to a limit, then scrolls.
    for n in range(30):
        keyboard.press("Shift+Enter")
        keyboard.type(f"line {n}")
    capped = box_height(chat)
    assert capped < 260
    assert chat.message_input.evaluate("box => box.scrollHeight > box.clientHeight")

    chat.message_input.fill("roses are red\nviolets are blue")
    keyboard.press("Enter")
    line = peer.chat_lines(name)
    expect(line).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    # Rendered with its line break: two lines of text in the bubble.
    expect(line.locator("span.text")).to_have_text("roses are red\nviolets are blue")
    assert line.locator("span.text").inner_text() == "roses are red\nviolets are blue"
    expect(chat.message_input).to_have_value("")
    assert box_height(chat) == one_line  # back to one line once sent


def test_http_links_become_safe_links_and_nothing_else_does(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    sender_name, reader_name = unique("linker"), unique("clicker")
    sender = open_chat()
    sender.join(sender_name)
    reader = open_chat()
    reader.join(reader_name)
    text = (
        "docs: https://example.com/a?b=1&c=2. also (http://example.org/x) but not "
        'javascript:alert(1) data:text/html,x ftp://example.com/f <a href="hxxp://e">e</a> <b>b</b>'
    )
    sender.send(text)
    line = reader.chat_line(sender_name, text)
    expect(line).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(line.locator("span.text")).to_have_text(text)  # the text is unchanged
    links = line.locator("a")
    expect(links).to_have_count(2)
    expect(links).to_have_text(["https://example.com/a?b=1&c=2", "http://example.org/x"])
    assert [link.get_attribute("href") for link in links.all()] == [
        "https://example.com/a?b=1&c=2",
        "http://example.org/x",
    ]
    for link in links.all():
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    # Markup stayed text: no element came from the message but the two links.
    assert line.locator("span.text *").count() == 2
    assert reader.log.locator("b, script, img").count() == 0


def test_text_unanswered_when_the_connection_drops_comes_back_into_the_box(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    name = unique("tunnel")
    chat = open_chat()
    lost = "lost in the tunnel"

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if lost in str(message):
                ws.close()  # the connection dies with the message unanswered
            else:
                server.send(message)

        ws.on_message(from_page)  # the server's frames still reach the page

    chat.page.route_web_socket(re.compile(r"^wss?://"), route)
    chat.join(name)
    chat.send(lost)
    expect(chat.status).to_have_attribute("data-state", "reconnecting")
    expect(chat.message_input).to_have_value(lost)
    chat.expect_connected(name)
    # Still there after the reconnect, with the reason next to the box.
    expect(chat.message_input).to_have_value(lost)
    expect(chat.page.locator("#send-error")).to_contain_text("connection dropped")
    chat.send("through again")
    expect(chat.chat_line(name, "through again")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.page.locator("#send-error")).to_have_text("")


@pytest.fixture(scope="module")
def short_limit_stack() -> Iterator[LocalStack]:
    """A stack whose operator set a shorter message limit than the default 2,000."""
    with local_stack(extra_host_env={"ChatMaxMessageLength": "100"}) as stack:
        yield stack


def test_the_counter_counts_against_the_configured_limit(
    chromium: Browser, short_limit_stack: LocalStack, unique: Callable[[str], str]
) -> None:
    with tabs(chromium, short_limit_stack.options.chat_url) as open_page:
        chat = open_page()
        chat.join(unique("brief"))
        box, counter = chat.message_input, chat.page.locator("#message-counter")
        box.fill("x" * 80)  # 80 % of the configured 100: no counter yet
        expect(counter).to_be_hidden()
        box.fill("x" * 90)
        expect(counter).to_have_text("90 / 100")
        expect(counter).to_have_attribute("data-state", "near")
        box.fill("x" * 101)
        expect(counter).to_have_text("101 / 100 (1 too many)")
        expect(counter).to_have_attribute("data-state", "over")
        expect(box).to_have_attribute("aria-invalid", "true")
        box.press("Enter")  # the server agrees, and the text comes back
        expect(chat.rejections()).to_have_text(
            re.compile(r"101 characters; the limit is 100"), timeout=MESSAGE_TIMEOUT_MS
        )
        expect(box).to_have_value("x" * 101)
