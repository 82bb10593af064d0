"""Runs of combining marks: the stuff of "Zalgo" text that draws over the lines above. Pure.

Counted on the NFC form, where an accented letter that has a precomposed form carries no mark
at all, so only genuinely stacked marks count.
"""

from __future__ import annotations

import unicodedata

# Mn: nonspacing (accents, Hebrew points, Thai tone marks); Me: enclosing. Mc (spacing marks of
# Indic scripts) take their own width and cannot tower, so they do not count.
_STACKING = {"Mn", "Me"}


def is_stacking(ch: str) -> bool:
    return unicodedata.category(ch) in _STACKING


def longest_run(text: str) -> int:
    """The most stacking marks in a row in `text` (as given: normalise first if needed)."""
    longest = run = 0
    for ch in text:
        run = run + 1 if is_stacking(ch) else 0
        longest = max(longest, run)
    return longest


def cap(text: str, limit: int) -> str:
    """`text` in NFC with every run of stacking marks cut to at most `limit`."""
    if text.isascii():
        return text
    kept: list[str] = []
    run = 0
    for ch in unicodedata.normalize("NFC", text):
        run = run + 1 if is_stacking(ch) else 0
        if run <= limit:
            kept.append(ch)
    return "".join(kept)
