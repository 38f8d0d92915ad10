"""Archive backend on libarchive (via libarchive-c): streams entries, never extracts.

Two deliberate departures from libarchive-c's conveniences:

* Only the format the magic bytes announced is enabled, never ``'all'``: the
  catch-all also accepts formats such as mtree, which reads plain text files as
  "archives" (and names files on the local disk as their content).
* Entry data is read with ``ffi.read_data`` directly, because ``get_blocks``
  mistakes libarchive's ARCHIVE_WARN (how a zip CRC mismatch is reported) for a
  byte count and yields garbage instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from ctypes import create_string_buffer, string_at
from pathlib import Path
from typing import Any

import libarchive
from libarchive import ffi
from libarchive.exception import ArchiveError

from ferryman.archive.reader import EntryInfo, EntryType, sanitize_path
from ferryman.errors import FerrymanError

_BLOCK_SIZE = 1 << 20

# detect_format's answer -> (libarchive format, libarchive filter).
_LIBARCHIVE_NAMES: dict[str, tuple[str, str]] = {
    "zip": ("zip", "none"),
    "tar": ("tar", "none"),
    "gzip": ("tar", "gzip"),
    "bzip2": ("tar", "bzip2"),
    "xz": ("tar", "xz"),
    "zstd": ("tar", "zstd"),
    "7z": ("7zip", "none"),
    "rar": ("rar", "none"),
}

# libarchive reports a premature end in words only; these are the ones it uses
# (tar/zip "Truncated ...", gzip/bzip2 "truncated ... input", xz "No progress ...").
_TRUNCATION_HINTS = ("truncat", "premature", "unexpected end", "no progress is possible")
# libarchive's refusal to go on after a fatal error; the real cause came before it.
_FATAL_STATE_HINT = "invoked with archive structure in state"


def _message(err: ArchiveError) -> str:
    msg = err.msg
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return str(msg or "unknown libarchive error")


def _is_truncation(message: str) -> bool:
    lowered = message.lower()
    return any(hint in lowered for hint in _TRUNCATION_HINTS)


def _libarchive_names(path: Path, fmt: str) -> tuple[str, str]:
    try:
        names = _LIBARCHIVE_NAMES[fmt]
    except KeyError:
        raise FerrymanError("archive.unsupported", f"{path.name}: format {fmt!r}") from None
    if fmt == "rar":
        with path.open("rb") as f:  # RAR 5 needs its own libarchive reader
            if f.read(8) == b"Rar!\x1a\x07\x01\x00":
                return ("rar5", "none")
    return names


class LibarchiveEntry:
    """One entry of a ``LibarchiveReader``; readable while it is the current entry."""

    __slots__ = ("_bytes_read", "_generation", "_reader", "_started", "info")

    def __init__(self, reader: LibarchiveReader, info: EntryInfo, generation: int) -> None:
        self.info = info
        self._reader = reader
        self._generation = generation
        self._started = False
        self._bytes_read = 0

    @property
    def bytes_read(self) -> int:
        """Bytes yielded so far by ``read_blocks``."""
        return self._bytes_read

    def read_blocks(self) -> Iterator[bytes]:
        """The entry's bytes; once per entry, before the reader advances.

        Raises ``FerrymanError("archive.entry_corrupt")`` on a data error, possibly
        after yielding every block (zip checks the CRC at the end), or when the
        bytes read differ from the declared size.
        """
        self._reader.check_current(self._generation)
        if self._started:
            raise RuntimeError(f"{self.info.path}: read_blocks may be called once per entry")
        self._started = True
        return self._blocks()

    def _blocks(self) -> Iterator[bytes]:
        buf = create_string_buffer(_BLOCK_SIZE)
        while True:
            self._reader.check_current(self._generation)
            try:
                n = ffi.read_data(self._reader.archive_pointer, buf, _BLOCK_SIZE)
            except ArchiveError as err:
                message = _message(err)
                self._reader.note_data_error(message)
                raise self._corrupt(message) from err
            if n == 0:
                break
            if n < 0:  # ARCHIVE_WARN: the data did not check out (e.g. bad CRC)
                raise self._corrupt(self._reader.error_string())
            self._bytes_read += n
            yield string_at(buf, n)
        declared = self.info.size
        if declared is not None and declared != self._bytes_read:
            raise self._corrupt(f"declared {declared} bytes, read {self._bytes_read}")

    def _corrupt(self, detail: str) -> FerrymanError:
        return FerrymanError(
            "archive.entry_corrupt", f"{self._reader.name}: {self.info.path}: {detail}"
        )


class LibarchiveReader:
    """An archive opened with libarchive, iterated once, entry by entry."""

    def __init__(self, path: Path, fmt: str) -> None:
        self._path = path
        self._stack = ExitStack()
        self._generation = 0  # bumped whenever the current entry stops being current
        self._iterated = False
        self._closed = False
        self._last_data_error: str | None = None
        format_name, filter_name = _libarchive_names(path, fmt)
        try:
            self._archive: Any = self._stack.enter_context(
                libarchive.file_reader(str(path), format_name, filter_name)
            )
        except ArchiveError as err:
            self._stack.close()
            message = _message(err)
            code = "archive.truncated" if _is_truncation(message) else "archive.unreadable"
            raise FerrymanError(code, f"{path.name}: cannot open as {fmt}: {message}") from err

    @property
    def name(self) -> str:
        return self._path.name

    @property
    def archive_pointer(self) -> Any:
        # libarchive-c keeps the handle private; data reads need it (see module doc).
        return self._archive._pointer

    def __enter__(self) -> LibarchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._generation += 1
        self._closed = True
        self._stack.close()

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
        raw = ffi.error_string(self.archive_pointer)
        if isinstance(raw, bytes):
            return raw.decode("utf-8", "replace")
        return str(raw or "data error")

    def _entries(self) -> Iterator[LibarchiveEntry]:
        headers = iter(self._archive)
        index = 0
        while True:
            self._generation += 1
            if self._closed:  # libarchive's handle is freed: touching it would crash
                raise RuntimeError(f"{self.name}: archive reader used after it was closed")
            try:
                raw = next(headers)
            except StopIteration:
                return
            except ArchiveError as err:
                raise self._structure_error(index, _message(err)) from err
            if raw.isdir:
                continue
            info = _entry_info(raw, index)
            yield LibarchiveEntry(self, info, self._generation)
            index += 1

    def _structure_error(self, index: int, message: str) -> FerrymanError:
        if _FATAL_STATE_HINT in message and self._last_data_error:
            message = self._last_data_error
        code = "archive.truncated" if _is_truncation(message) else "archive.unreadable"
        return FerrymanError(code, f"{self.name}: broken after {index} entries: {message}")


def _entry_info(raw: Any, index: int) -> EntryInfo:
    name = raw.pathname
    if isinstance(name, bytes):  # not valid in the archive's charset
        name = name.decode("utf-8", "replace")
    if raw.islnk:
        kind = EntryType.HARDLINK
    elif raw.issym:
        kind = EntryType.SYMLINK
    elif raw.isreg:
        kind = EntryType.FILE
    else:
        kind = EntryType.OTHER
    mtime = raw.mtime
    return EntryInfo(
        index=index,
        path=sanitize_path(name or "", index),
        size=raw.size,
        mtime=None if mtime is None else float(mtime),
        type=kind,
    )
