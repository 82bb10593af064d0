"""Is this text exactly one emoji? Pure; the rule reactions use (chat/reactions.py).

"One emoji" is one RGI emoji sequence (Unicode Technical Standard #51): what keyboards and
pickers produce, and what every platform draws as one picture. The `regex` library has no
`\\p{RGI_Emoji}` (it raises "unknown property"), and no emoji package is in the lock, so the
sequences are built from the properties it has, by UTS #51's grammar:

- a basic emoji: an Emoji_Presentation character, or an Emoji character with VS16 (U+FE0F);
- a modifier sequence: an Emoji_Modifier_Base and a skin tone (U+1F3FB-U+1F3FF);
- a flag: two regional indicators; a subdivision flag: U+1F3F4, tag letters, cancel tag;
- a keycap: 0-9, # or *, VS16, U+20E3;
- a ZWJ sequence: two or more of the first two kinds (with optional VS16) joined by U+200D.

Refused: text, a lone skin tone or regional indicator (components, not emoji), a text-style
character without VS16 (a bare digit, ©), two emoji, anything with spaces or other joiners.
Accepted though not RGI (drawn by no platform as one picture): a pair of regional indicators
that is no country (🇦🇦), a ZWJ sequence no vendor draws. A picker never sends them; refusing
them needs the RGI list itself, which changes every Unicode year.
"""

from __future__ import annotations

from functools import cache
from typing import Any

# The longest RGI sequence is 10 code points (a family or a kiss with two skin tones); a
# ZWJ sequence of more than 4 pictographs is not one picture anywhere.
MAX_ZWJ_PARTS = 4


@cache
def _one_emoji() -> Any:
    import regex

    # Skin tones and regional indicators have Emoji_Presentation but are parts, not emoji;
    # digits, # and * are Emoji but only emoji as keycaps.
    not_part = r"(?![\p{Emoji_Modifier}\p{Regional_Indicator}0-9#*])"
    basic = rf"{not_part}(?:\p{{Emoji_Presentation}}\uFE0F?|\p{{Emoji}}\uFE0F)"
    modified = r"\p{Emoji_Modifier_Base}\p{Emoji_Modifier}"
    part = rf"(?:{modified}|{basic})"
    return regex.compile(
        rf"(?:{part}(?:\u200D{part}){{0,{MAX_ZWJ_PARTS - 1}}}"
        r"|\p{Regional_Indicator}{2}"
        r"|\U0001F3F4[\U000E0061-\U000E007A\U000E0030-\U000E0039]{2,6}\U000E007F"
        r"|[0-9#*]\uFE0F\u20E3)",
        regex.V1,
    )


def problem(text: str) -> str | None:
    """Why `text` is not exactly one emoji, in words for its sender; None when it is one."""
    if not text:
        return "No reaction: send one emoji."
    if _one_emoji().fullmatch(text) is not None:
        return None
    return "No reaction: a reaction is exactly one emoji (flags, skin tones and ZWJ sequences too)."
