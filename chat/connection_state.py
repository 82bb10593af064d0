"""Per-connection state carried by the service in `ce-connectionState`.

The service stores whatever the last blocking event's response set and sends it back with
every later event, so any instance of the app can handle any event without shared storage.
The value is base64 of a small JSON object (the convention of the official SDKs).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from chat import bounded_json

HEADER = "ce-connectionState"
# What we store is a few dozen bytes; anything much larger was not written by us.
MAX_BYTES = 4096


def decode(value: str | None) -> dict[str, Any]:
    """The state object; empty when absent or unreadable (a fresh start, never an error)."""
    if not value:
        return {}
    try:
        state = bounded_json.loads_base64(value, max_bytes=MAX_BYTES)
    except bounded_json.InvalidJson:
        return {}
    return state if isinstance(state, dict) else {}


def encode(state: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()
