"""A big entry staged from its middle: what a killed run wrote of an entry read where it
lies on a server (a stored zip entry by Range: ``archive.reader.Resumable``) is kept,
and only the rest is asked for.

Beside the staged ``.part`` a record (``.part.resume``) says how many of its bytes are
trusted: the part is fdatasynced up to a length, then that length is written to the
record and fdatasynced, every ``CHECKPOINT`` bytes or more, on a helper thread (the
reading thread writes on meanwhile). A restart trusts the part up to the record's
length: bytes past it are cut off, and a part shorter than the record says (torn) is
cut to what is there, the record rewritten before a byte is added. A fresh part is
vouched for by no record: the record says 0 before the part is opened. The staged file
whole, not yet recorded when the run was killed (its probe, its commit), is taken back
the same way. The bytes kept are read back from the disk (no network) for the entry's
SHA-256 and its CRC-32, which the rest carries on and checks against the zip's at the
end: a mismatch reads the entry again from its first byte. A deflated entry is not
resumable (its decoder's state at a byte is not kept): it is read again from its start.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ferryman.archive.reader import ReadAgain, Resumable
from ferryman.errors import FerrymanError
from ferryman.fsutil import fsync_dir
from ferryman.sources.base import SourceEntry

log = logging.getLogger(__name__)

# An entry this big, read over the network from a source that can resume it, is staged
# resumably (smaller ones go in a run of reading, at most ``entry_batch.at_risk`` lost).
RESUME_LEAST = 4 << 20
# The part is made durable and its length recorded once this much more was written (and
# the last checkpoint is done): what a kill loses of an entry, plus what was asked ahead.
CHECKPOINT = 512 << 10
# The writer waits for the checkpoint under way once it is this far past what is
# recorded: a disk slower than the link (a loaded machine's fsyncs) let the record fall
# 10 MB behind, all of it sent again after a kill. The entry's bytes must be on the disk
# before it is recorded anyway: this makes them so as they come, not all at its end.
LAG_MOST = 2 << 20
BLOCK = 1 << 20
RECORD_SUFFIX = ".resume"
_RECORD = struct.Struct("<4sB16sQ")  # magic, version, the key's digest, the trusted length
_CHECK = struct.Struct("<I")  # the CRC-32 of the above: a torn record is no record
_MAGIC = b"FMRS"
_datasync = getattr(os, "fdatasync", os.fsync)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()[:16]


def pack(key: str, length: int) -> bytes:
    """A record saying the part of ``key``'s entry holds ``length`` trusted bytes."""
    body = _RECORD.pack(_MAGIC, 1, _digest(key), length)
    return body + _CHECK.pack(zlib.crc32(body))


def unpack(data: bytes, key: str) -> int | None:
    """The length a record vouches for, or None: torn, not a record, another entry's."""
    if len(data) != _RECORD.size + _CHECK.size:
        return None
    body = data[: _RECORD.size]
    if _CHECK.unpack(data[_RECORD.size :])[0] != zlib.crc32(body):
        return None
    magic, version, digest, length = _RECORD.unpack(body)
    if magic != _MAGIC or version != 1 or digest != _digest(key):
        return None
    return int(length)


def part_of(dest: Path) -> Path:
    """Where an entry bound for ``dest`` is written (``stage._written``'s ``.part``)."""
    return dest.with_name(dest.name + ".part")


def resumed(entry: SourceEntry, dest: Path, *, fresh: bool = False) -> Resume | None:
    """The resumable staging of ``entry`` bound for ``dest`` (None: staged as before):
    what a killed run left of it taken up, unless ``fresh`` (read again from its start).
    Blocking: the reading thread's."""
    resume, size = entry.resume, entry.info.size
    if resume is None or not entry.over_network or size is None or size < RESUME_LEAST:
        return None
    if entry.local_file is not None:
        return None
    part = part_of(dest)
    return Resume(part, resume.key, 0) if fresh else Resume.taken_up(part, dest, resume.key)


class Resume:
    """One big entry's staging: the bytes of its part a killed run left (``kept``), and
    the checkpoints of those written now. ``begin`` before the part is opened,
    ``attach`` once it is, ``wrote`` as it grows; then ``end`` (staged) or ``failed``."""

    def __init__(self, part: Path, key: str, kept: int) -> None:
        self.part = part
        self.record = part.with_name(part.name + RECORD_SUFFIX)
        self.key = key
        self.kept = kept
        self._record_fd: int | None = None
        self._part_fd: int | None = None
        self._recorded = kept  # the length last asked to be recorded
        self._durable = kept  # the length the record says now
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None
        self._broken = False
        self._dir_synced = False

    @classmethod
    def taken_up(cls, part: Path, dest: Path, key: str) -> Resume:
        """What a killed run left of this entry: its part's bytes the record vouches
        for (bytes past them cut off; a part shorter than the record says, torn, is
        cut to what is there); the staged file itself when the run was killed before
        recording it. None kept without a record of this entry."""
        record = part.with_name(part.name + RECORD_SUFFIX)
        try:
            length = unpack(record.read_bytes(), key)
        except OSError:
            length = None
        if not length:
            return cls(part, key, 0)
        if not part.exists() and dest.is_file():
            os.replace(dest, part)  # staged whole, then killed before it was recorded
        try:
            real = part.stat().st_size
        except FileNotFoundError:
            return cls(part, key, 0)
        if real > length:
            os.truncate(part, length)  # written past the record: not vouched for
        elif real < length:
            log.warning("%s: %d bytes, not the %d recorded: kept as torn", part, real, length)
        return cls(part, key, min(real, length))

    def blocks(self, entry: SourceEntry) -> Iterator[bytes]:
        """The entry's bytes: those kept read back from the part (CRC-32 on the way),
        then the rest from the source; all of them from the source when none are kept."""
        resumable = entry.resume
        assert resumable is not None
        if not self.kept:
            return entry.read_blocks()
        return self._kept_then_rest(resumable, entry)

    def _kept_then_rest(self, resumable: Resumable, entry: SourceEntry) -> Iterator[bytes]:
        crc, left = 0, self.kept
        with open(self.part, "rb", buffering=0) as kept:
            while left:
                block = kept.read(min(BLOCK, left))
                if not block:
                    cause = FerrymanError(
                        "archive.entry_corrupt", f"{self.part.name} lost bytes while it was read"
                    )
                    raise ReadAgain(cause, entry.read_blocks)
                crc = zlib.crc32(block, crc)
                left -= len(block)
                yield block
        log.info("%s: %d bytes kept, the rest asked for", entry.info.path, self.kept)
        yield from resumable.rest(self.kept, crc)

    def begin(self) -> None:
        """Before the part is opened to write: the record says ``kept``, durably (no
        record of an earlier part vouches for the bytes of a fresh one)."""
        created = not self.record.exists()
        self._record_fd = os.open(self.record, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._write_record(self.kept)
        if created:
            fsync_dir(self.record.parent)

    def attach(self) -> None:
        """The part is open: checkpoints make it durable through a descriptor of their own."""
        self._part_fd = os.open(self.part, os.O_RDONLY | os.O_CLOEXEC)

    def wrote(self, size: int) -> None:
        """``size`` bytes are in the part: a checkpoint once ``CHECKPOINT`` more are in
        and the last one is done (on the helper thread; the writer goes on, unless it is
        ``LAG_MOST`` past the record: then it waits for the checkpoint under way)."""
        if self._broken or size - self._recorded < CHECKPOINT:
            return
        if self._pending is not None and not self._pending.done():
            if size - self._durable <= LAG_MOST:
                return
            self._pending.result()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="ferryman-resume")
        self._recorded = size
        self._pending = self._pool.submit(self._checkpoint, size)

    def _checkpoint(self, size: int) -> None:
        """The part's first ``size`` bytes durable, then recorded so."""
        assert self._part_fd is not None
        try:
            _datasync(self._part_fd)
            if not self._dir_synced:
                fsync_dir(self.part.parent)
                self._dir_synced = True
            self._write_record(size)
            self._durable = size
        except OSError as exc:  # the record stays at the last length made durable
            log.warning("%s: no checkpoint (%s): a kill reads it again from there", self.part, exc)
            self._broken = True

    def _write_record(self, size: int) -> None:
        assert self._record_fd is not None
        os.pwrite(self._record_fd, pack(self.key, size), 0)
        _datasync(self._record_fd)

    def _stop(self) -> None:
        """The pending checkpoint done; the helper and the descriptors closed."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for fd in (self._part_fd, self._record_fd):
            if fd is not None:
                os.close(fd)
        self._part_fd = self._record_fd = None

    def end(self, staged: Path | None, size: int) -> None:
        """Staged: the file (``staged``, ``size`` bytes) durable and recorded whole, so a
        run killed before the entry is recorded takes it back unread from the network
        (the record dies with the work area). Not written (an unwanted kind): part and
        record go."""
        try:
            if staged is not None and self._part_fd is not None and not self._broken:
                with contextlib.suppress(OSError):
                    if self._pool is not None:
                        self._pool.shutdown(wait=True)
                        self._pool = None
                    _datasync(self._part_fd)
                    self._write_record(size)
        finally:
            self._stop()
        if staged is None:
            self._drop()

    def failed(self, exc: BaseException) -> None:
        """Staging raised ``exc``: the part is kept for the next run when it may go on
        (a stop, a network failure), else dropped (a CRC that does not match, a full disk)."""
        self._stop()
        if not keeps(exc):
            self._drop()

    def _drop(self) -> None:
        self.part.unlink(missing_ok=True)
        self.record.unlink(missing_ok=True)


_DROPPED = ("archive.", "space.", "source.http.changed", "source.http.replaced")


def keeps(exc: BaseException) -> bool:
    """Whether a part left by a staging that raised ``exc`` is worth going on from: not
    after a data error, a full disk or a changed file, nor after a failure for good."""
    if isinstance(exc, FerrymanError):
        return exc.retryable and not exc.code.startswith(_DROPPED)
    return not isinstance(exc, OSError)  # a stop, a cancel: the next run goes on
