"""Room and user names that are also names on every JavaScript object (issue 15, item 2).

`constructor`, `__proto__`, `toString`, `valueOf` and `hasOwnProperty` are valid room and
user names on the server. A page that looks data up in a plain `{}` finds the inherited
member instead of its own entry: the room showed the lobby's lines, what was typed went
nowhere visible, the remembered room broke every reload, and `__proto__` wrote into
`Object.prototype`. These run on the real stack in Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from .chat_page import MESSAGE_TIMEOUT_MS, ChatPage, OpenChat

pytestmark = [pytest.mark.browser, pytest.mark.stack]

OBJECT_KEYS = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty"]

# The built-ins these names reach from a plain `{}` (Object.prototype itself through
# `__proto__`), with their own property names. Returned as pairs: an object with the key
# "__proto__" would itself be the trap this measures.
BUILTINS_REACHED = """(keys) => keys.map((key) => {
    const reached = ({})[key];
    return [key, Object.getOwnPropertyNames(reached).sort()];
})"""


def builtins_reached(chat: ChatPage) -> list:
    return chat.page.evaluate(BUILTINS_REACHED, OBJECT_KEYS)


def untouched_builtins(chat: ChatPage) -> list:
    """The same, measured on a blank page of the same browser: what they look like unwritten."""
    blank = chat.context.new_page()
    try:
        return blank.evaluate(BUILTINS_REACHED, OBJECT_KEYS)
    finally:
        blank.close()


@pytest.mark.parametrize("room", OBJECT_KEYS)
def test_a_room_named_like_an_object_key_is_a_room_like_any_other(
    open_chat: OpenChat, unique: Callable[[str], str], room: str
) -> None:
    name = unique("alice")
    chat = open_chat(f"#room={room}")  # a shared link to the room
    # Room names are case-insensitive (issue 17): the server answers with the lowercase name,
    # and `constructor`, `__proto__` stay object keys even so.
    shown = room.lower()
    chat.join(name)
    title = chat.page.locator("#room-title")
    expect(title).to_have_text(shown)
    chat.expect_history_loaded()
    said = f"said in {room}"
    chat.send(said)
    expect(chat.chat_line(name, said)).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)

    # The lobby keeps its own lines, and the room does not show them.
    chat.room_button("lobby").click()
    expect(title).to_have_text("lobby")
    chat.send("said in the lobby")
    expect(chat.chat_line(name, "said in the lobby")).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.chat_lines(name)).to_have_count(1)
    chat.room_button(shown).click()
    expect(title).to_have_text(shown)
    expect(chat.chat_lines(name)).to_have_count(1)
    expect(chat.chat_line(name, said)).to_be_visible()

    # The room is remembered: a reload comes back to it, with its history, and still works.
    chat.page.reload()
    chat.expect_connected(name)
    expect(title).to_have_text(shown)
    chat.expect_history_loaded()
    expect(chat.chat_line(name, said)).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)
    chat.send("after the reload")
    expect(chat.chat_line(name, "after the reload")).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.chat_lines(name)).to_have_count(2)
    assert chat.page.evaluate("() => location.hash") == f"#room={shown}"

    # Left, then entered again by following a link on the page (the first report:
    # the lobby's lines stayed up and what was typed went to the room unseen).
    chat.page.locator(f'button.room-leave[data-leave="{shown}"]').click()
    expect(title).to_have_text("lobby")
    expect(chat.room_button(shown)).to_have_count(0)
    chat.page.evaluate("room => { location.hash = 'room=' + room; }", room)
    expect(title).to_have_text(shown)
    chat.expect_history_loaded()
    expect(chat.chat_lines(name)).to_have_count(2, timeout=MESSAGE_TIMEOUT_MS)
    chat.send("back again")
    expect(chat.chat_line(name, "back again")).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.chat_line(name, "said in the lobby")).to_have_count(0)

    assert chat.page_errors == []
    assert builtins_reached(chat) == untouched_builtins(chat)


def test_users_named_like_object_keys_are_listed_typing_and_heard(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    room = unique("keys")
    proto, ctor = open_chat(f"#room={room}"), open_chat(f"#room={room}")
    proto.join("__proto__")
    ctor.join("constructor")
    for chat in (proto, ctor):
        expect(chat.page.locator("#members-summary")).to_have_text(
            "2 names here", timeout=MESSAGE_TIMEOUT_MS
        )
        members = chat.page.locator("#member-list .member-name").all_text_contents()
        assert sorted(members) == ["__proto__", "constructor"]

    proto.message_input.press_sequentially("hel")
    expect(ctor.page.locator("#typing")).to_have_text(
        "__proto__ is typing…", timeout=MESSAGE_TIMEOUT_MS
    )
    ctor.message_input.press_sequentially("hel")
    expect(proto.page.locator("#typing")).to_have_text(
        "constructor is typing…", timeout=MESSAGE_TIMEOUT_MS
    )
    proto.send("hello from __proto__")
    heard = ctor.chat_line("__proto__", "hello from __proto__")
    expect(heard).to_be_visible(timeout=MESSAGE_TIMEOUT_MS)
    expect(heard).not_to_have_class(re.compile(r"\bown\b"))
    expect(proto.chat_line("__proto__", "hello from __proto__")).to_have_class(
        re.compile(r"\bown\b")
    )
    # Their message ends their typing notice at once.
    expect(ctor.page.locator("#typing")).to_have_text("")

    for chat in (proto, ctor):
        assert chat.page_errors == []
        assert builtins_reached(chat) == untouched_builtins(chat)
