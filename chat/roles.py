"""Who may moderate what: admins, a room's owner, its moderators, everyone else. Pure.

Roles are keyed by *account*, `<idp>:<provider id>` (the part of a signed-in user id that the
identity provider vouches for), never by a display name: a name can change, or be chosen to
look like someone else's. Admins come from the ChatAdmins setting; a room's owner and
moderators from the room's record in the table (adapters/moderation_store.py), read for every
moderation command, never from the connection state (which a stale page carries around).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from chat import identity

ADMIN, OWNER, MODERATOR, MEMBER = "admin", "owner", "moderator", "member"
# A role acts on lower ranks only: a moderator not on another moderator, the owner or an admin;
# the owner not on an admin; an admin not on another admin.
RANK = {MEMBER: 0, MODERATOR: 1, OWNER: 2, ADMIN: 3}

KICK, BAN, UNBAN, MUTE, UNMUTE = "kick", "ban", "unban", "mute", "unmute"
SLOWMODE, TOPIC, MOD = "slowmode", "topic", "mod"
DELETE = "delete"  # another's message (the target is its author): chat.edits.delete
ON_USERS = (KICK, BAN, UNBAN, MUTE, UNMUTE, MOD, DELETE)  # actions with a target person
ACTIONS = (*ON_USERS, SLOWMODE, TOPIC)

NEEDS_SIGN_IN = "Not done: moderation needs sign-in."
NOT_MODERATOR = "Not done: only the room's moderators, its owner and admins may do that."
NOT_OWNER = "Not done: only the room's owner or an admin may appoint or remove moderators."
OUTRANKED = "Not done: you cannot do that to the room's owner, an admin or a fellow moderator."
NOT_YOURSELF = "Not done: you cannot do that to yourself."
ALREADY = "Not done: the room's owner and admins need no moderator role."


def account(user_id: str | None) -> str | None:
    """`<idp>:<provider id>` of a signed-in user id; None for anything else (chosen names)."""
    caller = identity.parse_user_id(user_id)
    if caller is None or user_id is None:
        return None
    return f"{caller.idp}:{unquote(user_id.split(':')[1])}"


@dataclass(frozen=True)
class Record:
    """A room's record: who owns and moderates it (accounts -> the user id last seen, for
    showing), its topic and slow mode. The lobby has none unless an admin writes one."""

    owner: str | None = None  # account
    owner_id: str | None = None  # user id, shown
    moderators: tuple[tuple[str, str], ...] = ()  # (account, user id)
    topic: str = ""
    slow_mode_s: int = 0
    etag: str | None = None

    def moderator_accounts(self) -> frozenset[str]:
        return frozenset(a for a, _ in self.moderators)


def role(who: str | None, record: Record | None, admins: frozenset[str]) -> str:
    """The role of account `who` in the room `record` describes."""
    if who is None:
        return MEMBER
    if who in admins:
        return ADMIN
    if record is not None and record.owner == who:
        return OWNER
    if record is not None and who in record.moderator_accounts():
        return MODERATOR
    return MEMBER


def refusal(action: str, actor: str, target: str | None, same_person: bool = False) -> str | None:
    """Why `actor` (a role) may not do `action` to `target` (a role; None: no target); None
    when allowed. Every command is checked here, on the server, against roles read by id."""
    if action == MOD:
        if RANK[actor] < RANK[OWNER]:
            return NOT_OWNER
    elif RANK[actor] < RANK[MODERATOR]:
        return NOT_MODERATOR
    if target is None:
        return None
    if same_person:
        return NOT_YOURSELF
    if action == MOD and RANK[target] >= RANK[OWNER]:
        return ALREADY
    if RANK[target] >= RANK[actor]:
        return OUTRANKED
    return None


def is_moderator(role_name: str) -> bool:
    """Moderators, the owner and admins: free of slow mode, may delete any message."""
    return RANK[role_name] >= RANK[MODERATOR]
