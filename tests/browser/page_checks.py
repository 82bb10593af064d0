"""Checks run on a page state: axe-core (the accessibility engine), clipped text, horizontal
overflow, and a screenshot for a person to look at.

axe-core comes from the npm registry, pinned by tests/browser/axe/package-lock.json and installed
with `npm ci` (by `make test`, or here on first use). It is handed to the page with
page.evaluate, which the page's CSP does not govern, so the page is tested under its real policy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
from playwright.sync_api import Page

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
# The impacts the bar is set at: zero of these in every state tested.
BLOCKING = ("serious", "critical")

# Boxes whose text must be readable whole: notices, names, badges, the status, buttons. Room
# names in the list are cut with an ellipsis on purpose (their title and accessible name hold
# them whole: test_browser_presence.py), and tall messages collapse on purpose.
TEXT_BOXES = (
    "li.system, .from, .idp, .badge, .member, .member-name, .member-you, .same-name-note,"
    " .who-name, .room-title, #status, .btn, .typing, .field-error, .rooms-hint,"
    " label:not(.visually-hidden)"
)

CLIPPED_JS = """
(selector) => {
  const out = [];
  const visible = (e) =>
    e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const clipper = (e) => {
    for (let a = e.parentElement; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX !== "visible" || s.overflowY !== "visible") return a;
    }
    return null;
  };
  for (const e of document.querySelectorAll(selector)) {
    if (!visible(e)) continue;
    const name = `${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 40)}"`;
    if (getComputedStyle(e).display === "inline") {
      // An inline box has no scroll size: it must lie inside whatever clips it.
      const box = clipper(e);
      if (!box) continue;
      const r = e.getBoundingClientRect(), b = box.getBoundingClientRect();
      // A box that scrolls shows the rest by scrolling; only a hidden overflow cuts text.
      const s = getComputedStyle(box);
      if (s.overflowX !== "hidden" && s.overflowY !== "hidden" && s.overflowX !== "clip") continue;
      const outside = r.left < b.left - 1 || r.right > b.right + 1
        || r.top < b.top - 1 || r.bottom > b.bottom + 1;
      if (outside) {
        out.push(`${name} is cut by its ${box.tagName.toLowerCase()}.${box.className}`);
      }
    } else if (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1) {
      out.push(`${name}: ${e.clientWidth}x${e.clientHeight} < ${e.scrollWidth}x${e.scrollHeight}`);
    }
  }
  return out;
}
"""


@cache
def axe_source() -> str:
    """axe-core's script, installed from the lock on first use (`npm ci`; no browser download)."""
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            message = "npm is needed to install axe-core (tests/browser/axe): apt-get install npm"
            if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=AXE_DIR,
            check=True,
            timeout=300,
        )
    return AXE_SCRIPT.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict]:
    """axe-core's violations on the page as it is now (every rule axe runs by default)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(
        """async () => {
            const result = await window.axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary),
            }));
        }"""
    )


def blocking(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING]


def clipped_text(page: Page) -> list[str]:
    return page.evaluate(CLIPPED_JS, TEXT_BOXES)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: none)."""
    return page.evaluate(
        "() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"
    )


def check_state(page: Page, name: str, screens: Path) -> list[dict]:
    """Screenshot the state, then assert: no clipped text, no sideways scroll, no serious or
    critical axe violation. Returns every violation (the lesser ones too) for the record."""
    size = page.viewport_size or {"width": 0, "height": 0}
    screens.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=screens / f"{name}-{size['width']}x{size['height']}.png")
    cut = clipped_text(page)
    assert cut == [], f"{name}: clipped text: {cut}"
    wider = horizontal_overflow(page)
    assert wider == 0, f"{name}: the page scrolls sideways by {wider} px"
    violations = axe_violations(page)
    assert blocking(violations) == [], f"{name}: axe-core found {blocking(violations)}"
    return violations
