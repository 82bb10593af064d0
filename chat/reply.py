"""A framework-free HTTP reply, so the protocol modules stay pure and testable."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chat import text_rules

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def text(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, text_rules.utf8(message), TEXT, dict(headers or {}))


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    # utf8, never .encode(): a lone surrogate in a stored row (a JSON escape such as "\\ud800"
    # decodes to one) must become U+FFFD, not a 500 for every page that holds the row.
    body = text_rules.utf8(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
    return Reply(status, body, JSON, dict(headers or {}))
