"""Developer scripts; importable so that tests and benchmarks share them (`from scripts import fetch_sdist`)."""
