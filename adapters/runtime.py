"""What the app keeps between invocations: settings, the service and store clients, assets."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from adapters.instance_memory import RoomBudgets
from adapters.sweeper import PresenceSweep
from adapters.table_store import TableStore
from adapters.webhook_events import WebhookEvents
from adapters.webpubsub import Service
from chat import settings as settings_module
from chat import static_files, storage_settings
from chat.settings import Settings, SettingsError
from chat.storage_settings import StorageSettings

log = logging.getLogger("chat")


class Runtime:
    def __init__(self, environ: Mapping[str, str], static_root: Path) -> None:
        self._environ = environ
        self.static_root = static_root
        self.reset()

    def reset(self) -> None:
        """Forget everything read so far (tests change the environment between cases)."""
        self._settings: Settings | None = None
        self._error: SettingsError | None = None
        self._service: Service | None = None
        self._storage: StorageSettings | None = None
        self._storage_error: SettingsError | None = None
        self._store: TableStore | None = None
        self._events: WebhookEvents | None = None
        self._sweep: PresenceSweep | None = None
        self._assets: dict[tuple[str, int], static_files.Asset] = {}
        self.budgets = RoomBudgets()  # the rooms' notice budgets: the webhook's and the sweep's

    def settings(self) -> Settings | None:
        """The settings, or None when they are broken (said once in the log, naming which)."""
        if self._settings is None and self._error is None:
            try:
                self._settings = settings_module.load(self._environ)
            except SettingsError as error:
                self._error = error
                log.error("The chat app is not configured: %s. Every request gets 503.", error)
            else:
                if self._settings.identity_mode:
                    log.warning(
                        "WebPubSubEndpoint is set without an access key: upstream calls cannot be "
                        "checked with ce-signature; only the webhook's function key protects it."
                    )
        return self._settings

    def storage(self) -> StorageSettings | None:
        """Where history lives, or None when that is not configured (said once in the log)."""
        if self._storage is None and self._storage_error is None:
            try:
                self._storage = storage_settings.load(self._environ)
            except SettingsError as error:
                self._storage_error = error
                log.error("Chat storage is not configured: %s. History and rooms get 503.", error)
        return self._storage

    def store(self) -> TableStore:
        storage = self.storage()
        settings = self.settings()
        assert storage is not None and settings is not None, "check storage() first"
        if self._store is None:
            self._store = TableStore(storage, settings.service_timeout_seconds)
        return self._store

    def events(self) -> WebhookEvents:
        """Every webhook event; without storage configured only `connect` can be served."""
        if self._events is None:
            store = self.store() if self.storage() is not None else None
            self._events = WebhookEvents(self.settings(), self.service(), store, self.budgets)  # type: ignore[arg-type]
        return self._events

    def sweep(self) -> PresenceSweep:
        if self._sweep is None:
            self._sweep = PresenceSweep(self.settings(), self.service(), self.store(), self.budgets)  # type: ignore[arg-type]
        return self._sweep

    def service(self) -> Service:
        settings = self.settings()
        assert settings is not None, "check settings() first"
        if self._service is None:
            self._service = Service(settings)
        return self._service

    def service_origin(self) -> str | None:
        settings = self.settings()
        if settings is None:
            return None
        parts = urlsplit(settings.client_url)
        return f"{parts.scheme}://{parts.netloc}"

    def asset(
        self, path: Path, lazy_url: str | None = None, sign_in: tuple[str, ...] = ()
    ) -> static_files.Asset:
        """Read a file once per version of it on disk (the mtime tells a new deploy apart)."""
        stat = path.stat()
        key = (f"{path}|{lazy_url or ''}|{' '.join(sign_in)}", stat.st_mtime_ns)
        asset = self._assets.get(key)
        if asset is None:
            body = path.read_bytes()
            if path.name == "index.html":
                body = static_files.render_index(body, lazy_url, sign_in)
            asset = static_files.make_asset(body, path.suffix, stat.st_mtime)
            self._assets[key] = asset
        return asset
