"""Hubs: which connections exist, which groups they are in and which users they belong to."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import jsonprotocol as jp
from .connections import ClientOverflow, Connection

log = logging.getLogger("devstack.emulator.hub")

Predicate = Callable[[Connection], bool]


@dataclass
class Hub:
    name: str
    connections: dict[str, Connection] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)
    users: dict[str, set[str]] = field(default_factory=dict)
    # Called when delivery overflows a client's queue or buffer (the server closes it).
    on_overflow: Callable[[Connection], None] | None = None

    def add(self, conn: Connection) -> None:
        self.connections[conn.id] = conn
        if conn.user_id:
            self.users.setdefault(conn.user_id, set()).add(conn.id)
        for group in list(conn.groups):
            self.groups.setdefault(group, set()).add(conn.id)

    def remove(self, conn: Connection) -> None:
        if self.connections.get(conn.id) is not conn:
            return
        del self.connections[conn.id]
        if conn.user_id and conn.user_id in self.users:
            self.users[conn.user_id].discard(conn.id)
            if not self.users[conn.user_id]:
                del self.users[conn.user_id]
        self.leave_all(conn)

    def join(self, conn: Connection, group: str) -> None:
        conn.groups.add(group)
        if conn.id in self.connections:
            self.groups.setdefault(group, set()).add(conn.id)

    def leave(self, conn: Connection, group: str) -> None:
        conn.groups.discard(group)
        members = self.groups.get(group)
        if members is not None:
            members.discard(conn.id)
            if not members:
                del self.groups[group]

    def leave_all(self, conn: Connection) -> None:
        for group in list(conn.groups):
            self.leave(conn, group)

    def get(self, connection_id: str) -> Connection | None:
        return self.connections.get(connection_id)

    def in_group(self, group: str) -> list[Connection]:
        return [self.connections[c] for c in sorted(self.groups.get(group, ()))]

    def of_user(self, user_id: str) -> list[Connection]:
        return [self.connections[c] for c in sorted(self.users.get(user_id, ()))]

    def all(self) -> list[Connection]:
        return [self.connections[c] for c in sorted(self.connections)]

    @staticmethod
    def select(
        conns: Iterable[Connection],
        excluded: Iterable[str] = (),
        predicate: Predicate | None = None,
    ) -> list[Connection]:
        skip = set(excluded)
        return [c for c in conns if c.id not in skip and (predicate is None or predicate(c))]

    async def deliver(
        self,
        conns: Iterable[Connection],
        payload: jp.Payload,
        *,
        group: str | None = None,
        from_user_id: str | None = None,
    ) -> int:
        """Send a message to each connection; returns how many were reached."""
        count = 0
        for conn in conns:
            try:
                await conn.deliver_now(payload, group=group, from_user_id=from_user_id)
                count += 1
            except ClientOverflow as exc:
                log.warning("connection %s cannot keep up (%s); closing it", conn.id, exc)
                if self.on_overflow is not None:
                    self.on_overflow(conn)
        return count


class Registry:
    """All hubs, created on first use; hub names are case-insensitive."""

    def __init__(self) -> None:
        self.hubs: dict[str, Hub] = {}
        self.on_overflow: Callable[[Connection], None] | None = None

    def hub(self, name: str) -> Hub:
        key = name.lower()
        hub = self.hubs.get(key)
        if hub is None:
            hub = self.hubs[key] = Hub(key, on_overflow=self.on_overflow)
        return hub

    def find(self, hub: str, connection_id: str) -> Connection | None:
        existing = self.hubs.get(hub.lower())
        return existing.get(connection_id) if existing else None
