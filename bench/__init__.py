"""Benchmarks: each figure measured against its floor in the same run (see bench/run.py)."""
