"""Archive backend on libarchive (3.6.x, through ctypes): streams entries, never extracts.

Opens a file (``LibarchiveReader(path, fmt, options)``) or a non-seekable stream
(``LibarchiveReader.from_stream``: a pipe, a socket, a download in progress).

Choices worth knowing:

* Only the format the magic bytes announced is enabled, never ``'all'``: the
  catch-all also accepts formats such as mtree, which reads plain text files as
  "archives" (and names files on the local disk as their content). A lone
  gzip/bzip2/xz/zstd stream enables ``tar``, ``raw`` and ``empty`` together and
  lets libarchive's bidding decide from the decompressed bytes: a tar inside is
  read as a tar, anything else is one file (see ``single_file_name``).
* libarchive is driven through its C functions directly (libarchive-c's helpers
  hide return codes): data is read with ``archive_read_data`` because an
  ARCHIVE_WARN (how a zip CRC mismatch is reported) is not a byte count, and
  libarchive-c's ``get_blocks`` would yield garbage for it.
* Names are the stored names, decoded as UTF-8, else in the legacy code page the
  archive's names look written in together (``NameDecoder``: a Windows zip's cp850,
  Shift-JIS or Big5; a zip file's names all read from its central directory first),
  as 7zz's listing decodes them. Nothing is sanitised here: ``GuardedReader`` does that.
* Passwords: every candidate of ``OpenOptions.passwords`` is handed to
  ``archive_read_add_passphrase``; libarchive tries them all for each encrypted
  zip entry by itself, and keeps the first that passes zip's password check
  (ZipCrypto's is one byte, so a wrong one passes 1 time in 256): with several
  candidates, an encrypted zip entry of up to 8 MiB is held in memory until its CRC
  checks out, and a failure before any block is ``CandidateMayBeWrong``, on which
  ``open_archive`` lets 7-Zip try the candidates one by one (see
  ``LibarchiveEntry._checked_first``). libarchive decrypts zip (ZipCrypto, WinZip
  AES) only.
  Encrypted RAR/7z data is recognised before reading it (libarchive flags RAR4
  and 7z entries; RAR5 it does not flag, and then reads the ciphertext as if
  plain, so ``Rar5Scan`` reads the RAR5 headers itself) and refused as
  "archive.unsupported", which tells ``open_archive`` to switch to 7-Zip.

libarchive's messages become error codes by ``classify`` (see ``libarchive.messages``).

"archive.unsupported" and "archive.password_required" are raised before any data of
the entry concerned: by ``next()`` (header problems, e.g. RAR4 solid or encrypted
headers) or by ``read_blocks`` before its first block; once blocks of an entry were
yielded, any error of that entry is "archive.entry_corrupt". The entries before
were yielded normally.

Streams: zip (local headers, data descriptors), tar in every compression, single
compressed files and RAR4/RAR5 read from a pipe; 7z needs seeking and is refused
as "archive.unsupported". A failing stream read is "source.io".
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterator
from ctypes import (
    Array,
    byref,
    c_char,
    c_void_p,
    create_string_buffer,
)
from pathlib import Path
from typing import Any, BinaryIO

from ferryman.archive.libarchive.entry import BLOCK_SIZE, LibarchiveEntry
from ferryman.archive.libarchive.ffi import (
    AE_IFDIR,
    AE_IFLNK,
    AE_IFMT,
    AE_IFREG,
    ARCHIVE_EOF,
    ARCHIVE_FORMAT_CPIO,
    ARCHIVE_FORMAT_RAW,
    ARCHIVE_RETRY,
    ARCHIVE_WARN,
    DECRYPTS,
    INPUT_BLOCK,
    StreamSource,
    archive_entry_filetype,
    archive_entry_hardlink,
    archive_entry_is_data_encrypted,
    archive_entry_mtime,
    archive_entry_mtime_is_set,
    archive_entry_mtime_nsec,
    archive_entry_nlink,
    archive_entry_pathname,
    archive_entry_pathname_utf8,
    archive_entry_size,
    archive_entry_size_is_set,
    archive_error_string,
    archive_filter_bytes,
    archive_format,
    archive_read_add_passphrase,
    archive_read_free,
    archive_read_new,
    archive_read_next_header,
    archive_read_open_filename,
    libarchive_names,
    single_file_name,
    sparse_stored,
    support,
)
from ferryman.archive.libarchive.messages import FATAL_STATE_HINT, classify
from ferryman.archive.rar_headers import RAR5_MAGIC, Rar5Scan, refuse_rar_volume
from ferryman.archive.reader import (
    EntryInfo,
    EntryType,
    OpenOptions,
    sniff_format,
)
from ferryman.archive.stored_names import NameDecoder, zip_stored_names
from ferryman.errors import FerrymanError

__all__ = ["LibarchiveEntry", "LibarchiveReader", "classify", "single_file_name"]

_SNIFF_BYTES = 512  # what sniff_format needs (a v7 tar's header checksum: 512 bytes)

_DEFAULT_OPTIONS = OpenOptions()  # frozen: safe to share as a default


def _free_archive(pointer: int, _keepalive: object) -> None:
    archive_read_free(pointer)


class LibarchiveReader:
    """An archive opened with libarchive, iterated once, entry by entry."""

    def __init__(self, path: Path, fmt: str, options: OpenOptions = _DEFAULT_OPTIONS) -> None:
        rar5 = False
        if fmt == "rar":
            try:
                with path.open("rb") as f:
                    head = f.read(_SNIFF_BYTES)
            except FileNotFoundError as err:
                raise FerrymanError("source.not_found", f"{path}: no such file") from err
            except OSError as err:
                raise FerrymanError(
                    "source.unreadable", f"{path.name}: {err.strerror or err}"
                ) from err
            refuse_rar_volume(path.name, head)
            rar5 = head.startswith(RAR5_MAGIC)  # RAR 5 needs its own libarchive reader
        scan = Rar5Scan.of_file(path) if rar5 else None
        self._setup(path.name, fmt, options, scan=scan, stream=False)
        if fmt in ("zip", "sfx"):
            self._names = NameDecoder(zip_stored_names(path))
        self._open(lambda a: archive_read_open_filename(a, os.fsencode(path), INPUT_BLOCK), fmt)

    @classmethod
    def from_stream(
        cls, stream: BinaryIO, name: str, options: OpenOptions = _DEFAULT_OPTIONS
    ) -> LibarchiveReader:
        """Read a non-seekable binary stream (a pipe, a socket file) as it arrives.

        The format is sniffed from the stream's first bytes, which are handed to
        libarchive afterwards; ``name`` is used in messages and names the one entry
        of a compressed non-tar file. Raises ``FerrymanError``: "archive.unsupported"
        for 7z (it needs seeking), "archive.unreadable" for an unknown format,
        "source.empty" for an empty stream, "source.io" when reading fails.
        """
        try:
            head = _read_head(stream)
        except OSError as err:
            raise FerrymanError("source.io", f"{name}: reading the stream failed: {err}") from err
        if not head:
            raise FerrymanError("source.empty", f"{name}: the stream is empty")
        fmt = sniff_format(head)
        if fmt is None:
            raise FerrymanError(
                "archive.unreadable", f"{name}: not an archive (no known format signature)"
            )
        if fmt in ("7z", "lha", "wim"):
            raise FerrymanError(
                "archive.unsupported",
                f"{name}: {fmt} cannot be read from a stream (it needs seeking or 7zz)",
            )
        if fmt == "rar":
            refuse_rar_volume(name, head)
        reader = cls.__new__(cls)
        rar5 = fmt == "rar" and head.startswith(RAR5_MAGIC)
        reader._setup(name, fmt, options, scan=Rar5Scan() if rar5 else None, stream=True)
        reader._source = StreamSource(stream, head, reader._rar5)
        reader._keepalive.append(reader._source)
        reader._open(reader._source.open, fmt)
        return reader

    # -- setup ---------------------------------------------------------------------

    def _setup(
        self, name: str, fmt: str, options: OpenOptions, *, scan: Rar5Scan | None, stream: bool
    ) -> None:
        self._name = name
        self._fmt = fmt
        try:
            self._formats, self._filter = libarchive_names(
                fmt, rar5=scan is not None, stream=stream
            )
        except FerrymanError as err:
            raise FerrymanError(err.code, f"{name}: {err.message}") from None
        self._options = options
        self._passwords = tuple(dict.fromkeys(p for p in options.passwords if p))
        self._single_name = single_file_name(name)
        self._names = NameDecoder()  # one archive, one code page (stored_names)
        self._generation = 0  # bumped whenever the current entry stops being current
        self._iterated = False
        self._closed = False
        self._last_data_error: str | None = None
        self._final_consumed = 0
        self._rar5 = scan
        self._source: StreamSource | None = None
        self._keepalive: list[object] = []  # what libarchive points at, freed after it
        self._data_buffer: Array[c_char] = create_string_buffer(BLOCK_SIZE)
        self._archive: Any = None
        self._finalizer: Any = None

    def _open(self, opener: Callable[[Any], int], fmt: str) -> None:
        archive = archive_read_new()
        if not archive:
            raise MemoryError("archive_read_new failed")
        self._archive = archive
        self._finalizer = weakref.finalize(self, _free_archive, archive, self._keepalive)
        try:
            support(archive, "filter", self._filter)
            for format_name in self._formats:
                support(archive, "format", format_name)
            for password in self._passwords:
                archive_read_add_passphrase(archive, password.encode("utf-8"))
            status = opener(archive)
        except BaseException:
            self._release()
            raise
        if status < ARCHIVE_WARN:
            error = self.stream_error()
            if error is None:
                message = self.error_string()
                code = classify(message)
                if code == "archive.password_required":
                    error = self.password_error("headers")
                else:
                    error = FerrymanError(code, f"{self.name}: cannot open as {fmt}: {message}")
            self._release()
            raise error

    # -- public surface -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def archive_pointer(self) -> Any:
        return self._archive

    @property
    def data_buffer(self) -> Array[c_char]:
        return self._data_buffer

    @property
    def decrypts(self) -> bool:
        """Whether libarchive decrypts this format's encrypted entries."""
        return self._fmt in DECRYPTS

    @property
    def clips(self) -> bool:
        """Whether an entry's data is cut at its declared size (xar: see ``_read``)."""
        return self._fmt == "xar"

    def trusts_crc_over_size(self, declared: int, read: int) -> bool:
        """Whether a zip entry that read fewer bytes than declared is whole: the
        shortfall is a multiple of 4 GiB (a ZIP64 writer's bug seen in the wild: the
        central directory adds 4 GiB) and libarchive checked the CRC of what it read."""
        return (
            self._fmt in ("zip", "sfx") and declared > read and (declared - read) % (1 << 32) == 0
        )

    @property
    def passwords(self) -> tuple[str, ...]:
        return self._passwords

    @property
    def guesses_passwords(self) -> bool:
        """Whether libarchive may pick a wrong password for an encrypted entry that
        7-Zip could then read: a zip file (not a stream, which 7-Zip cannot take
        over), with more than one candidate (see ``LibarchiveEntry._checked_first``)."""
        return self._fmt == "zip" and len(self._passwords) > 1 and self._source is None

    @property
    def format_label(self) -> str:
        return {"rar": "RAR", "7z": "7z"}.get(self._fmt, self._fmt)

    def consumed(self) -> int:
        """Packed bytes read so far: ``archive_filter_bytes(a, -1)``.

        For a file this is libarchive's read position in it, read ahead by up to
        64 KiB; seekable zip and 7z read their directory at the end first, so the
        value can drop once after that and grows from there.
        """
        if not self._live():
            return self._final_consumed
        return max(0, int(archive_filter_bytes(self._archive, -1)))

    def _live(self) -> bool:
        """Whether the libarchive handle may be used. Not after ``close``, nor once
        the garbage collector has run the finalizer: it frees the handle of an
        unreachable reader *before* the generators that hold the reader in a
        ``with`` are closed, and their ``__exit__`` must then not touch it
        (measured: a segfault in ``archive_filter_bytes``)."""
        return (
            not self._closed
            and self._archive is not None
            and self._finalizer is not None
            and self._finalizer.alive
        )

    def __enter__(self) -> LibarchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._final_consumed = self.consumed()
        self._release()

    def _release(self) -> None:
        self._generation += 1
        self._closed = True
        if self._finalizer is not None:
            self._finalizer()  # archive_read_free, once
        self._archive = None

    def __iter__(self) -> Iterator[LibarchiveEntry]:
        if self._iterated:
            raise RuntimeError(f"{self.name}: an archive reader is iterated only once")
        self._iterated = True
        return self._entries()

    def check_current(self, generation: int) -> None:
        """Refuse reads of an entry the reader has moved past (or a closed reader)."""
        if generation != self._generation:
            raise RuntimeError(f"{self.name}: entry read after the reader advanced")

    def note_data_error(self, message: str) -> None:
        self._last_data_error = message

    def error_string(self) -> str:
        raw = archive_error_string(self._archive) if self._live() else None
        if isinstance(raw, bytes):
            return raw.decode("utf-8", "replace")
        return str(raw or "unknown libarchive error")

    def stream_error(self) -> FerrymanError | None:
        """A failed read of the stream being read: its own code when the stream gave
        one (a download that stalled for good, a file that changed on the server), else
        "source.io"."""
        if self._source is None or self._source.error is None:
            return None
        cause = self._source.error
        if isinstance(cause, FerrymanError):
            return cause
        err = FerrymanError("source.io", f"{self.name}: reading the stream failed: {cause}")
        err.__cause__ = cause
        return err

    def password_error(self, what: str) -> FerrymanError:
        count = len(self._passwords)
        tried = f"none of the {count} given fits" if count else "none was given"
        return FerrymanError(
            "archive.password_required", f"{self.name}: {what}: needs a password; {tried}"
        )

    # -- iteration ------------------------------------------------------------------

    def _entries(self) -> Iterator[LibarchiveEntry]:
        index = 0  # among yielded entries
        header_number = 0  # among every header libarchive returns (directories too)
        damaged: list[str] = []  # a damaged stretch's first message (see below)
        retrying = False  # inside a damaged stretch: libarchive looks for a good header
        entry_p = c_void_p()
        while True:
            self._generation += 1
            if not self._live():  # libarchive's handle is freed: touching it would crash
                raise RuntimeError(f"{self.name}: archive reader used after it was closed")
            status = archive_read_next_header(self._archive, byref(entry_p))
            if status == ARCHIVE_RETRY:
                # A tar header whose checksum failed ("Damaged tar archive"): the entry
                # it returns is not one (it was yielded, nameless, as 1,035 phantom
                # entries of a damaged .tar.gz, and the job ended done). Asked again,
                # libarchive looks for the next good header, as bsdtar's "Retrying"
                # does: the entries after the damage still come, and it is said at the
                # end, once everything readable has been read.
                if not retrying:
                    damaged.append(self.error_string())
                retrying = True
                continue
            retrying = False
            if status == ARCHIVE_EOF:
                if damaged:
                    raise FerrymanError(
                        classify(damaged[0]),
                        f"{self.name}: damaged in {len(damaged)} place(s) ({damaged[0]}):"
                        f" what lay there could not be read; {index} entries read around it",
                    )
                return
            if status < ARCHIVE_WARN:
                raise self._structure_error(index)
            number = header_number
            header_number += 1
            entry = entry_p.value
            if entry is None:  # not documented to happen; refuse rather than crash
                raise FerrymanError("archive.unreadable", f"{self.name}: no entry header")
            filetype = archive_entry_filetype(entry) & AE_IFMT
            if filetype == AE_IFDIR:
                continue
            info, name_bytes = self._entry_info(entry, index, filetype)
            encrypted = bool(archive_entry_is_data_encrypted(entry))
            plain_crc: int | None = None
            if self._rar5 is not None and not encrypted:
                encrypted = bool(self._rar5.encrypted(number, name_bytes))
                plain_crc = self._rar5.plain_crc(number, name_bytes) if encrypted else None
                encrypted = encrypted and plain_crc is None  # else its CRC decides
            yield LibarchiveEntry(self, info, self._generation, encrypted, plain_crc)
            index += 1

    def _structure_error(self, index: int) -> FerrymanError:
        stream_error = self.stream_error()
        if stream_error is not None:
            return stream_error
        message = self.error_string()
        if FATAL_STATE_HINT in message and self._last_data_error:
            message = self._last_data_error
        code = classify(message)
        if code == "archive.password_required":
            return self.password_error(f"entry {index}")
        read = f"{index} {'entry' if index == 1 else 'entries'}"
        if code == "archive.unsupported":
            return FerrymanError(code, f"{self.name}: after {read}: {message}")
        return FerrymanError(code, f"{self.name}: broken after {read}: {message}")

    def _entry_info(self, entry: int, index: int, filetype: int) -> tuple[EntryInfo, bytes | None]:
        raw = archive_entry_pathname_utf8(entry) or archive_entry_pathname(entry)
        name = self._names.decode(raw) if raw else ""
        mtime = None
        if archive_entry_mtime_is_set(entry):
            mtime = archive_entry_mtime(entry) + archive_entry_mtime_nsec(entry) / 1e9
        family = archive_format(self._archive) & 0xFF0000
        if family == ARCHIVE_FORMAT_RAW:
            info = EntryInfo(index, self._single_name, None, mtime, EntryType.FILE)
            return info, raw
        size = archive_entry_size(entry) if archive_entry_size_is_set(entry) else None
        if archive_entry_hardlink(entry) is not None and not size:
            # A link with data of its own is a file: cpio (newc, crc) stores a set of
            # hard links' data with the last of them, its earlier names left empty.
            kind = EntryType.HARDLINK
        elif family == ARCHIVE_FORMAT_CPIO and not size and archive_entry_nlink(entry) > 1:
            # Such an earlier name: empty, its data to come with the last link (not an
            # empty photo: the data arrives once, under that last name, as in a tar).
            kind = EntryType.HARDLINK
        elif filetype == AE_IFLNK:
            kind = EntryType.SYMLINK
        elif filetype in (AE_IFREG, 0):
            # No type bits at all (a RAR3 or cpio written with permissions only):
            # a file, as bsdtar and 7zz extract it; devices and fifos say so.
            kind = EntryType.FILE
        else:
            kind = EntryType.OTHER
        stored = sparse_stored(entry) if kind is EntryType.FILE else None
        info = EntryInfo(index=index, path=name, size=size, mtime=mtime, type=kind, stored=stored)
        return info, raw


def _read_head(stream: BinaryIO) -> bytes:
    """The stream's first ``_SNIFF_BYTES`` bytes (fewer only at its end)."""
    head = b""
    while len(head) < _SNIFF_BYTES:
        chunk = stream.read(_SNIFF_BYTES - len(head))
        if chunk is None:
            raise OSError("the stream is non-blocking and has no data yet")
        if not chunk:
            break
        head += chunk
    return head
