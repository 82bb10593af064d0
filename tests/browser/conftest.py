"""Browser fixtures: Debian's Chromium through Playwright, the local stack, chat tabs.

Chromium is never downloaded: the tests use the system's `chromium` (Debian package). Where it
is missing they skip with the install command, except in CI (CI=true), where a missing browser
must fail the run instead of hiding the browser tests.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.support.stack import LocalStack, local_stack

from .chat_page import ChatPage, Joined, OpenChat, tabs

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "browser"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
# Headless on a machine with no network: no sandbox (containers, root), no GPU, and none of
# Chromium's own background traffic (component updates, first-run, safe browsing lists).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
INSTALL_HINT = (
    "Chromium is not installed; the browser tests use Debian's package: "
    "sudo apt-get update && sudo apt-get install -y chromium "
    "(or set CHROMIUM_PATH to a Chromium binary)"
)


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM_PATH")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        if in_ci():
            pytest.fail(f"CI=true and {INSTALL_HINT}", pytrace=False)
        pytest.skip(INSTALL_HINT)
    return path


@pytest.fixture(scope="module")
def playwright_driver(chromium_path: str) -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright_driver: Playwright, chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium per module; every test gets fresh contexts from it."""
    browser = playwright_driver.chromium.launch(
        executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def chat_stack() -> Iterator[LocalStack]:
    """The stack as `make run` wires it, on free ports; one per module."""
    with local_stack() as stack:
        yield stack


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


_names = itertools.count(1)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names that no other test in the session uses: every tab on a stack sees every broadcast."""

    def make(base: str) -> str:
        return f"{base}{next(_names)}"

    return make


@pytest.fixture
def open_chat(chromium: Browser, chat_stack: LocalStack) -> Iterator[OpenChat]:
    """open_chat(query="", viewport=DESKTOP) -> a ChatPage in a fresh context on the module's
    stack; every page must be clean at teardown (chat_page.tabs)."""
    with tabs(chromium, chat_stack.options.chat_url) as open_page:
        yield open_page


@pytest.fixture
def joined(open_chat: OpenChat, unique: Callable[[str], str]) -> Joined:
    """joined("alice") -> (a new tab that joined the chat under a name no other test uses,
    that name)."""

    def join(base: str) -> tuple[ChatPage, str]:
        name = unique(base)
        chat = open_chat()
        chat.join(name)
        return chat, name

    return join
