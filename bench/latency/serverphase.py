"""The covlens half: drive a real `covlens serve` through the edits, probe hover/code lens during runs, sample RSS."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote, urlparse

from generate import Function, anchor_line, apply_edit
from lspclient import LspClient, LspError, Message, Run

PROBE_TIMEOUT = 10.0  # seconds for one hover/codeLens answer before it counts as lost
REQUEST_TIMEOUT = 60.0  # initialize, shutdown
RSS_EVERY = 0.1  # seconds between two RSS samples


@dataclass
class EditTiming:
    """One edit's timings in seconds from the moment the file was written (None: not seen before the time-out)."""

    number: int
    function: str
    path: str
    line: int  # 0-based line of the inserted statement
    gutter: float | None = None  # the file's fresh covlens/fileCoverage with that line covered
    run_end: float | None = None  # that run's end state
    idle: float | None = None  # every run the save started has ended (the follow-up full run too)
    run_id: str | None = None
    scope: str | None = None  # runStatus scope of the run that gave the gutter
    runs: list[str] = field(default_factory=list)  # "scope:state" of every run the save started
    implausible: int = 0  # fresh notifications for the file before that one, without the new line covered
    error: str | None = None


@dataclass
class Probe:
    kind: str  # hover | codeLens
    rtt: float | None  # seconds; None when it failed
    run_id: str
    error: str | None = None


@dataclass
class ServerResult:
    first_run: dict[str, Any] = field(default_factory=dict)
    edits: list[EditTiming] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    rss: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exit_code: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------------------------- helpers


def uri_path(uri: str) -> str:
    return os.path.realpath(unquote(urlparse(uri).path))


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) of one process from /proc (its children are not counted)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


async def sample_rss(pid: int, samples: list[tuple[float, int]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        rss = proc_status(pid).get("VmRSS")
        if rss is not None:
            samples.append((time.perf_counter(), rss))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), RSS_EVERY)


class Prober:
    """Hover and code lens requests on one open module, one at a time, while a given run is in progress."""

    def __init__(self, client: LspClient, uri: str, line: int, gap: float) -> None:
        self.client, self.uri, self.line, self.gap = client, uri, line, gap
        self.samples: list[Probe] = []

    async def during(self, run: Run) -> None:
        kinds = ("textDocument/hover", "textDocument/codeLens")
        turn = 0
        while run.ended is None and not self.client.closed:
            method = kinds[turn % 2]
            turn += 1
            params: dict[str, Any] = {"textDocument": {"uri": self.uri}}
            if method == "textDocument/hover":
                params["position"] = {"line": self.line, "character": 4}
            kind = method.split("/")[1]
            sent = time.perf_counter()
            try:
                answered, _ = await self.client.request(method, params, PROBE_TIMEOUT)
                self.samples.append(Probe(kind, answered - sent, run.run_id))
            except LspError as exc:
                self.samples.append(Probe(kind, None, run.run_id, str(exc)))
                if self.client.closed:
                    return
            await asyncio.sleep(self.gap)


# ----------------------------------------------------------------------------------------------- the phase


