"""Which backend reads what, and which backends this machine has (``ferryman doctor``).

The matrix is data, kept next to the code that implements it; docs/archive-backends.md
shows the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ferryman.archive.sevenzip_backend import SevenZip, find_7zz

Backend = Literal["libarchive", "7zz", "7zz+rar"]


@dataclass(frozen=True, slots=True)
class Capability:
    """One row: a format (with the features named), the backend that reads it, pipes."""

    format: str
    features: str
    backend: Backend
    from_pipe: bool


MATRIX: tuple[Capability, ...] = (
    Capability(
        "zip", "store, deflate, bzip2, lzma, xz; ZIP64, data descriptors", "libarchive", True
    ),
    Capability("zip", "ZipCrypto and AES-256 passwords (per entry)", "libarchive", True),
    Capability("zip", "Deflate64 (then every later entry)", "7zz", False),
    Capability("zip", "split .zip.001… and spanned .z01….zip", "7zz", False),
    Capability("tar", "plain, .gz, .bz2, .xz, .zst", "libarchive", True),
    Capability("single file", ".gz, .bz2, .xz, .zst", "libarchive", True),
    Capability("7z", "LZMA, LZMA2, PPMd, BCJ, BCJ2; solid", "libarchive", False),
    Capability("7z", "AES-256 data, encrypted headers", "7zz", False),
    Capability("7z", "volumes .7z.001…", "7zz", False),
    Capability("rar", "RAR4 and RAR5, unencrypted", "libarchive", True),
    Capability("rar", "RAR4 solid; encrypted data or headers", "7zz+rar", False),
    Capability("rar", "volumes .partN.rar, .rar + .rNN", "7zz+rar", False),
)


@dataclass(frozen=True, slots=True)
class Backends:
    """What this machine has: libarchive's version, a 7zz and whether it reads RAR."""

    libarchive: str | None
    sevenzip: SevenZip | None
    sevenzip_rar: bool

    def has(self, backend: Backend) -> bool:
        if backend == "libarchive":
            return self.libarchive is not None
        if backend == "7zz":
            return self.sevenzip is not None
        return self.sevenzip_rar


def probe_backends(sevenzip: Path | None = None) -> Backends:
    """Look for both backends (runs ``7zz i`` once to see whether it reads RAR)."""
    try:
        from libarchive import ffi

        number = int(ffi.version_number())
        version: str | None = f"{number // 1_000_000}.{number // 1_000 % 1_000}.{number % 1_000}"
    except (ImportError, OSError, AttributeError):
        version = None
    exe = find_7zz(sevenzip)
    return Backends(version, exe, exe.has_rar() if exe is not None else False)
