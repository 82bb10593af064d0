"""local.settings.json: its Values become environment variables, as `func start` does.

An environment variable that is already set wins over the file, a missing file is fine, and a
malformed file is a clear error rather than a half-configured app.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

FILE_NAME = "local.settings.json"


class SettingsError(ValueError):
    """local.settings.json exists but cannot be used."""


@dataclass(frozen=True)
class LocalSettings:
    values: dict[str, str] = field(default_factory=dict)
    local_http_port: int | None = None


def _as_setting(name: str, value: object, path: Path) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise SettingsError(f"{path}: Values.{name} must be a string, not {type(value).__name__}")


def parse_local_settings(text: str, path: Path) -> LocalSettings:
    """Parse the file's text (pure; `path` is only used in messages)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SettingsError(f"{path} must hold a JSON object")
    if document.get("IsEncrypted") is True:
        raise SettingsError(f"{path} is encrypted; decrypt it (func settings decrypt) first")
    raw_values = document.get("Values", {})
    if not isinstance(raw_values, dict):
        raise SettingsError(f"{path}: Values must be a JSON object")
    values: dict[str, str] = {}
    for name, value in raw_values.items():
        setting = _as_setting(name, value, path)
        if setting is not None:
            values[name] = setting
    port: int | None = None
    host_section = document.get("Host", {})
    if isinstance(host_section, dict) and "LocalHttpPort" in host_section:
        try:
            port = int(host_section["LocalHttpPort"])
        except (TypeError, ValueError):
            raise SettingsError(f"{path}: Host.LocalHttpPort must be a number") from None
    return LocalSettings(values, port)


def read_local_settings(app_dir: Path) -> LocalSettings:
    path = app_dir / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return LocalSettings()
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from None
    return parse_local_settings(text, path)


def apply_values(values: Mapping[str, str], environ: MutableMapping[str, str]) -> list[str]:
    """Copy values into environ without overriding; return the names that were applied."""
    applied = []
    for name, value in values.items():
        if name not in environ:
            environ[name] = value
            applied.append(name)
    return applied


def load_into_environ(app_dir: Path) -> LocalSettings:
    settings = read_local_settings(app_dir)
    apply_values(settings.values, os.environ)
    return settings
