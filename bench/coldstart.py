"""Cold start: what importing and indexing function_app costs over `import azure.functions`,
and the time from starting a fresh Functions host to each function's first response."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.report import median, table

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "import azure.functions"
APP = "import azure.functions\nimport function_app\nfunction_app.app.get_functions()"
PROBE = """
import time
t0 = time.perf_counter()
{code}
print(time.perf_counter() - t0)
"""
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


def _import_seconds(code: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def measure_imports(rounds: int) -> dict[str, Any]:
    baseline, app = [], []
    for _ in range(rounds):  # interleaved, so drift on a shared machine hits both alike
        baseline.append(_import_seconds(BASELINE))
        app.append(_import_seconds(APP))
    b, a = median(baseline) * 1000, median(app) * 1000
    return {
        "rounds": rounds,
        "baseline_ms": b,
        "app_ms": a,
        "added_ms": a - b,
        "target_added_ms": 40,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_response(method: str, path: str, headers: dict[str, str]) -> tuple[float, int]:
    port = _free_port()
    env = {**__import__("os").environ, **SETTINGS}
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
    imports = measure_imports(8 if quick else 25)
    first = measure_first_responses(2 if quick else 5)
    tables = [
        table(
            "Cold start: import and index (fresh interpreter, median)",
            ["what", "ms"],
            [
                ["import azure.functions (the platform pays this anyway)", imports["baseline_ms"]],
                ["+ import function_app + get_functions()", imports["app_ms"]],
                ["added by the app (target <= 40 ms)", imports["added_ms"]],
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
