"""The cache of line facts and engine code under `<root>/.covlens/cache/`, keyed by source hash, path and versions."""

from __future__ import annotations

import binascii
import hashlib
import importlib.util
import itertools
import marshal
import os
import sys
import threading
from pathlib import Path
from types import CodeType
from typing import Any

from covlens import __version__
from covlens.instrument.lines import FirstLines, SourceLines
from covlens.workfolder import ensure_covlens_folder

# Bump when the layout of an entry changes.
FORMAT = 2
MAGIC = b"covlens\x02"
# The payload's checksum: a CRC-32 finds the damage a torn or flipped file has (it is no defence against someone
# who can write the cache: neither is a .pyc file). Entries are written whole, then renamed into place.
_CHECKSUM = 4
# The modules whose behaviour decides what an entry holds: in a checkout (editable install) they change without a
# version bump, so their size and mtime are part of the key too.
_FINGERPRINTED = ("lines.py", "probes.py", "engine_ast.py", "engine_monitor.py", "cache.py")


def _fingerprint() -> str:
    here = Path(__file__).resolve().parent
    parts = []
    for name in _FINGERPRINTED:
        try:
            st = os.stat(here / name)
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{name}:?")
    return ";".join(parts)


def _is_code(built: object) -> bool:
    """What an engine's `build` makes: a code object, or a tuple starting with one (and data its `bind` checks)."""
    return isinstance(built, CodeType) or (isinstance(built, tuple) and bool(built) and isinstance(built[0], CodeType))


class CodeCache:
    """Entries of (SourceLines, what the engine built or None) per file; an unreadable or unwritable one is a miss.

    One file per (path, engine, Python): a changed source overwrites its entry instead of adding one. The entry
    holds the full key (source hash, path, covlens and Python versions, engine, format) and a checksum of its
    payload; a mismatch or a corrupt file is a miss and is rewritten. Writes go to a temp file in the same folder,
    then `os.replace`; none is written under `-B` / PYTHONDONTWRITEBYTECODE. Counters (`hits`, `misses`, `writes`,
    `errors`) say what happened, for tests and traces.
    """

    def __init__(self, root: str, engine_name: str) -> None:
        self.root = str(root)
        self.folder = Path(self.root) / ".covlens" / "cache"
        self.engine_name = engine_name
        self._lock = threading.Lock()
        self._ready = False
        self._serial = itertools.count()
        self._salt = "\0".join((
            f"format={FORMAT}", f"covlens={__version__}", f"python={sys.version}",
            f"tag={sys.implementation.cache_tag}", f"engine={engine_name}", _fingerprint(),
        )).encode("utf-8", "surrogatepass")
        self.hits = 0
        self.misses = 0
        self.writes = 0
        self.errors = 0

    # -- keys --------------------------------------------------------------------------------------------

    def _entry_path(self, path: str) -> Path:
        name = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return self.folder / f"{name}.{self.engine_name}.{sys.implementation.cache_tag}.bin"

    def key(self, path: str, data: bytes) -> bytes:
        """The key of an entry for the source `data` (a file's bytes) at `path`.

        The source is hashed as CPython hashes it for a checked hash-based .pyc (`importlib.util.source_hash`,
        SipHash, ~4x faster than SHA-256 here): it tells one version of a file from the next, as a .pyc needs to.
        """
        digest = hashlib.sha256(self._salt)
        digest.update(b"\0path\0" + path.encode("utf-8", "surrogatepass"))
        digest.update(b"\0source\0" + importlib.util.source_hash(data))
        return digest.digest()

    def _count(self, attr: str) -> None:
        with self._lock:
            setattr(self, attr, getattr(self, attr) + 1)

    # -- read --------------------------------------------------------------------------------------------

    def load(self, path: str, key: bytes) -> tuple[SourceLines, Any] | None:
        """(facts, code or None) stored for `key`, or None: a miss (absent, stale or corrupt entry)."""
        try:
            with open(self._entry_path(path), "rb") as handle:
                data = handle.read()
        except OSError:
            data = b""
        entry = self._decode(key, data) if data else None
        self._count("hits" if entry is not None else "misses")
        return entry

    @staticmethod
    def _decode(key: bytes, data: bytes) -> tuple[SourceLines, Any] | None:
        head = len(MAGIC) + _CHECKSUM
        if len(data) <= head or data[:len(MAGIC)] != MAGIC:
            return None
        checksum, payload = data[len(MAGIC):head], data[head:]
        if binascii.crc32(payload).to_bytes(_CHECKSUM, "big") != checksum:
            return None  # truncated or corrupt: never unmarshal it
        try:
            stored_key, statements, excluded, multi, count, code = marshal.loads(payload)
            if stored_key != key or not isinstance(multi, dict) or not isinstance(count, int):
                return None
            if code is not None and not _is_code(code):
                return None
            facts = SourceLines(frozenset(statements), frozenset(excluded), FirstLines(multi, count))
        except Exception:  # noqa: BLE001 - any unreadable entry is a miss
            return None
        return facts, code

    # -- write -------------------------------------------------------------------------------------------

    def store(self, path: str, key: bytes, facts: SourceLines, code: Any) -> bool:
        """Write the entry atomically; False (and nothing raised) if it cannot be written."""
        if sys.dont_write_bytecode:
            return False  # -B or PYTHONDONTWRITEBYTECODE: read entries, write none (as Python does with .pyc files)
        try:
            first = facts.first_line
            multi = dict(first.multi_line) if isinstance(first, FirstLines) else {
                line: to for line, to in first.items() if line != to}
            payload = marshal.dumps((key, tuple(sorted(facts.statements)), tuple(sorted(facts.excluded)),
                                     multi, len(first), code))
            self._ensure_folder()
            target = self._entry_path(path)
            temp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.{next(self._serial)}.tmp")
            try:
                with open(temp, "wb") as handle:
                    handle.write(MAGIC + binascii.crc32(payload).to_bytes(_CHECKSUM, "big") + payload)
                os.replace(temp, target)
            except BaseException:
                try:
                    os.unlink(temp)
                except OSError:
                    pass
                raise
        except Exception:  # noqa: BLE001 - a read-only project, a full disk, an unmarshallable constant: no cache
            self._count("errors")
            return False
        self._count("writes")
        return True

    def _ensure_folder(self) -> None:
        if self._ready:
            return
        ensure_covlens_folder(self.root)
        self.folder.mkdir(exist_ok=True)
        self._ready = True


def for_engine(root: str, engine: Any) -> CodeCache | None:
    """A cache for `engine` if it builds cacheable code (`build`, then `bind`), else None.

    An engine whose `compile` is not the `bind(build(...))` of the class defining `build` (a subclass that
    overrides `compile` alone, a test's fake) is always asked to `compile`: the cache would bypass it.
    """
    kind = type(engine)
    if not (callable(getattr(kind, "build", None)) and callable(getattr(kind, "bind", None))):
        return None
    owner = next((c for c in kind.__mro__ if "build" in c.__dict__), None)
    if owner is None or owner.__dict__.get("compile") is not getattr(kind, "compile", None):
        return None
    return CodeCache(root, engine.name)
