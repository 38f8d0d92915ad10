"""The interface every archive backend implements, plus format sniffing.

The engine streams an archive once, entry by entry, and resumes a restarted run by
skipping entries whose ``index`` is below its cursor; so indexes must depend only
on the archive's bytes, never on what the caller read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from ferryman.archive.suffixes import ARCHIVE_SUFFIXES
from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.archive.box.reader import BoxPool


class CandidateMayBeWrong(FerrymanError):
    """An encrypted entry failed before its first block after a candidate password
    passed a weak check (zip's ZipCrypto: one byte). Its code is still
    "archive.entry_corrupt"; a backend that tries the candidates one by one against
    the CRC (7zz) may read it."""


class ReadAgain(FerrymanError):
    """An entry failed after some of its blocks were handed on, and another backend
    can read it from its first byte: drop what came and take ``again()``'s blocks
    instead (``read_through`` does). A data error at an entry's end (libarchive's RAR3
    decoder fails the CRC of LZSS/PPMd blocks 7-Zip reads) is found only once the
    whole entry was handed on. Its code is the failure's ("archive.entry_corrupt"),
    so a caller that cannot start over fails the entry, as before."""

    def __init__(self, cause: FerrymanError, again: Callable[[], Iterator[bytes]]) -> None:
        super().__init__(cause.code, cause.message)
        self.again = again


_Taken = TypeVar("_Taken")


def read_through(
    take: Callable[[Iterator[bytes]], _Taken], blocks: Callable[[], Iterator[bytes]]
) -> _Taken:
    """``take(blocks())``; when the entry says ``ReadAgain``, ``take`` again on the
    blocks read anew (``take`` must drop what it had of the first ones: a
    ``.part`` file, a hash). Each backend reads an entry once: this ends."""
    try:
        return take(blocks())
    except ReadAgain as retry:
        return take(retry.again())


@dataclass(frozen=True, slots=True)
class Resumable:
    """An entry whose bytes can be read on from the middle (a stored zip entry read in
    place by Range): staging keeps what a killed run wrote of it and asks for the rest.

    ``key``: what tells this entry's bytes from another's (a partial file staged for
    another key is not its); ``rest(offset, crc)``: its bytes from ``offset`` on, where
    ``crc`` is the CRC-32 of the bytes before (recomputed from the partial file), checked
    at the end against the archive's: a mismatch is ``ReadAgain`` (the entry from its
    first byte, checked as any read)."""

    key: str
    rest: Callable[[int, int], Iterator[bytes]]


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

    The defaults let any real archive through (a 20 KB text archive that unpacks to
    5 MB too: a ratio alone cannot tell it from a bomb) and stop bombs within a few MiB
    of output: the ratio is judged only past ``ratio_grace_bytes`` unpacked, and an
    entry whose declared size already breaks both is refused before it is decoded.
    """

    max_total_bytes: int = 256 << 30  # unpacked bytes per archive
    max_entries: int = 200_000
    max_ratio: float = 200.0  # unpacked / packed bytes, over the archive so far
    ratio_grace_bytes: int = 1 << 30  # no ratio judged before this much output
    max_depth: int = 2  # archives inside archives inside the input
    # libarchive's child (archive.box.reader): ended after this long with no frame and no
    # byte of input read, and given this much address space beyond the engine's.
    stall_seconds: float = 20.0
    decoder_memory: int = 2 << 30


@dataclass(frozen=True, slots=True)
class OpenOptions:
    """How to open one archive: passwords to try (in order, per entry) and limits;
    ``box``: the job's libarchive children, kept between its archives (``archive.box.reader``;
    None: a child per archive)."""

    passwords: tuple[str, ...] = ()
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    box: BoxPool | None = field(default=None, compare=False)


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
    # A sparse entry (GNU/PAX sparse tar): ``size`` is its logical size, holes
    # included; this is the data really stored. None: not sparse.
    stored: int | None = None


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
    (0, b"\x1f\x9d", "compress"),  # .Z (compress), .tar.Z
    (0, b"LZIP", "lzip"),
    (0, b"\x04\x22\x4d\x18", "lz4"),
    (0, b"\x89LZO\x00\r\n\x1a\n", "lzop"),
    (0, b"LRZI", "lrzip"),
    (0, b"begin-base64 ", "uu"),
    (0, b"begin ", "uu"),
    (0, b"MSCF\x00\x00\x00\x00", "cab"),
    (0, b"070707", "cpio"),
    (0, b"070701", "cpio"),
    (0, b"070702", "cpio"),
    (0, b"\xc7\x71", "cpio"),  # old binary cpio, little-endian
    (0, b"\x71\xc7", "cpio"),  # and big-endian
    (0, b"\xed\xab\xee\xdb", "rpm"),
    (0, b"xar!", "xar"),
    (0, b"MSWIM\x00\x00\x00", "wim"),
    (32769, b"CD001", "iso9660"),
)
_SNIFF_BYTES = 32774  # the ISO 9660 signature ends there
# Formats libarchive reads that are no stream of one compressed file or a tar.
CONTAINER_FORMATS = frozenset({"zip", "7z", "rar", "tar", "cab", "cpio", "rpm", "xar", "wim"})


