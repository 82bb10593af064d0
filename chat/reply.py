"""A framework-free HTTP reply, so the protocol modules stay pure and testable."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def text(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, message.encode(), TEXT, dict(headers or {}))


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, body, JSON, dict(headers or {}))
