"""Direct messages (issue 17): one person to another, sign-in mode only. Pure.

`{"type": "dm", "to": USER_ID, "message": T}` is stored in the conversation `dm-<32 hex>`,
named from the sorted pair of user ids (both sides name it alike; no one can pick a pair
they are not in, since the sender's half is always `ce-userId`), then delivered with
user-addressed sends to every connection of both people: a DM costs no group and does not
count against a connection's rooms. It goes through the message path of chat/events.py
(the same policy, flood limit, store first, once per retried event); this module names the
conversation, checks the recipient, and builds what differs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from chat import identity
from chat.plan import Effect, KeepJoined, SendToUser

PREFIX = "dm-"
NEED_SIGN_IN = "Message not sent: direct messages need sign-in."
UNKNOWN = "Message not sent: there is no such person in this chat."
SIGN_IN_NEEDED = "sign in to read direct messages"
NOT_YOURS = "this direct conversation is not yours"
MAX_TO_LENGTH = 2048  # far above any user id negotiate signs (identity.MAX_USER_ID_LENGTH)


def conversation(a: str, b: str) -> str:
    """`dm-<32 lowercase hex>` of the sorted pair: the same from either side. The ids are
    joined with "\\n", which no user id holds, so no two pairs give the same seed."""
    first, second = sorted((a, b))
    seed = f"{first}\n{second}".encode("utf-8", "surrogatepass")
    return PREFIX + hashlib.sha256(seed).hexdigest()[:32]


def recipient(to: str) -> identity.Caller | None:
    """The person a DM names, if it is a signed-in user id (else it is refused)."""
    return identity.parse_user_id(to)


def peer(person: identity.Caller) -> dict[str, Any]:
    """How a participant is shown: `{"userId", "name", "idp"}`."""
    return {
        "userId": person.user_id,
        "name": identity.shown_name(person.name, person.user_id),
        "idp": person.idp or "",
    }


def sends(
    sender: str, to: str, frame: dict[str, Any], recipient_filter: str | None = None
) -> tuple[Effect, ...]:
    """Every connection of both people (once, for a note to oneself). `recipient_filter`
    (chat.blocks) keeps it from the recipient's connections should they block the sender."""
    if sender == to:
        return (SendToUser(sender, frame),)
    return (SendToUser(sender, frame), SendToUser(to, frame, filter=recipient_filter))


def rows(sender: identity.Caller, to: identity.Caller, room: str, now: float) -> tuple[Effect, ...]:
    """Each side's row in their conversation list (kept as is when already there)."""
    return (
        KeepJoined(sender.user_id, room, now, peer=_peer_fields(to)),
        KeepJoined(to.user_id, room, now, peer=_peer_fields(sender)),
    )


def _peer_fields(person: identity.Caller) -> tuple[str, str, str]:
    shown = peer(person)
    return shown["userId"], shown["name"], shown["idp"]
