"""The AST engine: a probe call inserted before each counted statement records its line (all Python versions)."""

from __future__ import annotations

import builtins
import functools
import hashlib
import itertools
import re
import sys
import threading
from collections.abc import Callable, Mapping
from types import CodeType
from typing import Any

from covlens.instrument.lines import SourceLines, compile_tree, parse
from covlens.instrument.engine import code_objects
from covlens.instrument.probes import HIT_NAME, REC_NAME, StatementProbes
from covlens.instrument.recorder import FileHits

# After compiling, each file's code gets its own probe names (`__covlens_hit_<hash of its path>__`, the same in every
# process) bound in `builtins`: a probe is one (specialised) builtins lookup and one call, and the module's own
# namespace stays exactly as the user wrote it — code that walks `vars(module)` (toolz.curried does) sees nothing of
# covlens. HIT_NAME probes may be switched off after their first run in a context (see _Switch); REC_NAME probes
# (`except` types) always record (they are bound to `hits.add`).


def _rename(code: CodeType, renames: Mapping[str, str]) -> CodeType:
    """`code` and every code object nested in it, with the global names in `renames` renamed."""
    consts = tuple(_rename(c, renames) if isinstance(c, CodeType) else c for c in code.co_consts)
    names = tuple(renames.get(n, n) for n in code.co_names)
    return code.replace(co_consts=consts, co_names=names)


def stable_probe_name(path: str, kind: str = "hit") -> str:
    """The probe name of the file at `path`: the same in every process, so cached code can be reused as is."""
    return f"__covlens_{kind}_{hashlib.sha256(path.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}__"


# One statement probe in the live bytecode of a code object, as a list (the cheapest object to make, and probes
# are located by the thousand): [writable view of the code's bytecode, start, stop (the probe's CALL: everything
# before it may be rewritten, never the CALL itself), original bytes, patch (JUMP_FORWARD over the whole probe,
# then NOPs), switched off?].
_Site = list
BUF, START, STOP, ORIGINAL, PATCH, OFF = range(6)

_NOT_SCANNED: dict[int, list[_Site]] = {}  # marks a registered code object whose probes are not located yet


