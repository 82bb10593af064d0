"""Blocks on the page (issue 19), sign-in mode: "Block" in a member's menu hides their lines at
once (history included, after a reload too), their new messages never arrive, and "Unblock"
brings them back (other tabs following the frame: tests/e2e/test_blocks.py). The menu is the
member menu moderation uses: "Moderate <name>" for the room's owner, "More for <name>" for a
plain member, by mouse and by keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .test_browser_sign_in import open_tab, sign_in, sign_in_stack  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.stack]

ROOM = "blockroom"
HIDDEN = "1 hidden message from a blocked person"


def test_block_from_the_member_menu_hides_the_persons_lines(open_tab) -> None:  # noqa: F811
    blocker, blocked = open_tab(), open_tab()
    sign_in(blocker, "Microsoft", "bea")
    sign_in(blocked, "GitHub", "tom")
    blocker.enter_room(ROOM)
    blocked.enter_room(ROOM)
    blocked.send("before the block")
    expect(blocker.chat_line("tom", "before the block")).to_be_visible()

    members = blocker.page.locator("#member-list li")
    blocker.page.locator("#members-summary").click()
    expect(members).to_have_count(2)
    # Not on yourself; on tom, in the menu bea has as the room's owner (its first joiner).
    expect(members.filter(has_text="bea").get_by_role("button")).to_have_count(0)
    tom = members.filter(has_text="tom")
    tom.get_by_role("button", name="Moderate tom").click()
    tom.get_by_role("menuitem", name="Block tom").click()
    hidden = blocker.log.locator('li.system[data-event="blocked"]', has_text=HIDDEN)
    expect(hidden).to_have_count(1)  # the line already shown is hidden at once
    expect(blocker.chat_line("tom", "before the block")).to_have_count(0)
    tom.get_by_role("button", name="Moderate tom").click()
    expect(tom.get_by_role("menuitem", name="Unblock tom")).to_be_visible()
    blocker.page.keyboard.press("Escape")

    # Tom's next message reaches his own page, not bea's (bea's own marker comes after it).
    blocked.send("after the block")
    expect(blocked.chat_line("tom", "after the block")).to_be_visible()
    blocker.send("marker")
    expect(blocker.chat_line("bea", "marker")).to_be_visible()
    expect(hidden).to_have_count(1)
    expect(blocker.log).not_to_contain_text("after the block")

    # A reload reads GET /api/me/blocks: both lines of history are hidden.
    blocker.page.reload()
    blocker.expect_connected("bea")
    blocker.enter_room(ROOM)
    blocker.expect_history_loaded()
    expect(blocker.chat_line("bea", "marker")).to_be_visible()
    expect(hidden).to_have_count(2)
    expect(blocker.log).not_to_contain_text("the block")

    blocker.page.locator("#members-summary").click()
    tom.get_by_role("button", name="Moderate tom").click()
    tom.get_by_role("menuitem", name="Unblock tom").click()
    expect(blocker.chat_line("tom", "before the block")).to_be_visible()
    expect(blocker.chat_line("tom", "after the block")).to_be_visible()
    expect(hidden).to_have_count(0)


def test_a_plain_member_blocks_another_from_the_more_menu_by_keyboard(open_tab) -> None:  # noqa: F811
    """In the lobby nobody owns anything: ivy's menu on jon holds only Block, under "More"."""
    ivy, jon = open_tab(), open_tab()
    sign_in(ivy, "Microsoft", "ivy")
    sign_in(jon, "GitHub", "jon")
    jon.send("hello from jon")
    expect(ivy.chat_line("jon", "hello from jon")).to_be_visible()
    ivy.page.locator("#members-summary").click()
    line = ivy.page.locator("#member-list li").filter(has_text="jon")
    more = line.get_by_role("button", name="More for jon")
    keys = ivy.page.keyboard

    more.focus()
    keys.press("Enter")
    expect(line.get_by_role("menuitem")).to_have_count(1)
    expect(line.get_by_role("menuitem", name="Block jon")).to_be_focused()
    keys.press("Enter")
    expect(ivy.chat_line("jon", "hello from jon")).to_have_count(0)
    expect(more).to_be_focused()  # back on the button, though the list was redrawn
    keys.press("ArrowDown")
    expect(line.get_by_role("menuitem", name="Unblock jon")).to_be_focused()
    keys.press("Escape")
    expect(more).to_be_focused()
    expect(line.get_by_role("menuitem", name="Unblock jon")).to_be_hidden()

    # By mouse: unblock; the line is back.
    more.click()
    line.get_by_role("menuitem", name="Unblock jon").click()
    expect(ivy.chat_line("jon", "hello from jon")).to_be_visible()
