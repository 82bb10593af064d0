"""Issue 17's first behaviour in Chromium, sign-in mode: a page whose socket was down for 10 s
while another person talked in two rooms and a direct conversation shows every one of those
messages exactly once, in order, without a reload (tests/browser/test_browser_catch_up covers
more than a page of one room; tests/e2e/test_conversations the same outage over the wire)."""

from __future__ import annotations

import time
import uuid

import pytest
from playwright.sync_api import expect

from .chat_page import HOLD_SOCKETS, ChatPage

# The sign-in stack, its tabs and the sign-in steps are those of the sign-in tests (this module
# gets a stack of its own: the fixture is per module).
from .test_browser_sign_in import open_tab, sign_in, sign_in_stack  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.stack]

OUTAGE_S = 10.0
RECOVERY_TIMEOUT_MS = 25_000


def dm_button(chat: ChatPage):
    return chat.page.locator("#dm-list button.room-button")


def texts(chat: ChatPage) -> list[str]:
    return chat.page.locator("#messages li.message .text").all_text_contents()


def test_after_10_s_down_the_page_shows_two_rooms_and_a_dm_once_in_order(
    open_tab,  # noqa: F811
) -> None:
    tag = uuid.uuid4().hex[:6]
    alice_name, bob_name = f"alice-{tag}", f"bob-{tag}"
    rooms = [f"one-{tag}", f"two-{tag}"]
    alice, bob = open_tab(), open_tab()
    alice.context.add_init_script(HOLD_SOCKETS)
    sign_in(alice, "Microsoft", alice_name)
    sign_in(bob, "GitHub", bob_name)
    for chat in (alice, bob):
        for room in rooms:
            chat.enter_room(room)
    # Bob opens a direct conversation with Alice: "Message" in the member list.
    bob.page.locator("#members-summary").click()
    member = bob.page.locator("#member-list li", has_text=alice_name)
    member.get_by_role("button", name=f"Message {alice_name}").click()
    expect(bob.page.locator("#room-title")).to_have_text(alice_name)
    bob.send("dm before")
    expect(dm_button(alice)).to_have_count(1)
    alice.room_button(rooms[0]).click()  # in view through the outage: no room change after
    expect(alice.page.locator("#room-title")).to_have_text(rooms[0])

    alice.page.evaluate("window.__down = true; window.__sockets.forEach((s) => s.close())")
    down_at = time.monotonic()
    expect(alice.status).to_have_attribute("data-state", "reconnecting", timeout=15_000)
    said: dict[str, list[str]] = {rooms[0]: [], rooms[1]: [], "dm": []}
    for n in range(3):
        for room in rooms:
            bob.room_button(room).click()
            bob.send(f"{room} {n}")
            expect(bob.chat_line(bob_name, f"{room} {n}")).to_have_count(1)
            said[room].append(f"{room} {n}")
        dm_button(bob).click()
        bob.send(f"dm {n}")
        expect(bob.chat_line(bob_name, f"dm {n}")).to_have_count(1)
        said["dm"].append(f"dm {n}")
    # The outage itself is what this test is about: the socket stays down for 10 s.
    alice.page.wait_for_timeout(max(0.0, OUTAGE_S - (time.monotonic() - down_at)) * 1000)
    alice.page.evaluate("window.__down = false")
    alice.page.get_by_role("button", name="Reconnect now").click()
    expect(alice.status).to_have_attribute("data-state", "connected", timeout=RECOVERY_TIMEOUT_MS)

    # The room in view fills in by itself; the others are counted unread, then show all.
    lines = alice.page.locator("#messages li.message .text")
    expect(lines).to_have_count(len(said[rooms[0]]), timeout=RECOVERY_TIMEOUT_MS)
    assert texts(alice) == said[rooms[0]]  # each once, in order
    expect(alice.room_button(rooms[1]).locator(".badge")).to_have_text("3")
    expect(dm_button(alice).locator(".badge")).to_have_text("4")  # "dm before" too
    alice.room_button(rooms[1]).click()
    expect(alice.page.locator("#room-title")).to_have_text(rooms[1])
    expect(lines).to_have_count(len(said[rooms[1]]), timeout=RECOVERY_TIMEOUT_MS)
    assert texts(alice) == said[rooms[1]]
    dm_button(alice).click()
    expect(alice.page.locator("#room-title")).to_have_text(bob_name)
    lines = alice.page.locator("#messages li.message .text")
    expect(lines).to_have_count(1 + len(said["dm"]), timeout=RECOVERY_TIMEOUT_MS)
    assert texts(alice) == ["dm before", *said["dm"]]
    # Not reloaded: the page that went down is the one that shows them.
    assert alice.page.evaluate("window.__sockets.length") >= 2