class _Switch:
    """Switches statement probes off after their first run in a context, and back on at the next one.

    A probe that recorded its line once in a context has nothing more to say until the next context, yet it would
    cost a builtins lookup and a call (13-30 ns) every time its statement runs: in a hot loop that doubles the time
    of a short statement. So, on CPython 3.11 only, the statement probes of each file call a Python function,
    `first_hit`, that records the line and then rewrites the start of the probes of that line, in the code object
    that called it, into a `JUMP_FORWARD` past the probe (and NOPs, so that anything reading the bytecode linearly
    still sees valid instructions); `rearm()`, at each context switch, writes the original instructions back.

    Only the instructions before the probe's CALL are rewritten: the call that is running (`first_hit` itself)
    returns to the POP_TOP after it, untouched, and no frame can be stopped inside the rewritten instructions. The
    bytecode lives inside the code object (`co_code_adaptive`, at `__basicsize__`); a code object is patched only
    if it was compiled by this engine, the bytes found there are exactly `_co_code_adaptive`, and every probe in it
    has the exact instruction shape expected — else its probes simply record every time. A code object's probes
    are located and switched off only once the code is warm (CPython has quickened it, or a line ran twice in a
    context): code that runs once, like a module body, would pay more to be switched off than to record. The
    instructions written back are the unspecialised ones: always valid, CPython merely stops specialising those.

    On other versions (3.10's bytecode is an immutable bytes object; from 3.12 sys.monitoring rewrites the same
    bytes) probes are bound to `hits.add` and always record. Every registered code object is kept alive for the
    life of the engine: its sites point into its memory.
    """

    def __init__(self) -> None:
        self.epoch = 0  # bumped by every rearm: a first_hit that raced with one undoes its own patch
        self.patched: list[_Site] = []
        self._lock = threading.Lock()
        # id(code) -> [code, its probes by line (_NOT_SCANNED until it is warm, {} when it must never be patched),
        # the length of its bytecode (0 until needed)].
        self.codes: dict[int, list[Any]] = {}

    @staticmethod
    def available() -> bool:
        return sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11)

    def register(self, code: CodeType, name: str) -> None:
        """Note every code object in `code` whose statement probes call `name`; they are located when they run."""
        with self._lock:
            for each in code_objects(code):
                if name in each.co_names:
                    self.codes[id(each)] = [each, _NOT_SCANNED, 0]

    def scan(self, code: CodeType) -> dict[int, list[_Site]]:
        """The statement probes of a registered `code` (not nested code), by line; {} when any looks unexpected."""
        entry = self.codes.get(id(code))
        if entry is None or entry[0] is not code:
            return {}
        if entry[1] is not _NOT_SCANNED:
            return entry[1]
        try:
            found = _locate(code)
        except Exception:  # noqa: BLE001 - an unexpected bytecode shape: probes that always record are still exact
            found = None
        sites = found if found is not None else {}
        entry[1] = sites
        return sites

    def first_hit(self, hits: set[int]) -> Callable[[int], None]:
        """The function a file's statement probes call: record the line, then switch the caller's probes of it off."""
        import ctypes
        import dis

        getframe = sys._getframe
        # CPython 3.11 rewrites RESUME into RESUME_QUICK when it has warmed a code object up (8 calls or `for` turns);
        # RESUME comes first, after one MAKE_CELL per cell, COPY_FREE_VARS and a generator's RETURN_GENERATOR.
        warm = bytes([dis._all_opmap["RESUME_QUICK"]])  # type: ignore[attr-defined]
        head = 2 * 64
        offset = type(getframe().f_code).__basicsize__

        def first_hit(line: int, _hits: set[int] = hits, _add: Any = hits.add, _switch: _Switch = self,
                      _codes: Any = self.codes, _getframe: Any = getframe, _unscanned: Any = _NOT_SCANNED,
                      _warm: bytes = warm, _read: Any = ctypes.string_at, _head: int = head, _offset: int = offset,
                      _size: Any = _code_size) -> None:
            epoch = _switch.epoch
            code = _getframe(1).f_code
            entry = _codes.get(id(code))
            if entry is None:
                _add(line)
                return  # a copy of the code (code.replace): it records every time
            by_line = entry[1]
            if by_line is _unscanned:
                # Cold code (like a module body, run once) would pay more to be switched off than to record the
                # few times it runs. It is switched off once CPython has warmed it up, or once a line runs twice in
                # one context (a `while` loop, whose conditional jumps back do not count towards warming up).
                if line not in _hits and _warm not in _read(id(code) + _offset,
                                                            min(_head, entry[2] or _size(entry, code)))[::2]:
                    _add(line)
                    return
                by_line = _switch.scan(code)
            _add(line)
            sites = by_line.get(line)
            if sites is None:
                return
            patched = _switch.patched
            for site in sites:
                if not site[5]:  # OFF
                    site[5] = True
                    patched.append(site)
                    site[0][site[1]:site[2]] = site[4]  # BUF[START:STOP] = PATCH
            if _switch.epoch != epoch:
                # Another thread switched the context meanwhile: these probes must record again in the new one.
                for site in sites:
                    site[0][site[1]:site[2]] = site[3]  # ORIGINAL
                    site[5] = False

        return first_hit

    def rearm(self) -> None:
        """Switch every probe switched off since the last call back on."""
        self.epoch += 1
        patched, self.patched = self.patched, []
        for site in patched:
            site[BUF][site[START]:site[STOP]] = site[ORIGINAL]
            site[OFF] = False


def _code_size(entry: list[Any], code: CodeType) -> int:
    """The length in bytes of `code`'s bytecode, remembered in its entry of _Switch.codes."""
    entry[2] = len(code._co_code_adaptive)  # type: ignore[attr-defined]
    return entry[2]


