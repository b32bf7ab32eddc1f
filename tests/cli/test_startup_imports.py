"""What `covlens run` imports before its tests start: only what it needs when all goes well."""

from __future__ import annotations

import logging
import subprocess
import sys

from covlens.lazylog import LazyLogger

RUN_PATH = ("covlens.cli", "covlens.runner.blocking", "covlens.runner.fork_start", "covlens.runner.narrowing",
            "covlens.progress", "covlens.report", "covlens.store.export_json", "covlens.store.export_lcov")


def test_the_run_path_leaves_logging_tempfile_and_shutil_unimported():
    # Each costs 2-4 ms of CPU in every run; they are imported where a rarer path needs them.
    code = (f"import sys\nfor name in {RUN_PATH!r}: __import__(name)\n"
            "print(sorted({'logging', 'tempfile', 'shutil', 'covlens.runner.selection'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_a_lazy_logger_logs_as_its_named_logger(caplog):
    log = LazyLogger("covlens.store")
    with caplog.at_level(logging.WARNING, logger="covlens.store"):
        log.warning("the store was rebuilt: %s", "reason")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("covlens.store", "WARNING", "the store was rebuilt: reason")]
    assert log.isEnabledFor(logging.WARNING)

