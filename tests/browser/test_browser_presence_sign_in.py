"""Members by user id in sign-in mode (issue 20, item 5): two accounts with one display name are
two entries, each with its provider, and the count is of accounts."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

# The sign-in stack, its tabs and the sign-in steps are those of the sign-in tests (this module
# gets a stack of its own: the fixture is per module).
from .test_browser_sign_in import open_tab, sign_in, sign_in_stack  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.stack]

EMAIL = "pat@contoso.com"


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
