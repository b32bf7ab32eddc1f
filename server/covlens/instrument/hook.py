"""The sys.meta_path finder and wrapping loader that instrument modules as they are imported, with every guard."""

from __future__ import annotations

import importlib.machinery
import sys
import threading
import zipimport
from collections.abc import Callable
from types import ModuleType
from typing import Any

from covlens.config import Config
from covlens.instrument import cache as code_cache
from covlens.instrument import discover, early, lines, miss
from covlens.instrument.decision import INSTRUMENTED, Decision, make
from covlens.instrument.engine import Engine, create_engine
from covlens.instrument.policy import Policy, real_path
from covlens.instrument.recorder import Recorder
from covlens.instrument.source import Source
from covlens.model import FileLines

# Loaders whose source covlens knows how to read and whose behaviour it can reproduce exactly.
_PLAIN_LOADERS: tuple[type, ...] = (importlib.machinery.SourceFileLoader, zipimport.zipimporter)
_BUILT_IN = frozenset(sys.builtin_module_names)  # asked at every import: a set, not the tuple's linear scan
_PLAIN_GET_SOURCE = importlib.machinery.SourceFileLoader.get_source


def _summary(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Fallback(Exception):
    """Raised inside the loader to import the module normally, carrying the Decision that says why."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.detail)
        self.decision = decision


class CovlensLoader:
    """Wraps the loader the normal machinery chose; exec_module runs instrumented code or falls back to it."""

    def __init__(self, inner: Any, instrumenter: Instrumenter, module: str, origin: str, decision: Decision) -> None:
        self._inner = inner
        self._instrumenter = instrumenter
        self._module = module
        self._origin = origin
        self._decision = decision

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create = getattr(self._inner, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        inst = self._instrumenter
        try:
            code, inject = inst._compile(self._module, self._origin, self._inner)
        except _Fallback as fallback:
            inst._record(fallback.decision)
            self._inner.exec_module(module)
            return
        except BaseException as exc:  # noqa: BLE001 - a broken instrumenter must never break the user's import
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            inst._record(make(self._module, self._origin, "error",
                              f"instrumenting raised {_summary(exc)}; imported normally instead",
                              f"engine: {inst.engine_name}"))
            # The plain loader reproduces the user's own behaviour, including the very same SyntaxError.
            self._inner.exec_module(module)
            return
        inst._record(self._decision)
        module.__dict__.update(inject)
        exec(code, module.__dict__)

    def __getattr__(self, name: str) -> Any:
        # get_source, get_filename, is_package, get_resource_reader, get_data...: the inner loader answers.
        return getattr(self._inner, name)


class CovlensFinder:
    """A meta-path finder: asks the finders after it for the spec, decides, and wraps the loader when instrumenting."""

    def __init__(self, instrumenter: Instrumenter) -> None:
        self._instrumenter = instrumenter
        self._local = instrumenter._busy

    # Python calls this; it runs _search and, when _search says no finder has the module, raises Python's own error.
    find_spec = miss.find_spec_method("CovlensFinder", __name__)

    def _search(self, fullname: str, path: Any, target: ModuleType | None) -> Any:
        """The spec, wrapped when instrumenting; None to let Python go on; miss.NOT_FOUND when every other finder
        said no while importing, which find_spec turns into the ModuleNotFoundError Python would raise after asking
        them all again."""
        inst = self._instrumenter
        if getattr(self._local, "busy", None):
            # Re-entrancy guard: an import made while covlens itself is finding or instrumenting goes the normal way.
            inst._note_reentrant(fullname, self._local.busy)
            return None
        if fullname in _BUILT_IN:
            return None  # cheap early bail-out: nothing to find, nothing to instrument
        self._local.busy = fullname
        try:
            spec = self._find_with_others(fullname, path, target)
            if spec is None:
                return None
            if spec is miss.NOT_FOUND:
                # [0] here, [1] find_spec, [2] whoever called it: importlib's _find_spec, when importing.
                return spec if miss.importing(2) else None
            try:
                return self._decide(fullname, spec)
            except Exception as exc:  # noqa: BLE001 - fall back to the spec the normal machinery found
                inst._record(make(fullname, getattr(spec, "origin", None), "error",
                                  f"deciding raised {_summary(exc)}; imported normally instead", "covlens hook"))
                return spec
        finally:
            self._local.busy = None

    def _find_with_others(self, fullname: str, path: Any, target: ModuleType | None) -> Any:
        """The first spec another finder has; miss.NOT_FOUND when every other finder was asked and none has one;
        None when some finder was not asked (Python will ask it)."""
        asked_all = True
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            if isinstance(finder, CovlensFinder):
                asked_all = False  # another instrumenter's finder: it decides for itself
                continue
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                asked_all = False  # a legacy finder, whose find_module Python 3.11 and older still call
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return miss.NOT_FOUND if asked_all else None

    def _decide(self, fullname: str, spec: Any) -> Any:
        inst = self._instrumenter
        namespace = spec.origin is None and spec.submodule_search_locations is not None
        origin = spec.origin
        decision = inst.policy.decide(fullname, origin, namespace=namespace)
        if decision.action != INSTRUMENTED:
            inst._record(decision)
            return spec
        loader = spec.loader
        if not isinstance(loader, _PLAIN_LOADERS):
            inst._record(make(fullname, origin, "guard",
                              f"loaded by {type(loader).__module__}.{type(loader).__qualname__}, not a plain source "
                              "loader; covlens leaves such loaders alone", "built-in rule: plain source loaders only"))
            return spec
        spec.loader = CovlensLoader(loader, inst, fullname, origin, decision)
        return spec

    def invalidate_caches(self) -> None:
        pass


class Instrumenter:
    """Installs the finder, collects decisions and hits; the one object the worker talks to."""

    def __init__(self, config: Config, on_decision: Callable[[Decision], None] | None = None,
                 engine: Engine | None = None) -> None:
        self.config = config
        self.policy = Policy(config)
        self.recorder = Recorder()
        self.engine = engine if engine is not None else create_engine(config.engine)
        self.engine_name = self.engine.name
        # Line facts and built code from earlier runs, for engines that build cacheable code (see cache.py).
        self.cache = code_cache.for_engine(config.root, self.engine)
        self._lock = threading.RLock()
        # Per thread: the module covlens is busy finding or instrumenting (re-entrancy guard), else None.
        self._busy = threading.local()
        self.finder = CovlensFinder(self)
        self._on_decision = on_decision
        self._decisions: dict[str, Decision] = {}
        self._installed = False

    # -- lifecycle ------------------------------------------------------------------------------------------

    def install(self) -> None:
        """Record what was imported before now, then put the finder first in sys.meta_path."""
        importers = early.startup_importers(self.policy.site_dirs)
        for name, module in list(sys.modules.items()):
            self._note_preexisting(name, module, importers)
        if self.finder not in sys.meta_path:
            sys.meta_path.insert(0, self.finder)
        self._installed = True

    def ensure_first(self) -> bool:
        """Put the finder back at sys.meta_path[0]; True if a test had removed it."""
        if not self._installed:
            return False
        removed = self.finder not in sys.meta_path
        if removed:
            sys.meta_path.insert(0, self.finder)
        elif sys.meta_path[0] is not self.finder:
            sys.meta_path.remove(self.finder)
            sys.meta_path.insert(0, self.finder)
        return removed

    def uninstall(self) -> None:
        while self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        self._installed = False

    def switch_context(self, name: str, *, final: bool = False) -> tuple[str, dict[str, frozenset[int]]]:
        """Start context `name`; the previous one's name and hits.

        `final`, at the end of measuring: every file is looked at, not only those the engine says were touched (so
        that a hit another thread made during a switch is never lost), and the engine re-arms nothing: no hit after
        it is ever drained, and a re-armed line would fire its event for no one.
        """
        touched = getattr(self.engine, "touched", None)
        sets = touched() if touched is not None and not final else None
        previous, hits = self.recorder.switch_context(name, sets)
        if not final:
            self.engine.new_context()
        return previous, hits

    def decisions(self) -> list[Decision]:
        with self._lock:
            return list(self._decisions.values())

    def file_lines(self) -> dict[str, FileLines]:
        return {
            path: FileLines(path, fh.module, fh.lines.statements, fh.lines.excluded)
            for path, fh in self.recorder.files().items()
        }

    def finish(self, *, unimported: bool = True, close_engine: bool = True) -> list[Decision]:
        """Decisions for modules the hook never saw and (unless `unimported` is false: a run of a few selected
        tests, which says nothing about what the whole suite imports) for source files no test imported;
        then uninstall, and close the engine unless `close_engine` is false (a process about to end: closing switches
        every instrumented code object's events off, one call each, for nothing)."""
        self.uninstall()
        decided_paths = {real_path(d.path) for d in self.decisions() if d.path}
        decided = self._decisions
        for name, module in list(sys.modules.items()):
            known = decided.get(name)
            if known is not None and known.path:
                continue  # decided from this very origin: its path is among decided_paths already
            origin = self._origin_of(module)
            if origin is None:
                continue
            if known is not None or real_path(origin) in decided_paths:
                decided_paths.add(real_path(origin))  # e.g. a re-entrant import, decided without a path
                continue
            decision = self.policy.decide(name, origin)
            if decision.action == INSTRUMENTED:
                decision = make(name, origin, "guard",
                                "imported while covlens's hook was not on sys.meta_path (a test removed it?); "
                                "its code ran without measurement", "covlens hook")
            self._record(decision)
            decided_paths.add(real_path(origin))
        roots = self.config.sources or (self.config.root,)
        for path, base in discover.source_files(tuple(roots)) if unimported else ():
            if real_path(path) in decided_paths:
                continue
            module_name = discover.module_name(path, base)
            decision = self.policy.decide(module_name, path)
            if decision.action != INSTRUMENTED:
                continue
            try:
                source = self._read_source(path)
                if source.skips():
                    self._record(make(module_name, path, "pragma", "the file has a `# covlens: skip-file` comment "
                                      "(and no test imported it)", "# covlens: skip-file"))
                    continue
                facts = self._facts(path, source)
                self.recorder.file(path, module_name, facts)
                detail = f"under {decision.reason} {self.policy.relative(path)}, but no test imported it"
            except (SyntaxError, ValueError, UnicodeDecodeError, OSError, RecursionError) as exc:
                detail = f"no test imported it (and it cannot be analyzed: {_summary(exc)})"
            self._record(make(module_name, path, "not-imported", detail, decision.rule))
        if close_engine:
            self.engine.close()
        return self.decisions()

    # -- used by the finder and loader ---------------------------------------------------------------------

    def _compile(self, module: str, origin: str, inner: Any) -> tuple[Any, dict[str, Any]]:
        source = self._source(module, origin, inner)
        if source.skips():
            raise _Fallback(make(module, origin, "pragma", "the file opts out with `# covlens: skip-file`",
                                 "# covlens: skip-file"))
        previous = getattr(self._busy, "busy", None)
        self._busy.busy = module
        try:
            if self.cache is None:
                facts = lines.analyze(source.text, origin)
                target = self.recorder.file(origin, module, facts)
                return self.engine.compile(source.text, origin, target)
            facts, code = self._cached(origin, source, with_code=True)
            target = self.recorder.file(origin, module, facts)
            return self.engine.bind(code, origin, target)  # type: ignore[attr-defined]
        except SyntaxError as exc:
            raise _Fallback(make(module, origin, "error",
                                 f"{_summary(exc)}; imported normally, which raises it as usual",
                                 f"engine: {self.engine_name}")) from None
        except (RecursionError, MemoryError) as exc:
            raise _Fallback(make(module, origin, "guard",
                                 f"code nested too deep to instrument ({type(exc).__name__}); imported normally",
                                 "depth guard")) from None
        finally:
            self._busy.busy = previous

    @staticmethod
    def _source(module: str, origin: str, inner: Any) -> Source:
        """The module's source as its loader would give it: the file's bytes when the loader is a plain
        SourceFileLoader (whose get_source decodes exactly those), else the text the loader's get_source returns."""
        if type(inner).get_source is _PLAIN_GET_SOURCE:
            try:
                return Source(data=inner.get_data(origin))
            except OSError as exc:
                raise _Fallback(make(module, origin, "no-source", f"the source cannot be read: {_summary(exc)}",
                                     "built-in rule: no source file")) from None
        try:
            text = inner.get_source(module)
        except ImportError as exc:
            raise _Fallback(make(module, origin, "no-source", f"the loader has no source: {_summary(exc)}",
                                 "built-in rule: no source file")) from None
        if text is None:
            raise _Fallback(make(module, origin, "no-source", "the loader returned no source",
                                 "built-in rule: no source file"))
        return Source(text=text)

    def _facts(self, path: str, source: Source) -> lines.SourceLines:
        """The line facts of a file no test imported: from the cache, else analyzed (and cached without code)."""
        if self.cache is None:
            return lines.analyze(source.text, path)
        return self._cached(path, source, with_code=False)[0]

    def _cached(self, path: str, source: Source, *, with_code: bool) -> tuple[lines.SourceLines, Any]:
        """Line facts (and, `with_code`, the engine's built code) from the cache; what is missing is made and stored."""
        cache = self.cache
        assert cache is not None
        key = cache.key(path, source.data)
        entry = cache.load(path, key)
        facts, code = entry if entry is not None else (None, None)
        if facts is not None and (code is not None or not with_code):
            return facts, code
        if facts is None:
            facts = lines.analyze(source.text, path)
        if with_code:
            code = self.engine.build(source.text, path, facts)  # type: ignore[attr-defined]
            reported_raw = getattr(self.engine, "reported_raw", None)
            if reported_raw is not None:  # what a hit loads is what a miss uses: the same facts either way
                facts = facts.mapping_only(reported_raw(code))
        cache.store(path, key, facts, code)
        return facts, code

    def _record(self, decision: Decision) -> None:
        with self._lock:
            key = decision.module
            if self._decisions.get(key) == decision:
                return
            self._decisions[key] = decision
        if self._on_decision is not None:
            try:
                self._on_decision(decision)
            except Exception:  # noqa: BLE001 - a broken listener must not break an import
                pass

    def _note_reentrant(self, fullname: str, busy_with: str) -> None:
        with self._lock:
            if fullname in self._decisions:
                return
        self._record(make(fullname, None, "guard",
                          f"imported while covlens was busy importing {busy_with}; loaded the normal way",
                          "re-entrancy guard"))

    def _note_preexisting(self, name: str, module: ModuleType, importers: list[tuple[str, set[str]]]) -> None:
        origin = self._origin_of(module)
        spec = getattr(module, "__spec__", None)
        namespace = origin is None and spec is not None and spec.submodule_search_locations is not None
        if origin is None and not namespace:
            return
        try:
            decision = self.policy.decide(name, origin, namespace=namespace)
        except Exception:  # noqa: BLE001 - never let a strange module break installation
            return
        if decision.action == INSTRUMENTED:
            who = early.importer_of(name, importers)
            by = f"by {who}" if who else "during interpreter start-up or by the program that started the tests"
            decision = make(name, origin, "already-imported",
                            f"imported before covlens installed its hook, {by}; its code ran without measurement",
                            who or "hook installed too late")
        self._record(decision)

    @staticmethod
    def _origin_of(module: Any) -> str | None:
        spec = getattr(module, "__spec__", None)
        origin = getattr(spec, "origin", None) if spec is not None else None
        if origin in (None, "built-in", "frozen"):
            origin = getattr(module, "__file__", None) or origin
        return origin if isinstance(origin, str) else None

    @staticmethod
    def _read_source(path: str) -> Source:
        with open(path, "rb") as handle:
            return Source(data=handle.read())
