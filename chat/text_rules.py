"""Text hygiene: the one place for what text the chat accepts, cleans or marks. Pure.

Every text that reaches other people goes through here: chat messages (`clean_message`),
chosen names (`name_problem`), the names identity providers give (`display_name`,
`is_lookalike`), and whatever the next features add (edits, topics, reasons: clean them as
messages, or judge them as names). The rules:

* Lone surrogates (category Cs): a JSON escape such as "\\ud800" decodes to one, and it
  cannot be encoded as UTF-8, so a stored one would break every reply that carries it. Refused
  in what people send; replaced by U+FFFD (`repair`) in anything already stored.
* Control characters, bidi embeddings/overrides/isolates, line and paragraph separators:
  they reorder or break the text around them (a classic spoofing trick).
* Invisible characters (Unicode's Default_Ignorable_Code_Point, and U+2800 which draws
  nothing): fillers that make a name look blank or like someone else's.
* Stacked combining marks ("Zalgo"): at most MAX_STACKED_MARKS on one letter.
* Look-alikes: letters of one script among another's that they imitate (a Cyrillic U+0430
  "a" in "alice"), judged with Unicode's confusables data.

The Unicode data comes from maintained libraries, imported on first use (most text is
printable ASCII and never needs it): `regex` for Default_Ignorable_Code_Point and the emoji
properties, `confusable_homoglyphs` (Unicode's confusables.txt and Scripts.txt) for
look-alikes.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

# One limit for every text. Three, not two: pointed Hebrew needs three marks on one letter in
# NFC (shin + dagesh + shin dot + vowel; Unicode has no precomposed forms for them), and a
# limit that damages a genuine name or message is worse than one that lets a letter carry
# three accents: three marks stay within the line's height, a tower needs dozens. Vietnamese
# needs at most two (NFC composes the rest).
MAX_STACKED_MARKS = 3
REPLACEMENT = "\ufffd"

# Mn: nonspacing (accents, Hebrew points, Thai tone marks); Me: enclosing. Mc (spacing marks of
# Indic scripts) take their own width and cannot tower, so they do not count.
_STACKING = {"Mn", "Me"}
# Cc control characters, Cf invisible format characters (bidi overrides among them), line and
# paragraph separators: none belongs in a name shown to other people.
_CONTROL_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}
# Not default-ignorable in Unicode, yet drawn as nothing: the favourite blank-name filler.
_BLANK_SYMBOLS = "\u2800"
# In messages, only the format characters that reorder or break text go (other format
# characters stay: the zero-width joiner, for one, holds emoji sequences together).
_MESSAGE_STRIPPED = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029, 0xFEFF}
# Scripts that one writing system mixes by design (UTS #39's "highly restrictive" sets):
# Japanese writes Han with both kana; Chinese uses Bopomofo; Korean mixes Hangul and Han.
# Within a family, look-alikes such as katakana "カ" and Han "力" are ordinary spelling.
_FAMILY = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HAN": "CJK", "BOPOMOFO": "CJK", "HANGUL": "CJK"}
# Punctuation, digits, emoji and combining marks belong to no script of their own.
_NO_SCRIPT = {"COMMON", "INHERITED"}


# Text that will not be accepted: the one refusal type of every user command (chat/errors.py).
from chat.errors import Refused as Refused  # noqa: E402  (re-exported for the name rules)

# --- lone surrogates --------------------------------------------------------------------------


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate in `text` (as U+XXXX), or None.

    A Python str holds a valid pair as one code point (json.loads combines escaped pairs), so
    any Cs character left is a lone half that no UTF-8 encoder accepts.
    """
    if text.isascii():
        return None
    for ch in text:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return f"U+{ord(ch):04X}"
    return None


