"""Members by user id in sign-in mode (issue 20, item 5): two accounts with one display name are
two entries, each with its provider, and the count is of accounts."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from .page_checks import check_state

# The sign-in stack, its tabs and the sign-in steps are those of the sign-in tests (this module
# gets a stack of its own: the fixture is per module).
from .test_browser_sign_in import LONG_EMAIL, open_tab, sign_in, sign_in_stack  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.stack]

EMAIL = "pat@contoso.com"
WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def test_two_accounts_with_one_name_are_two_members_with_their_providers(
    open_tab,  # noqa: F811
) -> None:
    microsoft, github = open_tab(), open_tab()
    sign_in(microsoft, "Microsoft", EMAIL)
    sign_in(github, "GitHub", EMAIL)

    for chat, me in ((microsoft, "Microsoft"), (github, "GitHub")):
        members = chat.page.locator("#member-list li")
        expect(members).to_have_count(2)
        expect(members.locator(".member-name")).to_have_text([EMAIL, EMAIL])
        expect(members.locator(".idp")).to_have_text(["Microsoft", "GitHub"])  # aad, github
        expect(chat.page.locator("#members-summary")).to_have_text("2 here")
        # Each knows which of the two it is.
        mine = members.filter(has=chat.page.locator(".member-you"))
        expect(mine.locator(".idp")).to_have_text(me)


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280x800", "390x844"])
def test_the_sign_in_card_and_signed_in_chat_pass_axe_and_fit(
    open_tab,  # noqa: F811
    artifacts_dir: Path,
    viewport: dict,
) -> None:
    screens = artifacts_dir / "screens"
    first, second = open_tab(viewport=viewport), open_tab(viewport=viewport)
    expect(first.page.locator("#sign-in-panel")).to_be_visible()
    check_state(first.page, "sign-in", screens)
    sign_in(first, "Microsoft", LONG_EMAIL)
    sign_in(second, "GitHub", LONG_EMAIL)
    # Each viewport's own text: the stack (and so the lobby's history) is shared by both
    # runs, and the other run's line has the same name (it came back through history).
    text = f"same name, another account ({viewport['width']} px)"
    second.send(text)
    expect(first.chat_line(LONG_EMAIL, text)).to_have_count(1)
    first.page.locator("#members-summary").click()
    expect(first.page.locator("#member-list li")).to_have_count(2)
    check_state(first.page, "signed-in-members-open", screens)
