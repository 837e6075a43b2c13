"""Benchmarks: `python -m bench` (or `make bench`) prints throughput and latency figures."""
