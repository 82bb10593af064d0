"""Moderation on the page (issue 19), sign-in mode, in Chromium: the member menu (Kick, Ban,
Mute, Unmute, Make/Remove moderator) by mouse and keyboard, the room panel (slow mode, the bans
and mutes seen, with Unban/Unmute), slow mode's indicator and countdown, the topic editor,
the message menu's Delete for moderators and Report, and the admins' Reports panel; axe and
the clipping checks with each open, on a desktop and at 390 px. The stack has one admin
(ChatAdmins: ada's Microsoft account); each test uses a fresh room, owned by its first joiner."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, expect

from devstack.host.easy_auth import default_id
from tests.support.stack import LocalStack, local_stack

from .chat_page import ChatPage
from .page_checks import check_state

# The sign-in tabs and steps are the sign-in tests'; the stack is this module's own (below),
# with an admin: `open_tab` asks for `sign_in_stack` by name and gets this one.
from .test_browser_sign_in import open_tab, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.stack]

PHONE_390 = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def sign_in_stack() -> Iterator[LocalStack]:
    admins = {"ChatAdmins": f"aad:{default_id('aad', 'ada')}"}
    with local_stack(sign_in=True, extra_host_env=admins) as stack:
        yield stack


def fresh_room() -> str:
    return f"mod{uuid.uuid4().hex[:8]}"


def owner_and_member(open_tab, room: str) -> tuple[ChatPage, ChatPage]:  # noqa: F811
    """olivia (Microsoft) owns a fresh room, max (GitHub) is in it; both member lists full."""
    owner, member = open_tab(), open_tab()
    sign_in(owner, "Microsoft", "olivia")
    sign_in(member, "GitHub", "max")
    owner.enter_room(room)  # the first signed-in join of a fresh room: olivia owns it
    expect(owner.page.locator("#member-list li")).to_have_count(1)
    member.enter_room(room)
    expect(owner.page.locator("#member-list li")).to_have_count(2)
    expect(member.page.locator("#member-list li")).to_have_count(2)
    for chat in (owner, member):
        expect(chat.page.locator('#room-topic[data-loaded="true"]')).to_have_count(1)
    return owner, member


def member_line(chat: ChatPage, name: str) -> Locator:
    return chat.page.locator("#member-list li").filter(has_text=name)


def test_the_owner_kicks_a_member_who_is_told_and_a_member_sees_no_controls(
    open_tab,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    room = fresh_room()
    owner, member = owner_and_member(open_tab, room)
    owner_members = owner.page.locator("#member-list li")

    # The owner sees the menu on max's line (none on her own).
    owner.page.locator("#members-summary").click()
    max_line = member_line(owner, "max")
    max_line.get_by_role("button", name="Moderate max").click()
    expect(max_line.get_by_role("menuitem", name="Kick max")).to_be_visible()
    for label in ("Kick", "Ban 10 min", "Ban 1 day", "Ban forever", "Mute 10 min", "Unmute"):
        expect(max_line.get_by_role("menuitem", name=re.compile(f"^{label}"))).to_have_count(1)
    expect(max_line.get_by_role("menuitem", name="Make max a moderator")).to_have_count(1)
    expect(max_line.get_by_role("menuitem", name="Remove max as moderator")).to_have_count(0)
    expect(member_line(owner, "olivia").locator(".member-mod")).to_have_count(0)
    check_state(owner.page, "moderation-controls-open", artifacts_dir / "screens")

    # A plain member sees no moderation (the owner's line offers only Block, under "More"), no
    # topic editing, no room panel, no Reports.
    member.page.locator("#members-summary").click()
    olivia = member_line(member, "olivia")
    moderate = re.compile("^Moderate")
    expect(member.page.locator("#member-list").get_by_role("button", name=moderate)).to_have_count(
        0
    )
    olivia.get_by_role("button", name="More for olivia").click()
    expect(olivia.get_by_role("menuitem")).to_have_count(1)
    expect(olivia.get_by_role("menuitem", name="Block olivia")).to_be_visible()
    member.page.keyboard.press("Escape")
    expect(olivia.get_by_role("button", name="More for olivia")).to_be_focused()
    expect(member.page.locator("#topic-edit")).to_be_hidden()
    expect(member.page.locator("#room-mod")).to_be_hidden()
    expect(member.page.locator('#reports-button[data-admin="false"]')).to_be_hidden()

    # Anyone may report someone else's message from its menu; axe passes with the menu open.
    owner.send("report me")
    line = member.chat_line("olivia", "report me")
    expect(line).to_be_visible()
    line.focus()
    member.page.keyboard.press("Enter")
    report = member.page.get_by_role("menuitem", name="Report")
    expect(report).to_be_visible()
    expect(member.page.get_by_role("menuitem", name="Delete")).to_have_count(0)  # not theirs
    check_state(member.page, "message-menu-report", artifacts_dir / "screens")
    # Report asks for a reason first (by mouse here; by keyboard in the Reports test).
    report.click()
    dialog = member.page.get_by_role("dialog", name="Report this message to the admins")
    expect(dialog).to_be_visible()
    reason = dialog.get_by_role("textbox", name="Reason (optional)")
    expect(reason).to_be_focused()
    reason.fill("rude to everyone")
    expect(dialog.locator(".report-count")).to_have_text("16 / 200")
    check_state(member.page, "report-dialog", artifacts_dir / "screens")
    # Cancel sends nothing and gives the focus back to the message's menu button.
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    actions = line.get_by_role("button", name="Actions for this message")
    expect(actions).to_be_focused()
    actions.click()
    member.page.get_by_role("menuitem", name="Report").click()
    dialog.get_by_role("textbox", name="Reason (optional)").fill("rude to everyone")
    dialog.get_by_role("button", name="Send report").click()
    thanks = "Thank you: the admins will look at it."
    expect(dialog.get_by_role("status")).to_have_text(thanks)
    expect(member.local_notes(thanks)).to_have_count(1)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    expect(actions).to_be_focused()
    # Again: the server's refusal is shown in the dialog.
    actions.click()
    member.page.get_by_role("menuitem", name="Report").click()
    dialog.get_by_role("button", name="Send report").click()
    expect(dialog.get_by_role("status")).to_have_text(
        "Not done: you have reported this message already."
    )
    member.page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    max_line.get_by_role("menuitem", name="Kick max").click()
    notice = member.page.locator("#mod-notice")
    expect(notice).to_be_visible()
    expect(notice).to_have_text(
        f"You were removed from {room} by olivia. You may join it again. Join {room} again"
    )
    expect(owner_members).to_have_count(1)
    expect(owner.page.locator("#mod-notice")).to_be_hidden()
    notice.get_by_role("button", name=f"Join {room} again").click()
    expect(owner_members).to_have_count(2)


def test_the_member_menu_by_keyboard_appoints_removes_mutes_and_unmutes(
    open_tab,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    owner, member = owner_and_member(open_tab, fresh_room())
    keys = owner.page.keyboard
    owner.page.locator("#members-summary").click()
    max_line = member_line(owner, "max")
    button = max_line.get_by_role("button", name="Moderate max")
    menu = max_line.get_by_role("menu")

    # Enter opens on the first item; the arrows move and wrap; Esc closes back on the button.
    button.focus()
    keys.press("Enter")
    expect(menu).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(max_line.get_by_role("menuitem", name="Kick max")).to_be_focused()
    keys.press("ArrowDown")
    expect(max_line.get_by_role("menuitem", name="Ban 10 min: max")).to_be_focused()
    keys.press("ArrowUp")
    keys.press("ArrowUp")  # wraps to the last: Block (blocks.js's entry, after moderation's)
    expect(max_line.get_by_role("menuitem", name="Block max")).to_be_focused()
    keys.press("ArrowUp")
    expect(max_line.get_by_role("menuitem", name="Make max a moderator")).to_be_focused()
    keys.press("Escape")
    expect(menu).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")

    # ArrowUp on the button opens on the last item; Enter appoints max.
    keys.press("ArrowUp")
    expect(max_line.get_by_role("menuitem", name="Block max")).to_be_focused()
    keys.press("ArrowUp")
    expect(max_line.get_by_role("menuitem", name="Make max a moderator")).to_be_focused()
    keys.press("Enter")
    expect(button).to_be_focused()  # back on the button, even though the list was redrawn
    expect(member.page.locator("#topic-edit")).to_be_visible()  # max now moderates
    expect(member.page.locator("#room-mod")).to_be_visible()
    keys.press("Enter")
    expect(max_line.get_by_role("menuitem", name="Remove max as moderator")).to_have_count(1)
    expect(max_line.get_by_role("menuitem", name="Make max a moderator")).to_have_count(0)
    # A moderator has no moderation on the owner: only Block, under "More".
    member.page.locator("#members-summary").click()
    olivia = member_line(member, "olivia")
    expect(olivia.get_by_role("button", name=re.compile("^Moderate"))).to_have_count(0)
    expect(olivia.get_by_role("button", name="More for olivia")).to_have_count(1)

    # By mouse: remove him again.
    max_line.get_by_role("menuitem", name="Remove max as moderator").click()
    expect(member.page.locator("#topic-edit")).to_be_hidden()
    expect(member.page.locator("#room-mod")).to_be_hidden()

    # Mute (keyboard: End, then up to "Mute 10 min"), told; the room panel lists it.
    button.focus()
    keys.press("Enter")
    for _ in range(5):
        keys.press("ArrowDown")
    expect(max_line.get_by_role("menuitem", name="Mute 1 h: max")).to_be_focused()
    keys.press("Enter")
    expect(member.page.locator("#mod-notice")).to_contain_text("You were muted in")
    member.send("can I talk?")
    expect(member.rejections().filter(has_text="you are muted in")).to_have_count(1)
    owner.page.locator("#room-mod-summary").click()
    listed = owner.page.locator("#room-mod-body .restricted")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("max — muted until")
    check_state(owner.page, "moderation-room-panel", artifacts_dir / "screens")
    listed.get_by_role("button", name="Unmute max").click()
    expect(owner.page.locator("#room-mod-body .restricted")).to_have_count(0)
    expect(owner.page.locator("#room-mod-body .restricted-none")).to_have_text("Nobody.")
    expect(member.page.locator("#mod-notice")).to_contain_text("may post in")
    member.send("thanks")
    expect(owner.chat_line("max", "thanks")).to_be_visible()

    # Unmute from the member menu too (a mute from before the page loaded is not listed).
    max_line.get_by_role("button", name="Moderate max").click()
    max_line.get_by_role("menuitem", name="Unmute max").click()
    expect(member.page.locator("#mod-notice")).to_contain_text("may post in")


def test_a_ban_is_listed_and_lifted_from_the_room_panel(open_tab) -> None:  # noqa: F811
    room = fresh_room()
    owner, member = owner_and_member(open_tab, room)
    owner.page.locator("#members-summary").click()
    max_line = member_line(owner, "max")
    max_line.get_by_role("button", name="Moderate max").click()
    max_line.get_by_role("menuitem", name="Ban forever: max").click()
    expect(member.page.locator("#mod-notice")).to_contain_text("You were banned from")
    expect(owner.page.locator("#member-list li")).to_have_count(1)
    owner.page.locator("#room-mod-summary").click()
    listed = owner.page.locator("#room-mod-body .restricted")
    expect(listed).to_have_text(re.compile("max — banned until lifted"))
    # Keyboard: the Unban button is a Tab stop; Enter lifts the ban.
    listed.get_by_role("button", name="Unban max").focus()
    owner.page.keyboard.press("Enter")
    expect(owner.page.locator("#room-mod-body .restricted")).to_have_count(0)
    expect(member.page.locator("#mod-notice")).to_contain_text("may join")
    member.page.get_by_role("button", name=f"Join {room} again").click()
    expect(member.page.locator("#mod-notice")).to_be_hidden()
    expect(owner.page.locator("#member-list li")).to_have_count(2)


def test_slow_mode_is_set_shown_to_everyone_and_counted_down_after_posting(
    open_tab,  # noqa: F811
) -> None:
    owner, member = owner_and_member(open_tab, fresh_room())
    expect(member.page.locator("#slow-indicator")).to_be_hidden()
    owner.page.locator("#room-mod-summary").click()
    owner.page.locator("#slow-choice").select_option("30")
    owner.page.get_by_role("button", name="Set slow mode").click()
    for chat in (owner, member):
        expect(chat.page.locator("#slow-indicator")).to_have_text(
            "Slow mode: one message every 30 s"
        )

    # The member posts: the composer counts the wait down; a second message is refused and
    # the refusal's wait is shown.
    wait = member.page.locator("#slow-wait")
    member.send("first")
    expect(owner.chat_line("max", "first")).to_be_visible()
    expect(wait).to_have_text(re.compile(r"^Slow mode: you can post again in ([12]\d|30) s$"))
    first = int(re.findall(r"\d+", wait.inner_text())[0])
    expect(wait).not_to_have_text(f"Slow mode: you can post again in {first} s", timeout=3000)
    member.send("second")
    expect(member.rejections().filter(has_text="is in slow mode")).to_have_count(1)
    expect(wait).to_be_visible()

    # The owner is free of slow mode: no countdown.
    owner.send("owner one")
    owner.send("owner two")
    expect(member.chat_line("olivia", "owner two")).to_be_visible()
    expect(owner.page.locator("#slow-wait")).to_be_hidden()

    # Custom, by keyboard: out of range is refused on the page, then 5 s with Enter.
    owner.page.locator("#slow-choice").select_option("custom")
    custom = owner.page.locator("#slow-custom")
    expect(custom).to_be_focused()
    custom.fill("21601")
    custom.press("Enter")
    expect(owner.page.locator("#slow-error")).to_contain_text("whole seconds from 0 to 21600")
    custom.fill("5")
    custom.press("Enter")
    expect(member.page.locator("#slow-indicator")).to_have_text("Slow mode: one message every 5 s")
    owner.page.locator("#slow-choice").select_option("0")
    owner.page.get_by_role("button", name="Set slow mode").click()
    expect(member.page.locator("#slow-indicator")).to_be_hidden()


def test_the_topic_is_edited_inline_saved_with_enter_cancelled_with_esc(
    open_tab,  # noqa: F811
) -> None:
    owner, member = owner_and_member(open_tab, fresh_room())
    edit = owner.page.locator("#topic-edit")
    expect(edit).to_have_text("Add a topic")
    edit.click()
    field = owner.page.locator("#topic-input")
    expect(field).to_be_focused()
    field.fill("Be kind")
    expect(owner.page.locator("#topic-counter")).to_have_text("7/200")
    field.press("Enter")
    for chat in (owner, member):
        expect(chat.page.locator("#room-topic")).to_have_text("Be kind")
    expect(field).to_have_count(0)
    expect(edit).to_be_focused()
    expect(edit).to_have_text("Edit topic")

    # Keyboard: Enter on the button edits, Esc cancels and gives the focus back.
    owner.page.keyboard.press("Enter")
    expect(field).to_be_focused()
    expect(field).to_have_value("Be kind")
    owner.page.keyboard.type(" please")
    owner.page.keyboard.press("Escape")
    expect(field).to_have_count(0)
    expect(edit).to_be_focused()
    expect(owner.page.locator("#room-topic")).to_have_text("Be kind")

    # Too long: the counter says so and nothing is sent; a look-alike mix: the server says why.
    edit.click()
    field.fill("x" * 201)
    expect(owner.page.locator("#topic-counter")).to_have_text("201/200")
    field.press("Enter")
    expect(owner.page.locator("#topic-error")).to_have_text("A topic has at most 200 characters.")
    field.fill("P\u0430ypal support")  # a Cyrillic a (U+0430) among Latin letters
    field.press("Enter")
    expect(owner.page.locator("#topic-error")).to_contain_text("look-alike")
    expect(field).to_be_focused()
    owner.page.locator("#topic-editor").get_by_role("button", name="Cancel").click()
    expect(member.page.locator("#room-topic")).to_have_text("Be kind")
    expect(member.page.locator("#topic-edit")).to_be_hidden()


def test_moderators_delete_from_the_message_menu_by_keyboard(open_tab) -> None:  # noqa: F811
    owner, member = owner_and_member(open_tab, fresh_room())
    member.send("rude words")
    line = owner.chat_line("max", "rude words")
    expect(line).to_be_visible()
    keys = owner.page.keyboard

    # Enter opens the menu on its first item; Esc closes it back on the line's menu button.
    line.focus()
    keys.press("Enter")
    expect(owner.page.get_by_role("menuitem", name="Reply")).to_be_focused()
    keys.press("Escape")
    expect(owner.page.get_by_role("menu")).to_have_count(0)
    expect(line.get_by_role("button", name="Actions for this message")).to_be_focused()

    line.focus()
    keys.press("Enter")
    keys.press("End")
    expect(owner.page.get_by_role("menuitem", name="Report")).to_be_focused()
    keys.press("ArrowUp")
    expect(owner.page.get_by_role("menuitem", name="Delete")).to_be_focused()
    keys.press("Enter")
    expect(owner.page.get_by_role("button", name="Cancel")).to_be_focused()
    keys.press("Shift+Tab")
    expect(owner.page.get_by_role("button", name="Delete")).to_be_focused()
    keys.press("Enter")
    expect(member.chat_lines("max").filter(has_text="deleted a message")).to_have_count(1)


def test_an_admin_resolves_reports_in_the_reports_panel_by_keyboard_and_mouse(
    open_tab,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    room = fresh_room()
    owner, member = owner_and_member(open_tab, room)
    admin = open_tab()
    sign_in(admin, "Microsoft", "ada")
    admin.enter_room(room)
    reports_button = admin.page.locator("#reports-button")
    expect(reports_button).to_have_attribute("data-admin", "true")
    expect(reports_button).to_be_visible()
    expect(owner.page.locator('#reports-button[data-admin="false"]')).to_be_hidden()
    # An admin moderates every room: the topic editor, and a menu on the owner too.
    expect(admin.page.locator("#topic-edit")).to_be_visible()
    admin.page.locator("#members-summary").click()
    olivia = member_line(admin, "olivia")
    olivia.get_by_role("button", name="Moderate olivia").click()
    expect(olivia.get_by_role("menuitem", name="Make olivia a moderator")).to_have_count(0)
    expect(olivia.get_by_role("menuitem", name="Kick olivia")).to_be_visible()
    admin.page.keyboard.press("Escape")

    owner.send("spam one")
    owner.send("spam two")
    owner.send("spam three")
    keys = member.page.keyboard
    dialog = member.page.get_by_role("dialog", name="Report this message to the admins")
    for text in ("spam one", "spam two", "spam three"):
        line = member.chat_line("olivia", text)
        expect(line).to_be_visible()
        # Keyboard: Enter on the line opens its menu, End reaches Report, Enter asks why;
        # the reason is typed, Enter sends, the answer is read out there, Esc closes.
        line.focus()
        keys.press("Enter")
        keys.press("End")
        expect(member.page.get_by_role("menuitem", name="Report")).to_be_focused()
        keys.press("Enter")
        expect(dialog.get_by_role("textbox", name="Reason (optional)")).to_be_focused()
        keys.type(f"why {text}")
        keys.press("ArrowUp")  # moves in the text, not to another line of the log
        expect(dialog).to_be_visible()
        keys.press("Enter")
        thanks = "Thank you: the admins will look at it."
        expect(dialog.get_by_role("status")).to_have_text(thanks)
        expect(dialog.get_by_role("button", name="Close")).to_be_focused()
        keys.press("Escape")
        expect(dialog).to_have_count(0)
        expect(line.get_by_role("button", name="Actions for this message")).to_be_focused()
    expect(member.local_notes("Thank you: the admins will look at it.")).to_have_count(3)
    expect(admin.chat_line("olivia", "spam three")).to_be_visible()
    # Olivia deletes "spam three" herself: the panel says so (the server read it as deleted).
    mine = owner.chat_line("olivia", "spam three")
    mine.get_by_role("button", name="Actions for this message").click()
    owner.page.get_by_role("menuitem", name="Delete").click()
    owner.page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(admin.chat_lines("olivia").filter(has_text="deleted a message")).to_have_count(1)

    # Keyboard: Enter opens the panel on its first action; arrows move; Enter deletes.
    reports_button.focus()
    admin.page.keyboard.press("Enter")
    panel = admin.page.get_by_role("dialog", name="Open reports")
    expect(panel).to_be_visible()
    # Other tests' reports may be open too (one stack per module): this room's are ours.
    everyone = panel.locator("li.report")
    rows = everyone.filter(has_text="#" + room)
    expect(rows).to_have_count(3)
    # The author and the text as the server read them, the reason, and "deleted".
    expect(rows.nth(0).locator(".report-excerpt")).to_have_text("olivia: spam one")
    expect(rows.nth(0)).to_contain_text("Reported by max: why spam one")
    expect(rows.nth(1).locator(".report-excerpt")).to_have_text("olivia: spam two")
    expect(rows.nth(2).locator(".report-excerpt")).to_have_text("(message by olivia deleted)")
    expect(everyone.first.get_by_role("button", name=re.compile("^Dismiss"))).to_be_focused()
    check_state(admin.page, "reports-panel", artifacts_dir / "screens")
    delete = rows.nth(0).get_by_role("button", name=re.compile("^Delete message"))
    for _ in range(everyone.count() * 2):
        if delete.evaluate("b => b === document.activeElement"):
            break
        admin.page.keyboard.press("ArrowDown")
    expect(delete).to_be_focused()
    admin.page.keyboard.press("Enter")
    expect(member.chat_lines("olivia").filter(has_text="deleted a message")).to_have_count(2)
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("spam two")
    rows.nth(1).get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(rows).to_have_count(1)

    # Mouse: Dismiss closes the report and leaves the message.
    rows.nth(0).get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(rows).to_have_count(0)
    expect(member.chat_line("olivia", "spam two")).to_be_visible()
    expect(panel).to_be_visible()
    admin.page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(reports_button).to_be_focused()


def test_the_new_controls_fit_a_390_px_phone(open_tab, artifacts_dir: Path) -> None:  # noqa: F811
    room = fresh_room()
    owner, member = owner_and_member(open_tab, room)
    owner.page.set_viewport_size(PHONE_390)
    screens = artifacts_dir / "screens"
    owner.page.locator("#members-summary").click()
    max_line = member_line(owner, "max")
    max_line.get_by_role("button", name="Moderate max").click()
    expect(max_line.get_by_role("menu")).to_be_visible()
    check_state(owner.page, "phone-member-menu", screens)
    owner.page.keyboard.press("Escape")
    owner.page.locator("#room-mod-summary").click()
    owner.page.locator("#slow-choice").select_option("custom")
    owner.page.locator("#slow-custom").fill("45")
    owner.page.get_by_role("button", name="Set slow mode").click()
    expect(owner.page.locator("#slow-indicator")).to_have_text("Slow mode: one message every 45 s")
    check_state(owner.page, "phone-room-panel", screens)
    owner.page.locator("#topic-edit").click()
    owner.page.locator("#topic-input").fill("A long topic " * 10)
    check_state(owner.page, "phone-topic-editor", screens)
    owner.page.locator("#topic-input").press("Escape")
    member.page.set_viewport_size(PHONE_390)
    member.send("slow")
    expect(member.page.locator("#slow-wait")).to_be_visible()
    check_state(member.page, "phone-slow-wait", screens)
    owner.send("report me from a phone")
    line = member.chat_line("olivia", "report me from a phone")
    line.get_by_role("button", name="Actions for this message").click()
    member.page.get_by_role("menuitem", name="Report").click()
    dialog = member.page.get_by_role("dialog", name="Report this message to the admins")
    dialog.get_by_role("textbox", name="Reason (optional)").fill("a long reason " * 14)
    expect(dialog.locator(".report-count")).to_have_text("196 / 200")
    check_state(member.page, "phone-report-dialog", screens)
    dialog.get_by_role("button", name="Send report").click()
    expect(dialog.get_by_role("status")).to_have_text("Thank you: the admins will look at it.")

    admin = open_tab()
    admin.page.set_viewport_size(PHONE_390)
    sign_in(admin, "Microsoft", "ada")
    expect(admin.page.locator("#reports-button")).to_be_visible()
    admin.page.locator("#reports-button").click()
    expect(admin.page.locator("#reports-panel")).to_be_visible()
    # Ada never joined the room: its text and author are the server's, not this page's.
    ours = admin.page.locator("#reports-panel li.report").filter(has_text="#" + room)
    expect(ours.locator(".report-excerpt")).to_have_text("olivia: report me from a phone")
    check_state(admin.page, "phone-reports-panel", screens)
