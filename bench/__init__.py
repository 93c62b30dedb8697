"""Benchmarks: `python -m bench [name ...]` (`make bench` runs them all). Each prints a table
and writes JSON to bench/results/<name>.json. Not tests: figures, never pass/fail on timing."""
