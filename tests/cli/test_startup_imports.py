"""What `covlens run` imports before its tests start: only what it needs when all goes well."""

from __future__ import annotations

import logging
import subprocess
import sys

from covlens.lazylog import LazyLogger

RUN_PATH = ("covlens.cli", "covlens.runner.blocking", "covlens.runner.fork_start", "covlens.runner.narrowing",
            "covlens.progress", "covlens.report", "covlens.store.export_json", "covlens.store.export_lcov")


def test_the_run_path_leaves_logging_tempfile_and_shutil_unimported():
    # Each costs 2-4 ms of CPU in every run; they are imported where a rarer path needs them. Parsing the command
    # line is part of the path: argparse's own help formatter imports shutil for every argument it adds.
    code = (f"import sys\nfor name in {RUN_PATH!r}: __import__(name)\n"
            "sys.modules['covlens.cli']._parser().parse_args(['run', '--quiet', '--json', 'r.json', '--', '-x'])\n"
            "print(sorted({'logging', 'tempfile', 'shutil', 'covlens.runner.selection'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_what_the_cli_and_pytest_both_import_is_imported_with_the_worker_before_the_fork():
    # The forked worker inherits what the CLI imported before the fork; what the CLI imports after it, pytest then
    # imports a second time in the worker (argparse, selectors, signal and locale were ~6 ms of CPU per run).
    prelude = "import sys, runpy\nimport covlens.runner.worker\nbase = set(sys.modules)\n"
    cli = (prelude + f"for name in {RUN_PATH + ('covlens.__main__',)!r}: __import__(name)\n"
           "sys.modules['covlens.cli']._parser().parse_args(['run', '--quiet', '--json', 'r.json', '--', '-x'])\n"
           "print(' '.join(sorted(set(sys.modules) - base)))")
    with_pytest = prelude + "import pytest\nprint(' '.join(sorted(set(sys.modules) - base)))"
    after = [set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True
                                ).stdout.split()) for code in (cli, with_pytest)]
    assert after[0] & after[1] == set()


def test_help_is_wrapped_to_the_terminal_width_in_columns():
    widths = {}
    for columns in ("60", "120"):
        env = {"COLUMNS": columns, "PATH": "/usr/bin:/bin"}
        done = subprocess.run([sys.executable, "-m", "covlens", "run", "--help"], capture_output=True, text=True,
                              check=True, env=env)
        wrapped = done.stdout.partition("exit codes")[0]  # the epilog after it is printed as written
        widths[columns] = max(len(line) for line in wrapped.splitlines())
    assert widths["60"] <= 58 < widths["120"] <= 118


def test_a_lazy_logger_logs_as_its_named_logger(caplog):
    log = LazyLogger("covlens.store")
    with caplog.at_level(logging.WARNING, logger="covlens.store"):
        log.warning("the store was rebuilt: %s", "reason")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("covlens.store", "WARNING", "the store was rebuilt: reason")]
    assert log.isEnabledFor(logging.WARNING)

