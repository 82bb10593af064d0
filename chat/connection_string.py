"""Parse a Web PubSub connection string the way the service SDK does."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


class ConnectionStringError(ValueError):
    """The connection string cannot be used; the message says why, never echoing the key."""


@dataclass(frozen=True)
class ConnectionString:
    endpoint: str  # scheme://host[:port], no trailing slash
    access_key: str

    @property
    def host(self) -> str:
        return (urlsplit(self.endpoint).hostname or "").lower()


def parse(value: str) -> ConnectionString:
    """`Endpoint=...;AccessKey=...;Version=1.0;` with an optional `Port=`.

    Like the SDK: segments split on `;`, empty ones skipped, keys case-insensitive, `Port`
    appended to the endpoint.
    """
    fields: dict[str, str] = {}
    for number, segment in enumerate(value.split(";"), start=1):
        segment = segment.strip()
        if not segment:
            continue
        key, sep, val = segment.partition("=")
        if not sep:
            # Only the position: a segment without "=" is often a pasted key.
            raise ConnectionStringError(f"segment {number} (split on ';') has no '='")
        fields[key.strip().lower()] = val.strip()
    endpoint = fields.get("endpoint", "")
    key = fields.get("accesskey", "")
    if not endpoint:
        raise ConnectionStringError("Endpoint is missing")
    if not key:
        raise ConnectionStringError("AccessKey is missing")
    endpoint = endpoint.rstrip("/")
    if "port" in fields:
        port = fields["port"]
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConnectionStringError("Port must be a number from 1 to 65535")
        endpoint = f"{endpoint}:{port}"
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionStringError("Endpoint must be an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise ConnectionStringError("Endpoint has an invalid port") from error
    return ConnectionString(endpoint=endpoint, access_key=key)
