"""The `covlens` command line: run, report, explain, watch (and serve) over the same services the server uses."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from covlens import __version__
from covlens.config import Config, ConfigError, find_root, load
from covlens.model import CANCELLED, COMPLETE, CRASHED, ERROR, TIMEOUT, RunResult
from covlens.progress import Progress, terminal_columns
from covlens.store import ProjectCoverage, Store, StoreError

# Exit codes follow pytest's: 0 all passed, 1 tests failed, 2 interrupted, 3 internal error, 4 usage error,
# 5 no tests collected. covlens adds its own meanings to two of them: 2 for an invalid configuration (the message
# names the file, line and key), 3 when the test process crashed or could not start.
EXIT_OK = 0
EXIT_TESTS_FAILED = 1
EXIT_INTERRUPTED = 2
EXIT_CONFIG = 2
EXIT_INTERNAL = 3
EXIT_USAGE = 4
EXIT_NO_TESTS = 5

EPILOG = """\
exit codes: 0 all tests passed, 1 some failed, 2 interrupted/timed out or invalid configuration,
3 the test process crashed or covlens failed, 4 bad command line (e.g. a missing folder), 5 no tests collected.
Everything after `--` goes to pytest, e.g. `covlens run -- -k cart -x`.
"""


class UserError(Exception):
    """A problem the user can fix, reported as one message and an exit code, never a traceback."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter (descriptions and epilogs as written), sized to the terminal without `shutil`.

    argparse builds a formatter for every argument it adds, and its own asks shutil for the terminal's width:
    importing shutil was ~3 ms of every `covlens run`, which never prints help (see `terminal_columns`).
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="covlens", description="Live test coverage for Python, explained "
                                     "module by module.", epilog=EPILOG, formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"covlens {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the tests under the instrumenter and print the coverage table",
                         epilog=EPILOG, formatter_class=_HelpFormatter)
    run.add_argument("path", nargs="?", default=".", help="the project folder (default: the current folder)")
    run.add_argument("--lcov", metavar="FILE", help="also write an LCOV tracefile")
    run.add_argument("--json", metavar="FILE", help="also write a coverage.py-format JSON report with decisions")
    run.add_argument("--coverage-data", metavar="FILE", help="also write a coverage.py data file (per-test contexts)")
    run.add_argument("--engine", choices=("auto", "ast", "monitor"), help="override the configured engine")
    run.add_argument("--timeout", type=float, metavar="SECONDS", help="override the configured run timeout")
    run.add_argument("--python", metavar="PATH", help="the project's interpreter (default: the one running covlens; "
                     "it needs pytest, and covlens is put on its path)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    run.add_argument("--all-modules", action="store_true",
                     help="list every module with its reason, stdlib and third-party too (default: counted)")

    report = sub.add_parser("report", help="print or export the stored results without re-running",
                            formatter_class=_HelpFormatter)
    report.add_argument("path", nargs="?", default=".", help="the project folder (default: the current folder)")
    report.add_argument("--format", choices=("table", "json", "lcov"), default="table")
    report.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of the terminal")
    report.add_argument("--coverage-data", metavar="FILE", help="also write a coverage.py data file")
    report.add_argument("--all-modules", action="store_true",
                        help="list every module with its reason, stdlib and third-party too (default: counted)")

    explain = sub.add_parser("explain", help="why a module was instrumented or skipped, and how to change it",
                             formatter_class=_HelpFormatter)
    explain.add_argument("target", help="a module name (shop.cart) or a file path (shop/cart.py)")
    explain.add_argument("--root", default=".", help="the project folder (default: the current folder)")

    watch = sub.add_parser("watch", help="re-run the tests whenever a file changes", formatter_class=_HelpFormatter)
    watch.add_argument("path", nargs="?", default=".", help="the project folder (default: the current folder)")
    watch.add_argument("--debounce", type=float, default=0.3, metavar="SECONDS",
                       help="quiet time after the last change before a run (default 0.3)")

    serve = sub.add_parser("serve", help="start the language server on stdio (used by the editor clients)",
                           formatter_class=_HelpFormatter)
    # The server's own parser owns these options; they are declared here so that `covlens serve --help` lists them.
    serve.add_argument("--stdio", action="store_true", help="serve on stdin/stdout (the default)")
    serve.add_argument("--tcp", action="store_true", help="serve one client over TCP on 127.0.0.1")
    serve.add_argument("--port", type=int, default=2087, help="the TCP port (default 2087; 0 = any free port)")
    serve.add_argument("--log-level", default=None, choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                       help="what goes to stderr (default: $COVLENS_LOG or WARNING)")
    return parser


