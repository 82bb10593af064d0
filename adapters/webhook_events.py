"""The webhook's events, one thin entry point each: decide (chat/events.py), carry out
(adapters/effects.py), answer. Nothing else happens here."""

from __future__ import annotations

import time

from adapters.effects import Effects
from adapters.table_store import TableStore
from adapters.webpubsub import Service
from chat import events
from chat.cloudevents import CloudEvent
from chat.plan import Plan
from chat.settings import Settings


class WebhookEvents:
    def __init__(self, effects: Effects) -> None:
        self.settings: Settings = effects.settings
        self.effects = effects

    @property
    def service(self) -> Service:
        return self.effects.service

    @property
    def store(self) -> TableStore:
        return self.effects.store

    async def handle(
        self, event: CloudEvent, body: bytes, content_type: str | None, now: float
    ) -> Plan:
        """Any authenticated event: the final plan, whose reply answers the service."""
        if event.type == events.MESSAGE:
            return await self.command(event, body, content_type, now)
        return await self.effects.carry_out(events.system(event, body, self.settings, now))

    async def connect(self, event: CloudEvent, body: bytes, now: float | None = None) -> Plan:
        when = time.time() if now is None else now
        return await self.effects.carry_out(events.connect(event, body, self.settings, when))

    async def connected(self, event: CloudEvent, now: float) -> Plan:
        return await self.effects.carry_out(events.connected(event, now))

    async def disconnected(self, event: CloudEvent, now: float) -> Plan:
        return await self.effects.carry_out(events.disconnected(event, now))

    async def command(
        self, event: CloudEvent, body: bytes, content_type: str | None, now: float
    ) -> Plan:
        plan = events.command(event, body, content_type, self.settings, now)
        return await self.effects.carry_out(plan)
