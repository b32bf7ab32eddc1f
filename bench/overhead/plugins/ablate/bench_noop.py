"""Bench only: the plugin the worker loads instead of covlens's when COVLENS_BENCH_ABLATE names `plugin`."""
