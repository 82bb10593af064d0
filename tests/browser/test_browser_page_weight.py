"""Page weight and first render (issue 20): the bytes a first visit transfers and the time until
the first message is on screen, measured in Chromium on the local stack.

The numbers go to tests/artifacts/browser/page-weight.json (median of RUNS cold loads, each in
a fresh context: nothing cached). The asserts are loose ceilings that catch a gross regression
(a page twice as heavy, a first message that takes seconds); the README's table holds the
measured values.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.stack import LocalStack

from .chat_page import DESKTOP, MESSAGE_TIMEOUT_MS, OpenChat

pytestmark = [pytest.mark.browser, pytest.mark.stack]

RUNS = 5
MAX_BYTES = 250_000
MAX_FIRST_MESSAGE_MS = 5_000

# Remembers the name (so the page joins by itself, as on a return visit) and notes the time the
# first chat line appears, from the start of navigation.
RETURNING_READER = """
(() => {
  try { localStorage.setItem("chat.name", "__NAME__"); } catch (_e) {}
  new MutationObserver((_records, observer) => {
    if (document.querySelector("#messages li.message")) {
      window.__firstMessageMs = performance.now();
      observer.disconnect();
    }
  }).observe(document, { subtree: true, childList: true });
})();
"""

MEASURE = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const sum = (list, key) => list.reduce((n, e) => n + (e[key] || 0), 0);
  const assets = resources.filter(e => new URL(e.name).pathname.includes("/static/"));
  const api = resources.filter(e => !new URL(e.name).pathname.includes("/static/"));
  return {
    transferred: nav.transferSize + sum(resources, "transferSize"),
    html: nav.encodedBodySize,
    assets: sum(assets, "encodedBodySize"),
    asset_count: assets.length,
    api: sum(api, "transferSize"),
    dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
    first_message_ms: Math.round(window.__firstMessageMs),
  };
}
"""


def test_page_weight_and_time_to_the_first_message(
    open_chat: OpenChat,
    chromium: Browser,
    chat_stack: LocalStack,
    unique: Callable[[str], str],
    artifacts_dir: Path,
) -> None:
    writer_name = unique("writer")
    writer = open_chat()
    writer.join(writer_name)
    writer.send("the first message a returning reader sees")
    expect(writer.chat_lines(writer_name)).to_have_count(1, timeout=MESSAGE_TIMEOUT_MS)

    runs = []
    for _ in range(RUNS):
        context = chromium.new_context(viewport=DESKTOP, locale="en-GB")
        try:
            context.add_init_script(RETURNING_READER.replace("__NAME__", unique("reader")))
            page = context.new_page()
            page.goto(chat_stack.options.chat_url)
            page.wait_for_function("() => window.__firstMessageMs !== undefined", timeout=10_000)
            runs.append(page.evaluate(MEASURE))
        finally:
            context.close()

    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    (artifacts_dir / "page-weight.json").write_text(
        json.dumps({"median": median, "runs": runs}, indent=2)
    )
    assert median["transferred"] < MAX_BYTES, median
    assert median["first_message_ms"] < MAX_FIRST_MESSAGE_MS, median
