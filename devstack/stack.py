"""`python -m devstack`: the emulator, Azurite's Table service and the Functions host together
(what `make run` does).

All run as child processes with their output forwarded line by line. The runner waits for both
health checks, prints the chat URL, and stops both on Ctrl-C/SIGTERM; if either child dies it
stops the other and exits non-zero. Busy ports are reported before anything is started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from devstack.host.listener import port_is_free
from devstack.stack_wiring import (
    ACCESS_KEY_ENV,
    AZURITE_BIN,
    BIND_HOST,
    DEFAULT_ACCESS_KEY,
    DEFAULT_EMULATOR_PORT,
    DEFAULT_HOST_PORT,
    DEFAULT_HUB,
    DEFAULT_STORAGE_DIR,
    DEFAULT_STORAGE_PORT,
    REPO_ROOT,
    StackOptions,
    azurite_command,
    emulator_command,
    emulator_env,
    host_command,
    host_env,
)

logger = logging.getLogger("devstack")

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# A child that exits within this grace period after a stop request was asked to stop (a
# terminal's Ctrl-C reaches the whole process group, so children may exit first).
EXIT_GRACE_S = 0.3


class StackError(RuntimeError):
    """Reported as one line; the runner exits 1."""


def parse_args(argv: list[str] | None = None) -> tuple[StackOptions, float]:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Run the Web PubSub emulator and the Functions host, wired together.",
    )
    parser.add_argument("--emulator-port", type=int, default=DEFAULT_EMULATOR_PORT)
    parser.add_argument("--host-port", type=int, default=DEFAULT_HOST_PORT)
    parser.add_argument(
        "--access-key",
        default=os.environ.get(ACCESS_KEY_ENV) or DEFAULT_ACCESS_KEY,
        help=f"emulator access key (better: set {ACCESS_KEY_ENV}, which ps does not show)",
    )
    parser.add_argument("--hub", default=DEFAULT_HUB, help="hub name (Sample_ChatApp)")
    parser.add_argument("--app-dir", default=str(REPO_ROOT), help="folder with function_app.py")
    parser.add_argument(
        "--storage-port", type=int, default=DEFAULT_STORAGE_PORT, help="Azurite's Table port"
    )
    parser.add_argument(
        "--storage-dir",
        default=str(DEFAULT_STORAGE_DIR),
        help="where Azurite keeps the history (.azurite, git-ignored)",
    )
    parser.add_argument("--storage-in-memory", action="store_true", help="keep no history on disk")
    parser.add_argument(
        "--startup-timeout", type=float, default=STARTUP_TIMEOUT_S, help="seconds (30)"
    )
    parser.add_argument(
        "--sign-in",
        action="store_true",
        help="emulate App Service Authentication in the host and set ChatSignIn=required",
    )
    parser.add_argument(
        "--sign-in-action",
        choices=("AllowAnonymous", "RedirectToLoginPage", "Return401", "Return403"),
        default=None,
        help="with --sign-in: what callers who have not signed in get (AllowAnonymous, so the "
        "page offers every provider); RedirectToLoginPage is what the deployment does",
    )
    args = parser.parse_args(argv)
    if args.sign_in_action and not args.sign_in:
        parser.error("--sign-in-action needs --sign-in")
    options = StackOptions(
        emulator_port=args.emulator_port,
        host_port=args.host_port,
        access_key=args.access_key,
        hub=args.hub,
        app_dir=Path(args.app_dir).resolve(),
        sign_in=args.sign_in,
        sign_in_action=args.sign_in_action or "AllowAnonymous",
        storage_port=args.storage_port,
        storage_dir=None if args.storage_in_memory else Path(args.storage_dir).resolve(),
    )
    return options, args.startup_timeout


def check_ports(options: StackOptions) -> None:
    ports = (options.emulator_port, options.host_port, options.storage_port)
    if len(set(ports)) != len(ports):
        raise StackError(f"the emulator, the host and Azurite need three different ports: {ports}")
    for role, port, flag in (
        ("emulator", options.emulator_port, "--emulator-port"),
        ("Functions host", options.host_port, "--host-port"),
        ("Azurite Table service", options.storage_port, "--storage-port"),
    ):
        if not port_is_free(BIND_HOST, port):
            raise StackError(
                f"port {port} ({role}) is already in use on {BIND_HOST}; "
                f"stop what uses it or pass {flag}"
            )


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    pump: asyncio.Task[None]


async def _pump(name: str, stream: asyncio.StreamReader) -> None:
    child_log = logging.getLogger(f"devstack.{name}")
    while line := await stream.readline():
        child_log.info("[%s] %s", name, line.decode("utf-8", "replace").rstrip("\n"))


async def start_child(name: str, command: list[str], env: dict[str, str]) -> Child:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=str(REPO_ROOT),
    )
    assert process.stdout is not None
    return Child(name, process, asyncio.create_task(_pump(name, process.stdout)))


async def stop_child(child: Child) -> None:
    if child.process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            # Azurite saves its data on SIGINT only; SIGTERM would lose the last seconds.
            child.process.send_signal(signal.SIGINT if child.name == "azurite" else signal.SIGTERM)
        try:
            await asyncio.wait_for(child.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            logger.warning(
                "[stack] %s did not stop in %.0fs; killing it", child.name, STOP_TIMEOUT_S
            )
            with contextlib.suppress(ProcessLookupError):
                child.process.kill()
            await child.process.wait()
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(child.pump, 2)


async def _healthy(session: aiohttp.ClientSession, method: str, url: str) -> bool:
    try:
        async with session.request(method, url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
            return resp.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _listening(port: int) -> bool:
    """Azurite answers every unauthenticated request with an error: an open port is health."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(BIND_HOST, port), 2)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def check_azurite() -> None:
    if not AZURITE_BIN.exists():
        raise StackError(
            "Azurite is not installed: run `make azurite` "
            "(npm ci in devstack/azurite, the pinned storage emulator)"
        )


