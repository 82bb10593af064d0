"""A message's reactions: the toggle rule, the limits, the whole-state frame. Pure.

Stored on the message's own row (property `reactions`, JSON), written with its ETag: a
history page reads them with the rows it reads anyway (no extra query, no extra rows in the
key range a page scans), and two people reacting at once cannot lose an update: the second
write fails its ETag, re-reads and toggles again (chat/edits.py's loop). Rows per reaction
would take no retry, but a page would have to read them too: a second query per page, or
rows in the message range that every page scans past. The cost is contention on one hot
message: each conflicting toggle costs another read and write, up to a bounded number of
tries, then the sender is told to try again.

Stored form: [[emoji, [[user key, name], ...]], ...] in the order first reacted, each emoji's
reactors in the order they reacted. A user key is 16 hex of SHA-256 of the user id (one
message has far too few reactors for a collision), so ids of any length cost the same; the
name is what `users` shows.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_EMOJI = 20  # distinct emoji on one message
MAX_PER_PERSON = 10  # reactions of one person on one message
SHOWN_USERS = 10  # names in each emoji's `users`
# A table string property holds 64 KiB of UTF-16; keep clear of it (about 1,000 reactors with
# long names, 1,500 with short ones).
MAX_STORED_CHARS = 30_000
REV = "reactionsRev"  # the row's property: its reaction state's revision

State = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]

TOO_MANY_EMOJI = f"No reaction: a message can have at most {MAX_EMOJI} different emoji."
TOO_MANY_OF_YOURS = f"No reaction: you can add at most {MAX_PER_PERSON} reactions to one message."
FULL = "No reaction: this message holds as many reactions as it can."


def user_key(user: str) -> str:
    return hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def parse(stored: Any) -> State:
    """The stored list as a State; anything this module did not write is dropped."""
    state: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    if not isinstance(stored, list):
        return ()
    for item in stored:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            continue
        users = item[1] if isinstance(item[1], list) else []
        kept = tuple(
            (u[0], u[1])
            for u in users
            if isinstance(u, list) and len(u) == 2 and all(isinstance(x, str) for x in u)
        )
        if kept:
            state.append((item[0], kept))
    return tuple(state)


def stored(state: State) -> str:
    return json.dumps([[e, [list(u) for u in users]] for e, users in state], ensure_ascii=False)


def toggle(state: State, emoji: str, user: str, name: str) -> State | str:
    """The state after `user` toggles `emoji`, or the reason it may not."""
    key = user_key(user)
    for index, (each, users) in enumerate(state):
        if each == emoji and any(k == key for k, _ in users):
            left = tuple(u for u in users if u[0] != key)
            rest = (*state[:index], (each, left), *state[index + 1 :])
            return tuple(item for item in rest if item[1])
    mine = sum(1 for _, users in state for k, _ in users if k == key)
    if mine >= MAX_PER_PERSON:
        return TOO_MANY_OF_YOURS
    if emoji in (each for each, _ in state):
        new = tuple(
            (each, (*users, (key, name))) if each == emoji else (each, users)
            for each, users in state
        )
    elif len(state) >= MAX_EMOJI:
        return TOO_MANY_EMOJI
    else:
        new = (*state, (emoji, ((key, name),)))
    return FULL if len(stored(new)) > MAX_STORED_CHARS else new


def public(state: State) -> list[dict[str, Any]]:
    """The whole state as clients get it (frames and history)."""
    return [
        {"emoji": emoji, "count": len(users), "users": [n for _, n in users[:SHOWN_USERS]]}
        for emoji, users in state
    ]


def frame(room: str, message_id: str, state: State, rev: int) -> dict[str, Any]:
    """The whole state and its revision (the row's `reactionsRev`, one more per toggle): two
    toggles' broadcasts may reach a page in either order, and the page keeps the higher."""
    return {
        "type": "reactions",
        "room": room,
        "id": message_id,
        "reactions": public(state),
        "rev": rev,
    }


def revision(entity: dict[str, Any]) -> int:
    """The stored row's reactions revision (0: never reacted to)."""
    rev = entity.get(REV)
    return rev if isinstance(rev, int) and not isinstance(rev, bool) and rev > 0 else 0
