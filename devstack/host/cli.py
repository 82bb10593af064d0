"""`python -m devstack.host`: run function_app.py like `func start` does, without Core Tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from devstack.host.app_loader import AppImportError, AppLoadError, HttpFunction, load_app
from devstack.host.banner import banner_lines, base_url
from devstack.host.easy_auth import ACTIONS, AUTH_ENABLED_VARIABLE, KNOWN_PROVIDERS
from devstack.host.easy_auth import Config as EasyAuthConfig
from devstack.host.easy_auth_routes import EasyAuth
from devstack.host.function_keys import KEY_SETTING, new_key
from devstack.host.host_json import HostJsonError, read_route_prefix
from devstack.host.invoker import Invoker, thread_pool_size
from devstack.host.listener import PortInUseError, bind_listener
from devstack.host.local_settings import SettingsError, load_into_environ
from devstack.host.server import KeyPolicy, create_app
from devstack.host.timers import TimerFunction, TimerRunner, index_timers
from devstack.httpserver import (
    KEEP_ALIVE_TIMEOUT_S,
    REQUEST_HEADERS_TIMEOUT_S,
    ConnectionTimeouts,
    start_server,
)

logger = logging.getLogger("devstack.host")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7071


class StartupError(RuntimeError):
    """The host cannot start; the message is shown as one line."""


@dataclass(frozen=True)
class HostOptions:
    host: str
    port: int | None
    app_dir: Path
    enforce_keys: bool
    function_key: str | None
    timeouts: ConnectionTimeouts = field(default_factory=ConnectionTimeouts)
    easy_auth: EasyAuthConfig | None = None


def seconds(raw: str) -> float:
    """argparse type: a positive, finite number of seconds."""
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {raw!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {raw}")
    return value


def parse_args(argv: list[str] | None = None) -> HostOptions:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.host",
        description="Run a Python v2-model Azure Functions app (function_app.py) locally.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port (default: local.settings.json Host.LocalHttpPort, else 7071)",
    )
    parser.add_argument("--app-dir", default=".", help="folder holding function_app.py (.)")
    parser.add_argument(
        "--enforce-keys",
        action="store_true",
        help="require ?code= or x-functions-key for FUNCTION/ADMIN functions, as Azure does",
    )
    parser.add_argument(
        "--function-key",
        default=None,
        help=f"the key for --enforce-keys (default: ${KEY_SETTING}, else a random one)",
    )
    parser.add_argument(
        "--request-headers-timeout",
        type=seconds,
        default=REQUEST_HEADERS_TIMEOUT_S,
        metavar="SECONDS",
        help="close a connection whose request headers are not complete this long after the "
        f"request's first byte, with 408 (default {REQUEST_HEADERS_TIMEOUT_S:g}, as Kestrel)",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=seconds,
        default=KEEP_ALIVE_TIMEOUT_S,
        metavar="SECONDS",
        help="close a connection with no request in progress after this long "
        f"(default {KEEP_ALIVE_TIMEOUT_S:g}, as Azure's front end)",
    )
    sign_in = parser.add_argument_group(
        "App Service Authentication emulation (sign-in)",
        "Local /.auth/login/<provider> forms, a session cookie and the X-MS-CLIENT-PRINCIPAL* "
        "headers; callers' own principal headers are dropped.",
    )
    sign_in.add_argument("--sign-in", action="store_true", help="turn the emulation on")
    sign_in.add_argument(
        "--sign-in-providers",
        default="aad,github",
        help=f"comma-separated, from {','.join(KNOWN_PROVIDERS)} (aad,github)",
    )
    sign_in.add_argument(
        "--sign-in-action",
        choices=ACTIONS,
        default="AllowAnonymous",
        help="unauthenticatedClientAction for callers without a session (AllowAnonymous)",
    )
    sign_in.add_argument(
        "--sign-in-exclude",
        action="append",
        default=[],
        metavar="PATH",
        help="excludedPaths entry (repeatable; a trailing /* matches a prefix)",
    )
    args = parser.parse_args(argv)
    easy_auth = None
    if args.sign_in:
        providers = tuple(p.strip().lower() for p in args.sign_in_providers.split(",") if p.strip())
        unknown = sorted(set(providers) - set(KNOWN_PROVIDERS))
        if unknown or not providers:
            parser.error(
                f"--sign-in-providers: unknown provider(s) {', '.join(unknown) or '(none)'}"
            )
        easy_auth = EasyAuthConfig(
            providers=providers,
            unauthenticated_action=args.sign_in_action,
            redirect_to_provider=providers[0],
            excluded_paths=tuple(args.sign_in_exclude),
        )
    return HostOptions(
        host=args.host,
        port=args.port,
        app_dir=Path(args.app_dir).resolve(),
        enforce_keys=args.enforce_keys,
        function_key=args.function_key,
        easy_auth=easy_auth,
        timeouts=ConnectionTimeouts(args.request_headers_timeout, args.keep_alive_timeout),
    )


def configure_logging() -> None:
    formatter = logging.Formatter("[%(asctime)s.%(msecs)03dZ] %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # The Azure SDKs log every HTTP request and its headers at INFO; keep the console readable.
    logging.getLogger("azure").setLevel(logging.WARNING)


@dataclass
class PreparedHost:
    functions: list[HttpFunction]
    listener: socket.socket
    port: int
    keys: KeyPolicy
    executor: ThreadPoolExecutor
    timers: list[TimerFunction] = field(default_factory=list)


def prepare(options: HostOptions) -> PreparedHost:
    """Everything that can fail before serving: settings, port, app import and indexing."""
    if not options.app_dir.is_dir():
        raise StartupError(f"app directory {options.app_dir} does not exist")
    try:
        # Before the import: the app may read settings at import time, as in Azure.
        settings = load_into_environ(options.app_dir)
        # App Service sets this variable itself when authentication is on (apps use it to know
        # the principal headers are the platform's); the emulation does the same, and nothing
        # else may claim it.
        if options.easy_auth is not None:
            os.environ[AUTH_ENABLED_VARIABLE] = "True"
        else:
            os.environ.pop(AUTH_ENABLED_VARIABLE, None)
        route_prefix = read_route_prefix(options.app_dir)
        pool_size = thread_pool_size(os.environ)
    except (SettingsError, HostJsonError, ValueError) as exc:
        raise StartupError(str(exc)) from None
    port = options.port if options.port is not None else settings.local_http_port or DEFAULT_PORT
    try:
        listener = bind_listener(options.host, port)
    except PortInUseError as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        raise StartupError(f"cannot listen on {options.host}:{port}: {exc.strerror}") from None
    try:
        # The worker's working directory is the app root; apps may open files relative to it.
        os.chdir(options.app_dir)
        others: list = []
        functions = load_app(options.app_dir, route_prefix, others)
        timers = index_timers(others)
    except AppLoadError as exc:
        listener.close()
        if isinstance(exc, AppImportError):
            logger.error("Worker failed to index functions", exc_info=exc.__cause__)
        raise StartupError(str(exc)) from None
    key = None
    if options.enforce_keys:
        key = options.function_key or os.environ.get(KEY_SETTING) or new_key()
    return PreparedHost(
        functions=functions,
        listener=listener,
        port=listener.getsockname()[1],
        keys=KeyPolicy(options.enforce_keys, key),
        executor=ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="function"),
        timers=timers,
    )


async def serve(options: HostOptions, prepared: PreparedHost) -> None:
    auth = EasyAuth(options.easy_auth) if options.easy_auth is not None else None
    # Created before the app: `POST /admin/functions/<name>` runs timers by hand through it.
    timers = TimerRunner(prepared.timers, str(options.app_dir), prepared.executor)
    app = create_app(
        prepared.functions,
        Invoker(options.app_dir, prepared.executor),
        prepared.keys,
        auth=auth,
        timers=timers,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = await start_server(app, prepared.listener, options.timeouts)
    try:
        base = base_url(options.host, prepared.port)
        for line in banner_lines(prepared.functions, base, prepared.keys.key):
            logger.info("%s", line)
        for timer in prepared.timers:
            logger.info("        %s: timerTrigger", timer.name)
        if prepared.keys.enforce:
            logger.info("Function keys are enforced (--enforce-keys) for FUNCTION/ADMIN routes.")
        if options.easy_auth is not None:
            logger.info(
                "App Service Authentication is emulated (--sign-in): sign in at %s/.auth/login/%s "
                "(unauthenticated: %s).",
                base,
                options.easy_auth.redirect_to_provider,
                options.easy_auth.unauthenticated_action,
            )
        logger.info("Host started on %s (pid %d). Press Ctrl+C to shut down.", base, os.getpid())
        timers.start()
        await stop.wait()
        logger.info("Application is shutting down...")
    finally:
        await timers.stop()
        await runner.cleanup()
        prepared.executor.shutdown(wait=False, cancel_futures=True)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    options = parse_args(argv)
    try:
        prepared = prepare(options)
    except StartupError as exc:
        logger.error("devstack.host: %s", exc)
        return 1
    asyncio.run(serve(options, prepared))
    return 0
