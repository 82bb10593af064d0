"""'Someone is typing…': ephemeral, never stored, throttled per connection and room."""

from __future__ import annotations

from typing import Any

# A page sends `typing` while keys are pressed; one notice per room every 3 s is enough for
# the indicator (the page shows it for a few seconds) and bounds the fan-out.
INTERVAL_S = 3.0


def allow(state: dict[str, Any], room: str, now: float) -> tuple[bool, dict[str, Any]]:
    """Whether to forward a typing notice now, and the connection state to keep."""
    raw = state.get("typing")
    last_by_room = dict(raw) if isinstance(raw, dict) else {}
    last = last_by_room.get(room)
    recent = last if isinstance(last, int | float) and not isinstance(last, bool) else None
    if recent is not None and 0 <= now - recent < INTERVAL_S:
        return False, state
    last_by_room[room] = round(now, 3)
    return True, state | {"typing": last_by_room}
