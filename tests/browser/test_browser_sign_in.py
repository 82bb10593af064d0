"""Sign-in mode in Chromium: the page's provider links, the local App Service Authentication
form, names from the sign-in, own messages by user id, signing out, forged headers."""

from __future__ import annotations

import http.server
import re
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect
from playwright.sync_api import Error as PlaywrightError

from devstack.host.easy_auth import NONCE_COOKIE
from tests.support.stack import LocalStack, local_stack

from .chat_page import DESKTOP, ChatPage, OpenChat, tabs

LONG_EMAIL = "a.very.long.first.name.and.surname.for.testing@subdivision.contoso.example"


@pytest.fixture(scope="module")
def sign_in_stack() -> Iterator[LocalStack]:
    with local_stack(sign_in=True) as stack:
        yield stack


@pytest.fixture
def open_tab(chromium: Browser, sign_in_stack: LocalStack) -> Iterator[OpenChat]:
    """Tabs on the sign-in stack (`sign_in_stack`, which a module may replace), as open_chat."""
    with tabs(chromium, sign_in_stack.options.chat_url) as open_page:
        yield open_page


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
    with tabs(chromium, redirecting_stack.options.chat_url) as open_page:
        chat = open_page()
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


# --- issue 15, items 4 and 5: what Chromium does with a hostile link or another site's page -----


class _OtherSite(http.server.BaseHTTPRequestHandler):
    """Serves one page, whatever the path: the attacker's (or any other site's) page."""

    def do_GET(self) -> None:
        body = self.server.page.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output to the test's own


@pytest.fixture
def other_site() -> Iterator[http.server.ThreadingHTTPServer]:
    """Another web server on this machine: its page is set per test, its port is its own."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OtherSite)
    server.page = ""  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def fetched_with_curl(host: str, provider: str) -> str:
    """The nonce of a sign-in form fetched with no browser and no cookie jar."""
    # Only the loopback host of the stack under test is requested.
    with urllib.request.urlopen(f"{host}/.auth/login/{provider}", timeout=10) as response:  # noqa: S310
        found = re.search(r'name="nonce" value="([^"]+)"', response.read().decode())
    assert found
    return found.group(1)


def auto_submitting_form(action: str, nonce: str, plant_cookie: bool, no_referrer: bool) -> str:
    plant = (
        # Cookies are not kept apart by port: a page on another port of 127.0.0.1 can set one
        # for the host's callback. Only the Origin check stops this.
        f'document.cookie = "{NONCE_COOKIE}={nonce}; path=/.auth/login/github/callback";'
        if plant_cookie
        else ""
    )
    meta = '<meta name="referrer" content="no-referrer">' if no_referrer else ""
    return (
        f"<!doctype html><html><head>{meta}</head><body>"
        f'<form method="post" action="{action}">'
        f'<input name="nonce" value="{nonce}"><input name="name" value="mallory">'
        '<input name="post_login_redirect_uri" value="/api/index"></form>'
        f"<script>{plant}document.forms[0].submit();</script></body></html>"
    )


@pytest.mark.parametrize(
    ("site_host", "plant_cookie", "no_referrer", "opened_the_form"),
    [
        ("localhost", False, False, False),  # another site; the victim never opened the form
        ("localhost", False, False, True),  # ... or did, and holds a nonce cookie of its own
        ("localhost", False, True, False),  # another site hiding its origin (Origin: null)
        ("127.0.0.1", True, False, False),  # another port: the same site, planting the cookie
    ],
)
def test_another_sites_form_cannot_sign_the_victim_in_as_the_attacker(
    chromium: Browser,
    sign_in_stack: LocalStack,
    other_site,
    site_host: str,
    plant_cookie: bool,
    no_referrer: bool,
    opened_the_form: bool,
) -> None:
    """Login CSRF (issue 15, item 5): the attacker's nonce, from curl, in the victim's browser."""
    host = sign_in_stack.host_base_url
    callback = f"{host}/.auth/login/github/callback"
    nonce = fetched_with_curl(host, "github")
    other_site.page = auto_submitting_form(callback, nonce, plant_cookie, no_referrer)
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        if opened_the_form:
            assert page.goto(f"{host}/.auth/login/github").status == 200
        with page.expect_response(lambda r: r.url == callback) as posted:
            page.goto(f"http://{site_host}:{other_site.server_port}/")
        assert posted.value.status == 403
        assert context.request.get(f"{host}/.auth/me").status == 401
        assert not [c for c in context.cookies() if c["name"] == "AppServiceAuthSession"]
    finally:
        context.close()


def test_a_sign_in_reached_from_another_sites_link_still_works(
    chromium: Browser, sign_in_stack: LocalStack, other_site
) -> None:
    """The nonce cookie is SameSite=Strict: set on a cross-site arrival, sent by our own form."""
    link = (
        f"{sign_in_stack.host_base_url}/.auth/login/github?post_login_redirect_uri=%2Fapi%2Findex"
    )
    other_site.page = f'<!doctype html><a id="go" href="{link}">chat</a>'
    # The chat page's recorders, on a tab that starts on the other site.
    with tabs(chromium, f"http://localhost:{other_site.server_port}/") as open_page:
        chat = open_page()
        chat.page.locator("#go").click()
        expect(chat.page.locator("h1")).to_have_text("Sign in with GitHub")
        chat.page.locator("#name").fill("grace")
        chat.page.locator("#sign-in").click()
        chat.page.wait_for_url(re.compile(r"/api/index$"))
        chat.expect_connected("grace")


@pytest.mark.parametrize(
    "link",
    [
        "/.auth/logout?post_logout_redirect_uri=/%09/evil.example/phish",
        "/.auth/logout?post_logout_redirect_uri=/%09%5Cevil.example",
    ],
)
def test_a_hostile_sign_out_link_stays_on_this_site(
    chromium: Browser, sign_in_stack: LocalStack, link: str
) -> None:
    """Open redirect (issue 15, item 4): Chromium drops the tab, and reads \\ as /."""
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(10_000)
    # Every request the tab makes, redirects included (a route would not see those).
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    try:
        page = context.new_page()
        try:
            response = page.goto(sign_in_stack.host_base_url + link)
        except PlaywrightError:  # this machine cannot resolve evil.example
            response = None
        assert [url for url in requested if urlsplit(url).hostname == "evil.example"] == []
        assert response is not None and response.status == 400
        assert urlsplit(page.url).netloc == urlsplit(sign_in_stack.host_base_url).netloc
    finally:
        context.close()


def test_a_hostile_sign_in_link_is_refused_before_the_form(
    chromium: Browser, sign_in_stack: LocalStack
) -> None:
    """post_login_redirect_uri=/%09/evil.example never reaches the form's hidden field."""
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
    try:
        page = context.new_page()
        response = page.goto(
            f"{sign_in_stack.host_base_url}/.auth/login/github"
            "?post_login_redirect_uri=/%09/evil.example/phish"
        )
        assert response is not None and response.status == 400
        expect(page.locator("#name")).to_have_count(0)
    finally:
        context.close()