def _split_pytest_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def main(argv: Sequence[str] | None = None, *, standalone: bool = False) -> int:
    """The command line `argv` (default: this process's); returns the exit code.

    `standalone`: this process is covlens's own program (`covlens.__main__.entry`), not a caller of `main` (a test,
    a script), so `covlens run` may fork its test worker from it.
    """
    ours, pytest_args = _split_pytest_args(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(ours)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if pytest_args and args.command not in ("run", "watch"):
        parser.error(f"`covlens {args.command}` takes no pytest arguments (the ones after `--`)")
    out = sys.stdout
    try:
        if args.command == "run":
            return cmd_run(args, pytest_args, out, fork=standalone)
        if args.command == "report":
            return cmd_report(args, out)
        if args.command == "explain":
            from covlens.explain import explain

            return explain(args.target, _project_folder(args.root), out)
        if args.command == "watch":
            from covlens.watch.terminal import watch

            folder = _project_folder(args.path)
            return watch(_load_config(folder), pytest_args=pytest_args, debounce=args.debounce, out=out)
        if args.command == "serve":
            return cmd_serve(args)
    except UserError as exc:
        print(f"covlens: {exc}", file=sys.stderr)
        return exc.code
    except ConfigError as exc:
        print(f"covlens: invalid configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        print(f"covlens: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("covlens: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `covlens report | head`
        return EXIT_OK
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE


# ----------------------------------------------------------------------------------------------- helpers


def _project_folder(path: str) -> Path:
    folder = Path(path)
    if not folder.exists():
        raise UserError(f"{path}: no such folder; give the project folder (the one with pyproject.toml)")
    if not folder.is_dir():
        raise UserError(f"{path} is a file; give the project folder (the one with pyproject.toml)")
    folder = folder.resolve()
    # `covlens run` from a sub-folder of a project works on the whole project, as pytest's rootdir does.
    return find_root(folder) if not (folder / "pyproject.toml").is_file() else folder


def _load_config(folder: Path, **overrides: object) -> Config:
    config = load(folder)
    changes = {k: v for k, v in overrides.items() if v is not None}
    return config.with_overrides(**changes) if changes else config


def _exports(args: argparse.Namespace, store: Store, project: ProjectCoverage, out: TextIO) -> None:
    written = []
    try:
        if getattr(args, "lcov", None):
            from covlens.store.export_lcov import write_lcov

            write_lcov(project, args.lcov)
            written.append(f"LCOV {args.lcov}")
        if getattr(args, "json", None):
            from covlens.store.export_json import write_json

            write_json(project, args.json)
            written.append(f"JSON {args.json}")
        if getattr(args, "coverage_data", None):
            from covlens.store.export_coverage import write_coverage_data

            write_coverage_data(project, store.context_hits(), args.coverage_data)
            written.append(f"coverage.py data {args.coverage_data}")
    except OSError as exc:
        raise UserError(f"cannot write {exc.filename}: {exc.strerror}", EXIT_USAGE) from None
    if written:
        print("Wrote " + ", ".join(written), file=out)


def exit_code_of(result: RunResult) -> int:
    """The process exit code for a run: pytest's when it finished, else one that says how it ended."""
    state = result.summary.state
    if state == COMPLETE and result.summary.exit_code is not None:
        return result.summary.exit_code
    if state in (CANCELLED, TIMEOUT):
        return EXIT_INTERRUPTED
    if state in (CRASHED, ERROR):
        return EXIT_INTERNAL
    return result.summary.exit_code if result.summary.exit_code is not None else EXIT_INTERNAL


# ----------------------------------------------------------------------------------------------- run


def run_blocking(config: Config, progress: Progress | None = None, pytest_args: Sequence[str] = (),
                 python: str | None = None, fork: bool = False) -> RunResult:
    """One run of all tests in a fresh worker, watched without an event loop; Ctrl-C (SIGINT) cancels it cleanly."""
    from covlens.runner.blocking import BlockingRun

    run = BlockingRun(config, python=python or sys.executable, on_event=progress.on_event if progress else None,
                      pytest_args=pytest_args, fork=fork)
    previous = None
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGINT"):
        # First Ctrl-C: stop the worker and keep what it streamed; the default handler is back for a second one.
        def on_sigint(signum: int, frame: object) -> None:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            run.cancel()

        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        return run.run()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _which(program: str) -> str | None:
    import shutil  # only for --python: shutil costs ~2 ms of every run's start

    return shutil.which(program)


def cmd_run(args: argparse.Namespace, pytest_args: Sequence[str], out: TextIO, fork: bool = False) -> int:
    # Imported here, not at the top: `covlens explain`, `--help` and the others need none of these.
    from covlens.report import full_report

    folder = _project_folder(args.path)
    if args.timeout is not None and args.timeout <= 0:
        raise UserError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if args.python and not _which(args.python):
        raise UserError(f"--python {args.python}: no such interpreter")
    config = _load_config(folder, engine=args.engine, timeout=args.timeout)
    with Store(config.root) as store:  # closed here, not whenever the interpreter gets to it
        progress = None if args.quiet else Progress(out)
        result = run_blocking(config, progress, pytest_args, python=args.python, fork=fork)
        if progress:
            progress.finish()
        # Extra pytest arguments (-k, -m, paths) may narrow the run: then it updates only the tests it ran. Those
        # that only change what pytest prints (-q, -v, --tb) leave it a full run, which replaces what went before.
        from covlens.runner.narrowing import narrowing_argument

        store.record(result, partial=narrowing_argument(pytest_args) is not None)
        project = store.project()
        print(full_report(project, outcomes=result.outcomes, summary=result.summary, all_modules=args.all_modules),
              file=out)
        if result.summary.state != COMPLETE and result.output.strip():
            print("\nLast output of the test process:\n" + _tail(result.output), file=out)
        code = exit_code_of(result)
        if code == EXIT_NO_TESTS:
            print(f"\ncovlens: no tests were collected under {config.root}; check `testpaths` and the test file names",
                  file=out)
        _exports(args, store, project, out)
        return code


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# ----------------------------------------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    from covlens.report import full_report
    from covlens.store.export_json import json_text
    from covlens.store.export_lcov import lcov_text

    folder = _project_folder(args.path)
    if not (folder / ".covlens" / "covlens.db").is_file():
        raise UserError(f"no covlens results in {folder} yet: run `covlens run {args.path}` first", EXIT_USAGE)
    store = Store(folder)
    project = store.project()
    if project.last_run is None:
        raise UserError(f"no covlens results in {folder} yet: run `covlens run {args.path}` first", EXIT_USAGE)
    text = {"table": lambda: full_report(project, all_modules=args.all_modules) + "\n",
            "json": lambda: json_text(project, pretty=not args.output),
            "lcov": lambda: lcov_text(project)}[args.format]()
    if args.output:
        from covlens.store.export_common import write_atomic

        try:
            write_atomic(args.output, text)
        except OSError as exc:
            raise UserError(f"cannot write {args.output}: {exc.strerror}") from None
        print(f"Wrote {args.format} report {args.output}", file=out)
    else:
        out.write(text)
    _exports(argparse.Namespace(coverage_data=args.coverage_data), store, project, out)
    return EXIT_OK


# ----------------------------------------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from covlens.lsp.server import main as serve_main
    except ImportError as exc:
        raise UserError(f"the language server is not available in this build ({exc})", EXIT_INTERNAL) from None
    argv = ["--tcp", "--port", str(args.port)] if args.tcp else []
    if args.log_level:
        argv += ["--log-level", args.log_level]
    return int(serve_main(argv) or 0)
