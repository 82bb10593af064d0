"""Typed refusals: raised wherever a request cannot be served, turned into replies in one place.

`function_app.py` maps every `ChatError` to an HTTP reply with its status and reason; nothing
else builds error replies for a route. The reason is meant for the caller: never a secret.
"""

from __future__ import annotations


class ChatError(Exception):
    """A request the app refuses, with the reason to tell the caller."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(ChatError):
    status = 400


class Unauthorized(ChatError):
    status = 401


class Forbidden(ChatError):
    status = 403


class Unavailable(ChatError):
    """A dependency (the service, the store, the settings) cannot serve the request now."""

    status = 503


class Refused(ValueError):
    """A user command the app will not carry out: told to its sender in a "rejected" frame
    (a 200 reply to the event, not an HTTP error). `room` is echoed when known."""

    def __init__(self, reason: str, room: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.room = room
