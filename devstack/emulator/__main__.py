"""``python -m devstack.emulator``: run the Web PubSub emulator until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import re
import signal
import sys

from .config import DEFAULT_ACCESS_KEY, ConfigError, load_config
from .server import Emulator

log = logging.getLogger("devstack.emulator")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 86400, got {text!r}")
    return value


def _host_name(text: str) -> str:
    # A bare DNS name or IP literal: it is pasted into URLs and compared with token audiences.
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\]", text):
        raise argparse.ArgumentTypeError(f"not a host name: {text!r}")
    return text.lower()


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"expected 0 (no limit) to 100000, got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.emulator", description="Offline Azure Web PubSub emulator."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    parser.add_argument(
        "--access-key",
        default=None,
        help="access key (>= 32 bytes); WebPubSub__AccessKey in the environment keeps it out of ps",
    )
    parser.add_argument("--config", default=None, help="path to an appsettings.json")
    parser.add_argument(
        "--advertised-host",
        type=_host_name,
        default="localhost",
        help="host name in the connection string; tokens and the Host header of requests must "
        "name it, a loopback alias or the bind address (default localhost)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    parser.add_argument(
        "--header-timeout",
        type=_seconds,
        default=30.0,
        help="seconds a request's headers may take to arrive (default 30, as Kestrel)",
    )
    parser.add_argument(
        "--keepalive-timeout",
        type=_seconds,
        default=130.0,
        help="seconds an idle HTTP connection stays open (default 130, as Kestrel)",
    )
    parser.add_argument(
        "--max-connect-events",
        type=_limit,
        default=8,
        help="connect event calls in flight at once; more handshakes wait their turn, none is "
        "refused (default 8; 0 = no limit)",
    )
    parser.add_argument(
        "--max-system-events",
        type=_limit,
        default=8,
        help="connected/disconnected event calls in flight at once; more wait, one "
        "connection's in order, none is dropped (default 8; 0 = no limit)",
    )
    return parser.parse_args(argv)


async def serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await emulator.start()
    log.info("Listening on http://%s:%d", emulator.config.host, emulator.port)
    shown = emulator.connection_string
    if emulator.config.access_key != DEFAULT_ACCESS_KEY:  # the well-known key is no secret
        shown = shown.replace(emulator.config.access_key, "***")
    log.info("Connection string: %s", shown)
    hubs = sorted(h.name for h in emulator.config.hubs.values()) or ["{hub}"]
    for hub in hubs:
        log.info("Client endpoint: %s?access_token={token}", emulator.client_url(hub))
    log.info("Health: %s", emulator.health_url)
    try:
        await stop.wait()
    finally:
        log.info("Stopping")
        await emulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(
            config_path=args.config,
            environ=os.environ,
            host=args.host,
            port=args.port,
            access_key=args.access_key,
        )
    except ConfigError as exc:
        log.error("Invalid configuration: %s", exc)
        return 2
    config.advertised_host = args.advertised_host
    config.header_timeout = args.header_timeout
    config.keepalive_timeout = args.keepalive_timeout
    config.max_connect_events = args.max_connect_events
    config.max_system_events = args.max_system_events
    emulator = Emulator(config)
    try:
        asyncio.run(serve(emulator))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            log.error("Port %d is already in use on %s.", args.port, args.host)
        else:
            log.error("Cannot listen on %s:%d: %s", args.host, args.port, exc.strerror or exc)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