@functools.lru_cache(maxsize=None)
def _probe_pattern(arg: int) -> re.Pattern[bytes]:
    """A statement probe calling the global name with LOAD_GLOBAL argument `arg`, as bytes (CPython 3.11)."""
    import opcode

    op = opcode.opmap
    caches = opcode._inline_cache_entries  # type: ignore[attr-defined]

    def unit(name: str, oparg: int = 0) -> bytes:
        return re.escape(bytes([op[name], oparg])) + b"\x00\x00" * caches[op[name]]

    load_global = unit("LOAD_GLOBAL", arg & 0xFF)
    if arg > 0xFF:
        load_global = re.escape(bytes([op["EXTENDED_ARG"], arg >> 8])) + load_global
    extended = re.escape(bytes([op["EXTENDED_ARG"]])) + b"."
    return re.compile(
        load_global
        + b"((?:" + extended + b")*)" + re.escape(bytes([op["LOAD_CONST"]])) + b"(.)"  # the line: a constant
        + unit("PRECALL", 1) + b"(" + unit("CALL", 1) + b")" + unit("POP_TOP"),
        re.DOTALL,
    )


def _patch(skip: int, nops: int) -> bytes:
    import opcode

    return bytes([opcode.opmap["JUMP_FORWARD"], skip]) + bytes([opcode.opmap["NOP"], 0]) * nops


@functools.lru_cache(maxsize=None)
def _buffer_type(size: int) -> Any:
    import ctypes

    return ctypes.c_ubyte * size


