"""Whether a client's close ends a reliable connection or leaves it recoverable. Pure.

Rules (reliable JSON subprotocol; any close ends a raw or plain JSON connection):

* closes with 1000 (the Python client's ``stop()``): final;
* closes with no status code (the JS client's ``stop()``; aiohttp reports 0, RFC 6455 says
  1005): final;
* closes with 1001 or any other code: recoverable for the recovery window (30 s);
* drops without a close frame (1006): recoverable for the recovery window.

"Final" means at once: the connection is removed (``connection_exists`` is false), its
``disconnected`` event is sent, and a recovery attempt is refused with 1008. "Recoverable" keeps
it, with groups, permissions and unacknowledged messages, for the recovery window; it ends with
``disconnected`` when the window expires.

Why: the Python client SDK's own live tests (``test_recovery``, ``test_no_recovery_no_connect``)
close the socket with 1001 to simulate an accidental drop and expect recovery to the same
connection id; a deliberate ``stop()`` sends 1000 (Python) or a close frame without a code
(JavaScript), after which nothing should linger. Service-side closes (REST close, 1003, 1007,
1008, 1009, slow client) are always final.
"""

from __future__ import annotations

NORMAL_CLOSURE = 1000
# RFC 6455 names a close frame without a status code 1005; aiohttp reports it as 0.
NO_STATUS_CODES = frozenset({0, 1005})


def client_close_is_final(code: int | None) -> bool:
    """True when a client's close frame with this code means "I am done" (None: no frame)."""
    if code is None:
        return False
    return code == NORMAL_CLOSURE or code in NO_STATUS_CODES
