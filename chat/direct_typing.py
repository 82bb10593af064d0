"""'… is typing' in a direct conversation (issue 17): sign-in mode only. Pure.

`{"type": "typing", "room": "dm-…", "to": PEER_USER_ID}`. No connection is ever in a DM (it is
no group), so the room path's membership check cannot apply; instead the pair names the room:
the notice is accepted only when `direct.conversation(sender, to)` is that room, which no one
can make true for a conversation they are not in (the sender's half is always `ce-userId`).
No table read: an unknown `to` only names a conversation nobody reads.

The throttle is room typing's (chat/typing_notice.py, per connection and room). The notice,
`{"type": "typing", "room", "user"}` as rooms get it, goes in ONE user-addressed send to the
peer with the block filter the DM path uses (chat/blocks.py `filtered`): someone who blocks
the sender never gets it, and the sender's own tabs never do.
"""

from __future__ import annotations

from typing import Any

from chat import blocks, direct, events, roles, rooms, typing_notice
from chat.plan import Plan, SendToUser, done
from chat.settings import Settings

NEED_SIGN_IN = "Not done: typing notices in direct conversations need sign-in."
NOT_A_USER = 'Not done: "to" must be the user id of the other person in this conversation.'
NOT_YOURS = "Not done: this direct conversation is not yours."
TO_YOURSELF = "Not done: nobody else is in this conversation to see you typing."
# A room typing notice reaches one of the connection's 20 rooms; a DM's reaches anyone the
# sender names. A person types in one conversation at a time: more than this many others
# within the throttle's 3 s is a sweep of names, dropped (and it keeps the state small).
MAX_OTHER_DMS = 2


def typing(
    user: str, room: str, to: object, state: dict[str, Any], settings: Settings, now: float
) -> Plan:
    """Refused with a reason, throttled (204, nothing sent), or one send to the peer."""
    if not settings.sign_in:
        return events.refuse(NEED_SIGN_IN, room, state, "typing")
    sender = roles.account(user)
    if sender is None:  # chat.events.command refuses these first; kept for a direct caller
        return events.refuse(events.SIGN_IN_FIRST, room, state, "not signed in")
    peer = roles.account(to) if isinstance(to, str) and len(to) <= direct.MAX_TO_LENGTH else None
    if peer is None or not isinstance(to, str):
        return events.refuse(NOT_A_USER, room, state, "typing")
    if peer == sender:  # one account, whatever name each id carries
        return events.refuse(TO_YOURSELF, room, state, "typing")
    if direct.conversation(user, to) != room:
        return events.refuse(NOT_YOURS, room, state, "typing")
    # A DM is never left, so nothing else drops its typing time: the times that no longer
    # throttle go here (they allow nothing), which keeps the state as small as the rooms and
    # conversations typed in during the last few seconds.
    recent = typing_notice.recent(state, now)
    others = [r for r in recent.get("typing", {}) if rooms.is_direct(r) and r != room]
    if len(others) >= MAX_OTHER_DMS:
        return done(events.ok(recent), typing="throttled")
    allowed, kept = typing_notice.allow(recent, room, now)
    if not allowed:
        return done(events.ok(kept), typing="throttled")
    notice = SendToUser(
        to, typing_notice.typing(room, user), filter=blocks.filtered(user, settings)
    )
    return done(events.ok(kept), notice)
