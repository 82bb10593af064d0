"""The `ce-signature` check: proof that an upstream call comes from our Web PubSub service."""

from __future__ import annotations

import hashlib
import hmac
import re

_ENTRY = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


def sign(access_key: str, connection_id: str) -> str:
    """`sha256=<hex>` of HMAC-SHA256(key, connection id), as the service computes it."""
    digest = hmac.new(access_key.encode(), connection_id.encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def header(access_keys: tuple[str, ...] | list[str], connection_id: str) -> str:
    """The full header value the service sends: one entry per key, comma-separated."""
    return ",".join(sign(key, connection_id) for key in access_keys)


def verify(value: str | None, access_keys: tuple[str, ...], connection_id: str) -> bool:
    """True when any well-formed entry matches any of our keys.

    Any malformed entry makes the whole header invalid: the service never sends one, so it
    can only come from someone guessing. Digests are compared in constant time.
    """
    if not value or not access_keys:
        return False
    entries = [entry.strip() for entry in value.split(",")]
    digests = []
    for entry in entries:
        match = _ENTRY.match(entry)
        if not match:
            return False
        digests.append(match.group(1).lower())
    expected = [sign(key, connection_id)[7:] for key in access_keys]
    found = False
    for digest in digests:
        for candidate in expected:
            # No short-circuit: every comparison runs, so timing does not reveal which matched.
            found |= hmac.compare_digest(digest, candidate)
    return found
