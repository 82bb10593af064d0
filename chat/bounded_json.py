"""JSON (and base64 JSON) from callers, parsed within bounds. Pure.

`json.loads` recurses once per level of nesting: a few thousand `[` raise RecursionError,
which is not a ValueError and escapes every `except ValueError` as a 500. Every parse of
caller input goes through here: the size is checked before parsing, RecursionError is caught,
and the parsed value may nest at most MAX_DEPTH levels, so later code that walks or re-encodes
it can never recurse deeply either. Any failure is an InvalidJson with a reason in words.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

# Real payloads (a principal's claims, a chat message, our connection state) nest 3 levels.
MAX_DEPTH = 32


class InvalidJson(ValueError):
    """The input cannot be used; the message says why, without echoing the input."""


def _check_depth(value: Any, max_depth: int) -> None:
    # Iterative, so a value at the limit never costs stack depth here either.
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= max_depth:
            raise InvalidJson(f"it is nested more than {max_depth} levels deep")
        pending.extend((child, depth + 1) for child in children)


def loads(data: str | bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON of at most `max_bytes` (UTF-8) nested at most `max_depth` levels."""
    size = len(data.encode()) if isinstance(data, str) else len(data)
    if size > max_bytes:
        raise InvalidJson(f"it is too large (more than {max_bytes} bytes)")
    try:
        value = json.loads(data)
    except RecursionError:
        raise InvalidJson(f"it is nested more than {max_depth} levels deep") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise InvalidJson("it is not valid JSON") from None
    if _openings(data) > max_depth:
        # Each level opens with a "{" or "[" of its own: with at most max_depth of them in
        # the text (those inside strings only add to the count), no container can be deeper
        # than the limit allows, and the walk is skipped (most inputs: a message, our state).
        _check_depth(value, max_depth)
    return value


def _openings(data: str | bytes) -> int:
    if isinstance(data, str):
        return data.count("{") + data.count("[")
    return data.count(b"{") + data.count(b"[")


def loads_base64(
    text: str, *, max_bytes: int, max_depth: int = MAX_DEPTH, validate: bool = True
) -> Any:
    """Parse base64 of JSON; `max_bytes` bounds the decoded JSON (checked before decoding)."""
    # Four characters carry three bytes: a longer text cannot decode within the limit.
    if len(text) > (max_bytes + 2) // 3 * 4 + 4:
        raise InvalidJson(f"it is too large (more than {max_bytes} bytes)")
    try:
        raw = base64.b64decode(text, validate=validate)
    except (binascii.Error, ValueError):
        raise InvalidJson("it is not valid base64") from None
    return loads(raw, max_bytes=max_bytes, max_depth=max_depth)
