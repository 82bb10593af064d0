"""Responses the host makes itself (not a function's): status, 404, 401, 413, 500, and the
admin route's 202/400/415.

Each carries `X-Content-Type-Options: nosniff` and a fixed text: nothing from the request (path,
query, header values) is ever echoed, so an error page cannot be turned into reflected content.
A function's own responses are left exactly as the function built them, as in Azure.
"""

from __future__ import annotations

from aiohttp import web

from devstack.httpserver import NOSNIFF


def host_response(status: int, reason: str | None = None) -> web.Response:
    """An error the host answers itself; `reason` is a fixed, human sentence, never input."""
    if reason is None:
        # 404/401/500 have empty bodies in Azure too.
        return web.Response(status=status, headers=NOSNIFF)
    return web.Response(status=status, text=f"{reason}\n", headers=NOSNIFF)


def host_json(data: object) -> web.Response:
    return web.json_response(data, headers=NOSNIFF)
