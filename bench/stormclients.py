"""``python -m bench.stormclients URL_PREFIX COUNT``: open COUNT WebSockets at once, elsewhere.

The storm's newcomers run in this separate process, as they would on other machines: their
1,000 handshakes then cost the benchmark driver (which times the chatters) nothing. It prints
``connected N SECONDS`` once all are open (or ``failed REASON``), keeps them open until its
stdin closes, then closes them. Each connection's user is URL_PREFIX + a 4-digit index.
"""

from __future__ import annotations

import asyncio
import sys
import time

from bench import wsclient


def _say(line: str) -> None:
    """One line of the pipe protocol with the driver (not a log message)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(prefix: str, count: int) -> int:
    wsclient.raise_open_file_limit()
    began = time.perf_counter()
    try:
        clients = await wsclient.connect_many(
            [f"{prefix}{i:04d}" for i in range(count)], None, batch=count
        )
    except (OSError, TimeoutError) as exc:
        _say(f"failed {type(exc).__name__}: {exc}")
        return 1
    _say(f"connected {len(clients)} {time.perf_counter() - began:.3f}")
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for client in clients:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]))))
