"""A thin driver for the chat page in one browser context, plus the console-error rule.

Only the page's documented hooks (ids, classes, data-* attributes) are used, so a test reads as
what a person does: join, send, look at the log. Every wait is a bounded Playwright wait.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    expect,
)

CONNECT_TIMEOUT_MS = 15_000
MESSAGE_TIMEOUT_MS = 8_000
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1000, "height": 720}

# Chromium itself logs these when a request or WebSocket fails (e.g. while the emulator is
# down); the page cannot suppress them. Any other console error is a bug in the page.
BROWSER_NETWORK_LINES = (
    re.compile(r"^Failed to load resource\b"),
    re.compile(r"^WebSocket connection to '[^']*' failed\b"),
)

# Records every value #status's data-state takes, including ones that pass within a tick
# (connecting -> connected), so tests can assert the order of transitions.
STATE_RECORDER = """
(() => {
  window.__statusStates = [];
  const record = (value) => {
    const list = window.__statusStates;
    if (value && list[list.length - 1] !== value) list.push(value);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.target.id === "status" && r.attributeName === "data-state") {
        record(r.oldValue);
        record(r.target.getAttribute("data-state"));
      }
    }
  }).observe(document, {
    subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ["data-state"],
  });
})();
"""


# Keep hold of the page's sockets, so a test can drop them; while `__down` is set, a new one is a
# stand-in that closes at once (1006, as a failed connection does): the page stays disconnected
# until the test says so. Going offline closes no socket.
HOLD_SOCKETS = (
    "(() => { const Real = window.WebSocket; window.__sockets = []; window.__down = false;"
    " window.WebSocket = function (...args) {"
    "   if (window.__down) { const dead = { readyState: 3, close() {}, send() {} };"
    "     setTimeout(() => dead.onclose && dead.onclose({ code: 1006, reason: '' }), 20);"
    "     return dead; }"
    "   const s = new Real(...args); window.__sockets.push(s); return s; };"
    " Object.assign(window.WebSocket, Real); window.WebSocket.prototype = Real.prototype; })();"
)


def is_browser_network_line(text: str) -> bool:
    return any(pattern.search(text) for pattern in BROWSER_NETWORK_LINES)


# The room's button wholly inside the room row's box (the row may scroll sideways on a phone),
# and its name cut with an ellipsis: checks for ChatPage.wait_for_room_button.
IN_ROW = """b => {
    const row = b.closest("#room-list").getBoundingClientRect();
    const box = b.getBoundingClientRect();
    return box.left >= row.left - 1 && box.right <= row.right + 1;
}"""
NAME_CUT = "b => { const e = b.querySelector('.room-name'); return e.scrollWidth > e.clientWidth; }"


@dataclass
class ChatPage:
    """One person's tab: a fresh browser context (own localStorage) with the chat page."""

    context: BrowserContext
    page: Page
    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, context: BrowserContext, url: str) -> ChatPage:
        context.add_init_script(STATE_RECORDER)
        page = context.new_page()
        chat = cls(context, page, url)
        page.on("console", chat._on_console)
        page.on("pageerror", lambda error: chat.page_errors.append(str(error)))
        page.on("dialog", chat._on_dialog)
        page.goto(url)
        return chat

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _on_dialog(self, dialog: Dialog) -> None:
        # alert() from injected markup would land here; dismissing keeps the page running.
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    # --- locators -------------------------------------------------------------------------
    @property
    def status(self) -> Locator:
        return self.page.locator("#status")

    @property
    def log(self) -> Locator:
        return self.page.locator("#messages")

    @property
    def message_input(self) -> Locator:
        return self.page.locator("#message-input")

    def chat_lines(self, sender: str | None = None) -> Locator:
        selector = "li.message:not(.plain)"
        if sender is not None:
            selector += f'[data-from="{sender}"]'
        return self.log.locator(selector)

    def chat_line(self, sender: str, text: str) -> Locator:
        return self.chat_lines(sender).filter(
            has=self.page.locator("span.text", has_text=re.compile(f"^{re.escape(text)}$"))
        )

    def notices(self, event: str, user: str | None = None) -> Locator:
        selector = f'li.system[data-event="{event}"]'
        if user is not None:
            selector += f'[data-user="{user}"]'
        return self.log.locator(selector)

    def rejections(self) -> Locator:
        return self.log.locator('li.system.rejected[data-event="rejected"]')

    def local_notes(self, text: str) -> Locator:
        return self.log.locator('li.system.local[data-event="local"]', has_text=text)

    # --- actions --------------------------------------------------------------------------
    def join(self, name: str) -> None:
        self.page.locator("#name-input").fill(name)
        self.page.locator("#join-button").click()
        self.expect_connected(name)

    def expect_history_loaded(self) -> None:
        """The current room's first history page is in the list (it is rebuilt no more)."""
        expect(self.page.locator('#messages[data-history="loaded"]')).to_have_count(1)

    def send(self, text: str) -> None:
        self.message_input.fill(text)
        self.message_input.press("Enter")

    # --- rooms ----------------------------------------------------------------------------
    def room_button(self, room: str) -> Locator:
        return self.page.locator(f'#room-list button.room-button[data-room="{room}"]')

    def wait_for_room_button(self, room: str, check: str) -> None:
        """Wait until `check(button)` (JS) holds for the room's button as it is in the page now.
        The list is drawn anew on every change (a presence or unread update): a button found
        first and measured after may have been replaced, and a detached one measures 0."""
        self.page.wait_for_function(
            "(room) => {"
            ' const button = [...document.querySelectorAll("#room-list button.room-button")]'
            "  .find((b) => b.dataset.room === room);"
            f" return !!button && ({check})(button);"
            "}",
            arg=room,
        )

    def enter_room(self, room: str) -> None:
        """Join (or create) a room by name with the room form, as a person would."""
        self.page.locator("#room-input").fill(room)
        self.page.locator("#room-input").press("Enter")
        expect(self.page.locator("#room-title")).to_have_text(room)

    def expect_connected(self, name: str | None = None) -> None:
        expect(self.status).to_have_attribute("data-state", "connected", timeout=CONNECT_TIMEOUT_MS)
        if name is not None:
            expect(self.status).to_have_text(f"Connected as {name}")

    def state_history(self) -> list[str]:
        return self.page.evaluate("() => window.__statusStates.slice()")

    def line_ids(self) -> list[str]:
        """data-id of every line that has one (chat lines and server notices)."""
        return self.log.locator("li[data-id]").evaluate_all(
            "items => items.map(li => li.dataset.id)"
        )

    def unexpected_console_errors(self) -> list[str]:
        return [text for text in self.console_errors if not is_browser_network_line(text)]

    def assert_clean(self) -> None:
        """No uncaught exceptions, no dialogs, no console errors but the browser's network lines."""
        assert self.page_errors == [], f"uncaught errors in the page: {self.page_errors}"
        assert self.dialogs == [], f"the page opened dialogs: {self.dialogs}"
        assert self.unexpected_console_errors() == [], (
            f"console errors: {self.unexpected_console_errors()}"
        )


# open_chat(query="", viewport=DESKTOP, **context_options) -> ChatPage (see conftest.py)
OpenChat = Callable[..., ChatPage]
# joined(base_name) -> (ChatPage, the unique name it joined as) (see conftest.py)
Joined = Callable[[str], tuple[ChatPage, str]]


@contextlib.contextmanager
def tabs(browser: Browser, url: str) -> Iterator[OpenChat]:
    """open(query="", viewport=DESKTOP, **context_options) -> a ChatPage at `url` + query in a
    fresh context. On leaving, every page opened must be clean: no uncaught exception, no
    dialog and no console error other than Chromium's own network-failure lines. Contexts are
    closed afterwards, so later tests do not see these users."""
    opened: list[ChatPage] = []

    def open_page(query: str = "", viewport: dict | None = None, **context_options) -> ChatPage:
        context = browser.new_context(
            viewport=viewport or DESKTOP, locale="en-GB", **context_options
        )
        context.set_default_timeout(10_000)
        chat = ChatPage.open(context, url + query)
        opened.append(chat)
        return chat

    try:
        yield open_page
        for chat in opened:
            chat.assert_clean()
    finally:
        for chat in opened:
            chat.context.close()
