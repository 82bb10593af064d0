"""Run the benchmarks: `python -m bench [--quick] [--only NAME ...]`.

Prints Markdown tables (docs/performance.md quotes them) and writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bench.report import emit, save, setup_logging

SUITES = {
    "coldstart": "bench.coldstart",
    "inprocess": "bench.inprocess",
    "e2e": "bench.e2e",
    "fanout": "bench.fanout",
    "storm": "bench.storm",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    parser.add_argument("--only", nargs="+", choices=sorted(SUITES), help="run just these")
    args = parser.parse_args(argv)
    setup_logging()
    command = (
        "python -m bench"
        + (" --quick" if args.quick else "")
        + (" --only " + " ".join(args.only) if args.only else "")
    )
    emit(f"Reproduce with: {command}")
    for name in args.only or list(SUITES):
        try:
            module = importlib.import_module(SUITES[name])
        except ModuleNotFoundError as error:
            emit(f"(skipping {name}: {error})")
            continue
        data, tables = module.run(args.quick)
        for text in tables:
            emit(text)
        emit(f"wrote {save(name, data, command)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
