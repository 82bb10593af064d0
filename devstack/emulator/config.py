"""Emulator options: listen address, access key and per-hub settings.

Hub settings use the official emulator's configuration shape
(``WebPubSub:Hubs:<hub>:EventHandlers[]`` with ``UrlTemplate``, ``SystemEvents``,
``EventPattern``), read from an appsettings.json document and from environment
variables (``WebPubSub__Hubs__<hub>__EventHandlers__0__UrlTemplate``). Environment
values win over the JSON file, as in .NET configuration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import safejson

DEFAULT_ACCESS_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
SYSTEM_EVENTS = ("connect", "connected", "disconnected")
HUB_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}$")


class ConfigError(ValueError):
    """The configuration cannot be used; the message says why."""


@dataclass(frozen=True)
class EventHandler:
    url_template: str
    system_events: frozenset[str] = frozenset()
    event_pattern: str = ""

    def handles_system(self, event: str) -> bool:
        return event.lower() in self.system_events

    def handles_user(self, event: str) -> bool:
        return user_event_matches(self.event_pattern, event)

    def url_for(self, hub: str, event: str) -> str:
        return expand_url_template(self.url_template, hub, event)


@dataclass(frozen=True)
class HubSettings:
    event_handlers: tuple[EventHandler, ...] = ()
    anonymous_connect: bool = False
    # The hub name as configured (lookups are case-insensitive; this is for display).
    name: str = ""

    def handler_for_system(self, event: str) -> EventHandler | None:
        return next((h for h in self.event_handlers if h.handles_system(event)), None)

    def handler_for_user(self, event: str) -> EventHandler | None:
        return next((h for h in self.event_handlers if h.handles_user(event)), None)


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    access_key: str = DEFAULT_ACCESS_KEY
    # Host used in the advertised endpoint and connection string (not the bind address).
    advertised_host: str = "localhost"
    hubs: dict[str, HubSettings] = field(default_factory=dict)
    retry_delays: tuple[float, ...] = (1.0, 3.0, 5.0)
    upstream_timeout: float = 100.0
    validation_timeout: float = 10.0
    recovery_window: float = 30.0
    max_frame_bytes: int = 1024 * 1024
    max_rest_body_bytes: int = 1024 * 1024
    outbound_queue_limit: int = 1000
    outbound_queue_bytes: int = 16 * 1024 * 1024
    reliable_buffer_limit: int = 1000
    reliable_buffer_bytes: int = 16 * 1024 * 1024
    # Admission (see eventgates.py): connect events and connected/disconnected events in
    # flight at once; more wait their turn. 0 = no limit.
    max_connect_events: int = 8
    max_system_events: int = 8
    # HTTP connection timeouts, as Kestrel's defaults (see devstack/httpserver.py).
    header_timeout: float = 30.0
    keepalive_timeout: float = 130.0

    def hub(self, name: str) -> HubSettings:
        return self.hubs.get(name.lower(), HubSettings())


def validate_access_key(key: str) -> str:
    """Apply the official emulator's access-key rules; return the key unchanged."""
    if len(key.encode("utf-8")) < 32:
        raise ConfigError("The access key must be at least 32 bytes long.")
    if key != key.strip():
        raise ConfigError("The access key must not start or end with whitespace.")
    if ";" in key:
        raise ConfigError("The access key must not contain ';'.")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ConfigError("The access key must not contain control characters.")
    return key


def user_event_matches(pattern: str, event: str) -> bool:
    """Match a user event against an EventPattern: ``*``, a name, or a comma list.

    Items may also use ``*``/``?`` wildcards (``room.*``), matched case-insensitively.
    """
    for item in (p.strip() for p in pattern.split(",")):
        if not item:
            continue
        if item == "*":
            return True
        regex = "".join(
            ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in item.lower()
        )
        if re.fullmatch(regex, event.lower()):
            return True
    return False


def expand_url_template(template: str, hub: str, event: str) -> str:
    from urllib.parse import quote

    values = {"hub": quote(hub, safe=""), "event": quote(event, safe="")}
    return re.sub(
        r"\{(hub|event)\}", lambda m: values[m.group(1).lower()], template, flags=re.IGNORECASE
    )


def flatten(document: Any, prefix: str = "") -> dict[str, str]:
    """Flatten a JSON document into .NET-style ``a:b:0:c`` keys (case kept)."""
    out: dict[str, str] = {}
    if isinstance(document, Mapping):
        items = ((str(k), v) for k, v in document.items())
    elif isinstance(document, list):
        items = ((str(i), v) for i, v in enumerate(document))
    else:
        if prefix:
            out[prefix] = "" if document is None else _scalar(document)
        return out
    for key, value in items:
        out.update(flatten(value, f"{prefix}:{key}" if prefix else key))
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def env_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """Environment variables under ``WebPubSub__`` as flattened keys."""
    return {
        name.replace("__", ":"): value
        for name, value in environ.items()
        if name.lower().startswith("webpubsub__")
    }


