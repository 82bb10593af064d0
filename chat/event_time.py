"""The time an event occurred, from its CloudEvents `ce-time` header (RFC 3339).

Pure. The service stamps `ce-time` once per event and resends it unchanged with every retry
of that event, so it is the one time a handler sees that is the same on a retry. It comes as
`yyyy-MM-ddTHH:mm:ssZ` today (whole seconds), but RFC 3339 allows fractional seconds (any
number of digits) and an offset instead of `Z`, so both are read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# RFC 3339 `date-time` (section 5.6): full date, "T", time with optional fraction, "Z" or an
# offset. Anything else (a date alone, ISO week dates, no zone) is not an event time.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?(?:[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(value: str | None) -> int | None:
    """Milliseconds since the epoch (fraction truncated), or None when missing or malformed."""
    if value is None or len(value) > 40:
        return None
    value = value.strip()
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    fraction = match.group(1)
    if fraction is not None:  # milliseconds from its digits; the rest is read without it
        value = value.replace(f".{fraction}", "", 1)
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError:  # month 13, second 60 (a leap second), offset +25:00 ...
        return None
    whole_seconds = (moment - _EPOCH) // timedelta(seconds=1)
    return whole_seconds * 1000 + int((fraction or "0").ljust(3, "0")[:3])
