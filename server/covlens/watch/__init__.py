"""Watching the project: a watchdog observer with ignore rules, and the debouncing run scheduler."""

from covlens.watch.scheduler import DEFAULT_DEBOUNCE, RunEnded, RunRequest, Scheduler

__all__ = ["DEFAULT_DEBOUNCE", "RunEnded", "RunRequest", "Scheduler"]
