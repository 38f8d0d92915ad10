"""One entry of a ``LibarchiveReader``: its data read in blocks, the errors it meets as
codes, and an encrypted zip entry held until its CRC checks out when several passwords
are candidates (see ``libarchive.backend``)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from ctypes import string_at
from typing import TYPE_CHECKING

from ferryman.archive.libarchive.ffi import ARCHIVE_WARN, archive_read_data
from ferryman.archive.libarchive.messages import classify
from ferryman.archive.reader import CandidateMayBeWrong, EntryInfo
from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.archive.libarchive.backend import LibarchiveReader

BLOCK_SIZE = 1 << 20  # bytes per read_blocks block
_HOLD_IN_MEMORY = 8 << 20  # encrypted zip entries up to this are checked before handing on


class LibarchiveEntry:
    """One entry of a ``LibarchiveReader``; readable while it is the current entry."""

    __slots__ = (
        "_bytes_read",
        "_encrypted",
        "_generation",
        "_plain_crc",
        "_reader",
        "_started",
        "info",
    )

    def __init__(
        self,
        reader: LibarchiveReader,
        info: EntryInfo,
        generation: int,
        encrypted: bool,
        plain_crc: int | None = None,
    ) -> None:
        """``plain_crc``: the entry is marked encrypted, but its bytes read as plain are
        the file if they match this CRC32 (``Rar5Scan.plain_crc``)."""
        self.info = info
        self._reader = reader
        self._generation = generation
        self._encrypted = encrypted
        self._plain_crc = plain_crc
        self._started = False
        self._bytes_read = 0

    @property
    def bytes_read(self) -> int:
        """Bytes yielded so far by ``read_blocks``."""
        return self._bytes_read

    def read_blocks(self) -> Iterator[bytes]:
        """The entry's bytes; once per entry, before the reader advances.

        Raises ``FerrymanError``: "archive.password_required" (zip: no given password
        fits) or "archive.unsupported" (encrypted RAR/7z data, a compression method
        libarchive lacks) before the first block; "archive.entry_corrupt" on a data
        error, possibly after yielding every block (zip checks the CRC at the end),
        or when the bytes read differ from the declared size; "source.io" when the
        stream being read fails.
        """
        self._reader.check_current(self._generation)
        if self._started:
            raise RuntimeError(f"{self.info.path}: read_blocks may be called once per entry")
        self._started = True
        return self._blocks()

    def _blocks(self) -> Iterator[bytes]:
        reader = self._reader
        reader.check_current(self._generation)
        if self.info.size == 0:
            # Declared empty: nothing to deliver, and nothing to decrypt. Not read,
            # because libarchive 3.6.2 fails on empty LZMA zip entries ("lzma
            # unknown error 10") that every other tool reads.
            return
        if self._encrypted and not reader.decrypts:
            raise FerrymanError(
                "archive.unsupported",
                f"{reader.name}: {self.info.path}: encrypted {reader.format_label} data, "
                "which libarchive cannot decrypt",
            )
        if self._encrypted and reader.guesses_passwords:
            yield from self._checked_first()
            return
        if self._plain_crc is not None:
            yield from self._plain_checked(self._plain_crc)
            return
        yield from self._read()

    def _plain_checked(self, expected: int) -> Iterator[bytes]:
        """An entry with an encryption record read as plain bytes, checked against
        the plain CRC32 its header gives (libarchive checks none for stored RAR5)."""
        crc = 0
        for block in self._read():
            crc = zlib.crc32(block, crc)
            yield block
        if crc != expected:
            raise FerrymanError(
                "archive.unsupported",
                f"{self._reader.name}: {self.info.path}: encrypted RAR5 data (read as"
                " plain, it fails its CRC), which libarchive cannot decrypt",
            )

    def _read(self) -> Iterator[bytes]:
        reader = self._reader
        buf = reader.data_buffer
        while True:
            reader.check_current(self._generation)
            n = archive_read_data(reader.archive_pointer, buf, BLOCK_SIZE)
            if n == 0:
                break
            if n < 0:
                raise self._data_error(n)
            if reader.clips and self.info.size is not None:
                # libarchive 3.6's xar reader runs on past an entry's end (into the
                # next one's data); bsdtar's disk writer cuts at the declared size.
                n = min(n, self.info.size - self._bytes_read)
                if n <= 0:
                    break
            self._bytes_read += n
            yield string_at(buf, n)
        declared = self.info.size
        if declared is not None and self.info.stored is not None:
            yield from self._trailing_hole(declared)
        if declared is not None and declared != self._bytes_read:
            if reader.trusts_crc_over_size(declared, self._bytes_read):
                return  # a ZIP64 size off by 4 GiB: the data passed its CRC
            raise self._corrupt(f"declared {declared} bytes, read {self._bytes_read}")

    def _trailing_hole(self, declared: int) -> Iterator[bytes]:
        """A sparse entry's hole at its end, as zeros: libarchive 3.6 fills the holes
        between data blocks but stops at the last one, so a file that ends in a hole
        (or is all hole) came out short, and was called corrupt."""
        zeros = bytes(BLOCK_SIZE)
        while self._bytes_read < declared:
            n = min(BLOCK_SIZE, declared - self._bytes_read)
            self._bytes_read += n
            yield zeros[:n]

    def _checked_first(self) -> Iterator[bytes]:
        """An encrypted zip entry read with several candidate passwords.

        libarchive keeps the first candidate that passes zip's password check, and
        ZipCrypto's check is one byte: a wrong one passes 1 time in 256, and the
        entry then fails (inflate at once, or a stored entry's CRC at the end)
        though a later candidate fits. Such a failure is raised as
        ``CandidateMayBeWrong`` before any block is handed on, so that
        ``open_archive`` can let 7-Zip try the candidates one by one. Entries of up
        to 8 MiB are held in memory until their CRC checks out (never beyond their
        declared size, so a bomb stops there); larger ones stream, and only a
        failure before their first block can be handed over.
        """
        declared = self.info.size
        if declared is None or declared > _HOLD_IN_MEMORY:
            blocks = self._read()
            try:
                first = next(blocks, None)
            except FerrymanError as exc:
                raise self._maybe_wrong_candidate(exc) from exc
            if first is None:
                return
            yield first
            del first
            yield from blocks
            return
        held: list[bytes] = []
        try:
            for block in self._read():
                held.append(block)
                if self._bytes_read > declared:
                    raise self._corrupt(f"yields more than the {declared} bytes it declares")
        except FerrymanError as exc:
            raise self._maybe_wrong_candidate(exc) from exc
        yield from held

    def _maybe_wrong_candidate(self, exc: FerrymanError) -> FerrymanError:
        if exc.code != "archive.entry_corrupt":
            return exc
        count = len(self._reader.passwords)
        return CandidateMayBeWrong(
            exc.code,
            f"{exc.message} (a wrong one of the {count} passwords can pass zip's password"
            " check and fail like this)",
        )

    def _data_error(self, status: int) -> FerrymanError:
        reader = self._reader
        stream_error = reader.stream_error()
        if stream_error is not None:
            return stream_error
        message = reader.error_string()
        if status == ARCHIVE_WARN:  # the data did not check out (e.g. bad CRC)
            return self._corrupt(message)
        reader.note_data_error(message)
        code = classify(message)
        if self._bytes_read == 0 and code == "archive.password_required":
            return reader.password_error(self.info.path)
        if self._bytes_read == 0 and code == "archive.unsupported":
            return FerrymanError(code, f"{reader.name}: {self.info.path}: {message}")
        return self._corrupt(message)

    def _corrupt(self, detail: str) -> FerrymanError:
        return FerrymanError(
            "archive.entry_corrupt", f"{self._reader.name}: {self.info.path}: {detail}"
        )
