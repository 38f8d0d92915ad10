"""The interface every archive backend implements, plus format sniffing.

The engine streams an archive once, entry by entry, and resumes a restarted run by
skipping entries whose ``index`` is below its cursor; so indexes must depend only
on the archive's bytes, never on what the caller read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from ferryman.errors import FerrymanError


class EntryType(StrEnum):
    """What an entry is; directories are never yielded (paths imply them)."""

    FILE = "file"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    OTHER = "other"  # devices, fifos, sockets: no content worth delivering


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """An entry's header: everything known before its bytes are read."""

    index: int  # 0-based among yielded entries, in archive order; stable across re-opens
    path: str  # relative, '/'-separated, never empty (see ``sanitize_path``)
    size: int | None  # declared size; None if the format does not say
    mtime: float | None
    type: EntryType


class ArchiveEntry(Protocol):
    """One entry of an open archive; its bytes are readable until the reader advances."""

    @property
    def info(self) -> EntryInfo: ...

    def read_blocks(self) -> Iterator[bytes]:
        """The entry's bytes in blocks.

        Raises ``FerrymanError("archive.entry_corrupt")`` on a data error in this
        entry (possibly after yielding blocks, which must then be discarded).
        """
        ...


class ArchiveReader(Protocol):
    """An open archive: a context manager iterated once.

    Iteration raises ``FerrymanError("archive.truncated")`` or
    ``FerrymanError("archive.unreadable")`` when the structure breaks mid-way,
    after yielding every entry before the break.
    """

    def __enter__(self) -> ArchiveReader: ...

    def __exit__(self, *exc: object) -> None: ...

    def __iter__(self) -> Iterator[ArchiveEntry]: ...


def sanitize_path(raw: str, index: int) -> str:
    """A relative '/'-path without '.', '..' or empty parts; never empty.

    Minimal on purpose: it keeps an archive's layout recognisable while making
    sure no entry can name a place outside wherever it is later written.
    """
    parts = [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or f"entry-{index}"


# (offset, magic, format); checked in order, the most specific signatures first.
_MAGICS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PK\x03\x04", "zip"),
    (0, b"PK\x05\x06", "zip"),  # an empty zip: end-of-central-directory only
    (0, b"PK\x07\x08", "zip"),  # spanned marker before the first local header
    (0, b"7z\xbc\xaf\x27\x1c", "7z"),
    (0, b"Rar!\x1a\x07", "rar"),  # RAR 4 (…\x00) and RAR 5 (…\x01\x00)
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"\x28\xb5\x2f\xfd", "zstd"),
    (0, b"\x1f\x8b", "gzip"),
    (257, b"ustar", "tar"),  # POSIX ("ustar\0") and GNU ("ustar  \0") tar
)
_SNIFF_BYTES = 262


def sniff_format(head: bytes) -> str | None:
    """The archive/compression format named by a file's first bytes, if any."""
    for offset, magic, fmt in _MAGICS:
        if head[offset : offset + len(magic)] == magic:
            return fmt
    # "BZh" + block size digit: checked last, since three letters are a weak signature.
    if len(head) >= 4 and head[:3] == b"BZh" and head[3:4] in b"123456789":
        return "bzip2"
    return None


def detect_format(path: Path) -> str | None:
    """Sniff ``path``'s format from its magic bytes only (never its name).

    Returns "zip", "tar", "gzip", "bzip2", "xz", "zstd", "7z", "rar" or None.
    Raises ``OSError`` if the file cannot be read.
    """
    with path.open("rb") as f:
        return sniff_format(f.read(_SNIFF_BYTES))


def open_archive(path: Path) -> ArchiveReader:
    """Open ``path`` with the backend suited to its format (libarchive for now).

    The archive is opened here, like ``open()``, so a file that is not an archive
    fails now rather than on first iteration; use the result in a ``with`` block.
    Raises ``FerrymanError`` with "archive.unreadable" (not an archive / damaged),
    "archive.truncated" (ends before its first entry), "source.not_found" or
    "source.unreadable".
    """
    from ferryman.archive.libarchive_backend import LibarchiveReader

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
    return LibarchiveReader(path, fmt)
