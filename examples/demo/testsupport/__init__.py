"""Helpers shared by the tests: in the workspace, outside the configured source, so reported outside-source."""
