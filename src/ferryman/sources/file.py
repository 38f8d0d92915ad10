"""The ``file:`` source: local files, folders and archives, read in place.

A job's source is ``file:///abs/path`` (percent-encoded, as ``Path.as_uri`` writes it);
what a person types is a path. Reading is ``sources.local``'s; this module stays light
(no archive backend loads until an input is inspected or read).
"""

from __future__ import annotations

import os
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ferryman.archive.suffixes import strip_archive_suffixes
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.sources.base import Access, Inspection, ReadOptions, SourceEntry

_OTHER_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def job_name(path: Path) -> str:
    """``holiday.tar.gz`` → ``holiday``, ``clip.mkv`` → ``clip``: the folder albums go under."""
    name = path.name or str(path)
    stripped = strip_archive_suffixes(name)
    if stripped == name and path.suffix and not path.is_dir():
        stripped = path.stem
    return safe_name(stripped or name, "job")


class FileSource:
    """Local files, folders and archives, read in place: ``file:///abs/path``."""

    scheme = "file"
    access = Access.IN_PLACE

    def recognise(self, raw: str) -> str | None:
        if raw.lower().startswith("file:"):
            return self.path(raw).as_uri()
        if _OTHER_SCHEME.match(raw):
            return None  # a URI of another scheme (write ./a:b for a file named so)
        return Path(os.path.abspath(raw)).as_uri()  # no filesystem access

    def path(self, uri: str) -> Path:
        parts = urllib.parse.urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise FerrymanError("source.unsupported", f"{uri}: a file on another host")
        return Path(urllib.request.url2pathname(parts.path))

    def describe(self, uri: str) -> str:
        return str(self.path(uri))

    def local_path(self, uri: str) -> Path | None:
        return self.path(uri)

    def inspect(self, uri: str) -> Inspection:
        from ferryman.sources.local import inspect_local  # the archive backends load on use

        path = self.path(uri)
        found = inspect_local(path)
        st = path.stat()
        size = st.st_size if found.kind != "folder" else None
        # The same file (path, size, mtime) is the same input.
        ident = f"{path}|{st.st_size}|{st.st_mtime_ns}"
        return Inspection(job_name(path), ident, size)

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        from ferryman.sources.local import iter_local

        with iter_local(self.path(uri), options) as entries:
            yield entries
