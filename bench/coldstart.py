"""Cold start: what importing and indexing function_app adds to the Python worker's own
imports (without a bytecode cache, as in Azure's read-only package, and with the cache the
package ships), and the time from starting a fresh Functions host to each first response."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.report import median, table
from scripts import package_app

ROOT = Path(__file__).resolve().parent.parent
# What the Python worker has loaded before it imports the app: the app's cost is what it adds.
PRELOADED = "import asyncio, json, logging, typing\nimport azure.functions"
PROBE = (
    PRELOADED
    + """
import sys, time
before = set(sys.modules)
t0 = time.perf_counter()
import function_app
function_app.app.get_functions()
print(time.perf_counter() - t0, len(set(sys.modules) - before))
"""
)
# The deployed code (static/ is only read on request, so it plays no part here).
APP_SOURCES = ("function_app.py", "chat", "adapters")
TARGET_ADDED_MS = 25
FIRST_REQUESTS = {
    "index": ("GET", "/api/index", {}),
    "static": ("GET", "/api/static/app.js", {}),
    "negotiate": ("GET", "/api/negotiate?id=bench", {}),
    "eventhandler": ("OPTIONS", "/api/eventhandler", {"WebHook-Request-Origin": "localhost"}),
}
SETTINGS = {
    "WebPubSubConnectionString": "Endpoint=http://localhost:8080;"
    "AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;",
}


def _copy_app(destination: Path, compiled: bool, python: str) -> Path:
    """A copy of the app's sources with no bytecode cache, or with the one the package ships."""
    destination.mkdir()
    for name in APP_SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, destination / name)
    if compiled:
        package_app.compile_bytecode(destination, python)
    return destination


def _import_once(app_dir: Path, python: str) -> tuple[float, int]:
    # PYTHONDONTWRITEBYTECODE: as in Azure, where the mounted package is read-only, a run
    # leaves no cache behind for the next one. The standard library keeps its own cache.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPYCACHEPREFIX", None)
    out = subprocess.run(
        [python, "-c", PROBE],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, modules = out.stdout.split()
    return float(seconds), int(modules)


def measure_imports(rounds: int, python: str = sys.executable) -> dict[str, Any]:
    """Import + index time over the worker's own imports: no cache vs the shipped cache.

    `python` must have azure-functions installed: Azure's 3.12 is measured by passing a 3.12
    interpreter (scripts/package_app.py ships bytecode for it).
    """
    samples: dict[str, list[float]] = {"no_cache": [], "shipped_cache": []}
    modules = 0
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {
            "no_cache": _copy_app(Path(tmp) / "plain", compiled=False, python=python),
            "shipped_cache": _copy_app(Path(tmp) / "compiled", compiled=True, python=python),
        }
        for _ in range(rounds):  # alternating, so drift on a shared machine hits both alike
            for kind, app_dir in dirs.items():
                seconds, modules = _import_once(app_dir, python)
                samples[kind].append(seconds)
    return {
        "python": subprocess.check_output(
            [python, "-c", "import sys; print(sys.version.split()[0])"], text=True
        ).strip(),
        "rounds": rounds,
        "preloaded": PRELOADED.replace("\n", "; "),
        "modules_added": modules,
        "no_cache_ms": median(samples["no_cache"]) * 1000,
        "shipped_cache_ms": median(samples["shipped_cache"]) * 1000,
        "target_added_ms": TARGET_ADDED_MS,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_response(method: str, path: str, headers: dict[str, str]) -> tuple[float, int]:
    port = _free_port()
    env = {**os.environ, **SETTINGS}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.host", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = started + 30
        while True:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", method=method, headers=headers
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    status = response.status
                break
            except urllib.error.HTTPError as error:
                status = error.code
                break
            except OSError:
                if time.perf_counter() > deadline:
                    raise
                time.sleep(0.005)
        return time.perf_counter() - started, status
    finally:
        process.terminate()
        process.wait(10)


def measure_first_responses(rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, (method, path, headers) in FIRST_REQUESTS.items():
        samples, statuses = [], set()
        for _ in range(rounds):
            seconds, status = _first_response(method, path, headers)
            samples.append(seconds)
            statuses.add(status)
        results[name] = {"median_ms": median(samples) * 1000, "statuses": sorted(statuses)}
    return results


def run(quick: bool) -> tuple[dict[str, Any], list[str]]:
    imports = measure_imports(9 if quick else 25)
    first = measure_first_responses(2 if quick else 5)
    tables = [
        table(
            "Cold start: `import function_app` + indexing, added to a fresh interpreter that has "
            f"loaded `{imports['preloaded']}` (Python {imports['python']}, "
            f"PYTHONDONTWRITEBYTECODE=1; median of "
            f"{imports['rounds']} alternating runs; {imports['modules_added']} modules added)",
            ["app bytecode", "ms", "target"],
            [
                ["none (compiled on import)", imports["no_cache_ms"], f"<= {TARGET_ADDED_MS}"],
                ["shipped in the package (unchecked-hash pycs)", imports["shipped_cache_ms"], ""],
            ],
        ),
        table(
            "Cold start: fresh host process to first response (median)",
            ["function", "request", "ms", "status"],
            [
                [
                    name,
                    f"{m} {p}",
                    first[name]["median_ms"],
                    ",".join(map(str, first[name]["statuses"])),
                ]
                for name, (m, p, _) in FIRST_REQUESTS.items()
            ],
        ),
    ]
    return {"imports": imports, "first_response": first}, tables
