"""host.json: the one setting a local HTTP host needs, extensions.http.routePrefix."""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_ROUTE_PREFIX = "api"


class HostJsonError(ValueError):
    """host.json exists but is malformed."""


def parse_route_prefix(text: str, path: Path) -> str:
    """routePrefix from host.json text: default "api"; "" removes the prefix."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HostJsonError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise HostJsonError(f"{path} must hold a JSON object")
    extensions = document.get("extensions") or {}
    http = extensions.get("http") or {} if isinstance(extensions, dict) else None
    if not isinstance(http, dict):
        raise HostJsonError(f"{path}: extensions.http must be an object")
    prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX)
    if not isinstance(prefix, str):
        raise HostJsonError(f"{path}: extensions.http.routePrefix must be a string")
    return prefix.strip().strip("/")


def read_route_prefix(app_dir: Path) -> str:
    path = app_dir / "host.json"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return DEFAULT_ROUTE_PREFIX
    return parse_route_prefix(text, path)
