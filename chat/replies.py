"""A reply's quote of the message it answers. Pure."""

from __future__ import annotations

from functools import cache
from typing import Any

from chat import edits, history

EXCERPT_CHARS = 100  # at most, cut between two graphemes (never inside an emoji or a letter)


@cache
def _grapheme() -> Any:
    import regex

    return regex.compile(r"\X")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first graphemes of `text` that fit in `limit` characters (code points)."""
    if len(text) <= limit:
        return text
    kept = 0
    for match in _grapheme().finditer(text):
        if match.end() > limit:
            break
        kept = match.end()
    return text[:kept]


def marked(entity: dict[str, Any]) -> dict[str, Any] | None:
    """The original's row marked as quoted, written (ETag) before the first reply to it is
    stored, so a delete that finds it unmarked knows no reply needs its quote scrubbed; None
    when no mark is needed (marked already, deleted, or stored before marks)."""
    if entity.get(history.REPLIED) is not False or entity.get("deleted") is True:
        return None
    return entity | {history.REPLIED: True}


def reply_to(entity: dict[str, Any]) -> dict[str, Any]:
    """What a reply carries about the stored message it answers: who wrote it and how it
    began, or that it was deleted (no text of a deleted message is copied anywhere)."""
    quoted: dict[str, Any] = {"id": entity.get("id", ""), "from": entity.get("from", "")}
    if entity.get("deleted") is True:
        return quoted | {"deleted": True}
    user = edits.author(entity)
    if user != quoted["from"]:
        quoted["userId"] = user  # sign-in mode: who, beyond the name shown
    return quoted | {"excerpt": excerpt(str(entity.get("message", "")))}
