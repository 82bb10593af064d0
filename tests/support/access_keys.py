"""The hub name and access keys that tests give the app, and the connection string built from them.

Shared by the app's unit tests and the reliability suite: both sign and verify with these keys.
"""

from __future__ import annotations

PRIMARY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
SECONDARY = "secondary-key-0123456789-abcdefghijklmnopqrstuvwxyz"
HUB = "Sample_ChatApp"


def connection_string(endpoint: str, key: str = PRIMARY) -> str:
    return f"Endpoint={endpoint};AccessKey={key};Version=1.0;"
