"""Pure pieces of the client handshake: subprotocols, raw-mode parameters, connect body."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from multidict import MultiMapping

from . import jsonprotocol as jp
from .tokens import claims_for_connect

STRIPPED_QUERY = frozenset({"access_token"})
STRIPPED_HEADERS = frozenset({"authorization"})


class HandshakeError(Exception):
    """The handshake fails with this HTTP status (the message is the plain-text reason)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def new_connection_id() -> str:
    return secrets.token_urlsafe(16).replace("-", "A").replace("_", "B")


def offered_protocols(header_values: Iterable[str]) -> list[str]:
    """Sec-WebSocket-Protocol header values (possibly repeated) -> the offered list."""
    return [p.strip() for value in header_values for p in value.split(",") if p.strip()]


def choose_subprotocol(offered: list[str], handler_choice: str | None) -> str | None:
    """The subprotocol to accept: the connect handler's pick, else the first built-in one.

    A client offering only protocols nobody picks is refused (400) rather than accepted
    without one, because browsers abort such a handshake anyway.
    """
    if handler_choice is not None:
        if handler_choice not in offered:
            raise HandshakeError(500, "The connect handler chose a subprotocol not offered.")
        return handler_choice
    chosen = next((p for p in offered if p in jp.BUILTIN_PROTOCOLS), None)
    if chosen is None and offered:
        raise HandshakeError(400, "Unsupported subprotocol.")
    return chosen


def raw_mode_params(query: MultiMapping[str]) -> tuple[str, str | None, bool]:
    """(mode, group, noEcho) for raw clients; raise HandshakeError (400) on bad values."""
    mode = (query.get("webpubsub_mode") or "sendEvent").lower()
    if mode not in ("sendevent", "sendtogroup"):
        raise HandshakeError(400, "Invalid webpubsub_mode; expected sendEvent or sendToGroup.")
    no_echo_raw = (query.get("noEcho") or "false").lower()
    if no_echo_raw not in ("true", "false"):
        raise HandshakeError(400, "Invalid noEcho; expected true or false.")
    group = None
    if mode == "sendtogroup":
        groups = query.getall("group", [])
        if len(groups) != 1 or not jp.valid_group_name(groups[0]):
            raise HandshakeError(
                400, "webpubsub_mode=sendToGroup requires exactly one valid group."
            )
        group = groups[0]
    return mode, group, no_echo_raw == "true"


def connect_body(
    query: MultiMapping[str],
    headers: MultiMapping[str],
    claims: Mapping[str, Any],
    offered: list[str],
) -> dict[str, Any]:
    """The connect event body; credentials are never forwarded."""
    query_out: dict[str, list[str]] = {}
    for key, value in query.items():
        if key.lower() not in STRIPPED_QUERY:
            query_out.setdefault(key, []).append(value)
    headers_out: dict[str, list[str]] = {}
    for key, value in headers.items():
        low = key.lower()
        if low in STRIPPED_HEADERS or low.startswith("x-asrs-internal-"):
            continue
        headers_out.setdefault(key, []).append(value)
    return {
        "claims": claims_for_connect(claims),
        "query": query_out,
        "headers": headers_out,
        "subprotocols": offered,
        "clientCertificates": [],
    }
