"""Characters that draw nothing: Unicode's default-ignorables and blank-looking symbols. Pure.

Default_Ignorable_Code_Point (fillers such as U+3164 HANGUL FILLER, zero-width characters,
variation selectors, ...) comes from the `regex` library's Unicode data, imported on first use.
"""

from __future__ import annotations

from functools import cache
from typing import Any

# Not default-ignorable in Unicode, yet drawn as nothing: the favourite blank-name filler.
BLANK_SYMBOLS = "\u2800"


@cache
def _pattern() -> Any:
    import regex

    return regex.compile(rf"[\p{{Default_Ignorable_Code_Point}}{BLANK_SYMBOLS}]")


def is_invisible(ch: str) -> bool:
    return _pattern().match(ch) is not None


def shows_nothing(text: str) -> bool:
    """True when every character of `text` is white space or invisible."""
    return all(ch.isspace() or is_invisible(ch) for ch in text)
