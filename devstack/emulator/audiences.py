"""Which token audiences this emulator accepts. Pure (no I/O).

A token's ``aud`` names the resource it was minted for: a client token names the hub's client
endpoint (``<endpoint>/client/hubs/<hub>``), a REST bearer token names the request URL
(``<endpoint>/api/hubs/<hub>/...``). The expected value is built only from what this emulator
serves, never from the request's ``Host`` header (the caller controls that header, so a crafted
``Host: localhost:8080/client/hubs/x?`` once turned a chat user's client token into a REST admin
token).

* Origin: the scheme is ``http``/``https``/``ws``/``wss`` (the SDKs swap http for ws), the host is
  the advertised host, the bind address (unless it is a wildcard) or a loopback alias
  (``localhost``, ``127.0.0.1``, ``[::1]``), and the port is the port actually bound. Userinfo
  (``user@host``) is refused.
* Path: compared segment by segment, each segment percent-decoded once and case-folded (hub names
  are case-insensitive). ``%2F`` inside a segment stays inside it, so it never matches ``/``.
  A trailing slash is ignored. The query and fragment are ignored: the SDK signs the full request
  URL, whose query order the server cannot know.

So a client token (path ``client/hubs/<hub>``) never matches a REST path (``api/hubs/...``), and a
token for hub A never matches hub B.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def _bare_host(host: str) -> str:
    return host.strip().lower().removeprefix("[").removesuffix("]")


@dataclass(frozen=True)
class ServedOrigins:
    """The host names and port under which this emulator is reachable."""

    hosts: frozenset[str]
    port: int

    @classmethod
    def of(cls, port: int, *names: str) -> ServedOrigins:
        hosts = {_bare_host(n) for n in names} - WILDCARD_HOSTS
        return cls(frozenset(hosts | LOOPBACK_HOSTS), port)

    def origin_of(self, url: str) -> bool:
        """True when ``url``'s scheme, host and port are one of ours (no userinfo)."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:  # a non-numeric or out-of-range port
            return False
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or parts.username is not None or "@" in parts.netloc:
            return False
        host = parts.hostname or ""
        return host in self.hosts and (port or DEFAULT_PORTS[scheme]) == self.port


def path_segments(path: str) -> tuple[str, ...]:
    """A raw (percent-encoded) path as decoded, case-folded segments without empty ones."""
    return tuple(unquote(s).casefold() for s in path.split("/") if s)


def client_path(hub: str) -> tuple[str, ...]:
    return ("client", "hubs", hub.casefold())


def audience_matches(audience: Any, origins: ServedOrigins, expected: Sequence[str]) -> bool:
    """True when one of the token's audiences names one of our origins and ``expected``."""
    want = tuple(expected)
    for aud in _as_strings(audience):
        if origins.origin_of(aud) and path_segments(urlsplit(aud.strip()).path) == want:
            return True
    return False


def _as_strings(audience: Any) -> Iterable[str]:
    values = audience if isinstance(audience, list) else [audience]
    return (v for v in values if isinstance(v, str))
