#!/usr/bin/env python3
"""Download and unpack pinned PyPI sdists (with their test suites) into a shared cache, safe for parallel processes."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sha256: str  # of the sdist archive: pip refuses anything else, so a re-uploaded or tampered file cannot slip in

    @property
    def stem(self) -> str:
        return f"{self.name}-{self.version}"


# Versions whose sdists ship the test suite (toolz: toolz/tests, boltons: tests/); both support 3.9 .. 3.14.
PINS = {
    "toolz": Pin("toolz", "1.2.0", "9667a038e9d6ecba37995e26cb2f59ec6420b6ad8dd9677de59db9b956b08490"),
    "boltons": Pin("boltons", "26.2.0", "d39cfd15c1a1c3bd4d705c82252fa9edb8e4f5e8cc039f8e39afac7b1b47e92c"),
}


def cache_dir() -> Path:
    """$COVLENS_SDIST_CACHE, else covlens-sdist-cache under the system temp dir."""
    configured = os.environ.get("COVLENS_SDIST_CACHE")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "covlens-sdist-cache"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def download(pin: Pin, cache: Path, python: str = sys.executable) -> Path:
    """The sdist archive of `pin` in `cache`, downloaded with pip (hash-checked) unless already there."""
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"{pin.stem}.tar.gz"
    if archive.is_file() and _sha256(archive) == pin.sha256:
        return archive
    with tempfile.TemporaryDirectory(dir=cache, prefix=f".download-{pin.stem}-") as staging:
        requirements = Path(staging) / "requirements.txt"
        requirements.write_text(f"{pin.name}=={pin.version} --hash=sha256:{pin.sha256}\n")
        command = [
            python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-binary", ":all:", "--require-hashes",
            "-r", str(requirements), "-d", staging,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(
                f"pip could not download {pin.name}=={pin.version} (exit {result.returncode}); check network access "
                f"to the package index, or unpack {archive.name} into {cache} by hand.\n{result.stdout}{result.stderr}"
            )
        downloaded = Path(staging) / archive.name
        if not downloaded.is_file():
            found = sorted(p.name for p in Path(staging).iterdir())
            raise RuntimeError(f"pip downloaded {found} for {pin.name}=={pin.version}, expected {archive.name}")
        # Atomic: a parallel process sees either no archive or a complete one.
        os.replace(downloaded, archive)
    return archive


def fetch(name: str, cache: Path | None = None, python: str = sys.executable) -> Path:
    """The unpacked source tree of the pinned sdist `name` (shared: copy it before running anything inside)."""
    pin = PINS[name]
    cache = cache or cache_dir()
    tree = cache / pin.stem
    if (tree / "PKG-INFO").is_file():
        return tree
    archive = download(pin, cache, python)
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=f".unpack-{pin.stem}-"))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")  # refuses absolute paths, links out of the tree, devices
        unpacked = staging / pin.stem
        if not (unpacked / "PKG-INFO").is_file():
            raise RuntimeError(f"{archive} does not hold {pin.stem}/PKG-INFO; is it really the sdist?")
        try:
            os.rename(unpacked, tree)
        except OSError:
            # Another process unpacked it first (rename onto a non-empty directory fails): use theirs.
            if not (tree / "PKG-INFO").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"projects to fetch, of {sorted(PINS)} (default: all)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache folder (default: $COVLENS_SDIST_CACHE or the temp dir)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(PINS))
    if unknown:
        parser.error(f"no pin for {unknown}; pinned: {sorted(PINS)}")
    for name in args.names or list(PINS):
        print(fetch(name, args.cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
