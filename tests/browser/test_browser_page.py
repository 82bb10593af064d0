"""The chat page's own qualities in Chromium: keyboard use, names for every control, phone
screens, the remembered name, the status live region and scrolling that respects the reader."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .chat_page import MESSAGE_TIMEOUT_MS, PHONE, ChatPage, OpenChat, is_browser_network_line

pytestmark = [pytest.mark.browser, pytest.mark.stack]

CONTROLS = "input, button, select, textarea, [role=button], [role=log], [role=status]"


def focused_id(chat: ChatPage) -> str:
    return chat.page.evaluate("() => document.activeElement && document.activeElement.id")


def assert_visible_controls_are_named(chat: ChatPage) -> int:
    """Every visible control has a non-empty accessible name; returns how many were checked."""
    controls = chat.page.locator(CONTROLS)
    checked = 0
    for control in controls.all():
        if control.is_visible() and control.get_attribute("role") != "status":
            expect(control).to_have_accessible_name(re.compile(r"\S"))
            checked += 1
    return checked


def assert_no_horizontal_overflow(chat: ChatPage, width: int) -> None:
    sizes = chat.page.evaluate(
        """() => {
          const m = document.getElementById("messages");
          return {
            page: document.scrollingElement.scrollWidth, inner: window.innerWidth,
            layout: document.documentElement.clientWidth,
            log: m.scrollWidth, logBox: m.clientWidth,
          };
        }"""
    )
    # With mobile emulation Chromium zooms out to fit wide content, and innerWidth then grows
    # with the content; the layout width (documentElement.clientWidth) stays the screen's.
    assert sizes["layout"] == width, sizes
    assert sizes["page"] <= sizes["inner"], sizes
    assert sizes["page"] <= sizes["layout"], sizes
    assert sizes["inner"] == width, sizes
    assert sizes["log"] <= sizes["logBox"], sizes


def test_join_and_send_with_the_keyboard_only(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    name = unique("keys")
    chat = open_chat()
    keyboard = chat.page.keyboard
    # The name field has focus on arrival; Tab moves to Join, Enter presses it.
    expect(chat.page.locator("#name-input")).to_be_focused()
    keyboard.type(name)
    keyboard.press("Tab")
    assert focused_id(chat) == "join-button"
    keyboard.press("Enter")
    chat.expect_connected(name)

    # After joining, focus is in the message box: type, Enter sends.
    expect(chat.message_input).to_be_focused()
    keyboard.type("typed, not clicked")
    keyboard.press("Enter")
    expect(chat.chat_line(name, "typed, not clicked")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.message_input).to_have_value("")
    # Tab to the Send button and press it with Enter as well.
    keyboard.type("sent with the button")
    keyboard.press("Tab")
    assert focused_id(chat) == "send-button"
    keyboard.press("Enter")
    expect(chat.chat_line(name, "sent with the button")).to_have_count(
        1, timeout=MESSAGE_TIMEOUT_MS
    )

    # The log itself is reachable by keyboard (to scroll it), and so is "Change name". How
    # many stops lie between depends on what the shared lobby holds (links in earlier tests'
    # messages, the rooms hint's "Got it", the room form and the room list), so walk back
    # until "Change name", within a bound.
    order: list[str] = []
    while "leave-button" not in order:
        assert len(order) < 60, f"'Change name' not reached by Shift+Tab: {order}"
        keyboard.press("Shift+Tab")
        order.append(focused_id(chat))
    assert "messages" in order


def test_every_control_has_an_accessible_name(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    chat = open_chat()
    page = chat.page
    expect(page.get_by_label("Your name")).to_have_id("name-input")
    expect(page.get_by_role("button", name="Join")).to_be_visible()
    assert assert_visible_controls_are_named(chat) >= 2
    # The error next to the name field is tied to it, so a screen reader reads it out.
    page.locator("#join-button").click()
    expect(page.locator("#name-error")).to_have_text(re.compile(r"\S"))
    expect(page.locator("#name-input")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#name-input")).to_have_accessible_description(
        page.locator("#name-error").inner_text()
    )

    chat.join(unique("named"))
    expect(page.get_by_role("textbox", name="Message")).to_have_id("message-input")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="Change name")).to_be_visible()
    expect(page.get_by_role("log", name="Messages")).to_be_visible()
    assert assert_visible_controls_are_named(chat) >= 4
    # Buttons shown later (Reconnect now, New messages) are named by their text.
    for hidden_button in ("#retry-button", "#new-messages"):
        assert page.locator(hidden_button).evaluate("b => b.textContent.trim().length > 0")


def test_status_is_a_live_region_that_follows_the_connection(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    name = unique("stat")
    chat = open_chat()
    status = chat.page.get_by_role("status")
    expect(status).to_have_id("status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_have_attribute("data-state", "disconnected")
    expect(status).to_have_text("Not connected")

    chat.join(name)
    assert chat.state_history() == ["disconnected", "connecting", "connected"]
    expect(chat.page.locator("#app")).to_have_attribute("data-state", "connected")
    expect(chat.page.locator("#retry-button")).to_be_hidden()

    # Changing the name closes the connection on purpose: disconnected, form back, no retry.
    chat.page.get_by_role("button", name="Change name").click()
    expect(status).to_have_attribute("data-state", "disconnected")
    expect(chat.page.locator("#name-form")).to_be_visible()
    expect(chat.page.locator("#name-input")).to_have_value(name)
    expect(chat.page.locator("#retry-button")).to_be_hidden()
    assert chat.state_history()[-1] == "disconnected"


def test_the_name_is_remembered_after_a_reload(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    name = unique("remember")
    chat = open_chat()
    chat.join(name)
    chat.send("before reload")
    expect(chat.chat_line(name, "before reload")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    assert chat.page.evaluate("() => localStorage.getItem('chat.name')") == name

    chat.page.reload()
    # Straight back into the chat under the same name, without the form.
    chat.expect_connected(name)
    expect(chat.page.locator("#name-form")).to_be_hidden()
    # The service knows the new connection by that name: the lobby's presence snapshot lists
    # it. (Not a "joined" notice: one is due only if the old page's disconnected is handled
    # before the new page's connected, and a busy machine can order them either way.)
    listed = chat.page.locator("#member-list .member-name").filter(
        has_text=re.compile(f"^{re.escape(name)}$")
    )
    expect(listed).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    chat.send("after reload")
    expect(chat.chat_line(name, "after reload")).to_have_class(
        re.compile(r"\bown\b"), timeout=MESSAGE_TIMEOUT_MS
    )

    # A different person (fresh context, empty storage) gets the form, not someone's name.
    other = open_chat()
    expect(other.page.locator("#name-form")).to_be_visible()
    expect(other.page.locator("#name-input")).to_have_value("")
    expect(other.status).to_have_attribute("data-state", "disconnected")


def test_a_phone_screen_has_no_horizontal_overflow(
    open_chat: OpenChat, unique: Callable[[str], str], artifacts_dir: Path
) -> None:
    chat = open_chat(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    assert_no_horizontal_overflow(chat, PHONE["width"])
    # The longest name the page accepts and long unbroken text must wrap, not widen the page.
    name = unique("n" * 60)[:64]
    chat.join(name)
    chat.send("W" * 400)
    chat.send("https://example.invalid/" + "a-very-long-path-segment/" * 12)
    chat.send("short one")
    expect(chat.chat_line(name, "short one")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    assert_no_horizontal_overflow(chat, PHONE["width"])
    for control in ("#message-input", "#send-button", "#leave-button", "#status"):
        box = chat.page.locator(control).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"], (control, box)
    # Touch targets of the composer are at least 44 px high.
    for control in ("#message-input", "#send-button"):
        box = chat.page.locator(control).bounding_box()
        assert box is not None
        assert box["height"] >= 44
    chat.page.screenshot(path=str(artifacts_dir / "phone.png"))


def test_on_a_phone_the_status_sits_beside_the_title(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    """The top bar is short on a phone: the status shares the title's row, and the account's
    controls follow on the next ones (the bar is not a column of four rows)."""
    chat = open_chat(viewport=PHONE, is_mobile=True, has_touch=True)
    chat.join(unique("kate"))
    title, status = (chat.page.locator(s).bounding_box() for s in (".title", "#status"))
    assert title is not None and status is not None
    assert status["y"] < title["y"] + title["height"], (title, status)
    assert status["x"] >= title["x"] + title["width"], (title, status)


def test_a_reader_who_scrolled_up_is_not_yanked_down(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    writer_name, reader_name = unique("writer"), unique("reader")
    reader = open_chat(viewport=PHONE)
    reader.join(reader_name)
    writer = open_chat()
    writer.join(writer_name)

    for i in range(12):
        writer.send(f"line {i}")
    expect(reader.chat_lines(writer_name)).to_have_count(12, timeout=MESSAGE_TIMEOUT_MS)
    log = reader.log
    metrics = "m => ({top: m.scrollTop, height: m.clientHeight, full: m.scrollHeight})"
    # Someone following the conversation sees the newest line without scrolling.
    reader.page.wait_for_function(
        "() => { const m = document.getElementById('messages');"
        " return m.scrollHeight > m.clientHeight"
        " && m.scrollHeight - m.scrollTop - m.clientHeight < 2; }",
        timeout=MESSAGE_TIMEOUT_MS,
    )
    expect(reader.chat_line(writer_name, "line 11")).to_be_in_viewport()

    # The reader scrolls back up with the wheel to read old lines ...
    log.hover()
    reader.page.mouse.wheel(0, -5000)
    reader.page.wait_for_function(
        "() => document.getElementById('messages').scrollTop === 0", timeout=MESSAGE_TIMEOUT_MS
    )
    # ... and new lines do not move the view; a button says there is more below.
    writer.send("line 12")
    writer.send("line 13")
    expect(reader.chat_lines(writer_name)).to_have_count(14, timeout=MESSAGE_TIMEOUT_MS)
    jump = reader.page.locator("#new-messages")
    expect(jump).to_be_visible()
    expect(jump).to_have_text("2 new messages ↓")
    assert log.evaluate(metrics)["top"] == 0
    expect(reader.chat_line(writer_name, "line 13")).not_to_be_in_viewport()

    # The button takes the reader to the newest line, hides, and puts focus in the composer.
    jump.click()
    expect(reader.chat_line(writer_name, "line 13")).to_be_in_viewport()
    expect(jump).to_be_hidden()
    expect(reader.message_input).to_be_focused()

    # Back at the bottom, the log follows again without a button.
    writer.send("line 14")
    expect(reader.chat_line(writer_name, "line 14")).to_be_in_viewport(timeout=MESSAGE_TIMEOUT_MS)
    expect(jump).to_be_hidden()

    # Scrolled up again, the reader's own message still brings the view down to it.
    log.hover()
    reader.page.mouse.wheel(0, -5000)
    reader.page.wait_for_function(
        "() => document.getElementById('messages').scrollTop === 0", timeout=MESSAGE_TIMEOUT_MS
    )
    reader.send("my reply")
    expect(reader.chat_line(reader_name, "my reply")).to_be_in_viewport(timeout=MESSAGE_TIMEOUT_MS)


@pytest.mark.parametrize(
    ("line", "from_browser"),
    [
        ("Failed to load resource: net::ERR_CONNECTION_REFUSED", True),
        (
            "WebSocket connection to 'ws://localhost:8080/client/hubs/h?id=a' failed: "
            "Error in connection establishment: net::ERR_CONNECTION_REFUSED",
            True,
        ),
        ("Uncaught TypeError: Cannot read properties of null", False),
        ("app: Failed to load resource list", False),
        ("Refused to connect to 'ws://evil' because it violates the CSP", False),
    ],
)
def test_only_the_browsers_network_lines_are_excused(line: str, from_browser: bool) -> None:
    assert is_browser_network_line(line) is from_browser


def test_the_console_rule_catches_page_errors(open_chat: OpenChat) -> None:
    chat = open_chat()
    with chat.page.expect_console_message(lambda m: m.type == "error"):
        chat.page.evaluate("() => console.error('something broke')")
    with chat.page.expect_event("pageerror"):
        chat.page.evaluate("() => setTimeout(() => { throw new Error('uncaught boom'); })")
    assert chat.unexpected_console_errors() == ["something broke"]
    assert any("uncaught boom" in error for error in chat.page_errors)
    with pytest.raises(AssertionError):
        chat.assert_clean()
    # Forget the staged errors so the fixture's own check at teardown passes.
    chat.console_errors.clear()
    chat.page_errors.clear()
