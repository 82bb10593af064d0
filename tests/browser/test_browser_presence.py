"""Presence and the way in, as a new user meets them (issue 20, items 1, 4, 9, 10, 11, 12 and
notifications): notices readable in long rooms, members by user id, one person with one name,
no repeated "joined" lines, readable room names, the first-visit hint, opt-in notifications and
the unread count in the tab title."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.support.stack import LocalStack

from .chat_page import MESSAGE_TIMEOUT_MS, NAME_CUT, ChatPage, OpenChat

pytestmark = [pytest.mark.browser, pytest.mark.stack]

# Keeps every WebSocket the page opens, so a test can hand the page a frame the server does not
# send yet (mentions and direct messages arrive in later work), exactly as a socket would.
SOCKET_RECORDER = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__sockets.push(this); }
  };
  window.__receive = (text) => {
    const ws = window.__sockets[window.__sockets.length - 1];
    ws.onmessage(new MessageEvent("message", { data: text }));
  };
})();
"""

# A stand-in for the Notification API (headless Chromium shows none) and a switch for the
# tab's visibility, so "while the tab is hidden" can be tested.
NOTIFICATIONS_AND_VISIBILITY = """
(() => {
  window.__notes = [];
  window.__asked = 0;
  class FakeNotification {
    constructor(title, options) { window.__notes.push({ title, body: (options || {}).body }); }
    close() {}
  }
  FakeNotification.permission = "default";
  FakeNotification.requestPermission = (callback) => {
    window.__asked += 1;
    FakeNotification.permission = "granted";
    if (callback) callback("granted");
    return Promise.resolve("granted");
  };
  window.Notification = FakeNotification;
  let visibility = "visible";
  const define = (key, get) => Object.defineProperty(document, key, { configurable: true, get });
  define("visibilityState", () => visibility);
  define("hidden", () => visibility === "hidden");
  window.__setVisibility = (value) => {
    visibility = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();
"""


def room_url(room: str) -> str:
    return f"#room={room}"


def clipped(chat: ChatPage, selector: str) -> list[str]:
    """Texts of the matching boxes whose content does not fit them."""
    return chat.page.locator(selector).evaluate_all(
        """items => items
            .filter(e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1)
            .map(e => `${e.textContent} (${e.clientWidth}x${e.clientHeight}`
                      + ` < ${e.scrollWidth}x${e.scrollHeight})`)"""
    )