@dataclass
class ServerPhase:
    command: list[str]
    project: Path
    env: dict[str, str]
    edits: list[Function]
    timeout: float  # seconds for any one wait (a full run must fit)
    quiet: float  # seconds without a new run before the server counts as idle
    probe_gap: float
    options: dict[str, Any] | None  # initializationOptions
    stderr: TextIO
    log: TextIO
    say: Any = print

    async def run(self) -> ServerResult:
        result = ServerResult()
        client = await LspClient.start(self.command, self.project, self.env, self.stderr, self.log)
        stop = asyncio.Event()
        samples: list[tuple[float, int]] = []
        sampler = asyncio.ensure_future(sample_rss(client.pid, samples, stop))
        try:
            await self._drive(client, result)
        except (LspError, OSError, ValueError) as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
            self.say(f"covlens phase failed: {exc}")
        finally:
            status = proc_status(client.pid)
            stop.set()
            await sampler
            result.exit_code = await client.close(REQUEST_TIMEOUT)
            result.rss.update({"samples": len(samples), "max_kb": max((s[1] for s in samples), default=None),
                               "hwm_kb": status.get("VmHWM"), "last_kb": status.get("VmRSS")})
            result.runs = [{"run_id": r.run_id, "scope": r.scope, "state": r.state, "total": r.total,
                            "seconds": None if r.ended is None else r.ended - r.started}
                           for r in client.runs.values()]
        return result

    async def _drive(self, client: LspClient, result: ServerResult) -> None:
        await client.initialize(self.project, self.options, REQUEST_TIMEOUT)
        probe_path = self.project / self.edits[0].path.split("/")[0] / "m000.py"
        probe_text = probe_path.read_text()
        opened: dict[str, int] = {}
        self._open(client, opened, probe_path.as_uri(), probe_text)
        prober = Prober(client, probe_path.as_uri(), anchor_line(probe_text, "f000_0"), self.probe_gap)
        result.probes = prober.samples  # the same list: kept even if a later step fails
        # The first run starts by itself after `initialized` (autoRun); probe all through it.
        started = time.perf_counter()
        await client.wait_until(lambda: bool(client.runs), self.timeout, "the first run to start")
        result.rss["startup_kb"] = proc_status(client.pid).get("VmRSS")  # initialized, stored results published
        first = next(iter(client.runs.values()))
        await self._probe_until_end(client, prober, first)
        result.first_run = {"run_id": first.run_id, "scope": first.scope, "state": first.state,
                            "total": first.total, "seconds": first.ended - first.started,
                            "from_initialized": first.ended - started, **_gutters_of(client, first)}
        self.say(f"covlens: first run {first.state} in {first.ended - first.started:.1f} s")
        await self._settle(client, prober)
        for number, function in enumerate(self.edits, start=1):
            timing = await self._edit(client, prober, opened, number, function)
            result.edits.append(timing)
            self.say(f"covlens: edit {number}/{len(self.edits)} {function.name}: gutter "
                     f"{_fmt(timing.gutter)}, run end {_fmt(timing.run_end)}, idle {_fmt(timing.idle)} "
                     f"({', '.join(timing.runs) or 'no run'}){' ' + timing.error if timing.error else ''}")
            if timing.error and client.closed:
                raise LspError(timing.error)

    def _open(self, client: LspClient, opened: dict[str, int], uri: str, text: str) -> None:
        if uri not in opened:
            opened[uri] = 1
            client.notify("textDocument/didOpen", {"textDocument": {
                "uri": uri, "languageId": "python", "version": 1, "text": text}})

    async def _edit(self, client: LspClient, prober: Prober, opened: dict[str, int], number: int,
                    function: Function) -> EditTiming:
        """As an editor does it: the buffer changes, then the save writes the file and sends didSave."""
        path = self.project / function.path
        uri = path.as_uri()
        text = path.read_text()
        new_text, line = apply_edit(text, function, number)
        timing = EditTiming(number, function.name, function.path, line)
        self._open(client, opened, uri, text)
        opened[uri] += 1
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": opened[uri]},
                                                 "contentChanges": [{"text": new_text}]})
        since = len(client.messages)
        saved = time.perf_counter()
        path.write_text(new_text)
        client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        target = uri_path(uri)

        def fresh(message: Message) -> bool:
            if message.method != "covlens/fileCoverage":
                return False
            params = message.params or {}
            run = client.runs.get(params.get("runId") or "")
            if params.get("stale") or run is None or run.started < saved or uri_path(params["uri"]) != target:
                return False
            if line in params.get("covered", []):
                return True
            timing.implausible += 1
            return False

        try:
            found = await client.wait_for(fresh, self.timeout, since, f"fresh coverage of {function.path}")
            timing.gutter = found.at - saved
            run = client.runs[found.params["runId"]]
            timing.run_id, timing.scope = run.run_id, run.scope
            await client.wait_until(lambda: run.ended is not None, self.timeout, f"the end of {run.run_id}")
            assert run.ended is not None
            timing.run_end = run.ended - saved
            await self._settle(client, prober)
            mine = [r for r in client.runs.values() if r.started >= saved]
            timing.runs = [f"{r.scope or '?'}:{r.state or 'running'}" for r in mine]
            timing.idle = max(r.ended for r in mine if r.ended is not None) - saved
        except LspError as exc:
            timing.error = str(exc)
            with contextlib.suppress(LspError):
                await self._settle(client, prober)  # do not start the next edit inside this one's run
        return timing

    async def _probe_until_end(self, client: LspClient, prober: Prober, run: Run) -> None:
        probing = asyncio.ensure_future(prober.during(run))
        try:
            await client.wait_until(lambda: run.ended is not None, self.timeout, f"the end of {run.run_id}")
        finally:
            with contextlib.suppress(asyncio.TimeoutError, LspError):
                await asyncio.wait_for(probing, PROBE_TIMEOUT + 1)
            probing.cancel()

    async def _settle(self, client: LspClient, prober: Prober) -> None:
        """Until no run is going and none starts for `quiet` seconds; probing every run that goes on meanwhile."""
        deadline = time.perf_counter() + self.timeout
        while time.perf_counter() < deadline:
            run = client.running()
            if run is not None:
                await self._probe_until_end(client, prober, run)
                continue
            known = len(client.runs)
            try:
                await client.wait_until(lambda: len(client.runs) > known, self.quiet, "another run")
            except LspError:
                if client.closed:
                    raise
                return
        raise LspError(f"the server did not become idle within {self.timeout:.0f} s")


def _fmt(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.2f} s"


def _gutters_of(client: LspClient, run: Run) -> dict[str, Any]:
    """When each measured file's fresh gutter from `run` arrived, in seconds from its start (its first fileCoverage
    with the run's id), and how many it published before its end: those it sent twice, once settled mid-run and
    again with every file at the end. Files covlens does not measure (tests, skipped modules) come at the end."""
    first: dict[str, float] = {}
    sent: dict[str, int] = {}
    for message in client.messages:
        params = message.params or {}
        if (message.method == "covlens/fileCoverage" and params.get("runId") == run.run_id
                and params.get("decision", {}).get("action") == "instrumented"):
            first.setdefault(params["uri"], message.at - run.started)
            sent[params["uri"]] = sent.get(params["uri"], 0) + 1
    return {"gutters": sorted(first.values()), "settled_files": sum(1 for n in sent.values() if n > 1)}
