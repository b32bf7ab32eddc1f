"""Which tests a run runs: all of them, or a list of test node ids and/or files (as pytest takes them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Selection:
    """`targets` None means every test pytest collects; otherwise node ids (`tests/test_a.py::test_x`) or paths."""

    targets: tuple[str, ...] | None = None

    @classmethod
    def all(cls) -> Selection:
        return cls(None)

    @classmethod
    def of(cls, targets: Iterable[str]) -> Selection:
        return cls(tuple(str(t) for t in targets))

    @classmethod
    def coerce(cls, value: Selection | Iterable[str] | None) -> Selection:
        if value is None:
            return cls.all()
        if isinstance(value, Selection):
            return value
        if isinstance(value, str):
            return cls.of([value])
        return cls.of(value)

    @property
    def everything(self) -> bool:
        return self.targets is None

    def pytest_args(self) -> list[str]:
        """Positional arguments for pytest (nothing for "all": pytest then uses testpaths / the root)."""
        return list(self.targets or ())
