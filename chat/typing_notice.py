"""'Someone is typing…': ephemeral, never stored, throttled per connection and room. Pure."""

from __future__ import annotations

from typing import Any

# A page sends `typing` while keys are pressed; one notice per room every 3 s is enough for
# the indicator (the page shows it for a few seconds) and bounds the fan-out.
INTERVAL_S = 3.0


def _throttling(last: object, now: float) -> bool:
    return (
        isinstance(last, int | float)
        and not isinstance(last, bool)
        and 0 <= now - last < INTERVAL_S
    )


def allow(state: dict[str, Any], room: str, now: float) -> tuple[bool, dict[str, Any]]:
    """Whether to forward a typing notice now, and the connection state to keep."""
    raw = state.get("typing")
    last_by_room = dict(raw) if isinstance(raw, dict) else {}
    if _throttling(last_by_room.get(room), now):
        return False, state
    last_by_room[room] = round(now, 3)
    return True, state | {"typing": last_by_room}


def recent(state: dict[str, Any], now: float) -> dict[str, Any]:
    """The state with only the typing times that still throttle a room (the rest are dropped)."""
    raw = state.get("typing")
    if not isinstance(raw, dict):
        return state
    return state | {"typing": {k: v for k, v in raw.items() if _throttling(v, now)}}


def typing(room: str, user: str) -> dict[str, Any]:
    """The notice the room's other members get (never stored)."""
    return {"type": "typing", "room": room, "user": user}
