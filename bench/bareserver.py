"""The practical limit for fan-out on this machine: a bare aiohttp broadcast server.

`python -m bench.bareserver PORT`: GET /ws opens a WebSocket (no protocol, no auth);
POST /broadcast sends the request body as one text frame to every open socket, in a plain
loop, and answers 202. Nothing else: no queues, no per-connection writer, no logging.
"""

from __future__ import annotations

import sys

from aiohttp import web

SOCKETS: set[web.WebSocketResponse] = set()


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    SOCKETS.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        SOCKETS.discard(ws)
    return ws


async def broadcast(request: web.Request) -> web.Response:
    text = await request.text()
    for ws in list(SOCKETS):
        await ws.send_str(text)
    return web.Response(status=202)


async def health(_: web.Request) -> web.Response:
    return web.Response(text="OK")


def main() -> None:
    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    app.router.add_post("/broadcast", broadcast)
    app.router.add_get("/api/health", health)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
