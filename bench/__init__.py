"""Benchmarks: `python -m bench` (or `make bench`) prints tables and writes bench/results/*.json."""