def test_notices_stay_readable_in_a_long_room(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room, alice_name, bob_name = unique("long"), unique("alice"), unique("bob")
    # A short window: a dozen lines are already more than the log can show at once.
    alice = open_chat(room_url(room), viewport={"width": 1000, "height": 460})
    alice.join(alice_name)
    for n in range(12):
        alice.send(f"line {n}")
    expect(alice.chat_line(alice_name, "line 11")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    bob = open_chat(room_url(room))
    bob.join(bob_name)
    expect(alice.notices("joined", bob_name)).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    log = alice.log.evaluate("m => [m.scrollHeight, m.clientHeight]")
    assert log[0] > log[1], f"the log must overflow for this test to mean anything: {log}"

    assert clipped(alice, "#messages li.system") == []
    heights = alice.log.locator("li.system").evaluate_all("ls => ls.map(l => l.clientHeight)")
    assert min(heights) >= 20, heights


def test_the_room_heading_is_read_as_the_rooms_name(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    chat = open_chat()
    chat.join(unique("reader"))
    # The "# " before it is decoration: a screen reader says "lobby", not "number sign lobby".
    expect(chat.page.locator("#room-title")).to_have_accessible_name("lobby")
    expect(chat.page.get_by_role("heading", name="lobby", exact=True)).to_have_count(1)
    expect(chat.room_button("lobby")).to_have_accessible_name("lobby")


def test_a_room_name_cut_with_an_ellipsis_can_be_read_whole(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room = unique("design-team-quarterly-planning-and-review-")
    chat = open_chat()
    chat.join(unique("reader"))
    chat.enter_room(room)
    chat.wait_for_room_button(room, NAME_CUT)  # else: the name is not cut here
    # The tooltip and the accessible name hold it whole; the heading wraps instead of cutting.
    expect(chat.room_button(room)).to_have_attribute("title", room)
    expect(chat.room_button(room)).to_have_accessible_name(room)
    assert clipped(chat, "#room-title") == []


def test_two_people_with_one_name_are_not_shown_each_others_lines_as_their_own(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room, name, carol_name = unique("names"), unique("pat"), unique("carol")
    first = open_chat(room_url(room))
    first.join(name)
    second = open_chat(room_url(room))
    second.join(name)  # another person who picked the same name
    carol = open_chat(room_url(room))
    carol.join(carol_name)

    first.send("sent by the first")
    expect(second.chat_line(name, "sent by the first")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    line_at_second = second.chat_line(name, "sent by the first")
    # The second tab did not send it: not blue, not on the right, and it says why it has our name.
    expect(line_at_second).not_to_have_class(re.compile(r"\bown\b"))
    expect(line_at_second.locator(".same-name-note")).to_have_text(
        "another tab or someone with your name"
    )
    expect(first.chat_line(name, "sent by the first")).to_have_class(re.compile(r"\bown\b"))
    expect(first.chat_line(name, "sent by the first").locator(".same-name-note")).to_have_count(0)

    # The server knows names, not people: the count says names, and our entry says it may be
    # more than one person.
    for chat in (first, second):
        expect(chat.page.locator("#members-summary")).to_have_text("2 names here")
        mine = chat.page.locator(f'#member-list li[data-user-id="{name}"]')
        expect(mine).to_have_text(f"{name}(you, and anyone else using this name)")

    # A reload keeps this tab's lines its own (the ids it sent live in the tab's session).
    first.page.reload()
    first.expect_connected(name)
    first.expect_history_loaded()
    expect(first.chat_line(name, "sent by the first")).to_have_class(re.compile(r"\bown\b"))


def test_a_reload_does_not_post_another_joined_line(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room, alice_name, bob_name = unique("reload"), unique("alice"), unique("bob")
    alice = open_chat(room_url(room))
    alice.join(alice_name)
    bob = open_chat(room_url(room))
    bob.join(bob_name)
    expect(alice.notices("joined", bob_name)).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)

    bob.page.reload()
    bob.expect_connected(bob_name)
    bob.expect_history_loaded()
    bob.send("back again")
    expect(alice.chat_line(bob_name, "back again")).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    # One line says bob is here; a quick leave and return is one line, not two more.
    expect(alice.notices("joined", bob_name)).to_have_count(1)
    expect(alice.notices("left", bob_name)).to_have_count(0)
    expect(alice.notices("rejoined", bob_name)).to_have_text([re.compile("left and came back")])
    expect(alice.page.locator(f'#member-list li[data-user-id="{bob_name}"]')).to_have_count(1)


def test_the_first_visit_hint_explains_rooms_and_stays_dismissed(
    open_chat: OpenChat, unique: Callable[[str], str], chat_stack: LocalStack
) -> None:
    chat = open_chat()
    chat.join(unique("newcomer"))
    hint = chat.page.locator("#rooms-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("type a name in “Join a room…” to create a room or join it")
    expect(hint.locator("[data-room-link]")).to_have_text(
        chat_stack.options.chat_url + "#room=design"
    )
    chat.enter_room("planning")
    expect(hint.locator("[data-room-link]")).to_have_text(
        chat_stack.options.chat_url + "#room=planning"
    )
    # Keyboard: Tab reaches "Got it", Enter dismisses it, focus goes on to the room box.
    dismiss = chat.page.get_by_role("button", name="Got it")
    dismiss.focus()
    chat.page.keyboard.press("Enter")
    expect(hint).to_be_hidden()
    expect(chat.page.locator("#room-input")).to_be_focused()
    chat.page.reload()
    chat.expect_connected()
    expect(hint).to_be_hidden()


def test_notifications_are_opt_in_and_the_title_counts_unread(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    name = unique("reader")
    chat = open_chat()
    chat.context.add_init_script(SOCKET_RECORDER)
    chat.context.add_init_script(NOTIFICATIONS_AND_VISIBILITY)
    chat.page.reload()
    chat.join(name)
    page = chat.page
    expect(page).to_have_title("Chat")

    def receive(frame: dict) -> None:
        page.evaluate("text => window.__receive(text)", json.dumps(frame))

    chat_frame = {"room": "lobby", "from": "zed", "message": "psst", "time": "2026-01-01T10:00:00Z"}
    # Hidden tab: what people say is counted in the title; back in the tab, the count clears.
    page.evaluate("window.__setVisibility('hidden')")
    receive({**chat_frame, "id": unique("m")})
    receive({**chat_frame, "id": unique("m")})
    expect(page).to_have_title("(2) Chat")
    page.evaluate("window.__setVisibility('visible')")
    expect(page).to_have_title("Chat")

    # No permission is asked until the person clicks; no notification while it is off.
    page.evaluate("window.__setVisibility('hidden')")
    receive({"type": "mention", "room": "lobby", "from": "zed", "message": "@you look"})
    assert page.evaluate("[window.__asked, window.__notes.length]") == [0, 0]
    page.evaluate("window.__setVisibility('visible')")
    button = page.get_by_role("button", name="Turn on notifications")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Notifications on")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert page.evaluate("window.__asked") == 1

    # On, tab hidden: a mention and a direct message each raise one; a lobby line does not.
    page.evaluate("window.__setVisibility('hidden')")
    receive({"type": "mention", "room": "lobby", "from": "zed", "message": "@you look"})
    receive({**chat_frame, "id": unique("m"), "room": "dm-zed", "kind": "dm"})
    receive({**chat_frame, "id": unique("m")})
    page.wait_for_function("() => window.__notes.length >= 2")
    assert page.evaluate("window.__notes") == [
        {"title": "zed mentioned you in lobby", "body": "@you look"},
        {"title": "Message from zed", "body": "psst"},
    ]
    # Visible: nothing is raised (the person is looking at the page).
    page.evaluate("window.__setVisibility('visible')")
    receive({**chat_frame, "id": unique("m"), "room": "dm-zed", "kind": "dm"})
    expect(page).to_have_title("Chat")
    assert page.evaluate("window.__notes.length") == 2
    # A mention is a pointer to a line, not a line: the log shows no raw frame for it.
    expect(chat.log.locator("li.plain")).to_have_count(0)


SEND_ALL = """texts => {
    const box = document.getElementById("message-input");
    for (const text of texts) { box.value = text; box.form.requestSubmit(); }
}"""


def test_two_tabs_with_one_name_each_own_exactly_their_lines_and_refusals(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    """Issue 20 follow-up: the server echoes each message's tag, so a tab knows its own lines
    even when a same-named person sends the same words at the same moment, and a refusal names
    the text it refuses (not merely the oldest one still waiting)."""
    room, name = unique("tags"), unique("sam")
    first = open_chat(room_url(room))
    first.join(name)
    second = open_chat(room_url(room))
    second.join(name)
    for chat in (first, second):
        expect(chat.page.locator("#member-list li")).to_have_count(1)

    # The same words from both tabs at once: words alone cannot say whose is whose.
    first.page.evaluate(SEND_ALL, ["same words"])
    second.page.evaluate(SEND_ALL, ["same words"])
    owned = {}
    for chat in (first, second):
        lines = chat.chat_line(name, "same words")
        expect(lines).to_have_count(2, timeout=MESSAGE_TIMEOUT_MS)
        own = lines.and_(chat.page.locator("li.own"))
        expect(own).to_have_count(1)
        expect(lines.locator(".same-name-note")).to_have_count(1)
        owned[chat.url + str(id(chat))] = own.get_attribute("data-id")
    assert len(set(owned.values())) == 2, owned  # each tab owns a different one

    # The second tab: a line whose marks the server trims (its echo's words differ from what
    # was typed), then one too long. The refusal names the long one: that text comes back.
    marks, too_long = "Z" + "\u0301" * 5, "y" * 2100
    second.page.evaluate(SEND_ALL, [marks, too_long])
    expect(second.rejections()).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(second.message_input).to_have_value(too_long, timeout=MESSAGE_TIMEOUT_MS)
    trimmed = second.chat_lines(name).filter(has_not_text="same words")
    expect(trimmed).to_have_count(1)
    expect(trimmed).to_have_class(re.compile(r"\bown\b"))  # matched by its tag, not its words
    expect(first.rejections()).to_have_count(0)
    expect(first.message_input).to_have_value("")
