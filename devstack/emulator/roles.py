"""Group permissions from roles, plus REST grants and revocations.

Role strings (case-sensitive group part):
  webpubsub.joinLeaveGroup / webpubsub.sendToGroup             -> any group
  webpubsub.joinLeaveGroup.<g> / webpubsub.sendToGroup.<g>     -> exactly <g>
  webpubsub.joinLeaveGroups.<pattern> / webpubsub.sendToGroups.<pattern> -> wildcard
Wildcards: ``?`` one char except ``.``, ``*`` a run without ``.``, ``**`` any run, ``\\`` escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

JOIN_LEAVE = "joinLeaveGroup"
SEND = "sendToGroup"
PERMISSIONS = (JOIN_LEAVE, SEND)
MAX_STARS = 5


def parse_permission_name(name: str) -> str | None:
    """REST permission path value -> canonical name (case-insensitive; 1/2 as in the emulator)."""
    lowered = name.lower()
    if lowered in ("sendtogroup", "1"):
        return SEND
    if lowered in ("joinleavegroup", "2"):
        return JOIN_LEAVE
    return None


@lru_cache(maxsize=1024)
def wildcard_regex(pattern: str) -> re.Pattern[str] | None:
    """Compile a group wildcard pattern; None when the pattern is invalid."""
    out: list[str] = []
    stars = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                return None
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            if pattern[i : i + 2] == "**":
                stars += 2
                out.append(".*")
                i += 2
                continue
            stars += 1
            out.append(r"[^.]*")
        elif c == "?":
            out.append(r"[^.]")
        else:
            out.append(re.escape(c))
        i += 1
    if stars > MAX_STARS:
        return None
    return re.compile("".join(out), re.DOTALL)


@dataclass
class Permissions:
    """The group permissions of one connection."""

    any_group: set[str] = field(default_factory=set)
    literals: dict[str, set[str]] = field(default_factory=lambda: {p: set() for p in PERMISSIONS})
    patterns: dict[str, list[str]] = field(default_factory=lambda: {p: [] for p in PERMISSIONS})
    granted: dict[str, set[str]] = field(default_factory=lambda: {p: set() for p in PERMISSIONS})
    revoked: dict[str, set[str]] = field(default_factory=lambda: {p: set() for p in PERMISSIONS})

    @classmethod
    def from_roles(cls, roles: list[str]) -> Permissions:
        perms = cls()
        for role in roles:
            for perm in PERMISSIONS:
                base = f"webpubsub.{perm}"
                if role == base:
                    perms.any_group.add(perm)
                elif role.startswith(base + "."):
                    perms.literals[perm].add(role[len(base) + 1 :])
                elif role.startswith(base + "s."):
                    perms.patterns[perm].append(role[len(base) + 2 :])
        return perms

    def allows(self, permission: str, group: str) -> bool:
        if group in self.revoked[permission]:
            return False
        if group in self.granted[permission]:
            return True
        if permission in self.any_group or group in self.literals[permission]:
            return True
        for pattern in self.patterns[permission]:
            regex = wildcard_regex(pattern)
            if regex is not None and regex.fullmatch(group):
                return True
        return False

    def can_join_leave(self, group: str) -> bool:
        return self.allows(JOIN_LEAVE, group)

    def can_send(self, group: str) -> bool:
        return self.allows(SEND, group)

    def grant(self, permission: str, group: str) -> None:
        self.revoked[permission].discard(group)
        self.granted[permission].add(group)

    def revoke(self, permission: str, group: str) -> None:
        self.granted[permission].discard(group)
        self.revoked[permission].add(group)
