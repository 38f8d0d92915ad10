"""File operations every layer needs: safe names, link-or-copy, durable renames, cleanup
(what a delivered file or a job is called: ``naming``)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_NO_LINK = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP)
# A safe name's most UTF-8 bytes: prefixes and suffixes added to it stay within 255.
_NAME_BYTES = 180
_EXT_BYTES = 16  # a longer "extension" is part of the name
_JOINERS = frozenset("\u200c\u200d")  # zero-width non-joiner and joiner: kept


def safe_name(name: str, fallback: str = "file") -> str:
    """A file or folder name that is safe on every filesystem ferryman writes to.

    Format characters (Unicode category Cf: bidi overrides and isolates, U+200E/F,
    U+061C, BOMs, soft hyphens) are dropped, so a name shows as it is spelled
    (``in_side\\u202egpj.mp4`` showed as ``in_side4pm.jpg``); the two joiners stay
    (an emoji family, Persian and Indic words need them, and they reorder nothing).
    Control characters (C0, DEL, C1) become ``_``.

    Cut to ``_NAME_BYTES`` UTF-8 bytes, not characters (NAME_MAX counts bytes: 180
    kanji are 540), keeping a short extension, so that the work area's
    ``000123-NAME.part`` still fits in 255 bytes and the file keeps its type.
    """
    if not name.isascii():  # ASCII is NFC already and holds no format character
        name = unicodedata.normalize("NFC", name)
        name = "".join(c for c in name if c in _JOINERS or unicodedata.category(c) != "Cf")
    name = re.sub(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]', "_", name).strip(" .")
    return _fit_bytes(name, _NAME_BYTES) or fallback


def _fit_bytes(name: str, limit: int) -> str:
    """``name`` within ``limit`` UTF-8 bytes, its stem cut on a character boundary and a
    short extension (``.jpg``, not a dotted sentence's tail) kept."""
    if len(name.encode()) <= limit:
        return name
    before, dot, ext = name.rpartition(".")
    tail = f".{ext}" if dot and before and len(ext.encode()) <= _EXT_BYTES else ""
    head = name[: len(name) - len(tail)]
    cut = head.encode()[: limit - len(tail.encode())].decode("utf-8", "ignore")
    return f"{cut.rstrip(' .')}{tail}".strip(" .")


def link_or_copy(src: Path, dst: Path | str) -> None:
    """Hard-link (no second copy on a full phone); copy and fsync across filesystems,
    the copy dated as the original (a library sorts by it)."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        shutil.copyfile(src, dst)
        with open(dst, "rb") as handle:
            with contextlib.suppress(OSError):
                st = os.stat(src)
                os.utime(handle.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))
            os.fsync(handle.fileno())


def fsync_file(path: Path) -> None:
    """Make a file written without an fsync durable (before a rename puts it in place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` survive a power cut (a folder opens read-only, as a
    file does: the same call)."""
    fsync_file(path)


def make_durable(paths: list[Path]) -> None:
    """fsync files written by a library that does not (PyAV, Pillow), then their folders,
    so a record that names them never outlives them after a power cut (a phone reboot)."""
    for path in paths:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    for folder in {path.parent for path in paths}:
        fsync_dir(folder)


def remove_files(paths: list[str]) -> None:
    """Delete work files; one already gone is fine (a crash may have come between)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def sha256_file(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


async def write_whole(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``asyncio.to_thread(fn, …)`` for a write that a cancel must not leave running: the
    cancelled caller waits for the write to end, then the cancel goes on. Else its bytes
    land after the caller moved on: a cancelled download's last chunk was appended after
    the next fetch had measured the file (that chunk asked for twice), or a file was
    closed under a write still on its thread."""
    import asyncio  # lazy: the CLI's start-up loads this module

    write = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(write)
        except asyncio.CancelledError:
            if not write.done():
                cancelled = True  # the caller's cancel: wait for the write, then raise
                continue
            raise
        if cancelled:
            raise asyncio.CancelledError
        return result
