"""Tables and JSON for benchmark results; statistics that tolerate a noisy shared machine."""

from __future__ import annotations

import json
import logging
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("bench")
RESULTS = Path(__file__).parent / "results"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table, so docs/performance.md can quote it verbatim."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [f"### {title}", ""]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def save(name: str, data: dict[str, Any], command: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    meta = {
        "command": command,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    path.write_text(json.dumps({"meta": meta, **data}, indent=2))
    return path


def emit(text: str) -> None:
    """Benchmark output is the product here; it goes to stdout through logging."""
    log.info("%s\n", text)


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    # Only the tables: the SDK's request logging and the app's own lines would drown them
    # (and writing them would be measured as part of the app).
    for noisy in ("azure", "chat", "devstack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
