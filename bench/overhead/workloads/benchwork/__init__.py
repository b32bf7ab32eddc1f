"""Pure-Python CPU-bound workloads for the overhead benchmark (no dependencies, deterministic)."""
