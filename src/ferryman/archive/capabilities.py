"""Which backend reads what, and which backends this machine has (``ferryman doctor``).

The matrix is data, kept next to the code that implements it; docs/archive-backends.md
shows the same table.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ferryman.archive.sevenzip.backend import SevenZip, find_7zz

Backend = Literal["libarchive", "7zz", "7zz+rar"]


@dataclass(frozen=True, slots=True)
class Capability:
    """One row: a format (with the features named), the backend that reads it, pipes,
    and a program libarchive runs for it (its filter calls one), if any."""

    format: str
    features: str
    backend: Backend
    from_pipe: bool
    program: str | None = None


MATRIX: tuple[Capability, ...] = (
    Capability(
        "zip", "store, deflate, bzip2, lzma, xz, PPMd; ZIP64, data descriptors", "libarchive", True
    ),
    Capability("zip", "ZipCrypto and AES-256 passwords (per entry)", "libarchive", True),
    Capability(
        "zip",
        "junk before the first header; a ZIP64 size off by 4 GiB (data and CRC trusted)",
        "libarchive",
        False,
    ),
    Capability("zip", "Deflate64 (then every later entry)", "7zz", False),
    Capability("zip", "split .zip.001… and spanned .z01….zip", "7zz", False),
    Capability(
        "tar",
        "v7, ustar, pax, GNU; sparse (GNU old, PAX 0.0/0.1/1.0);"
        " plain, .gz, .bz2, .xz, .zst, .Z, .lz, .lzma, .lz4, uuencoded",
        "libarchive",
        True,
    ),
    Capability("tar", ".lrz (runs the lrzip program)", "libarchive", True, program="lrzip"),
    Capability(
        "tar",
        ".lzo, and a lone .lzo file (runs the lzop program)",
        "libarchive",
        True,
        program="lzop",
    ),
    Capability(
        "single file",
        ".gz, .bz2, .xz, .zst, .Z, .lz, .lzma, .lz4 (one entry, named without the suffix)",
        "libarchive",
        True,
    ),
    Capability(
        "7z",
        "LZMA, LZMA2, PPMd, BZip2, Deflate, BCJ, BCJ2, ARM, ARMT, PPC, SPARC, IA64, Delta; solid",
        "libarchive",
        False,
    ),
    Capability("7z", "ARM64 and RISC-V filters (from that entry on)", "7zz", False),
    Capability("7z", "AES-256 data, encrypted headers", "7zz", False),
    Capability("7z", "volumes .7z.001…", "7zz", False),
    Capability("rar", "RAR4 and RAR5, unencrypted", "libarchive", True),
    Capability("rar", "RAR4 solid; encrypted data or headers", "7zz+rar", False),
    Capability("rar", "volumes .partN.rar, .rar + .rNN", "7zz+rar", False),
    Capability("iso", "ISO 9660, Joliet, Rock Ridge, zisofs", "libarchive", False),
    Capability("cab", "store, MSZIP", "libarchive", True),
    Capability("cpio", "odc, newc, crc, old binary; compressed", "libarchive", True),
    Capability("rpm", "its cpio payload (gzip, xz, zstd…)", "libarchive", True),
    Capability("lha", ".lzh/.lha, -lh0- to -lh7- (libarchive without 7zz)", "7zz", False),
    Capability("xar", "gzip, bzip2, xz; entries cut at their declared size", "libarchive", True),
    Capability("wim", "Windows images", "7zz", False),
    Capability(
        "sfx",
        "a zip, 7z or RAR inside an executable (.exe, ELF): libarchive, else 7zz",
        "libarchive",
        False,
    ),
)


@dataclass(frozen=True, slots=True)
class Backends:
    """What this machine has: libarchive's version, a 7zz and whether it reads RAR."""

    libarchive: str | None
    sevenzip: SevenZip | None
    sevenzip_rar: bool

    def offers(self, cap: Capability) -> bool:
        """Whether this machine reads ``cap``: its backend, and the program it runs."""
        return self.has(cap.backend) and (
            cap.program is None or shutil.which(cap.program) is not None
        )

    def has(self, backend: Backend) -> bool:
        if backend == "libarchive":
            return self.libarchive is not None
        if backend == "7zz":
            return self.sevenzip is not None
        return self.sevenzip_rar


def probe_backends(sevenzip: Path | None = None) -> Backends:
    """Look for both backends (runs ``7zz i`` once to see whether it reads RAR)."""
    try:
        from libarchive import ffi  # lazy: optional

        number = int(ffi.version_number())
        version: str | None = f"{number // 1_000_000}.{number // 1_000 % 1_000}.{number % 1_000}"
    except (ImportError, OSError, AttributeError):
        version = None
    exe = find_7zz(sevenzip)
    return Backends(version, exe, exe.has_rar() if exe is not None else False)
