"""covlens: live test coverage for Python, explained module by module."""

__version__ = "0.1.0"
