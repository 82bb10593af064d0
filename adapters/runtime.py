"""What the app keeps between invocations: settings, the service and store clients, assets.

`Runtime.configured()` is the one way in: everything the settings allow, or None when they are
broken. The modules behind the parts only the webhook's stateful events, history and the timer
use are imported when those are first used, so indexing the app stays quick (a cold start).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.assets import Assets
    from adapters.chat_bans import ChatBans
    from adapters.instance_memory import ListedRooms, RoomBudgets
    from adapters.sweeper import PresenceSweep
    from adapters.table_store import TableStore
    from adapters.webhook_events import WebhookEvents
    from adapters.webpubsub import Service
    from chat.settings import Settings
    from chat.storage_settings import StorageSettings

log = logging.getLogger("chat")


class Stateful:
    """The parts that need the table store: history, rooms, presence and the sweep."""

    def __init__(
        self, settings: Settings, service: Service, storage: StorageSettings, budgets: RoomBudgets
    ) -> None:
        self.settings = settings
        self.service = service
        self.storage = storage
        self.budgets = budgets

    @functools.cached_property
    def store(self) -> TableStore:
        from adapters.table_store import TableStore

        return TableStore(self.storage, self.settings.service_timeout_seconds)

    @functools.cached_property
    def chat_bans(self) -> ChatBans:
        """Chat-wide bans with this instance's copy, one for negotiate and the webhook (so
        the instance that bans drops its copy at once for both)."""
        from adapters.chat_bans import ChatBans

        return ChatBans(self.store)

    @functools.cached_property
    def listed_rooms(self) -> ListedRooms:
        """Each user's rooms as their last `GET /api/me/rooms` here listed them (a guess of
        which activity rows to read beside their list: adapters/conversations.py)."""
        from adapters.instance_memory import ListedRooms

        return ListedRooms()

    @functools.cached_property
    def sweep(self) -> PresenceSweep:
        from adapters.sweeper import PresenceSweep

        return PresenceSweep(self.settings, self.service, self.store, self.budgets)

    async def close(self) -> None:
        store = self.__dict__.get("store")  # only a store that was made has a client to close
        if store is not None:
            await store.close()


@dataclass(frozen=True)
class Configured:
    settings: Settings
    service: Service
    service_origin: str  # scheme://host of the service, which the page may connect to
    assets: Assets
    stateful: Stateful | None  # None when storage is not configured (said once in the log)
    budgets: RoomBudgets  # the rooms' notice budgets: one for the webhook and the sweep

    @functools.cached_property
    def events(self) -> WebhookEvents:
        """Every webhook event; without storage configured only `connect` can be served."""
        from adapters.effects import Effects
        from adapters.webhook_events import WebhookEvents

        stateful = self.stateful
        store = stateful.store if stateful is not None else None
        bans = stateful.chat_bans if stateful is not None else None
        return WebhookEvents(Effects(self.settings, self.service, store, self.budgets, bans))


class Runtime:
    def __init__(self, environ: Mapping[str, str], static_root: str) -> None:
        self._environ = environ
        self.static_root = static_root
        self._configured: Configured | None = None
        self._broken = False
        self._retired: list[Configured] = []

    def reset(self) -> None:
        """Forget everything read so far (tests change the environment between cases); the
        clients made so far are closed by the next `close()`."""
        if self._configured is not None:
            self._retired.append(self._configured)
        self._configured = None
        self._broken = False

    def configured(self) -> Configured | None:
        """Everything the settings allow, made once; None when the settings are broken (said
        once in the log, naming which)."""
        if self._configured is None and not self._broken:
            self._configured = self._load()
            self._broken = self._configured is None
        return self._configured

    def _load(self) -> Configured | None:
        from urllib.parse import urlsplit

        from adapters.assets import Assets
        from adapters.instance_memory import RoomBudgets
        from adapters.webpubsub import Service
        from chat import settings as settings_module
        from chat.settings import SettingsError

        try:
            settings = settings_module.load(self._environ)
        except SettingsError as error:
            log.error("The chat app is not configured: %s. Every request gets 503.", error)
            return None
        if settings.identity_mode:
            log.warning(
                "WebPubSubEndpoint is set without an access key: upstream calls cannot be "
                "checked with ce-signature; only the webhook's function key protects it."
            )
        service = Service(settings)
        storage = self._storage()
        budgets = RoomBudgets()
        stateful = Stateful(settings, service, storage, budgets) if storage is not None else None
        parts = urlsplit(settings.client_url)
        return Configured(
            settings=settings,
            service=service,
            service_origin=f"{parts.scheme}://{parts.netloc}",
            assets=Assets(self.static_root),
            stateful=stateful,
            budgets=budgets,
        )

    def _storage(self) -> StorageSettings | None:
        from chat import storage_settings
        from chat.settings import SettingsError

        try:
            return storage_settings.load(self._environ)
        except SettingsError as error:
            log.error("Chat storage is not configured: %s. History and rooms get 503.", error)
            return None

    async def close(self) -> None:
        """Close every client made so far, also those from before a reset.

        A client belongs to the event loop that made it: one made on another loop is dropped.
        """
        made, self._retired = self._retired, []
        if self._configured is not None:
            made.append(self._configured)
        for configured in made:
            await configured.service.close()
            if configured.stateful is not None:
                await configured.stateful.close()
