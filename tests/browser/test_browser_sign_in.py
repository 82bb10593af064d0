"""Sign-in mode in Chromium: the page's provider links, the local App Service Authentication
form, names from the sign-in, own messages by user id, signing out, forged headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.support.stack import LocalStack, local_stack

from .chat_page import DESKTOP, ChatPage

LONG_EMAIL = "a.very.long.first.name.and.surname.for.testing@subdivision.contoso.example"


@pytest.fixture(scope="module")
def sign_in_stack() -> Iterator[LocalStack]:
    with local_stack(sign_in=True) as stack:
        yield stack


@pytest.fixture
def open_tab(chromium: Browser, sign_in_stack: LocalStack) -> Iterator:
    opened: list[ChatPage] = []

    def open_page(**context_options) -> ChatPage:
        context = chromium.new_context(viewport=DESKTOP, locale="en-GB", **context_options)
        context.set_default_timeout(10_000)
        chat = ChatPage.open(context, sign_in_stack.options.chat_url)
        opened.append(chat)
        return chat

    yield open_page
    try:
        for chat in opened:
            chat.assert_clean()
    finally:
        for chat in opened:
            chat.context.close()


def sign_in(chat: ChatPage, provider_label: str, name: str) -> None:
    """Click the provider's link on the page, fill in the local form, come back signed in."""
    panel = chat.page.locator("#sign-in-panel")
    expect(panel).to_be_visible()
    chat.page.get_by_role("link", name=f"Sign in with {provider_label}").click()
    expect(chat.page.locator("h1")).to_have_text(re.compile(f"Sign in with .*{provider_label}"))
    chat.page.locator("#name").fill(name)
    chat.page.locator("#sign-in").click()
    chat.page.wait_for_url(re.compile(r"/api/index$"))
    chat.expect_connected(name)
    expect(chat.page.locator("#who-name")).to_have_text(name)


def test_the_page_offers_each_provider_instead_of_the_name_form(open_tab) -> None:
    chat = open_tab()
    expect(chat.page.locator("#sign-in-panel")).to_be_visible()
    expect(chat.page.locator("#join-panel")).to_be_hidden()
    links = chat.page.locator("#sign-in-buttons a")
    expect(links).to_have_text(["Sign in with Microsoft", "Sign in with GitHub"])
    assert links.nth(1).get_attribute("href") == (
        "/.auth/login/github?post_login_redirect_uri=%2Fapi%2Findex"
    )
    expect(chat.page.locator("#sign-in-error")).to_have_text("")


def test_two_people_sign_in_chat_and_are_told_apart_by_provider(open_tab, artifacts_dir) -> None:
    microsoft, github = open_tab(), open_tab()
    sign_in(microsoft, "Microsoft", "alice")
    sign_in(github, "GitHub", "alice")  # the same display name, another provider
    expect(microsoft.page.locator("#who-idp")).to_have_text("Microsoft")
    expect(github.page.locator("#who-idp")).to_have_text("GitHub")

    microsoft.send("hello from Microsoft")
    github.send("hello from GitHub")
    for chat in (microsoft, github):
        expect(chat.chat_line("alice", "hello from Microsoft")).to_have_count(1)
        expect(chat.chat_line("alice", "hello from GitHub")).to_have_count(1)
    # Own messages by user id: each tab marks only its own line, though the names match.
    expect(microsoft.chat_line("alice", "hello from Microsoft")).to_have_class(
        re.compile(r"\bown\b")
    )
    expect(microsoft.chat_line("alice", "hello from GitHub")).not_to_have_class(
        re.compile(r"\bown\b")
    )
    expect(github.chat_line("alice", "hello from GitHub")).to_have_class(re.compile(r"\bown\b"))
    expect(github.chat_line("alice", "hello from Microsoft")).not_to_have_class(
        re.compile(r"\bown\b")
    )
    expect(microsoft.chat_line("alice", "hello from GitHub").locator(".idp")).to_have_text("GitHub")
    ids = microsoft.chat_lines("alice").evaluate_all("items => items.map(li => li.dataset.userId)")
    assert len(set(ids)) == 2 and all(i.startswith(("aad:", "github:")) for i in ids)
    microsoft.page.screenshot(path=str(artifacts_dir / "sign-in-two-alices.png"))


