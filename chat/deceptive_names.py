"""Names that pass for someone else or for nothing at all. Pure.

A chat name is shown next to every message, so it must be visible and must not imitate
another name: no invisible fillers (U+3164 HANGUL FILLER, U+2800 BRAILLE PATTERN BLANK, ...)
or other default-ignorable characters, no letters of one script hidden among another's
(a Cyrillic U+0430 "a" in "alice"), no towers of combining marks. Genuine names in any
single script, and emoji (with their joiners, variation selectors and modifiers), are fine.

The Unicode data comes from maintained libraries rather than a table of our own: `regex`
for the Default_Ignorable_Code_Point (see invisible_text.py) and emoji properties, and
`confusable_homoglyphs` (Unicode's confusables.txt and Scripts.txt) for look-alikes. Both are
imported on first use: most names are printable ASCII and never get here.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

from chat import combining_marks, invisible_text

MAX_COMBINING_RUN = 2
_CONTROL_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


@cache
def _emoji_sequence() -> Any:
    import regex

    # A whole emoji sequence: tag flags (U+1F3F4, tag letters, cancel tag); keycaps (digit,
    # VS16, U+20E3); pictographs joined by ZWJ, each with an optional VS16 or skin tone.
    pictograph = r"\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?"
    return regex.compile(
        r"\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F"
        r"|[0-9#*]\uFE0F\u20E3"
        rf"|{pictograph}(?:\u200D{pictograph})*"
    )


# Scripts that one writing system mixes by design (UTS #39's "highly restrictive" sets):
# Japanese writes Han with both kana; Chinese uses Bopomofo; Korean mixes Hangul and Han.
# Within a family, look-alikes such as katakana "カ" and Han "力" are ordinary spelling.
_FAMILY = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HAN": "CJK", "BOPOMOFO": "CJK", "HANGUL": "CJK"}
# Punctuation, digits, emoji and combining marks belong to no script of their own.
_NO_SCRIPT = {"COMMON", "INHERITED"}


def imitates_another_script(name: str) -> bool:
    """True when letters of one script stand among another's that they look like."""
    from confusable_homoglyphs import categories, confusables

    scripts: dict[str, set[str]] = {}
    letters = []
    for ch in name:
        script = categories.alias(ch)
        if script in _NO_SCRIPT:
            continue
        scripts.setdefault(_FAMILY.get(script, script), set()).add(script)
        letters.append((ch, _FAMILY.get(script, script)))
    if len(scripts) < 2:
        return False  # one script, however exotic, is how people write their names
    for family, members in scripts.items():
        others = "".join(ch for ch, of in letters if of != family)
        if confusables.is_confusable(others, preferred_aliases=sorted(members)):
            return True
    return False


def problem(name: str) -> str | None:
    """Why `name` deceives, in words for its owner; None when it is fine."""
    # Emoji sequences legitimately hold joiners and selectors: judge the rest of the name.
    rest = _emoji_sequence().sub("", name)
    for ch in rest:
        if unicodedata.category(ch) in _CONTROL_CATEGORIES:
            return "must not contain control characters or invisible formatting"
    for ch in rest:
        if invisible_text.is_invisible(ch):
            return f"must not contain invisible characters such as U+{ord(ch):04X}"
    normal = unicodedata.normalize("NFC", rest)
    if normal and combining_marks.is_stacking(normal[0]):
        return "must not start with a combining mark"
    if combining_marks.longest_run(normal) > MAX_COMBINING_RUN:
        return f"must not stack more than {MAX_COMBINING_RUN} combining marks on a letter"
    if imitates_another_script(normal):
        return "mixes scripts with look-alike letters (such as Cyrillic letters among Latin ones)"
    return None
