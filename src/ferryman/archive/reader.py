"""The interface every archive backend implements, plus format sniffing.

The engine streams an archive once, entry by entry, and resumes a restarted run by
skipping entries whose ``index`` is below its cursor; so indexes must depend only
on the archive's bytes, never on what the caller read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from ferryman.errors import FerrymanError


class CandidateMayBeWrong(FerrymanError):
    """An encrypted entry failed before its first block after a candidate password
    passed a weak check (zip's ZipCrypto: one byte). Its code is still
    "archive.entry_corrupt"; a backend that tries the candidates one by one against
    the CRC (7zz) may read it."""


class EntryType(StrEnum):
    """What an entry is; directories are never yielded (paths imply them)."""

    FILE = "file"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    OTHER = "other"  # devices, fifos, sockets: no content worth delivering
    JUNK = "junk"  # OS clutter (__MACOSX/, .DS_Store, ...): set by the guard, never read


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Hostile-input limits, checked by ``GuardedReader`` whatever the backend.

    The defaults let any real media archive through (media barely compresses) and
    stop known bombs within a few MiB of output.
    """

    max_total_bytes: int = 256 << 30  # unpacked bytes per archive
    max_entries: int = 200_000
    max_ratio: float = 200.0  # unpacked / packed bytes, over the archive so far
    ratio_grace_bytes: int = 1 << 20  # no ratio check before this much output
    max_depth: int = 2  # archives inside archives inside the input


@dataclass(frozen=True, slots=True)
class OpenOptions:
    """How to open one archive: passwords to try (in order, per entry) and limits."""

    passwords: tuple[str, ...] = ()
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """An entry's header: everything known before its bytes are read."""

    index: int  # 0-based among yielded entries, in archive order; stable across re-opens
    # Backends give the stored name, decoded; ``GuardedReader`` replaces it with a
    # sanitised, unique, relative '/'-path (see ``archive.names``).
    path: str
    size: int | None  # declared size; None if the format does not say
    mtime: float | None
    type: EntryType


class ArchiveEntry(Protocol):
    """One entry of an open archive; its bytes are readable until the reader advances."""

    @property
    def info(self) -> EntryInfo: ...

    def read_blocks(self) -> Iterator[bytes]:
        """The entry's bytes in blocks; at most once per entry.

        Raises ``FerrymanError``: "archive.entry_corrupt" on a data error in this
        entry (possibly after yielding blocks, which must then be discarded);
        "archive.password_required" before any block when no given password opens
        it. An entry not read is skipped when the reader advances.
        """
        ...


class ArchiveReader(Protocol):
    """An open archive: a context manager iterated once.

    Iteration raises ``FerrymanError("archive.truncated")`` or
    ``FerrymanError("archive.unreadable")`` when the structure breaks mid-way,
    after yielding every entry before the break; "archive.password_required" when
    the headers are encrypted and no given password opens them; and
    "archive.unsupported" when this backend cannot read something another
    backend may (``open_archive`` then switches backends).
    """

    def __enter__(self) -> ArchiveReader: ...

    def __exit__(self, *exc: object) -> None: ...

    def __iter__(self) -> Iterator[ArchiveEntry]: ...

    def consumed(self) -> int:
        """Packed bytes read so far (for the compression-ratio limit)."""
        ...


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
