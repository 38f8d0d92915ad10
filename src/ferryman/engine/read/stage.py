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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ferryman.engine.read.resume import Resume, keeps
from ferryman.errors import FerrymanError
from ferryman.fsutil import Held
from ferryman.media.camera_files import is_raw
from ferryman.media.classify import classify_entry
from ferryman.model import MediaKind
from ferryman.sinks.base import EarlyUpload as EarlyUpload  # the sink's contract
from ferryman.sinks.base import StartEarlyUpload as StartEarlyUpload

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
    def hexdigest(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Staged:
    """What staging learned; ``path`` is None when the entry was not written."""

    path: Path | None
    size: int
    sha256: str
    kind: MediaKind
    data: bytes | None = None  # the file's bytes, when it was written and is small
    unread: bool = False  # a person's own file, linked whole and not read (hashed later)
    raw: bool = False  # a camera's RAW picture left unwritten (its skip says so)


Sync = Callable[[int, Path], None]  # takes a file descriptor to fsync and close


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how an entry is written: the work area's side of staging.

    ``keep``: the kinds written (others are skipped unwritten). ``sync``: the fsync is
    handed over (the file's descriptor, which the taker fsyncs and closes) instead of
    waited for here; the taker must have it done before the entry is recorded (see
    ``read_run``). ``hash_later``: the destination reads every file whole as it
    delivers it and hashes it then (Telegram's upload): an entry written here of
    ``HASH_LATER_BYTES`` or more (as declared) is written unhashed, its ``sha256`` ""
    (hashing 256 MiB took as long as writing it, on the same thread, before its upload
    could start). ``early``: told of the written file as it grows (see ``EarlyUpload``); the
    caller fails it when staging raises or does not write the entry, and tells it of a
    file linked unread (``Staged.unread``) once it knows the file goes as it is.
    ``ask_ffmpeg``: where FFmpeg looks at a head no signature claims (the decoding box;
    None: here, as ``media.classify.classify_entry`` does)."""

    dest: Path
    keep: Callable[[MediaKind], bool]
    sync: Sync | None = None
    hash_later: bool = False
    early: EarlyUpload | None = None
    ask_ffmpeg: Callable[[bytes], MediaKind] | None = None
    # Written resumably (``resume.Resume``): its first ``kept`` bytes are in the part
    # already (read back, not written again), the rest checkpointed as it is written.
    resume: Resume | None = None


@dataclass(slots=True)
class _Entry:
    """An entry being staged: its bytes (the head already read, ``pending``), what it
    declared of itself, and the hash being fed."""

    blocks: Iterator[bytes]
    pending: list[bytes]
    kind: MediaKind
    size: int | None  # as declared up front
    mtime: float | None
    digest: Digest = field(default_factory=hashlib.sha256)

    def close(self) -> None:
        """Nothing more is read of it: the backend stops reading now."""
        close = getattr(self.blocks, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True, slots=True)
class Streamed:
    """Bytes as a source gives them (an archive's entry, a download): written here,
    hashed on the way. ``over_network``: they are fetched as they are read, so an
    unwanted entry is left unread past its head (its size as declared, unhashed)."""

    over_network: bool = False

    def place(self, entry: _Entry, target: Target) -> Staged | None:
        return None  # always written


@dataclass(frozen=True, slots=True)
class PersonsFile:
    """A person's own file on this machine, ``seen`` (size, mtime_ns) as listed: hard-
    linked, not copied (a 600 MB video costs a read, not a copy), hashed as it is read,
    and still as listed once read (else ``source.io``: it changed while read); fsynced
    as a written copy would be (cheap when already on disk). One of
    ``HASH_LATER_BYTES`` or more is checked so once linked and not read past its head:
    its ``sha256`` is "" (hashed as delivery reads it, ``engine/deliver/step.py``).
    Copied where it cannot be linked (another disk); a linked file keeps its own time."""

    path: Path
    seen: tuple[int, int]
    # The file as it was opened once (``fsutil.Held``): linked only when the link is
    # that very inode, else copied from the handle the entry's bytes come from.
    held: Held | None = None

    def place(self, entry: _Entry, target: Target) -> Staged | None:
        dest = target.dest
        link = self.held.link_as if self.held is not None else _by_name(self.path)
        source = (link, self.path)
        if self.seen[0] >= HASH_LATER_BYTES:
            tmp = dest.with_name(dest.name + ".part")
            linked_size = _link_unread(source, tmp, dest, self.seen, target.sync)
            if linked_size is not None:
                entry.close()
                return Staged(dest, linked_size, "", entry.kind, unread=True)
        return _linked_hashed(entry, source, dest, self.seen, target.sync)


@dataclass(frozen=True, slots=True)
class MadeHere:
    """A file this job made (a link converter's result), whole and the job's own:
    hard-linked, not written again; not even read past its head when its maker hashed
    it (``sha256``). ``listed``: as a person's file, when it was listed so (its folder
    was read as a person's is), the ways tried once it cannot be linked by its hash."""

    path: Path
    sha256: str | None = None
    listed: PersonsFile | None = None

    def place(self, entry: _Entry, target: Target) -> Staged | None:
        dest = target.dest
        if self.sha256 is not None:
            linked_size = _link(self.path, dest.with_name(dest.name + ".part"), dest)
            if linked_size is not None:
                entry.close()
                return Staged(dest, linked_size, self.sha256, entry.kind)
        if self.listed is not None:
            return self.listed.place(entry, target)
        return _linked_hashed(entry, (_by_name(self.path), self.path), dest, None, None)


Provenance = Streamed | PersonsFile | MadeHere


def stage_entry(
    blocks: Iterator[bytes],
    name: str,
    target: Target,
    source: Provenance = Streamed(),
    *,
    size: int | None = None,
    mtime: float | None = None,
) -> Staged:
    """Write the entry to ``target.dest`` (via ``dest.part`` + fsync + rename) if
    ``target.keep(kind)``, in the way its ``source`` allows (a link, not a copy, for a
    file already here).

    An unwanted entry is read to its end (hashed, metered by the archive guard), unless
    it is streamed over the network: then reading stops after the head (its bytes would
    cross the network for nothing) and its size is ``size`` (as declared), unhashed.
    ``mtime``: the entry's own time (an archive's entry, a download's Last-Modified),
    given to a written copy, so a library can date it as its maker did.
    """
    pending: list[bytes] = []
    head = b""
    for block in blocks:
        pending.append(block)
        head += block[: HEAD_BYTES - len(head)]
        if len(head) >= HEAD_BYTES:
            break
    # A DV tape too: FFmpeg reads its head.
    kind = classify_entry(head, name, target.ask_ffmpeg)
    entry = _Entry(blocks, pending, kind, size, mtime)
    if not target.keep(kind):
        raw = is_raw(head, name)
        if isinstance(source, Streamed) and source.over_network:
            entry.close()
            return Staged(None, size if size is not None else len(head), "", kind, raw=raw)
        read = 0
        for block in _chain(pending, blocks):
            entry.digest.update(block)
            read += len(block)
        return Staged(None, read, entry.digest.hexdigest(), kind, raw=raw)
    placed = source.place(entry, target)
    if placed is not None:
        return placed
    return _written(entry, target)  # streamed, or not linked: nothing was read past the head


Link = Callable[[Path], None]  # hard-links the source as the path given (OSError: it cannot)


def _by_name(source: Path) -> Link:
    """A link of the file at ``source`` (a file of the job's own making)."""
    return lambda dest: os.link(source, dest)


def _linked_hashed(
    entry: _Entry,
    source: tuple[Link, Path],
    dest: Path,
    seen: tuple[int, int] | None,
    sync: Sync | None,
) -> Staged | None:
    """The source (its link, its name) hard-linked as ``dest``, hashed as it is read;
    None when it cannot be linked (another disk), before anything was read past the head."""
    linked = _linked(entry.pending, entry.blocks, entry.digest, source, dest, seen=seen, sync=sync)
    if linked is None:
        return None
    size, data = linked
    return Staged(dest, size, entry.digest.hexdigest(), entry.kind, data)


def _written(entry: _Entry, target: Target) -> Staged:
    """A copy written to ``target.dest``: via ``.part``, fsynced (or handed over), renamed."""
    dest, early, digest, resume = target.dest, target.early, entry.digest, target.resume
    tmp = dest.with_name(dest.name + ".part")
    size = 0
    on_disk = resume.kept if resume is not None else 0  # in the part already
    kept: list[bytes] | None = []
    declared = entry.size
    unhashed = target.hash_later and declared is not None and declared >= HASH_LATER_BYTES
    try:
        # os.open and os.write, not a file object: no buffer to fill and flush, no
        # fstat, ioctl or lseek (each system call lets other threads take the GIL).
        if resume is not None:
            resume.begin()
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (0 if on_disk else os.O_TRUNC)
        fd = os.open(tmp, flags, 0o666)
        handed = False
        try:
            if on_disk:
                os.ftruncate(fd, on_disk)
                os.lseek(fd, on_disk, os.SEEK_SET)
            if resume is not None:
                resume.attach()
            if early is not None:
                early.attach(os.open(tmp, os.O_RDONLY | os.O_CLOEXEC))
            for block in _chain(entry.pending, entry.blocks):
                if not unhashed:
                    digest.update(block)
                if size + len(block) > on_disk:  # the bytes kept are read back, not written
                    _write_all(fd, block if size >= on_disk else block[on_disk - size :])
                size += len(block)
                if resume is not None:
                    resume.wrote(size)
                if early is not None:
                    early.wrote(size)
                if kept is not None and size <= KEEP_BYTES:
                    kept.append(block)
                else:
                    kept = None
            if entry.mtime is not None:
                _date(fd, entry.mtime)
            if target.sync is None:
                os.fsync(fd)
            else:
                target.sync(fd, dest)  # the taker fsyncs and closes it
                handed = True
        finally:
            if not handed:
                os.close(fd)
        os.replace(tmp, dest)
    except OSError as exc:
        failure = write_failed(dest, exc)
        if resume is None or not keeps(failure):
            tmp.unlink(missing_ok=True)
        raise failure from exc
    except BaseException as exc:
        if resume is None or not keeps(exc):
            tmp.unlink(missing_ok=True)  # else the next run goes on from the record
        raise
    if early is not None:
        early.ended(size)
    data = b"".join(kept) if kept is not None else None
    return Staged(dest, size, "" if unhashed else digest.hexdigest(), entry.kind, data)


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
    linked_from: tuple[Link, Path],
    tmp: Path,
    dest: Path,
    seen: tuple[int, int],
    sync: Callable[[int, Path], None] | None,
) -> int | None:
    """Hard-link the person's file (its link, its name) as ``dest``, unread: still as
    listed (size, mtime), fsynced; its size, or None when it cannot be linked."""
    link, source = linked_from
    tmp.unlink(missing_ok=True)
    try:
        link(tmp)
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
    linked_from: tuple[Link, Path],
    dest: Path,
    seen: tuple[int, int] | None = None,
    sync: Callable[[int, Path], None] | None = None,
) -> tuple[int, bytes | None] | None:
    """Hard-link ``source`` as ``dest`` and hash its bytes: (size, the bytes when small);
    None when it cannot be linked (another disk, not ours to link), before anything was
    read past the head. Linked straight to ``dest``, not beside it and renamed: a link
    is never a partial file, and ``dest`` counts only once its entry is recorded (one
    left by a killed run is replaced, as the rename did)."""
    link, source = linked_from
    try:
        _link_over(link, dest)
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


def _link_over(link: Link, dest: Path) -> None:
    """The source hard-linked as ``dest``, replacing a file a killed run left there."""
    try:
        link(dest)
    except FileExistsError:
        dest.unlink()
        link(dest)


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest
