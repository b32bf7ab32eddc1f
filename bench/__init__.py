"""covlens benchmarks (importable so that tests can use their helpers, e.g. bench.latency.generate)."""