def sniff_format(head: bytes) -> str | None:
    """The archive/compression format named by a file's first bytes, if any."""
    for offset, magic, fmt in _MAGICS:
        if head[offset : offset + len(magic)] == magic:
            return fmt
    # "BZh" + block size digit: checked last, since three letters are a weak signature.
    if len(head) >= 4 and head[:3] == b"BZh" and head[3:4] in b"123456789":
        return "bzip2"
    if head[1:4] == b"\x2a\x4d\x18" and head[0] & 0xF0 == 0x50:
        return "zstd"  # a zstd skippable frame (0x184D2A5?) before the first frame
    if head[:4] == b"\x02\x21\x4c\x18":
        return "lz4"  # lz4's legacy frame
    if _lha_header(head):
        return "lha"
    if _tar_checksum_ok(head):
        return "tar"  # a pre-POSIX (v7) tar: no magic, only a header checksum
    if _lzma_alone(head):
        return "lzma"
    return None


def _lha_header(head: bytes) -> bool:
    """LHA/LZH: "-lh?-" or "-lz?-" at offset 2 and a known header level at 20."""
    method = head[2:7]
    return (
        len(head) >= 22
        and method[:3] in (b"-lh", b"-lz")
        and method[4:5] == b"-"
        and head[20] in (0, 1, 2, 3)
    )


def _tar_checksum_ok(head: bytes) -> bool:
    """A 512-byte tar header whose checksum field matches its bytes (and a name)."""
    if len(head) < 512 or head[0] == 0:
        return False
    field = head[148:156].replace(b"\x00", b" ").strip()
    if not field or any(c not in b"01234567" for c in field):
        return False
    total = sum(head[:148]) + 8 * 32 + sum(head[156:512])
    return int(field, 8) == total


def _lzma_alone(head: bytes) -> bool:
    """An .lzma ("LZMA alone") stream: properties 0x5d and a 2^n dictionary size."""
    if len(head) < 13 or head[0] != 0x5D:
        return False
    dictionary = int.from_bytes(head[1:5], "little")
    return dictionary >= 1 << 12 and dictionary & (dictionary - 1) == 0


_TAIL_BYTES = (1 << 16) + 22  # a zip's end record: 22 bytes and a comment of up to 64 KiB
_SFX_SCAN = 16 << 20  # how far into an executable a 7z or RAR may start
_EXECUTABLE = (b"MZ", b"\x7fELF")


def detect_format(path: Path) -> str | None:
    """Sniff ``path``'s format from its bytes.

    Returns "zip", "tar", "gzip", "bzip2", "xz", "zstd", "7z", "rar", one of the
    formats libarchive reads besides ("compress", "lzip", "lz4", "lzop", "lrzip",
    "lzma", "uu", "cab", "cpio", "rpm", "xar", "lha", "iso9660"), "wim" (7zz only),
    "sfx" (an executable with an archive appended), "zip" for a zip after junk
    when the name promises an archive, or None.
    Raises ``OSError`` if the file cannot be read.
    """
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
        fmt = sniff_format(head)
        if fmt is not None:
            return fmt
        executable = head.startswith(_EXECUTABLE)
        if not executable and not _promises_archive(path.name):
            return None
        if _empty_tar(head, path.name):
            return "tar"
        size = f.seek(0, 2)
        f.seek(max(0, size - _TAIL_BYTES))
        zip_at_end = b"PK\x05\x06" in f.read(_TAIL_BYTES)
        if not executable:
            return "zip" if zip_at_end else None
        if zip_at_end:
            return "sfx"
        f.seek(0)
        window = f.read(_SFX_SCAN)
    return "sfx" if (b"7z\xbc\xaf\x27\x1c" in window or b"Rar!\x1a\x07" in window) else None


def _empty_tar(head: bytes, name: str) -> bool:
    """A tar of no entries (``tar cf x.tar -T /dev/null``): only its end-of-archive
    zero blocks, which no magic marks; read (as bsdtar and GNU tar do), it holds nothing."""
    return (
        name.lower().endswith(".tar")
        and 1024 <= len(head) < _SNIFF_BYTES
        and len(head) % 512 == 0
        and not head.strip(b"\x00")
    )


def _promises_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)