async def wait_healthy(options: StackOptions, children: list[Child], timeout: float) -> None:
    checks = [("HEAD", options.emulator_health_url), ("GET", options.host_health_url)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            for child in children:
                if child.process.returncode is not None:
                    raise StackError(
                        f"the {child.name} exited during startup "
                        f"(exit code {child.process.returncode}); see its log above"
                    )
            results = [await _healthy(session, method, url) for method, url in checks]
            storage_up = await _listening(options.storage_port)
            if all(results) and storage_up:
                return
            if loop.time() > deadline:
                waiting = [url for (_, url), ok in zip(checks, results, strict=True) if not ok]
                waiting += [] if storage_up else [options.table_endpoint]
                raise StackError(f"not healthy after {timeout:.0f}s: {', '.join(waiting)}")
            await asyncio.sleep(0.1)


def announce(options: StackOptions) -> None:
    # The default key is the emulator's well-known development key; a chosen one stays hidden.
    shown = options.connection_string
    where = options.storage_dir or "memory only"
    if options.access_key != DEFAULT_ACCESS_KEY:
        shown = shown.replace(options.access_key, "***")
    for line in (
        "",
        f"Chat:              {options.chat_url}",
        (
            f"Sign-in:           required (local App Service Authentication: "
            f"{options.host_base_url}/.auth/login/aad or /github)"
            if options.sign_in
            else f"Chat (lazy auth):  {options.chat_url}?connect=direct"
        ),
        f"Hub:               {options.hub} -> {options.event_handler_url}",
        f"Connection string: {shown}",
        f"Table storage:     {options.table_endpoint} (Azurite; history in {where})",
        "",
        # Last, where the eye lands once the startup output stops scrolling.
        f"==> The chat is ready: open {options.chat_url} (Ctrl+C stops it)",
        "",
    ):
        logger.info("[stack] %s", line)


async def supervise(options: StackOptions, startup_timeout: float) -> int:
    check_ports(options)
    check_azurite()
    if options.storage_dir is not None:
        options.storage_dir.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    children: list[Child] = []
    logger.info("[stack] starting Azurite, the emulator and the Functions host (a few seconds)...")
    try:
        children.append(await start_child("azurite", azurite_command(options), dict(os.environ)))
        children.append(
            await start_child(
                "emulator", emulator_command(options), emulator_env(options, os.environ)
            )
        )
        children.append(
            await start_child("host", host_command(options), host_env(options, os.environ))
        )
        startup = asyncio.create_task(wait_healthy(options, children, startup_timeout))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({startup, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            startup.cancel()
            logger.info("[stack] stopping before startup completed")
            return 0
        stopped.cancel()
        try:
            startup.result()
        except StackError as exc:
            logger.error("devstack: %s", exc)
            return 1
        announce(options)
        return await _run_until_stopped(children, stop)
    finally:
        await asyncio.gather(*(stop_child(child) for child in children))
        logger.info("[stack] stopped")


async def _run_until_stopped(children: list[Child], stop: asyncio.Event) -> int:
    exits = {asyncio.create_task(child.process.wait()): child for child in children}
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({stopped, *exits}, return_when=asyncio.FIRST_COMPLETED)
    if stopped not in done:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), EXIT_GRACE_S)
    for task in (stopped, *exits):
        task.cancel()
    if stop.is_set():
        logger.info("[stack] shutting down")
        return 0
    dead = next(exits[task] for task in done if task in exits)
    others = [c.name for c in children if c is not dead]
    logger.error(
        "[stack] the %s exited unexpectedly (exit code %s); stopping the %s",
        dead.name,
        dead.process.returncode,
        ", ".join(others),
    )
    return 1


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    # Children stamp their own lines; the runner adds only the [name] prefix.
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    options, startup_timeout = parse_args(argv)
    try:
        return asyncio.run(supervise(options, startup_timeout))
    except StackError as exc:
        logger.error("devstack: %s", exc)
        return 1