def merge_settings(*layers: Mapping[str, str]) -> dict[str, str]:
    """Merge flattened layers (later wins); keys compare case-insensitively, as in .NET."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for key, value in layer.items():
            merged[key.lower()] = (key, value)
    return dict(merged.values())


def hubs_from_settings(flat: Mapping[str, str]) -> dict[str, HubSettings]:
    """Build hub settings from flattened ``webpubsub:hubs:...`` keys."""
    raw: dict[str, dict[str, Any]] = {}
    for original_key, value in flat.items():
        original_hub = original_key.split(":")[2] if original_key.count(":") >= 2 else ""
        parts = original_key.lower().split(":")
        if len(parts) < 4 or parts[0] != "webpubsub" or parts[1] != "hubs":
            continue
        hub = parts[2]
        if not HUB_NAME_RE.match(hub):
            raise ConfigError(f"Invalid hub name in configuration: {hub!r}")
        entry = raw.setdefault(hub, {"handlers": {}, "anonymous": None, "name": original_hub})
        setting = parts[3]
        if setting == "anonymousconnectpolicy":
            entry["anonymous"] = value
        elif setting == "eventhandlers" and len(parts) >= 6:
            handler = entry["handlers"].setdefault(int(parts[4]), {})
            if parts[5] == "systemevents":
                handler.setdefault("systemevents", {})[int(parts[6]) if len(parts) > 6 else 0] = (
                    value
                )
            else:
                handler[parts[5]] = value
        elif setting == "eventhandlers":
            continue
        elif setting in ("eventlisteners",):
            raise ConfigError("EventListeners (Event Hubs) are not supported by this emulator.")
    hubs: dict[str, HubSettings] = {}
    for hub, entry in raw.items():
        handlers = [_build_handler(hub, entry["handlers"][i]) for i in sorted(entry["handlers"])]
        policy = (entry["anonymous"] or "deny").strip().lower()
        if policy not in ("allow", "deny"):
            raise ConfigError(f"Hub {hub}: AnonymousConnectPolicy must be allow or deny.")
        hubs[hub] = HubSettings(tuple(handlers), policy == "allow", entry["name"])
    return hubs


def _build_handler(hub: str, values: Mapping[str, Any]) -> EventHandler:
    template = str(values.get("urltemplate", "")).strip()
    if not template:
        raise ConfigError(f"Hub {hub}: an event handler has no UrlTemplate.")
    if "auth" in values:
        raise ConfigError(f"Hub {hub}: handler Auth is not supported by the emulator.")
    scheme = urlsplit(template).scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"Hub {hub}: UrlTemplate must be an http(s) URL: {template}")
    if "{" in urlsplit(template).netloc:
        raise ConfigError(f"Hub {hub}: UrlTemplate parameters are not allowed in the host name.")
    if "@Microsoft.KeyVault" in template:
        raise ConfigError(f"Hub {hub}: KeyVault references are not supported.")
    system_events: set[str] = set()
    for raw in values.get("systemevents", {}).values():
        for item in str(raw).split(","):
            name = item.strip().lower()
            if not name:
                continue
            if name not in SYSTEM_EVENTS:
                raise ConfigError(f"Hub {hub}: unknown system event {name!r}.")
            system_events.add(name)
    return EventHandler(template, frozenset(system_events), str(values.get("eventpattern", "")))


def load_config(
    *,
    config_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    host: str | None = None,
    port: int | None = None,
    access_key: str | None = None,
) -> EmulatorConfig:
    """Combine appsettings.json, environment and command-line values (in rising priority)."""
    document: Any = {}
    if config_path is not None:
        try:
            document = safejson.loads(Path(config_path).read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read configuration file {config_path}: {exc}") from exc
    environ = environ or {}
    flat = merge_settings(flatten(document), env_settings(environ))
    hubs = hubs_from_settings(flat)
    lowered = {k.lower(): v for k, v in flat.items()}
    key = access_key or lowered.get("webpubsub:accesskey") or DEFAULT_ACCESS_KEY
    config = EmulatorConfig(access_key=validate_access_key(key), hubs=hubs)
    if host is not None:
        config.host = host
    if port is not None:
        config.port = port
    return config


def hubs_from_dict(document: Mapping[str, Any]) -> dict[str, HubSettings]:
    """Hubs from a ``{"<hub>": {"EventHandlers": [...], ...}}`` mapping (tests, stack)."""
    return hubs_from_settings(flatten({"WebPubSub": {"Hubs": dict(document)}}))
