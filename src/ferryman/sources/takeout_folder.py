"""A Google Takeout already unpacked (a folder holding ``Takeout/Google Photos/…``, or
any folder with a ``Photos from 2019`` in it two levels down at most): indexed as its
zips are (``sources/takeout``), from a walk of the folder before its first entry. Its
sidecars are read, its files of one size hashed to find a photo met twice (no CRC
here); links are not followed, and only regular files are read."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ferryman.archive.names import sanitize_path
from ferryman.archive.stored_names import decode_stored_name
from ferryman.model import PhotoFacts
from ferryman.sources.takeout import Listed, TakeoutIndex, indexed
from ferryman.sources.takeout_names import (
    JSON,
    MAX_SIDECAR,
    facts_of,
    is_year_folder,
    title_of,
)

_LOOK_DEPTH = 2  # Takeout/Google Photos/Photos from 2019: a year folder this far down


def folder_index(root: Path) -> TakeoutIndex | None:
    """The index of the Takeout unpacked at ``root``, or None when it is none (blocking)."""
    if not _holds_year_folder(root, _LOOK_DEPTH):
        return None
    files = list(_files(root, ""))
    by_size: dict[int, int] = {}
    for _, _, size in files:
        by_size[size] = by_size.get(size, 0) + 1
    listed: list[Listed] = []
    parsed: dict[str, PhotoFacts | None] = {}
    titles: dict[str, str] = {}
    for rel, full, size in files:
        path = sanitize_path(decode_stored_name(os.fsencode(rel), on_disk=True), 0)
        if path.casefold().endswith(JSON):
            if size <= MAX_SIDECAR:
                raw = _read(full, MAX_SIDECAR + 1)
                parsed[path] = facts_of(raw)
                if (title := title_of(raw)) is not None:
                    titles[path] = title
            listed.append(Listed(path, size, f"path:{path}"))
            continue
        same = _sha256(full) if by_size[size] > 1 and size > 0 else f"path:{path}"
        listed.append(Listed(path, size, same or f"path:{path}"))
    return indexed(listed, parsed, titles)


def _holds_year_folder(folder: Path, depth: int) -> bool:
    try:
        with os.scandir(folder) as found:
            children = [c for c in found if c.is_dir(follow_symlinks=False)]
    except OSError:
        return False
    if any(is_year_folder(c.name) for c in children):
        return True
    return depth > 0 and any(_holds_year_folder(Path(c.path), depth - 1) for c in children)


def _files(folder: Path, prefix: str) -> Iterator[tuple[str, Path, int]]:
    """(relative path, path, size) of every regular file below ``folder``."""
    try:
        with os.scandir(folder) as found:
            children = list(found)
    except OSError:
        return
    for child in children:
        try:
            st = child.stat(follow_symlinks=False)
        except OSError:
            continue
        rel = f"{prefix}{child.name}"
        if stat.S_ISDIR(st.st_mode):
            yield from _files(Path(child.path), f"{rel}/")
        elif stat.S_ISREG(st.st_mode):
            yield rel, Path(child.path), st.st_size


def _opened(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None


def _read(path: Path, limit: int) -> bytes:
    fd = _opened(path)
    if fd is None:
        return b""
    try:
        return os.read(fd, limit)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _sha256(path: Path) -> str | None:
    fd = _opened(path)
    if fd is None:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None