def repair(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD: for rows stored before the rule."""
    if lone_surrogate(text) is None:
        return text
    return "".join(REPLACEMENT if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def utf8(text: str) -> bytes:
    """`text` as UTF-8, never raising: a lone surrogate becomes U+FFFD."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return repair(text).encode()


# --- invisible characters and stacked marks ---------------------------------------------------


@cache
def _invisible() -> Any:
    import regex

    return regex.compile(rf"[\p{{Default_Ignorable_Code_Point}}{_BLANK_SYMBOLS}]")


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


def is_invisible(ch: str) -> bool:
    return _invisible().match(ch) is not None


def shows_nothing(text: str) -> bool:
    """True when every character of `text` is white space or invisible."""
    return all(ch.isspace() or is_invisible(ch) for ch in text)


def is_stacking(ch: str) -> bool:
    return unicodedata.category(ch) in _STACKING


def longest_run(text: str) -> int:
    """The most stacking marks in a row in `text` (as given: normalise first if needed)."""
    longest = run = 0
    for ch in text:
        run = run + 1 if is_stacking(ch) else 0
        longest = max(longest, run)
    return longest


def cap_marks(text: str, limit: int = MAX_STACKED_MARKS) -> str:
    """`text` in NFC with every run of stacking marks cut to at most `limit`.

    Counted on the NFC form, where an accented letter that has a precomposed form carries no
    mark at all, so only genuinely stacked marks count.
    """
    if text.isascii():
        return text
    kept: list[str] = []
    run = 0
    for ch in unicodedata.normalize("NFC", text):
        run = run + 1 if is_stacking(ch) else 0
        if run <= limit:
            kept.append(ch)
    return "".join(kept)


# --- look-alikes ------------------------------------------------------------------------------


def is_lookalike(name: str) -> bool:
    """True when letters of one script stand among another's that they look like."""
    if name.isascii():
        return False  # one script (Latin) and common characters only
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


# --- the rules per kind of text ---------------------------------------------------------------


def name_problem(name: str) -> str | None:
    """Why a chosen name deceives or is not text, in words for its owner; None when fine.

    Genuine names in any single script, and emoji (with their joiners, variation selectors and
    modifiers), are fine.
    """
    surrogate = lone_surrogate(name)
    if surrogate is not None:
        return f"must not contain a lone surrogate ({surrogate}): it is not text"
    # Emoji sequences legitimately hold joiners and selectors: judge the rest of the name.
    rest = _emoji_sequence().sub("", name)
    for ch in rest:
        if unicodedata.category(ch) in _CONTROL_CATEGORIES:
            return "must not contain control characters or invisible formatting"
    for ch in rest:
        if is_invisible(ch):
            return f"must not contain invisible characters such as U+{ord(ch):04X}"
    normal = unicodedata.normalize("NFC", rest)
    if normal and is_stacking(normal[0]):
        return "must not start with a combining mark"
    if longest_run(normal) > MAX_STACKED_MARKS:
        return f"must not stack more than {MAX_STACKED_MARKS} combining marks on a letter"
    if is_lookalike(normal):
        return "mixes scripts with look-alike letters (such as Cyrillic letters among Latin ones)"
    return None


def has_control(text: str) -> bool:
    """Control, format (bidi among them) or separator characters, or a lone surrogate: text
    that cannot be shown as it is (identity providers' values are refused for it)."""
    if text.isascii() and text.isprintable():
        return False
    return lone_surrogate(text) is not None or any(
        unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in text
    )


def display_name(name: str) -> str:
    """A provider's name as it may be shown: invisible characters dropped (emoji sequences
    kept whole), marks capped, lone surrogates repaired, surrounding white space trimmed.

    An identity provider's name cannot be refused at sign-in (the person did not choose it
    here), so it is cleaned instead; "" when nothing visible is left (the caller picks a
    stand-in). Look-alikes are not changed but marked (`is_lookalike`).
    """
    if name.isascii() and name.isprintable():
        return name.strip()
    kept: list[str] = []
    at = 0
    for match in _emoji_sequence().finditer(name):
        kept.extend(ch for ch in name[at : match.start()] if not is_invisible(ch))
        kept.append(match.group())
        at = match.end()
    kept.extend(ch for ch in name[at:] if not is_invisible(ch))
    shown = cap_marks(repair("".join(kept))).strip()
    # A mark with nothing to sit on would draw over whatever is shown before the name.
    while shown and is_stacking(shown[0]):
        shown = shown[1:].lstrip()
    return shown


def clean_message(raw: str, max_length: int) -> str:
    """A chat message as it may be broadcast, or Refused with the reason for its sender.

    Lone surrogates are refused; control characters and bidi controls are stripped (tabs
    become spaces), stacked marks are capped (the text comes back in NFC); then the empty and
    length rules apply.
    """
    surrogate = lone_surrogate(raw)
    if surrogate is not None:
        raise Refused(
            f"Message not sent: it holds a lone surrogate ({surrogate}), which is not text."
        )
    if raw.isascii():  # most messages: one C-level pass instead of a look-up per character
        kept = raw.translate(_ASCII_MESSAGE).strip()
    else:
        kept = "".join(ch for ch in raw.replace("\t", " ") if _kept_in_message(ch)).strip()
    kept = cap_marks(kept)
    # Only fillers (U+3164, U+2800, zero-width characters) would be an empty-looking bubble.
    if not kept or (not kept.isascii() and shows_nothing(kept)):
        raise Refused("Message not sent: it is empty.")
    if len(kept) > max_length:
        raise Refused(
            f"Message not sent: it has {len(kept)} characters; the limit is {max_length}."
        )
    return kept


def _kept_in_message(ch: str) -> bool:
    return ch == "\n" or (unicodedata.category(ch) != "Cc" and ord(ch) not in _MESSAGE_STRIPPED)


# `_kept_in_message` for ASCII, as a translation table: tab becomes a space, the other C0
# controls and DEL go, newline stays (no ASCII character is in _MESSAGE_STRIPPED).
_ASCII_MESSAGE: dict[int, str | None] = {
    code: None for code in (*range(0x20), 0x7F) if code not in (0x09, 0x0A)
} | {0x09: " "}
