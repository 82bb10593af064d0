"""Whether the host hands a request's body to the function. Pure.

The real Functions host forwards a body to the worker only when the request says
`Content-Length` greater than 0. A body sent with `Transfer-Encoding: chunked` (no length)
reaches the function as empty bytes in Azure, so it does here too, with a log line saying why:
an app that depended on it would otherwise work locally and fail once deployed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class BodyForwarding:
    forward: bool
    # Why a body the client sent is withheld; None when there is nothing to explain.
    withheld_because: str | None = None


def body_forwarding(headers: Mapping[str, str]) -> BodyForwarding:
    """Decide from the request's (lower-cased, joined) headers."""
    if _content_length(headers.get("content-length")) > 0:
        return BodyForwarding(forward=True)
    encoding = headers.get("transfer-encoding", "").strip()
    if encoding:
        return BodyForwarding(
            forward=False,
            withheld_because=(
                f"the request has Transfer-Encoding: {_printable(encoding)} and no "
                "Content-Length, and the Functions host forwards a body only when "
                "Content-Length > 0"
            ),
        )
    return BodyForwarding(forward=False)


def _content_length(raw: str | None) -> int:
    # The HTTP parser has already refused malformed lengths; be strict anyway.
    if raw is None or not raw.strip().isdigit():
        return 0
    return int(raw.strip())


def _printable(value: str) -> str:
    # A header value is the caller's; keep it short and free of control characters in the log.
    shown = "".join(ch if ch.isprintable() else "?" for ch in value[:40])
    return shown + ("..." if len(value) > 40 else "")
