"""Per-connection state carried by the service in `ce-connectionState`.

The service stores whatever the last blocking event's response set and sends it back with
every later event, so any instance of the app can handle any event without shared storage.
The value is base64 of a small JSON object (the convention of the official SDKs).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

HEADER = "ce-connectionState"


def decode(value: str | None) -> dict[str, Any]:
    """The state object; empty when absent or unreadable (a fresh start, never an error)."""
    if not value:
        return {}
    try:
        state = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def encode(state: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()
