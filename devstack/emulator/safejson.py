"""JSON parsing for anything a caller sends: bounded nesting, one error type. Pure.

``json.loads`` raises RecursionError (not ValueError) on deeply nested input, and a document
that only just parses in one place can fail when it is parsed again deeper in the stack (the
JSON-protocol encoder re-reads REST JSON payloads). So every caller-supplied document is
refused beyond ``MAX_DEPTH`` levels (64, System.Text.Json's default, which the real service
uses), with a ValueError subclass that the existing "not valid JSON" paths already handle.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
# A JSON string (skipped whole) or one bracket; scanning with a regex keeps the check fast.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class JSONTooDeep(ValueError):
    """The document nests more than MAX_DEPTH arrays/objects."""


def nesting_depth(text: str) -> int:
    """Deepest array/object nesting of a JSON text (unbalanced input is left to the parser)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH, **kwargs: Any) -> Any:
    """``json.loads`` that raises ValueError (JSONTooDeep) for over-deep documents."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    # Cheap pre-check: fewer opening brackets than the limit cannot nest past it.
    if text.count("[") + text.count("{") > max_depth and nesting_depth(text) > max_depth:
        raise JSONTooDeep(f"JSON nested more than {max_depth} levels deep.")
    try:
        return json.loads(text, **kwargs)
    except RecursionError as exc:  # unreachable with the check above; fail closed anyway
        raise JSONTooDeep("JSON nested too deeply.") from exc
