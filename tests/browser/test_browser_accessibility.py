"""Accessibility measured by axe-core, pictures of each state, and the keyboard (issue 20).

Every state (the join form, the join form with an error, the chat with notices, names and
badges, the members menu open), at 1280x800 and on a 390x844 phone: zero serious or critical
axe-core violations, no clipped text box, no sideways scroll, and a screenshot under
tests/artifacts/browser/screens/ for a person to look at. The sign-in card is checked in
test_browser_presence_sign_in.py (it needs the sign-in stack).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .chat_page import MESSAGE_TIMEOUT_MS, OpenChat
from .page_checks import check_state

pytestmark = [pytest.mark.browser, pytest.mark.stack]

WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280x800", "390x844"])
def test_every_state_passes_axe_fits_and_is_pictured(
    open_chat: OpenChat, unique: Callable[[str], str], artifacts_dir: Path, viewport: dict
) -> None:
    screens = artifacts_dir / "screens"
    found: dict[str, list[dict]] = {}
    room = unique("design-review-for-the-quarterly-planning-")
    # A long name with no spaces is the worst case for every box that shows a name.
    me = unique("a.very.long.name.without.any.spaces.at.all.")
    chat = open_chat(f"#room={room}", viewport=viewport)
    page = chat.page

    found["join"] = check_state(page, "join", screens)
    page.locator("#join-button").click()
    expect(page.locator("#name-error")).not_to_have_text("")
    found["join-error"] = check_state(page, "join-error", screens)

    chat.join(me)
    twin = open_chat(f"#room={room}", viewport=viewport)
    twin.join(me)  # someone else who picked the same name
    bob_name = unique("bob")
    bob = open_chat(f"#room={room}", viewport=viewport)
    bob.join(bob_name)
    chat.send("Hello! Is everyone here for the review?")
    twin.send("I picked the same name, sorry")
    bob.send("Yes, " + "a-very-long-word-without-breaks-" * 3)
    expect(
        chat.chat_line(bob_name, "Yes, " + "a-very-long-word-without-breaks-" * 3)
    ).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)
    expect(chat.chat_line(me, "I picked the same name, sorry")).to_have_count(1)
    expect(chat.notices("joined", bob_name)).to_have_count(1)
    expect(page.locator("#rooms-hint")).to_be_visible()
    found["chat"] = check_state(page, "chat", screens)

    page.locator("#members-summary").click()
    expect(page.locator("#member-list li")).to_have_count(2)
    found["members-open"] = check_state(page, "members-open", screens)

    size = f"{viewport['width']}x{viewport['height']}"
    (artifacts_dir / f"axe-{size}.json").write_text(json.dumps(found, indent=2))


def test_every_control_is_reachable_and_operable_by_keyboard(
    open_chat: OpenChat, unique: Callable[[str], str]
) -> None:
    chat = open_chat(viewport=WIDE)
    page = chat.page
    # The join form: type a name and press Enter.
    page.keyboard.type(unique("keys"))
    page.keyboard.press("Enter")
    chat.expect_connected()
    page.keyboard.press("Tab")  # out of the message box: Shift+Tab would work as well

    # Tab through the whole page once: every visible control gets the focus.
    controls = page.evaluate(
        """() => [...document.querySelectorAll(
              'a[href], button, input, summary, [tabindex="0"]')]
            .filter(e => e.getClientRects().length > 0 && !e.closest('[hidden]'))
            .map(e => e.id || e.dataset.room || e.dataset.leave || e.dataset.testid
                      || e.textContent.trim())"""
    )
    reached: list[str] = []
    for _ in range(len(controls) + 5):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                """() => { const e = document.activeElement;
                   return e.id || e.dataset.room || e.dataset.leave || e.dataset.testid
                          || e.textContent.trim(); }"""
            )
        )
    assert set(controls) <= set(reached), f"not reachable: {set(controls) - set(reached)}"

    # Operable: the members menu opens with Enter, a room is entered and left with the keyboard.
    page.locator("#members-summary").focus()
    page.keyboard.press("Enter")
    expect(page.locator("details.members")).to_have_attribute("open", "")
    page.locator("#room-input").focus()
    page.keyboard.type("keys-room")
    page.keyboard.press("Enter")
    expect(page.locator("#room-title")).to_have_text("keys-room")
    page.locator('button[data-leave="keys-room"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#room-title")).to_have_text("lobby")
    expect(chat.room_button("keys-room")).to_have_count(0)
