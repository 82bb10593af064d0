"""Run the benchmarks: `python -m bench [--quick] [--only NAME ...] [--rtt-ms MS]`.

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
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="inprocess only: put the tables and the sink MS ms of round trip away (a proxy "
        "delays each direction MS/2); results go to bench/results/inprocess-rttMS.json",
    )
    args = parser.parse_args(argv)
    if args.rtt_ms and args.only != ["inprocess"]:
        parser.error("--rtt-ms applies to the in-process bench only: add --only inprocess")
    if not 0 <= args.rtt_ms <= 1000:
        parser.error("--rtt-ms must be between 0 and 1000")
    setup_logging()
    command = (
        "python -m bench"
        + (" --quick" if args.quick else "")
        + (" --only " + " ".join(args.only) if args.only else "")
        + (f" --rtt-ms {args.rtt_ms:g}" if args.rtt_ms else "")
    )
    emit(f"Reproduce with: {command}")
    for name in args.only or list(SUITES):
        try:
            module = importlib.import_module(SUITES[name])
        except ModuleNotFoundError as error:
            emit(f"(skipping {name}: {error})")
            continue
        if args.rtt_ms:  # a separate file: the local run's results stay as they are
            data, tables = module.run(args.quick, rtt_ms=args.rtt_ms)
            name = f"{name}-rtt{args.rtt_ms:g}"
        else:
            data, tables = module.run(args.quick)
        for text in tables:
            emit(text)
        emit(f"wrote {save(name, data, command)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
