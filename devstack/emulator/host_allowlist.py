"""Which ``Host`` headers the emulator answers: a DNS-rebinding defence. Pure (no I/O).

A web page on ``evil.example`` whose DNS name is re-pointed to 127.0.0.1 can make the browser
send requests to the emulator, and the emulator's well-known default access key lets that page
sign valid REST tokens. What such a request cannot change is its ``Host`` header: the browser
writes the page's own name there. So the emulator answers only requests addressed to a name it
serves (the same names its token audiences accept, ``audiences.ServedOrigins``): the advertised
host, the bind address unless it is a wildcard, ``localhost``, ``127.0.0.1`` or ``[::1]``, each
on the bound port. A missing, repeated or malformed ``Host`` is refused too.

The Functions host has no such check on purpose: Azure's host answers any host name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .audiences import ServedOrigins

# RFC 9110 Host = uri-host [ ":" port ], where uri-host is an IP literal in brackets, an IPv4
# address or a registered name; anything else (userinfo, a path, spaces, an empty port) is
# not a host this emulator serves.
_HOST = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?")
HTTP_DEFAULT_PORT = 80


def host_is_served(host_headers: Sequence[str], origins: ServedOrigins) -> bool:
    """True when the request carries exactly one ``Host`` naming this emulator and its port."""
    if len(host_headers) != 1:
        return False
    match = _HOST.fullmatch(host_headers[0])
    if match is None:
        return False
    name = match["name"].lower().removeprefix("[").removesuffix("]")
    port = int(match["port"]) if match["port"] else HTTP_DEFAULT_PORT
    return name in origins.hosts and port == origins.port
