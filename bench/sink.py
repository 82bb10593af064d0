"""A stand-in for the service's REST API that accepts everything: the floor for broadcasts.

Run in its own process so the benchmark's event loop does only the client's work.
`python -m bench.sink PORT` prints nothing but serves until killed.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web


async def _accept(request: web.Request) -> web.Response:
    await request.read()
    if request.method == "GET" and request.path.endswith("/connections"):
        return web.json_response({"value": []})  # list_connections: an empty group
    return web.Response(status=202 if request.method == "POST" else 200)


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _accept)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


@contextmanager
def running(port: int) -> Iterator[str]:
    process = subprocess.Popen([sys.executable, "-m", "bench.sink", str(port)])
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(endpoint + "/api/health", timeout=1).close()  # noqa: S310
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