def test_a_screen_reader_hears_name_provider_and_text_apart(open_tab) -> None:
    """Issue 20 item 9: not "pat@contoso.comMicrosoft: hello"; and two people of one name
    have avatars of different colours (from the user id), with the same initials."""
    microsoft, github = open_tab(), open_tab()
    sign_in(microsoft, "Microsoft", "pat@contoso.com")
    sign_in(github, "GitHub", "pat@contoso.com")
    microsoft.send("hello")
    github.send("hi there")
    line = github.chat_line("pat@contoso.com", "hello")
    expect(line).to_have_count(1, timeout=10_000)
    # What assistive technology reads for the bubble: name, provider and text, separated
    # ("pat@contoso.com ( Microsoft ) : hello" in Playwright's reading of the hidden brackets).
    heard = line.locator(".bubble").aria_snapshot()
    assert re.fullmatch(r'- paragraph: "pat@contoso\.com \( ?Microsoft ?\) ?: hello"', heard), heard
    # The badge itself still shows just the provider.
    expect(line.locator(".idp")).to_have_text("Microsoft")

    other = microsoft.chat_line("pat@contoso.com", "hi there")
    expect(other).to_have_count(1, timeout=10_000)
    theirs = microsoft.chat_line("pat@contoso.com", "hello")  # own line: no avatar
    expect(theirs.locator(".avatar")).to_have_count(0)
    expect(other.locator(".avatar")).to_have_text("P")
    expect(line.locator(".avatar")).to_have_text("P")
    colours = {
        other.locator(".avatar").get_attribute("data-colour"),
        line.locator(".avatar").get_attribute("data-colour"),
    }
    assert len(colours) == 2, colours
    backgrounds = {
        chat.locator(".avatar").evaluate("a => getComputedStyle(a).backgroundColor")
        for chat in (other, line)
    }
    assert len(backgrounds) == 2, backgrounds
