"""`@name` in a message: which members of the room it names. Pure.

Members are the users of the room's group as the service lists them (a ListConnections of
`r.<room>`, only when the text holds an "@"): the service's truth of who is in the room now,
where presence records lag behind a crowd (chat/presence.py holds notices back). A name is
matched whole and case-sensitively, the longest first (so "@Ann Lee" is Ann Lee, not Ann),
right after an "@" that does not follow a letter or digit (an e-mail address mentions no
one), and not followed by a letter or digit. A name that matches no member is plain text.
"""

from __future__ import annotations

from collections.abc import Iterable

# Mentions beyond this many in one message are plain text: one message cannot fan out to a
# whole room's private notices.
MAX_MENTIONS = 20
# Members listed for the match: one page of the service's listing.
LISTED = 200


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def resolve(text: str, members: Iterable[tuple[str, str]]) -> list[str]:
    """The user ids `text` mentions, in order of first mention. `members`: (user id, name)."""
    if "@" not in text:
        return []
    by_name: dict[str, list[str]] = {}
    for user, name in members:
        if name:
            by_name.setdefault(name, []).append(user)
    names = sorted(by_name, key=len, reverse=True)
    found: list[str] = []
    at = text.find("@")
    while at != -1 and len(found) < MAX_MENTIONS:
        if at == 0 or not _word(text[at - 1]):
            for name in names:
                end = at + 1 + len(name)
                if text.startswith(name, at + 1) and (end == len(text) or not _word(text[end])):
                    found += [u for u in by_name[name] if u not in found]
                    break
        at = text.find("@", at + 1)
    return found[:MAX_MENTIONS]


def frame(message: dict[str, object]) -> dict[str, object]:
    """What a mentioned user gets on every connection, whatever room they are viewing."""
    keys = ("room", "id", "from", "message")
    return {"type": "mention", **{k: message[k] for k in keys if k in message}}
