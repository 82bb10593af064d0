"""Moderation on the page (issue 19), sign-in mode: the owner of a fresh room sees each member's
controls and kicks one, who is told so in the notice line; a plain member sees no controls; axe
finds nothing serious with the controls open; anyone may report a message from its menu."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from .page_checks import check_state

# The sign-in stack, its tabs and the sign-in steps are those of the sign-in tests (this module
# gets a stack of its own: the fixture is per module).
from .test_browser_sign_in import open_tab, sign_in, sign_in_stack  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.stack]

ROOM = "modroom"


def test_the_owner_kicks_a_member_who_is_told_and_a_member_sees_no_controls(
    open_tab,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    owner, member = open_tab(), open_tab()
    sign_in(owner, "Microsoft", "olivia")
    sign_in(member, "GitHub", "max")
    owner.enter_room(ROOM)  # the first signed-in join of a fresh room: olivia owns it
    owner_members = owner.page.locator("#member-list li")
    expect(owner_members).to_have_count(1)
    member.enter_room(ROOM)
    expect(owner_members).to_have_count(2)
    member_members = member.page.locator("#member-list li")
    expect(member_members).to_have_count(2)

    # The owner sees the controls on max's line (none on her own).
    owner.page.locator("#members-summary").click()
    max_line = owner_members.filter(has_text="max")
    max_line.locator("summary", has_text="Moderate").click()
    expect(max_line.get_by_role("button", name="Kick max")).to_be_visible()
    for label in ("Kick", "Ban 10 min", "Ban 1 day", "Ban forever", "Mute 10 min"):
        expect(max_line.get_by_role("button", name=label)).to_have_count(1)
    expect(max_line.get_by_role("button", name="Make max a moderator")).to_have_count(1)
    expect(owner_members.filter(has_text="olivia").locator(".member-mod")).to_have_count(0)
    check_state(owner.page, "moderation-controls-open", artifacts_dir / "screens")

    # A plain member sees none.
    expect(member.page.locator('#room-topic[data-loaded="true"]')).to_have_count(1)
    member.page.locator("#members-summary").click()
    expect(member_members.filter(has_text="olivia")).to_have_count(1)
    expect(member.page.locator("#member-list .member-mod")).to_have_count(0)

    # Anyone may report someone else's message from its menu; axe passes with the menu open.
    owner.send("report me")
    line = member.chat_line("olivia", "report me")
    expect(line).to_be_visible()
    line.focus()
    member.page.keyboard.press("Enter")
    report = member.page.get_by_role("menuitem", name="Report")
    expect(report).to_be_visible()
    check_state(member.page, "message-menu-report", artifacts_dir / "screens")
    report.click()
    expect(member.local_notes("Thank you: the admins will look at it.")).to_have_count(1)

    max_line.get_by_role("button", name="Kick max").click()
    notice = member.page.locator("#mod-notice")
    expect(notice).to_be_visible()
    expect(notice).to_have_text("You were removed from modroom by olivia. You may join it again.")
    expect(owner_members).to_have_count(1)
    expect(owner.page.locator("#mod-notice")).to_be_hidden()
