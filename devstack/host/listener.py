"""Bind the listening socket up front, so a busy port is a one-line error, not a traceback."""

from __future__ import annotations

import errno
import socket


class PortInUseError(OSError):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(errno.EADDRINUSE, f"port {port} is already in use on {host}")
        self.host = host
        self.port = port

    def __str__(self) -> str:
        return f"port {self.port} is already in use on {self.host}"


def bind_listener(host: str, port: int) -> socket.socket:
    """A bound TCP socket (not yet listening); PortInUseError if the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # SO_REUSEADDR only skips TIME_WAIT leftovers; a live listener still makes bind() fail.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(host, port) from None
        raise
    return sock


def port_is_free(host: str, port: int) -> bool:
    try:
        bind_listener(host, port).close()
    except PortInUseError:
        return False
    return True
