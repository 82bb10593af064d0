"""Blocks on the page (issue 19), sign-in mode: "Block" on a member's line hides their lines at
once (history included, after a reload too), their new messages never arrive, and "Unblock"
brings them back (other tabs following the frame: tests/e2e/test_blocks.py)."""

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
    expect(members.filter(has_text="bea").locator(".member-block")).to_have_count(0)  # not self
    members.filter(has_text="tom").get_by_role("button", name="Block tom").click()
    hidden = blocker.log.locator('li.system[data-event="blocked"]', has_text=HIDDEN)
    expect(hidden).to_have_count(1)  # the line already shown is hidden at once
    expect(blocker.chat_line("tom", "before the block")).to_have_count(0)
    expect(members.filter(has_text="tom").get_by_role("button", name="Unblock tom")).to_be_visible()

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
    members.filter(has_text="tom").get_by_role("button", name="Unblock tom").click()
    expect(blocker.chat_line("tom", "before the block")).to_be_visible()
    expect(blocker.chat_line("tom", "after the block")).to_be_visible()
    expect(hidden).to_have_count(0)
