"""What the app keeps between invocations: settings, the service client, assets, recent ids."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from chat import settings as settings_module
from chat import static_files
from chat.recent_ids import RecentIds
from chat.service import Service
from chat.settings import Settings, SettingsError

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
        self._assets: dict[tuple[str, int], static_files.Asset] = {}
        self.recent = RecentIds()

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
