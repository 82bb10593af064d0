"""Turning a user event's body into chat text, and the server-side message policy."""

from __future__ import annotations

import unicodedata

from chat import bounded_json, combining_marks, invisible_text
from chat.errors import Refused as Rejected  # one refusal type for every command (chat/errors.py)

# Marks stacked on one letter beyond this are dropped: enough for Vietnamese or pointed Hebrew
# (a letter, its dagesh, its dot and its vowel), not enough to draw over the lines above.
MAX_COMBINING_RUN = 3


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def extract(body: bytes, content_type: str | None, max_bytes: int) -> str:
    """The text a client sent, in any form the service forwards.

    Plain WebSocket clients arrive as text/plain (text frames) or application/octet-stream
    (binary frames); JSON-subprotocol clients as text/plain, application/json or
    application/octet-stream depending on their dataType. A JSON body may be a string or an
    object with a string `message`.
    """
    if len(body) > max_bytes:
        raise Rejected("Message not sent: it is too long.")
    media = _media_type(content_type)
    if media not in ("text/plain", "application/json", "application/octet-stream", ""):
        raise Rejected("Message not sent: unsupported content type.")
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("Message not sent: it is not valid UTF-8 text.") from None
    if media != "application/json":
        return decoded
    try:
        value = bounded_json.loads(decoded, max_bytes=max_bytes)
    except bounded_json.InvalidJson as error:
        raise Rejected(f"Message not sent: it is not usable JSON ({error}).") from None
    if isinstance(value, dict):
        value = value.get("message")
    if not isinstance(value, str):
        raise Rejected('Message not sent: send text, or JSON {"message": "..."}.')
    return value


# Bidi embeddings, overrides and isolates reorder the text around them (a classic spoofing
# trick), and line/paragraph separators break the layout. Other format characters stay: the
# zero-width joiner, for one, holds emoji sequences together.
_STRIPPED = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029, 0xFEFF}


def _kept(ch: str) -> bool:
    return ch == "\n" or (unicodedata.category(ch) != "Cc" and ord(ch) not in _STRIPPED)


def clean(raw: str, max_length: int) -> str:
    """Strip control characters (tabs become spaces) and stacked combining marks beyond
    MAX_COMBINING_RUN (the text comes back in NFC), then apply the empty and length rules."""
    kept = "".join(ch for ch in raw.replace("\t", " ") if _kept(ch)).strip()
    kept = combining_marks.cap(kept, MAX_COMBINING_RUN)
    # Only fillers (U+3164, U+2800, zero-width characters) would be an empty-looking bubble.
    if not kept or (not kept.isascii() and invisible_text.shows_nothing(kept)):
        raise Rejected("Message not sent: it is empty.")
    if len(kept) > max_length:
        raise Rejected(
            f"Message not sent: it has {len(kept)} characters; the limit is {max_length}."
        )
    return kept