def test_a_look_alike_provider_name_is_shown_with_a_warning(open_tab) -> None:
    """Issue 15 item 6: a provider's name that mixes scripts with look-alike letters cannot be
    refused at sign-in; its lines carry the provider badge and a visible warning."""
    spoof = "\u0430lice-" + uuid.uuid4().hex[:6]  # a Cyrillic U+0430 among Latin letters
    plain = "alice-" + uuid.uuid4().hex[:6]
    watcher, spoofer = open_tab(), open_tab()
    sign_in(watcher, "GitHub", plain)
    sign_in(spoofer, "GitHub", spoof)
    spoofer.send("it is me")
    line = watcher.chat_line(spoof, "it is me")
    expect(line.locator(".idp")).to_have_text("GitHub")
    expect(line.locator(".lookalike")).to_be_visible()
    expect(line.locator(".lookalike")).to_contain_text("look-alike")
    expect(watcher.log.locator("li.system[data-event=joined] .lookalike")).to_have_count(1)
    watcher.send("me too")
    expect(spoofer.chat_line(plain, "me too")).to_have_count(1)
    expect(spoofer.chat_line(plain, "me too").locator(".lookalike")).to_have_count(0)


def test_a_long_email_name_works_and_signing_out_ends_the_chat(open_tab) -> None:
    chat = open_tab()
    sign_in(chat, "Microsoft", LONG_EMAIL)
    chat.send("long names are fine")
    expect(chat.chat_line(LONG_EMAIL, "long names are fine")).to_have_count(1)
    chat.page.locator("#sign-out").click()
    # Back on the page, signed out: negotiate is refused, the providers are offered again.
    expect(chat.page.locator("#sign-in-panel")).to_be_visible()
    expect(chat.page.locator("#chat-panel")).to_be_hidden()
    expect(chat.page.locator("#who")).to_be_hidden()
    status = chat.page.evaluate(
        "async () => (await fetch('negotiate?id=alice', {cache: 'no-store'})).status"
    )
    assert status == 401


def test_forged_principal_headers_from_the_browser_change_nothing(open_tab) -> None:
    chat = open_tab(
        extra_http_headers={
            "X-MS-CLIENT-PRINCIPAL-NAME": "admin@contoso.com",
            "X-MS-CLIENT-PRINCIPAL-ID": "00000000-0000-0000-0000-000000000000",
            "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
        }
    )
    expect(chat.page.locator("#sign-in-panel")).to_be_visible()
    expect(chat.status).not_to_have_attribute("data-state", "connected")


@pytest.fixture(scope="module")
def redirecting_stack() -> Iterator[LocalStack]:
    """The deployment's settings: RedirectToLoginPage, the webhook excluded."""
    with local_stack(sign_in=True, sign_in_action="RedirectToLoginPage") as stack:
        yield stack


def test_like_the_deployment_the_page_sends_you_to_sign_in_first(
    chromium: Browser, redirecting_stack: LocalStack
) -> None:
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        chat = ChatPage.open(context, redirecting_stack.options.chat_url)
        # Never the page first: straight to the (local) Entra sign-in.
        expect(chat.page).to_have_url(
            re.compile(r"/\.auth/login/aad\?post_login_redirect_uri=/api/index$")
        )
        expect(chat.page.locator("h1")).to_have_text("Sign in with Microsoft Entra ID")
        chat.page.locator("#name").fill("frank@contoso.com")
        chat.page.locator("#sign-in").click()
        chat.page.wait_for_url(re.compile(r"/api/index$"))
        chat.expect_connected("frank@contoso.com")
        chat.send("through the redirect")  # the webhook is excluded: the chat works
        expect(chat.chat_line("frank@contoso.com", "through the redirect")).to_have_class(
            re.compile(r"\bown\b")
        )
        chat.page.locator("#sign-out").click()
        expect(chat.page.locator("h1")).to_have_text("Sign in with Microsoft Entra ID")
        chat.assert_clean()
    finally:
        context.close()
