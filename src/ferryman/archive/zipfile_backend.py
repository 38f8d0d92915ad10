"""A zip read through Python's ``zipfile`` from any seekable file: the backend for a zip
that stays where it is (on a server that answers Range), so only the central directory
and the entries actually read cross the network.

Stored, Deflate, BZIP2 and LZMA entries; ZipCrypto with the given passwords, tried per
entry. WinZip AES and other methods are ``archive.unsupported`` (the caller fetches the
archive whole instead and uses the full backends).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import IO

from ferryman.archive.reader import (
    ArchiveEntry,
    EntryInfo,
    EntryType,
    OpenOptions,
    ReadAgain,
    Resumable,
)
from ferryman.archive.stored_names import zip_member_names
from ferryman.errors import FerrymanError

BLOCK = 1 << 20
# The first block is small: a caller that looks at an entry's head and stops (a
# non-media entry, skipped) has made zipfile read, and so fetch, no more than this.
FIRST_BLOCK = 64 << 10
READABLE_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_AES = 99  # WinZip AES: zipfile cannot decrypt it
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile's structFileHeader: 30 bytes
_LOCAL_MAGIC = b"PK\x03\x04"


def readable_in_place(file: IO[bytes]) -> bool:
    """Whether ``file`` (seekable; a remote zip by Range) is a zip this backend reads
    whole: the central directory alone says (else it is fetched or copied for the full
    backends). Leaves the file at its start."""
    try:
        with zipfile.ZipFile(file) as archive:
            return unreadable_reason(archive) is None
    except zipfile.BadZipFile:
        return False
    finally:
        file.seek(0)


def unreadable_reason(archive: zipfile.ZipFile) -> str | None:
    """Why this backend cannot read every entry (None: it can)."""
    for info in archive.infolist():
        if info.compress_type == _AES:
            return f"{info.filename}: WinZip AES encryption"
        if info.compress_type not in READABLE_METHODS:
            return f"{info.filename}: compression method {info.compress_type}"
    return None


Extent = tuple[int, int]  # where an entry's bytes lie: its local header to the next entry
# Told an entry's extent, and those of the entries after it, before its bytes are read
# (``net.rangefile.RangeFile.want``): a remote file asks for no more.
Tell = Callable[[Extent, Sequence[Extent]], None]
TOLD_AFTER = 64  # extents told after the one read (what may be asked for ahead)


class _Entry:
    def __init__(
        self,
        archive: zipfile.ZipFile,
        member: zipfile.ZipInfo,
        info: EntryInfo,
        pw: tuple[str, ...],
        told: tuple[Tell, Extent, Sequence[Extent]] | None = None,
        file: IO[bytes] | None = None,
    ) -> None:
        self._archive = archive
        self._member = member
        self._info = info
        self._passwords = pw
        self._told = told  # whom to tell, this entry's extent and those after it
        self._file = file  # the zip itself, for reading a stored entry on from its middle

    @property
    def info(self) -> EntryInfo:
        return self._info

    def read_blocks(self) -> Iterator[bytes]:
        encrypted = bool(self._member.flag_bits & 0x1)
        candidates: tuple[str | None, ...] = self._passwords if encrypted else (None,)
        if not candidates:
            raise FerrymanError(
                "archive.password_required", f"{self._member.filename} is encrypted"
            )
        if self._told is not None:
            tell, extent, after = self._told
            tell(extent, after)
        for number, password in enumerate(candidates, start=1):
            pwd = password.encode() if password is not None else None
            try:
                opened = self._archive.open(self._member, pwd=pwd)
            except RuntimeError as exc:  # zipfile's "Bad password": try the next one
                if number == len(candidates):
                    raise FerrymanError(
                        "archive.password_required",
                        f"none of the passwords opens {self._member.filename}",
                    ) from exc
                continue
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise FerrymanError(
                    "archive.entry_corrupt", f"{self._member.filename}: {exc}"
                ) from exc
            return self._stream(opened)
        raise AssertionError("unreachable")  # pragma: no cover

    def resumable(self) -> Resumable | None:
        """A stored entry, not encrypted: its bytes can be read on from any offset (the
        CRC carried over); None for the others (a deflated stream cannot restart
        mid-way without its decoder's state)."""
        member = self._member
        if self._file is None or member.compress_type != zipfile.ZIP_STORED:
            return None
        if member.flag_bits & 0x1 or member.compress_size != member.file_size:
            return None
        key = f"zip:{member.header_offset}:{member.file_size}:{member.CRC:08x}:{member.filename}"
        return Resumable(key, self._rest)

    def _rest(self, offset: int, crc: int) -> Iterator[bytes]:
        """The stored bytes from ``offset`` on (``crc``: the CRC-32 of those before): its
        local header read first (where its data starts), then only the rest is asked
        for. A CRC that does not match at the end, or an offset past the entry, is
        ``ReadAgain``: the entry read whole, from its first byte."""
        member, file = self._member, self._file
        assert file is not None
        left = member.compress_size - offset
        if left < 0:
            raise self._again(f"{offset} bytes kept, past its {member.compress_size}")
        name = member.filename
        try:
            head = self._read_at(member.header_offset, _LOCAL_HEADER.size)
            fields = _LOCAL_HEADER.unpack(head)
            if fields[0] != _LOCAL_MAGIC:
                raise FerrymanError("archive.entry_corrupt", f"{name}: no local header")
            at = member.header_offset + _LOCAL_HEADER.size + fields[10] + fields[11] + offset
            if self._told is not None:  # its whole extent: what is asked ahead is sized by it
                tell, extent, after = self._told
                tell(extent, after)
            file.seek(at)
            while left > 0:
                block = file.read(min(BLOCK, left))
                if not block:
                    raise FerrymanError("archive.entry_corrupt", f"{name}: the zip ends early")
                crc = zlib.crc32(block, crc)
                left -= len(block)
                yield block
        except (OSError, struct.error) as exc:
            raise FerrymanError("archive.entry_corrupt", f"{name}: {exc}") from exc
        if crc != member.CRC:
            raise self._again(f"CRC-32 {crc:08x}, not {member.CRC:08x}, resumed at {offset}")

    def _read_at(self, start: int, length: int) -> bytes:
        """``length`` bytes at ``start``, a remote file told to ask for those alone."""
        assert self._file is not None
        if self._told is not None:
            self._told[0]((start, start + length), ())
        self._file.seek(start)
        return self._file.read(length)

    def _again(self, why: str) -> ReadAgain:
        cause = FerrymanError("archive.entry_corrupt", f"{self._member.filename}: {why}")
        return ReadAgain(cause, self.read_blocks)

    def _stream(self, opened: IO[bytes]) -> Iterator[bytes]:
        size = FIRST_BLOCK
        with opened:
            while True:
                try:
                    block = opened.read(size)
                    size = BLOCK
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                    raise FerrymanError(
                        "archive.entry_corrupt", f"{self._member.filename}: {exc}"
                    ) from exc
                if not block:
                    return
                yield block


class ZipfileReader:
    """An ``ArchiveReader`` over a seekable binary file; entries in central-directory
    order, indexes counting the files (folders are not entries)."""

    def __init__(
        self, file: IO[bytes], name: str, options: OpenOptions, tell: Tell | None = None
    ) -> None:
        """``tell``: told each entry's extent (and those after it) before its bytes are
        read, so a remote file asks for those and no more."""
        self._file = file
        self.name = name
        self._options = options
        self._tell = tell
        self._archive: zipfile.ZipFile | None = None
        self._read = 0

    def __enter__(self) -> ZipfileReader:
        try:
            self._archive = zipfile.ZipFile(self._file)
        except (zipfile.BadZipFile, OSError) as exc:
            raise FerrymanError("archive.unreadable", f"{self.name}: {exc}") from exc
        reason = unreadable_reason(self._archive)
        if reason is not None:
            raise FerrymanError("archive.unsupported", reason)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._archive is not None:
            self._archive.close()

    def __iter__(self) -> Iterator[ArchiveEntry]:
        assert self._archive is not None, "use the reader as a context manager"
        files = [member for member in self._archive.infolist() if not member.is_dir()]
        names = zip_member_names(files)  # read together: one archive, one code page
        extents = _extents(self._archive)
        for at, member in enumerate(files):
            kind = (
                EntryType.SYMLINK
                if (member.external_attr >> 16) & 0o170000 == 0o120000
                else EntryType.FILE
            )
            mtime = None
            info = EntryInfo(at, names[at], member.file_size, mtime, kind)
            self._read += member.compress_size
            told = None
            if self._tell is not None:
                later = files[at + 1 : at + 1 + TOLD_AFTER]
                after = [extents[m.header_offset] for m in later]
                told = (self._tell, extents[member.header_offset], after)
            yield _Entry(self._archive, member, info, self._options.passwords, told, self._file)

    def consumed(self) -> int:
        return self._read

    @property
    def archive(self) -> zipfile.ZipFile:
        """The central directory (names, sizes, CRCs), once entered."""
        assert self._archive is not None, "use the reader as a context manager"
        return self._archive

    def read_small(
        self, members: Sequence[zipfile.ZipInfo], limit: int
    ) -> Iterator[tuple[zipfile.ZipInfo, bytes]]:
        """The first ``limit`` bytes of each of ``members`` (small files: a Takeout's
        sidecars), read before any entry is; a remote file is told each one's extent
        first, so it asks for those bytes and no more. A member that cannot be read
        (encrypted, broken) gives ``b""``."""
        archive = self.archive
        tell = self._tell or _want_of(self._file)
        extents = _extents(archive) if tell is not None else {}
        ordered = sorted(members, key=lambda m: m.header_offset)
        for at, member in enumerate(ordered):
            if tell is not None:
                later = ordered[at + 1 : at + 1 + TOLD_AFTER]
                tell(extents[member.header_offset], [extents[m.header_offset] for m in later])
            yield member, read_member(archive, member, limit)


def read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``member``; ``b""`` when it cannot be read."""
    try:
        with archive.open(member) as handle:
            return handle.read(limit)
    except (OSError, zipfile.BadZipFile, zlib.error, RuntimeError, ValueError, EOFError,
            NotImplementedError):  # fmt: skip
        return b""  # encrypted, or broken


def _want_of(file: IO[bytes]) -> Tell | None:
    """A remote file's ``want`` behind its read-ahead buffer, when it has one."""
    want = getattr(getattr(file, "raw", None), "want", None)
    return want if callable(want) else None


def _extents(archive: zipfile.ZipFile) -> dict[int, Extent]:
    """Each entry's extent by its local header's offset: to the next local header, or
    to the central directory for the last one."""
    starts = sorted({member.header_offset for member in archive.infolist()})
    directory: int = getattr(archive, "start_dir", 0)
    ends = [*starts[1:], max(directory, starts[-1] if starts else 0)]
    return {start: (start, max(end, start)) for start, end in zip(starts, ends, strict=True)}


def reader_in_place(file: IO[bytes], name: str, options: OpenOptions) -> ZipfileReader | None:
    """A reader over ``file`` where it lies, or None when this backend cannot read it
    all (``readable_in_place``)."""
    return ZipfileReader(file, name, options) if readable_in_place(file) else None
