"""Staging: one entry's bytes become one file in the work area, hashed on the way.

Runs on the reader's own thread (blocking I/O). The first bytes decide the kind, so
an entry that would only be skipped is counted and hashed but never written.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ferryman.errors import FerrymanError
from ferryman.media.classify import classify_entry
from ferryman.model import MediaKind
from ferryman.sinks.base import Ahead as Ahead  # the sink's contract (``upload_ahead``)
from ferryman.sinks.base import StartAhead as StartAhead

HEAD_BYTES = 4096
# A file this small is also kept in memory once written, for the probe to read there
# rather than open the file again (a photo's probe was a dozen system calls more).
KEEP_BYTES = 256 * 1024
# A person's own file this big, once linked, is not read here to hash it: the upload
# that reads it anyway hashes it (or delivery does, for a sink that does not read it),
# and the hash is recorded with the delivered album. Reading 1 GiB only to hash it
# held the upload back by a second or more.
HASH_LATER_BYTES = 4 * 1024 * 1024
# An archive entry this big, of a size declared up front, bound for a destination that
# can upload while it is written (Telegram), is read by that upload as it is written:
# its first part goes out with the entry's first bytes, not after the whole copy.
AHEAD_BYTES = 16 * 1024 * 1024


class Digest(Protocol):
    """A hash being fed (``hashlib.sha256()``)."""

    def update(self, data: bytes, /) -> None: ...


@dataclass(frozen=True, slots=True)
class Staged:
    """What staging learned; ``path`` is None when the entry was not written."""

    path: Path | None
    size: int
    sha256: str
    kind: MediaKind
    data: bytes | None = None  # the file's bytes, when it was written and is small
    unread: bool = False  # a person's own file, linked whole and not read (hashed later)


def stage_entry(
    blocks: Iterator[bytes],
    name: str,
    dest: Path,
    keep: Callable[[MediaKind], bool],
    *,
    unread_size: int | None = None,
    stop_unwanted: bool = False,
    link_from: Path | None = None,
    known_sha256: str | None = None,
    seen: tuple[int, int] | None = None,
    sync: Callable[[int, Path], None] | None = None,
    hash_later: bool = False,
    ahead: Ahead | None = None,
    mtime: float | None = None,
    ask_ffmpeg: Callable[[bytes], MediaKind] | None = None,
) -> Staged:
    """Write the entry to ``dest`` (via ``dest.part`` + fsync + rename) if ``keep(kind)``.

    ``sync``: the fsync is handed over (the file's descriptor, which the taker fsyncs and
    closes) instead of waited for here; the taker must have it done
    before the entry is recorded (see ``read_run``).

    An unwanted entry is read to its end (hashed, metered by the archive guard), unless
    ``stop_unwanted``: then reading stops after the head (its bytes would cross the
    network for nothing) and its size is ``unread_size`` (as declared), unhashed.
    ``link_from``: the entry is that whole file, on this disk and the job's own (a link
    converter's result): it is hashed as it is read but hard-linked, not written again
    (a 600 MB video costs a read, not a copy); a copy where linking fails. With
    ``known_sha256`` (its maker hashed it) it is not read past its head at all.
    ``seen``: ``link_from`` is the person's own file, (size, mtime_ns) as listed; once
    linked and hashed it must still be so (else ``source.io``: it changed while read),
    and it is fsynced as a written copy would be (cheap when already on disk). One of
    ``HASH_LATER_BYTES`` or more is checked so once linked and not read past its head:
    its ``sha256`` is "" (hashed as delivery reads it, see ``engine/deliver/step.py``).
    ``hash_later``: the destination reads every file whole as it delivers it and hashes
    it then (Telegram's upload); an entry written here of ``HASH_LATER_BYTES`` or more
    (as declared) is written unhashed too, its ``sha256`` "": hashing 256 MiB took as
    long as writing it, on the same thread, before its upload could start.
    ``ahead``: told of the written file as it grows (see ``Ahead``); the caller fails
    it when staging raises or does not write the entry, and tells it of a file linked
    unread (``Staged.unread``) once it knows the file goes as it is.
    ``ask_ffmpeg``: where FFmpeg looks at a head no signature claims (the decoding box;
    None: here, as ``media.classify.classify_entry`` does).
    ``mtime``: the entry's own time (an archive's entry, a download's Last-Modified),
    given to a written copy, so a library can date it as its maker did; a linked file
    keeps its own.
    """
    digest = hashlib.sha256()
    pending: list[bytes] = []
    head = b""
    for block in blocks:
        pending.append(block)
        head += block[: HEAD_BYTES - len(head)]
        if len(head) >= HEAD_BYTES:
            break
    kind = classify_entry(head, name, ask_ffmpeg)  # a DV tape too: FFmpeg reads its head
    size = 0
    if not keep(kind) and stop_unwanted:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()  # the backend stops reading now
        return Staged(None, unread_size if unread_size is not None else len(head), "", kind)
    if not keep(kind):
        for block in _chain(pending, blocks):
            digest.update(block)
            size += len(block)
        return Staged(None, size, digest.hexdigest(), kind)
    tmp = dest.with_name(dest.name + ".part")
    if link_from is not None and known_sha256 is not None and keep(kind):
        linked_size = _link(link_from, tmp, dest)
        if linked_size is not None:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()
            return Staged(dest, linked_size, known_sha256, kind)
    if link_from is not None and seen is not None and seen[0] >= HASH_LATER_BYTES:
        linked_size = _link_unread(link_from, tmp, dest, seen, sync)
        if linked_size is not None:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()
            return Staged(dest, linked_size, "", kind, unread=True)
    if link_from is not None:
        linked = _linked(pending, blocks, digest, link_from, dest, seen=seen, sync=sync)
        if linked is not None:
            size, data = linked
            return Staged(dest, size, digest.hexdigest(), kind, data)
        # not linked (another disk): nothing was read past the head; copy as usual
    kept: list[bytes] | None = []
    unhashed = hash_later and unread_size is not None and unread_size >= HASH_LATER_BYTES
    try:
        # os.open and os.write, not a file object: no buffer to fill and flush, no
        # fstat, ioctl or lseek (each system call lets other threads take the GIL).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        handed = False
        try:
            if ahead is not None:
                ahead.attach(os.open(tmp, os.O_RDONLY | os.O_CLOEXEC))
            for block in _chain(pending, blocks):
                if not unhashed:
                    digest.update(block)
                _write_all(fd, block)
                size += len(block)
                if ahead is not None:
                    ahead.wrote(size)
                if kept is not None and size <= KEEP_BYTES:
                    kept.append(block)
                else:
                    kept = None
            if mtime is not None:
                _date(fd, mtime)
            if sync is None:
                os.fsync(fd)
            else:
                sync(fd, dest)  # the taker fsyncs and closes it
                handed = True
        finally:
            if not handed:
                os.close(fd)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_failed(dest, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if ahead is not None:
        ahead.ended(size)
    data = b"".join(kept) if kept is not None else None
    return Staged(dest, size, "" if unhashed else digest.hexdigest(), kind, data)


def _date(fd: int, mtime: float) -> None:
    """The written copy's modified time set to its entry's; a time the file system
    cannot hold (before 1970 on some, far future) leaves the write's own."""
    with contextlib.suppress(OSError, OverflowError, ValueError):
        os.utime(fd, (mtime, mtime))


def _write_all(fd: int, block: bytes) -> None:
    view = memoryview(block)
    while view:
        view = view[os.write(fd, view) :]


def write_failed(dest: Path, exc: OSError) -> FerrymanError:
    """A staged file could not be written (or made durable)."""
    if exc.errno == errno.ENOSPC:
        return FerrymanError("space.low", f"the disk filled up writing {dest.name}")
    return FerrymanError("source.io", f"cannot write {dest}: {exc}")


def _link(source: Path, tmp: Path, dest: Path) -> int | None:
    """Hard-link ``source`` as ``dest``; its size, or None on another disk."""
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
        os.replace(tmp, dest)
    except OSError:
        tmp.unlink(missing_ok=True)
        return None
    return dest.stat().st_size


def _link_unread(
    source: Path,
    tmp: Path,
    dest: Path,
    seen: tuple[int, int],
    sync: Callable[[int, Path], None] | None,
) -> int | None:
    """Hard-link the person's ``source`` as ``dest``, unread: still as listed (size,
    mtime), fsynced; its size, or None when it cannot be linked (another disk)."""
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        return None
    try:
        _unchanged_and_durable(source, tmp, dest, seen, size=None, sync=sync)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return seen[0]


def _unchanged_and_durable(
    source: Path,
    tmp: Path,
    dest: Path,
    seen: tuple[int, int],
    size: int | None,
    sync: Callable[[int, Path], None] | None,
) -> None:
    """The linked file is still as listed (and ``size`` bytes were read, if given), and
    on disk before it counts as staged, as a written copy is (nothing to write when it
    already is): else ``source.io``."""
    try:
        fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise write_failed(dest, exc) from exc
    st = os.fstat(fd)
    if (st.st_size, st.st_mtime_ns) != seen or (size is not None and st.st_size != size):
        os.close(fd)
        raise FerrymanError(
            "source.io", f"{source} changed while it was read; add it again once it is"
        )
    if sync is None:
        try:
            os.fsync(fd)
        except OSError as exc:
            raise write_failed(dest, exc) from exc
        finally:
            os.close(fd)
    else:
        sync(fd, dest)  # the taker fsyncs and closes it


def _linked(
    pending: list[bytes],
    blocks: Iterator[bytes],
    digest: Digest,
    source: Path,
    dest: Path,
    seen: tuple[int, int] | None = None,
    sync: Callable[[int, Path], None] | None = None,
) -> tuple[int, bytes | None] | None:
    """Hard-link ``source`` as ``dest`` and hash its bytes: (size, the bytes when small);
    None when it cannot be linked (another disk, not ours to link), before anything was
    read past the head. Linked straight to ``dest``, not beside it and renamed: a link
    is never a partial file, and ``dest`` counts only once its entry is recorded (one
    left by a killed run is replaced, as the rename did)."""
    try:
        _link_over(source, dest)
    except OSError:
        return None
    size = 0
    kept: list[bytes] | None = []
    try:
        for block in _chain(pending, blocks):
            digest.update(block)
            size += len(block)
            if kept is not None and size <= KEEP_BYTES:
                kept.append(block)
            else:
                kept = None
        if seen is not None:
            _unchanged_and_durable(source, dest, dest, seen, size=size, sync=sync)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return size, (b"".join(kept) if kept is not None else None)


def _link_over(source: Path, dest: Path) -> None:
    """``source`` hard-linked as ``dest``, replacing a file a killed run left there."""
    try:
        os.link(source, dest)
    except FileExistsError:
        dest.unlink()
        os.link(source, dest)


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest
