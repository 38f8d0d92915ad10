"""A stored (uncompressed, unencrypted) entry of a local zip file, copied by the kernel.

Such an entry's bytes lie contiguous in the zip file, so staging can copy them with
``os.copy_file_range`` instead of passing them through Python (libarchive's read, a
copy into ``bytes``, ``os.write``): 256 MiB took 0.24-0.44 s that way against
1.75-4.6 s on a loaded machine (bench/README.md, issue 36). The CRC-32 of the central
directory is checked by a second read beside the copy, on a thread (``os.preadv`` and
``zlib.crc32`` both let go of the GIL).

The span is only believed when the central directory and the local header agree with
what libarchive announced (same raw name, same size, stored, not encrypted); anything
else, and a kernel or file system without ``copy_file_range``, leaves the entry to the
usual blocks.
"""

from __future__ import annotations

import errno
import os
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ferryman.errors import FerrymanError

CHUNK = 16 << 20  # per copy_file_range call: the upload reading the file sees it grow
_CRC_BUFFER = 8 << 20
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # 30 bytes
_LOCAL_MAGIC = b"PK\x03\x04"
# What a copy_file_range that cannot work here raises (another file system on an old
# kernel, a seccomp sandbox, a file system that refuses it): the blocks then do it.
FALLBACK_ERRNOS = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM}
)


@dataclass(frozen=True, slots=True)
class StoredSpan:
    """Where a stored entry's bytes lie in its zip file, and their CRC-32."""

    path: Path
    offset: int
    size: int
    crc: int


@dataclass(frozen=True, slots=True)
class _Record:
    header_offset: int
    size: int
    crc: int
    stored: bool  # stored, not encrypted, not a folder


class ZipSpans:
    """The central directory of one zip file, read on first use, in the order of the
    local headers (libarchive's seekable zip reader returns entries in that order,
    folders too)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._records: list[_Record] | None = None

    def span(self, number: int, raw_name: bytes | None, size: int | None) -> StoredSpan | None:
        """The span of the ``number``-th header (counting folders), when it is a stored
        entry whose raw name and size are the ones libarchive gave; else None."""
        if raw_name is None or size is None:
            return None
        try:
            records = self._read_records()
            if not 0 <= number < len(records):
                return None
            record = records[number]
            if not record.stored or record.size != size:
                return None
            offset = self._data_offset(record.header_offset, raw_name)
        except (OSError, zipfile.BadZipFile, struct.error, ValueError):
            return None
        if offset is None:
            return None
        return StoredSpan(self._path, offset, record.size, record.crc)

    def _read_records(self) -> list[_Record]:
        if self._records is None:
            with zipfile.ZipFile(self._path) as archive:
                infos = sorted(archive.infolist(), key=lambda i: i.header_offset)
            self._records = [
                _Record(
                    i.header_offset,
                    i.file_size,
                    i.CRC,
                    i.compress_type == zipfile.ZIP_STORED
                    and not i.flag_bits & 0x1
                    and i.compress_size == i.file_size
                    and not i.is_dir(),
                )
                for i in infos
            ]
        return self._records

    def _data_offset(self, header_offset: int, raw_name: bytes) -> int | None:
        """Past the local header, whose name and extra lengths may differ from the
        central directory's; None unless it is a local header of that very name."""
        with open(self._path, "rb") as f:
            f.seek(header_offset)
            fixed = f.read(_LOCAL_HEADER.size)
            fields = _LOCAL_HEADER.unpack(fixed)
            if fields[0] != _LOCAL_MAGIC:
                return None
            name_len, extra_len = int(fields[9]), int(fields[10])
            if f.read(name_len) != raw_name:
                return None
        return header_offset + _LOCAL_HEADER.size + name_len + extra_len


class StoredCopy:
    """Copies a span's bytes into a file being written; ``count`` meters each chunk
    (the archive guard) once it is copied, before anyone is told of it."""

    def __init__(self, span: StoredSpan, name: str, count: Callable[[int], None]) -> None:
        self.span = span
        self._name = name
        self._count = count

    def copy(self, fd: int, start: int, progress: Callable[[int], None]) -> bool:
        """Copy the span from byte ``start`` on (the bytes before are in ``fd``
        already) to the same place in ``fd``, then check the CRC-32 of the whole span.

        False when ``copy_file_range`` cannot be used here, found on its first call:
        nothing was copied nor counted, and the caller goes on with the blocks.
        ``progress(total)``: the entry's bytes now in ``fd``. Raises ``FerrymanError``
        "archive.entry_corrupt" when the CRC-32 differs or the zip ends early."""
        span = self.span
        src = os.open(span.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            done = start
            first = True
            crc: _Crc | None = None
            while done < span.size:
                want = min(CHUNK, span.size - done)
                if crc is None and not first:
                    crc = _Crc(span)
                try:
                    n = os.copy_file_range(src, fd, want, span.offset + done, done)
                except OSError as exc:
                    if first and exc.errno in FALLBACK_ERRNOS:
                        return False
                    raise
                if n == 0:
                    raise self._corrupt(f"the zip ends {span.size - done} bytes early")
                first = False  # the copy works: the CRC is read beside it from now
                self._count(n)
                done += n
                progress(done)
            if crc is None:
                crc = _Crc(span)
            got = crc.result()
        finally:
            os.close(src)
            if crc is not None:
                crc.stop()
        if got != span.crc:
            raise self._corrupt(f"CRC-32 {got:08x}, the zip says {span.crc:08x}")
        return True

    def _corrupt(self, detail: str) -> FerrymanError:
        return FerrymanError("archive.entry_corrupt", f"{self._name}: {detail}")


class _Crc:
    """The CRC-32 of a span, read from the zip on a thread of its own."""

    def __init__(self, span: StoredSpan) -> None:
        self._span = span
        self._value = 0
        self._error: OSError | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stored-crc", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        span = self._span
        buf = bytearray(_CRC_BUFFER)
        view = memoryview(buf)
        crc = 0
        done = 0
        try:
            fd = os.open(span.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                while done < span.size and not self._stopped.is_set():
                    want = min(_CRC_BUFFER, span.size - done)
                    n = os.preadv(fd, [view[:want]], span.offset + done)
                    if n == 0:
                        break
                    crc = zlib.crc32(view[:n], crc)
                    done += n
            finally:
                os.close(fd)
        except OSError as exc:
            self._error = exc
        self._value = crc

    def stop(self) -> None:
        """Stop reading (the copy failed; a no-op once the CRC is known)."""
        self._stopped.set()

    def result(self) -> int:
        self._thread.join()
        if self._error is not None:
            raise FerrymanError(
                "source.io", f"cannot read {self._span.path.name}: {self._error}"
            ) from self._error
        return self._value