def _locate(code: CodeType) -> dict[int, list[_Site]] | None:
    """The statement probes of `code` (CPython 3.11), by line; None if the bytecode is not exactly as expected.

    A probe is `LOAD_GLOBAL (NULL + hit) [5 caches]; LOAD_CONST line; PRECALL 1 [1]; CALL 1 [4]; POP_TOP`, any
    argument possibly preceded by EXTENDED_ARG; the hit name is the one name in co_names starting `__covlens_hit_`.
    Every LOAD_GLOBAL of that name must be such a probe.
    """
    import ctypes
    import opcode

    names = [n for n in code.co_names if n.startswith("__covlens_hit_")]
    if len(names) != 1:
        return None
    adaptive = code._co_code_adaptive  # type: ignore[attr-defined]
    address = id(code) + type(code).__basicsize__
    if ctypes.string_at(address, len(adaptive)) != adaptive:
        return None
    # Probes are found in the unspecialised instructions (warm code has specialised some of them in place; the
    # offsets are the same), and switched back on as such.
    raw = code.co_code
    if len(raw) != len(adaptive):
        return None
    arg = code.co_names.index(names[0]) << 1 | 1  # LOAD_GLOBAL (NULL + name)
    if arg > 0xFFFF:
        return None
    pattern = _probe_pattern(arg)
    extended_arg = opcode.opmap["EXTENDED_ARG"]
    # Views of a few shared sizes (never read or written past the code's own bytes): a ctypes array type per
    # code object would cost more than locating its probes.
    buf = memoryview(_buffer_type(1 << len(raw).bit_length()).from_address(address)).cast("B")
    consts = code.co_consts
    found: dict[int, list[_Site]] = {}
    patches: dict[tuple[int, int], bytes] = {}
    count = 0
    for match in pattern.finditer(raw):
        start = match.start()
        if start & 1 or (arg <= 0xFF and start >= 2 and raw[start - 2] == extended_arg):
            continue  # inside an instruction, or the LOAD_GLOBAL of another name (a larger argument)
        const = 0
        extended = match[1]
        if extended:
            for i in range(1, len(extended), 2):
                const = (const | extended[i]) << 8
        line = consts[const | match[2][0]]
        if type(line) is not int:
            return None
        stop = match.start(3)
        key = (match.end() - start, stop - start)
        patch = patches.get(key)
        if patch is None:
            patch = patches[key] = _patch((key[0] - 2) // 2, (key[1] - 2) // 2)
        site = [buf, start, stop, raw[start:stop], patch, False]
        sites = found.get(line)
        if sites is None:
            found[line] = [site]
        else:
            sites.append(site)
        count += 1
    # Every call of the hit name must have been understood, or none is touched.
    return found if count == _calls(raw, arg) else None


def _calls(raw: bytes, arg: int) -> int:
    """How many LOAD_GLOBAL instructions with argument `arg` (and no other EXTENDED_ARG) `raw` holds."""
    import opcode

    op = opcode.opmap
    needle = bytes([op["LOAD_GLOBAL"], arg & 0xFF])
    if arg > 0xFF:
        needle = bytes([op["EXTENDED_ARG"], arg >> 8]) + needle
    count = 0
    pos = raw.find(needle)
    while pos >= 0:
        if not pos & 1 and not (pos >= 2 and raw[pos - 2] == op["EXTENDED_ARG"]):
            count += 1
        pos = raw.find(needle, pos + 1)
    return count


class AstEngine:
    """Compiles a module with a probe before every statement coverage.py counts."""

    name = "ast"

    _counter = itertools.count()
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._names: dict[str, tuple[str, str]] = {}  # path -> its probes' names in builtins (hit, rec)
        self._owners: dict[str, str] = {}  # probe name -> its path
        self._switch = _Switch() if _Switch.available() else None

    def _probe_names(self, path: str) -> tuple[str, str]:
        with self._lock:
            names = self._names.get(path)
            if names is None:
                names = (stable_probe_name(path, "hit"), stable_probe_name(path, "rec"))
                if self._owners.get(names[0], path) != path:
                    # Two paths with the same 64-bit prefix: never share a probe; this file's code gets renamed.
                    serial = next(self._counter)
                    names = (f"__covlens_hit_{serial}__", f"__covlens_rec_{serial}__")
                self._names[path] = names
                self._owners[names[0]] = path
        return names

    def build(self, source: str, filename: str, lines: SourceLines) -> CodeType:
        """The instrumented code, its probes named for `filename` (stable across processes: it can be cached)."""
        tree = parse(source, filename)
        StatementProbes(lines.statements, lines.first_line).run(tree)
        code = compile_tree(tree, source, filename)
        names = {HIT_NAME: stable_probe_name(filename, "hit"), REC_NAME: stable_probe_name(filename, "rec")}
        return _rename(code, names)

    def bind(self, code: CodeType, filename: str, target: FileHits) -> tuple[CodeType, dict[str, Any]]:
        """Make built code record into `target`: bind its probe names in builtins to the hit set (through first_hit)."""
        hit, rec = self._probe_names(filename)
        stable = (stable_probe_name(filename, "hit"), stable_probe_name(filename, "rec"))
        if (hit, rec) != stable:
            code = _rename(code, {stable[0]: hit, stable[1]: rec})
        add = target.hits.add
        recorder: Callable[[int], Any] = add
        if self._switch is not None:
            try:
                recorder = self._switch.first_hit(target.hits)
            except Exception:  # noqa: BLE001 - a CPython detail it relies on is missing: probes that always record
                recorder = add
            else:
                self._switch.register(code, hit)
        # A reload passes the same FileHits (same set): rebinding keeps every copy of the code recording into it.
        setattr(builtins, rec, add)
        setattr(builtins, hit, recorder)
        return code, {}

    def compile(self, source: str, filename: str, target: FileHits) -> tuple[CodeType, dict[str, Any]]:
        return self.bind(self.build(source, filename, target.lines), filename, target)

    def touched(self) -> None:
        # Probes write to the sets directly, unseen: every file is looked at.
        return None

    def new_context(self) -> None:
        # Probes switched off by their first hit record again in the new context.
        if self._switch is not None:
            self._switch.rearm()

    def close(self) -> None:
        # The builtins stay bound and the probes keep working: instrumented functions may still run after the run
        # ends (atexit, threads), and a probe must never raise NameError in user code.
        pass
