"""A local path (a file, a folder or an archive) as one stream of entries.

Whatever the input, the engine sees the same thing: entries with a stable
``index`` it can resume from, a relative path and a way to read the bytes.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ferryman.archive.reader import (
    EntryInfo,
    EntryType,
    detect_format,
    open_archive,
    sanitize_path,
)
from ferryman.errors import FerrymanError

BLOCK_SIZE = 1 << 20

# Names that promise an archive; a file named so that is not one is reported as a
# damaged archive rather than silently delivered as a document.
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz")
_COMPRESSED_TAR_SUFFIXES = (".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz")
_COMPRESSIONS = frozenset({"gzip", "bzip2", "xz"})
_CONTAINERS = frozenset({"zip", "tar"})

Kind = Literal["file", "folder", "archive"]


@dataclass(frozen=True, slots=True)
class LocalInput:
    """What a local path is; ``format`` is the sniffed format of a file, if any."""

    kind: Kind
    path: Path
    format: str | None


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One entry of a source; ``blocks`` produces its bytes on demand."""

    info: EntryInfo
    blocks: Callable[[], Iterator[bytes]] = field(repr=False, compare=False)

    def read_blocks(self) -> Iterator[bytes]:
        return self.blocks()


def inspect_local(path: Path) -> LocalInput:
    """Classify ``path`` from its type, size and magic bytes, without reading it all.

    Raises ``FerrymanError``: "source.not_found", "source.unreadable",
    "source.empty", or "archive.unreadable" for a file named like an archive
    whose bytes are not one.
    """
    try:
        st = path.stat()
    except FileNotFoundError as err:
        raise FerrymanError("source.not_found", f"{path}: no such file or folder") from err
    except OSError as err:
        raise _unreadable(path, err) from err
    if stat.S_ISDIR(st.st_mode):
        try:
            with os.scandir(path):
                pass
        except OSError as err:
            raise _unreadable(path, err) from err
        return LocalInput("folder", path, None)
    if not stat.S_ISREG(st.st_mode):
        raise FerrymanError("source.unreadable", f"{path}: not a regular file or folder")
    if st.st_size == 0:
        raise FerrymanError("source.empty", f"{path.name}: the file has zero bytes")
    try:
        fmt = detect_format(path)
    except OSError as err:
        raise _unreadable(path, err) from err
    name = path.name.lower()
    named_archive = name.endswith(_ARCHIVE_SUFFIXES)
    if fmt in _CONTAINERS:
        return LocalInput("archive", path, fmt)
    if fmt in _COMPRESSIONS and (named_archive or name.endswith(_COMPRESSED_TAR_SUFFIXES)):
        return LocalInput("archive", path, fmt)
    if named_archive:
        found = f"its bytes are {fmt} data" if fmt else "its bytes match no archive format"
        raise FerrymanError(
            "archive.unreadable", f"{path.name}: named like an archive, but {found}"
        )
    return LocalInput("file", path, fmt)


@contextmanager
def iter_local(path: Path) -> Iterator[Iterator[SourceEntry]]:
    """Entries of ``path``: a file is one entry, a folder its files, an archive its entries.

    Folders are walked recursively in natural, case-insensitive order and symlinks
    are reported, not followed; indexes are stable while the input is unchanged.
    """
    source = inspect_local(path)
    if source.kind == "archive":
        with open_archive(path) as reader:
            yield (SourceEntry(entry.info, entry.read_blocks) for entry in reader)
    elif source.kind == "folder":
        yield _folder_entries(path)
    else:
        yield iter([_file_entry(path, sanitize_path(path.name, 0), 0, path.stat())])


def natural_key(name: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Sort key: case-insensitive, digit runs by value ("img2" before "img10")."""
    chunks = tuple(
        (0, int(part), part) if part.isdigit() else (1, 0, part.casefold())
        for part in re.split(r"(\d+)", name)
        if part
    )
    return chunks, name  # the raw name breaks ties ("A" vs "a") deterministically


def _folder_entries(root: Path) -> Iterator[SourceEntry]:
    for index, (rel, full, st) in enumerate(_walk(root, "")):
        path = sanitize_path(rel, index)
        if stat.S_ISREG(st.st_mode):
            yield _file_entry(full, path, index, st)
        else:
            kind = EntryType.SYMLINK if stat.S_ISLNK(st.st_mode) else EntryType.OTHER
            info = EntryInfo(index, path, 0, st.st_mtime, kind)
            yield SourceEntry(info, _no_blocks)


def _walk(folder: Path, prefix: str) -> Iterator[tuple[str, Path, os.stat_result]]:
    """(relative path, path, lstat) of every non-directory below ``folder``, sorted."""
    try:
        with os.scandir(folder) as it:
            children = sorted(it, key=lambda e: natural_key(e.name))
    except OSError as err:
        raise _unreadable(folder, err) from err
    for child in children:
        try:
            st = child.stat(follow_symlinks=False)
        except OSError as err:
            raise _unreadable(Path(child.path), err) from err
        rel = f"{prefix}{child.name}"
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(Path(child.path), f"{rel}/")
        else:
            yield rel, Path(child.path), st


def _file_entry(path: Path, rel: str, index: int, st: os.stat_result) -> SourceEntry:
    info = EntryInfo(index, rel, st.st_size, st.st_mtime, EntryType.FILE)
    return SourceEntry(info, lambda: _read_file(path))


def _read_file(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as f:
            while block := f.read(BLOCK_SIZE):
                yield block
    except FileNotFoundError as err:
        raise FerrymanError("source.not_found", f"{path}: no such file") from err
    except PermissionError as err:
        raise _unreadable(path, err) from err
    except OSError as err:
        raise FerrymanError("source.io", f"{path}: {err.strerror or err}") from err


def _no_blocks() -> Iterator[bytes]:
    return iter(())


def _unreadable(path: Path, err: OSError) -> FerrymanError:
    return FerrymanError("source.unreadable", f"{path}: {err.strerror or err}")
