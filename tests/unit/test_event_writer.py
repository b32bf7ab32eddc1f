"""The worker's EventWriter: held lines leave with the next write, in order, and a flush never loses one."""

from __future__ import annotations

import os

import pytest

from covlens.instrument.decision import make
from covlens.runner import events as ev
from covlens.runner.worker import EventWriter, fd_sender


class Sink:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def __call__(self, line: str) -> None:
        self.writes.append(line)


def test_a_held_line_leaves_in_the_same_write_as_the_next_line_in_order() -> None:
    sink = Sink()
    writer = EventWriter(sink)
    writer.emit_line("a", hold=True)
    writer.emit_line("b", hold=True)
    assert sink.writes == []
    writer.emit_line("c")
    writer.emit_line("d")
    assert sink.writes == ["a\nb\nc", "d"]


def test_flush_writes_what_is_held_once_and_nothing_when_nothing_is() -> None:
    sink = Sink()
    writer = EventWriter(sink)
    writer.flush()
    writer.emit(ev.Notice("x"), hold=True)
    writer.flush()
    writer.flush()
    assert sink.writes == [ev.to_line(ev.Notice("x"))]


def test_held_events_reach_the_pipe_as_separate_lines() -> None:
    read_fd, write_fd = os.pipe()
    try:
        writer = EventWriter(fd_sender(write_fd))
        finished = ev.RunFinished(0)
        writer.emit(ev.Notice("held"), hold=True)
        writer.emit(ev.ContextHits("t::a", {"/p/a.py": frozenset({2, 1})}), hold=True)
        writer.emit(finished)
        data = os.read(read_fd, 1 << 16).decode()
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert data.endswith("\n")
    assert [ev.from_line(line) for line in data.splitlines()] == [
        ev.Notice("held"), ev.ContextHits("t::a", {"/p/a.py": frozenset({1, 2})}), finished]


def test_the_sender_never_writes_into_a_file_that_took_its_pipes_number(tmp_path) -> None:
    read_fd, write_fd = os.pipe()
    victim = tmp_path / "user-file.txt"
    try:
        send = fd_sender(write_fd)
        send("first")
        assert os.read(read_fd, 100) == b"first\n"
        with open(victim, "wb") as handle:  # a test closes the pipe and its file gets the same number
            os.dup2(handle.fileno(), write_fd)
        with pytest.raises(OSError, match="no longer covlens's event pipe"):
            send("second")
        os.close(write_fd)
        with pytest.raises(OSError, match="no longer covlens's event pipe"):
            send("third")  # closed altogether
    finally:
        os.close(read_fd)
    assert victim.read_bytes() == b""


def test_a_sender_on_a_file_keeps_writing_after_a_rename_and_stops_when_the_number_is_reused(tmp_path) -> None:
    first, second = tmp_path / "events.txt", tmp_path / "other.txt"
    fd = os.open(first, os.O_WRONLY | os.O_CREAT)
    try:
        send = fd_sender(fd)
        send("a")
        first.rename(tmp_path / "moved.txt")  # the same file: still ours
        send("b")
        other = os.open(second, os.O_WRONLY | os.O_CREAT)
        os.dup2(other, fd)
        os.close(other)
        with pytest.raises(OSError, match="no longer covlens's event pipe"):
            send("c")
    finally:
        os.close(fd)
    assert (tmp_path / "moved.txt").read_bytes() == b"a\nb\n"
    assert second.read_bytes() == b""


def test_a_broken_sink_drops_what_is_held_without_raising_and_is_not_written_to_again() -> None:
    calls: list[str] = []

    def broken(line: str) -> None:
        calls.append(line)
        raise OSError("pipe closed")

    writer = EventWriter(broken)
    writer.emit_line("a", hold=True)
    writer.flush()
    writer.emit_line("b", hold=True)
    writer.emit_line("c")
    writer.flush()
    assert calls == ["a"]


def test_installing_the_hook_sends_the_decisions_for_every_module_already_imported_in_one_write(tmp_path) -> None:
    from covlens.config import load
    from covlens.runner.worker import WorkerState

    sink = Sink()
    state = WorkerState(load(tmp_path), EventWriter(sink))
    state.install()
    try:
        assert state.instrumenter is not None
        started, *rest = sink.writes
        assert isinstance(ev.from_line(started), ev.WorkerStarted)
        assert len(rest) == 1  # every decision, held during the installation
        decided = [ev.from_line(line) for line in rest[0].splitlines()]
        assert all(isinstance(event, ev.DecisionMade) for event in decided)
        assert {event.decision.module for event in decided} >= {"os", "json", "pytest"}
        state.on_decision(make("later", None, "no-source", "imported after the installation"))
        assert len(sink.writes) == 3  # once installed, each decision leaves at once
    finally:
        state.instrumenter.uninstall()
        state.instrumenter.engine.close()


def test_finishing_sends_its_decisions_and_the_line_facts_in_one_write(tmp_path) -> None:
    from covlens.config import load
    from covlens.runner.worker import WorkerState

    for name in ("alpha", "beta"):
        (tmp_path / f"{name}.py").write_text("x = 1\n")
    sink = Sink()
    state = WorkerState(load(tmp_path), EventWriter(sink))
    state.install()
    before = len(sink.writes)
    state.finalize()
    assert len(sink.writes) == before + 1
    events = [ev.from_line(line) for line in sink.writes[-1].splitlines()]
    unimported = {e.decision.module for e in events if isinstance(e, ev.DecisionMade)
                  and e.decision.action == "not-imported"}
    assert unimported == {"alpha", "beta"}
    files = [e for e in events if isinstance(e, ev.FilesMeasured)]
    assert len(files) == 1 and {fl.module for fl in files[0].files} == {"alpha", "beta"}
