"""Paths and URIs: the client may name the workspace through a symlink; results use resolved paths."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pygls.uris import from_fs_path, to_fs_path

if TYPE_CHECKING:
    from covlens.lsp.edits import OpenDocuments


def norm(path: str) -> str:
    """A key under which two names of the same file are equal."""
    return os.path.normcase(os.path.realpath(path))


class Locations:
    """Turns result paths into the URIs the client uses, and back, for one workspace root."""

    def __init__(self, client_root: str, docs: OpenDocuments) -> None:
        self._docs = docs
        self.set_root(client_root)

    def set_root(self, client_root: str) -> None:
        """The workspace root, as the client named it (`initialize` says it)."""
        self.client_root = os.path.abspath(client_root)
        self.root = str(Path(client_root).resolve())  # as the worker and the store see it

    @property
    def root_uri(self) -> str:
        return from_fs_path(self.client_root) or self.client_root

    def contains(self, path: str) -> bool:
        """Whether `path` is inside the workspace."""
        try:
            rel = os.path.relpath(os.path.realpath(path), self.root)
        except ValueError:  # another drive
            return False
        return not rel.startswith(os.pardir)

    def uri(self, path: str) -> str:
        """The uri the client knows a path by: the open document's, else under the root as the client named it."""
        doc = self._docs.by_path(path)
        if doc is not None:
            return doc.uri
        if self.client_root != self.root:
            rel = os.path.relpath(os.path.realpath(path), self.root)
            if not rel.startswith(os.pardir):
                path = os.path.join(self.client_root, rel)
        return from_fs_path(path) or path

    def path(self, uri: str) -> str | None:
        """The path the results know the file at `uri` by (None for a uri that is not a file)."""
        path = to_fs_path(uri)
        if not path:
            return None
        path = os.path.abspath(path)
        if self.client_root != self.root:
            rel = os.path.relpath(path, self.client_root)
            if not rel.startswith(os.pardir):
                return os.path.join(self.root, rel)
        return path
