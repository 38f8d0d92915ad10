"""The one table of names that promise an archive, and what such a name becomes.

Names decide little (a file's bytes decide what it is), but they decide three things:
which entries of an input are opened as nested archives, the job's name
(``holiday.tar.gz`` → ``holiday``), and the name of the one file inside a compressed
stream that stores none (``clip.mp4.gz`` → ``clip.mp4``, ``x.tgz`` → ``x.tar``).
"""

from __future__ import annotations

import mimetypes
import re

from ferryman.fsutil import safe_name

# Containers: they hold many entries.
CONTAINER_SUFFIXES = (".zip", ".rar", ".7z", ".tar")
# Containers that are opened when their bytes say so and are otherwise delivered as
# files (a UDF-only .iso is no ISO 9660; a .cab may be anything): never "named like an
# archive" when they are not one.
OTHER_CONTAINER_SUFFIXES = (".iso", ".cab", ".cpio", ".rpm", ".lzh", ".lha", ".xar", ".wim")
# Executables that may carry an archive (self-extracting): opened when one is found
# inside, else delivered as they are; never "named like an archive" when none is.
SFX_SUFFIXES = (".exe",)

# Compressed streams (lower case) → what the file inside is called, like gunzip does:
# the tar shorthands become ".tar". Longest first where one ends another.
COMPRESSION_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".tgz", ".tar"),
    (".taz", ".tar"),
    (".tbz2", ".tar"),
    (".tbz", ".tar"),
    (".tb2", ".tar"),
    (".txz", ".tar"),
    (".tzst", ".tar"),
    (".tzs", ".tar"),
    (".tlz", ".tar"),
    (".tlz4", ".tar"),
    (".tzo", ".tar"),
    (".gzip", ""),
    (".gz", ""),
    (".z", ""),
    (".bzip2", ""),
    (".bz2", ""),
    (".bz", ""),
    (".xz", ""),
    (".zstd", ""),
    (".zst", ""),
    (".lzma", ""),
    (".lz4", ""),
    (".lzo", ""),
    (".lrz", ""),
    (".lz", ""),
)

ARCHIVE_SUFFIXES: tuple[str, ...] = CONTAINER_SUFFIXES + tuple(s for s, _ in COMPRESSION_SUFFIXES)

# Later volumes of a set: x.part2.rar, x.r00, x.z01, x.7z.001 / x.zip.001.
_VOLUME_NAME = re.compile(r".+\.(part\d+\.rar|r\d{2,3}|z\d{2,3}|[a-z0-9]+\.\d{3})", re.IGNORECASE)


def named_archive(name: str) -> bool:
    """Whether ``name`` promises an archive or a volume of one."""
    lowered = name.lower()
    return (
        lowered.endswith(ARCHIVE_SUFFIXES)
        or lowered.endswith(OTHER_CONTAINER_SUFFIXES)
        or lowered.endswith(SFX_SUFFIXES)
        or bool(_VOLUME_NAME.fullmatch(lowered))
    )


def inner_name(name: str) -> str | None:
    """The file inside a compressed stream named ``name``; None without such a suffix."""
    lowered = name.lower()
    for suffix, replacement in COMPRESSION_SUFFIXES:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + replacement
    return None


def file_job_name(found: str) -> str:
    """A job named after a file it fetched: ``a b.zip`` → ``a b``, ``clip.mp4`` →
    ``clip``, a video's title as it is: an extension goes only when it is an archive's
    or a known file type's (the fetch stage and the chat's files name jobs so)."""

    stripped = strip_archive_suffixes(found)
    if stripped == found:
        stem, dot, ext = found.rpartition(".")
        if dot and stem.strip() and mimetypes.guess_type(f"x.{ext}")[0] is not None:
            stripped = stem
    return safe_name(stripped.strip() or found, "job")


def strip_archive_suffixes(name: str) -> str:
    """``holiday.tar.gz`` → ``holiday``, ``x.zip`` → ``x``, the first volume of a set as
    the set (``x.part1.rar``, ``x.7z.001`` → ``x``); other names unchanged."""
    name = _strip_volume(name)
    inner = inner_name(name)
    stripped = inner if inner is not None else name
    lowered = stripped.lower()
    for suffix in CONTAINER_SUFFIXES:
        if lowered.endswith(suffix) and len(stripped) > len(suffix):
            return stripped[: -len(suffix)]
    return stripped


def _strip_volume(name: str) -> str:
    """``x.part01.rar`` → ``x.rar``, ``x.7z.001`` → ``x.7z`` (a suffix the set's name
    would keep, ``x.part1.txt`` or ``notes.001``, stays)."""
    lowered = name.lower()
    if (rar := re.fullmatch(r"(.+)\.part0*1\.rar", lowered)) is not None:
        return name[: len(rar.group(1))] + name[-4:]
    numbered = re.fullmatch(r"(.+)\.0*1", lowered)
    if numbered is not None and numbered.group(1).endswith(ARCHIVE_SUFFIXES):
        return name[: len(numbered.group(1))]
    return name
