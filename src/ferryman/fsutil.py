"""File operations every layer needs: safe names, link-or-copy, durable renames, cleanup."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ferryman.model import Item

_NO_LINK = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP)


def unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``name (2).ext``… when a name equal but for case is in ``used``
    (which it joins): one folder or one zip never holds two files a phone would mix up."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, n = name, 2
    while candidate.lower() in used:
        candidate = f"{stem} ({n}){suffix}"
        n += 1
    used.add(candidate.lower())
    return candidate


def safe_name(name: str, fallback: str = "file") -> str:
    """A file or folder name that is safe on every filesystem ferryman writes to."""
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r'[\x00-\x1f/\\:*?"<>|]', "_", name).strip(" .")
    return name[:180] or fallback


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link (no second copy on a full phone); copy and fsync across filesystems."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        shutil.copyfile(src, dst)
        with open(dst, "rb") as handle:
            os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` survive a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_durable(paths: list[Path]) -> None:
    """fsync files written by a library that does not (PyAV, Pillow), then their folders,
    so a record that names them never outlives them after a power cut (a phone reboot)."""
    for path in paths:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    for folder in {path.parent for path in paths}:
        fsync_dir(folder)


def remove_files(paths: list[str]) -> None:
    """Delete work files; one already gone is fine (a crash may have come between)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()


def sha256_file(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


# What a file with no suffix is called by what its bytes are (the probe's container),
# so a gallery or a player opens it: a photo from a link that named it `IMG_0042`.
_SUFFIX_OF_CONTAINER = {
    "jpeg": ".jpg",
    "mpo": ".jpg",
    "png": ".png",
    "webp": ".webp",
    "gif": ".gif",
    "heif": ".heic",
    "avif": ".avif",
    "tiff": ".tif",
    "bmp": ".bmp",
    "mov": ".mp4",  # ffmpeg's "mov,mp4,m4a,3gp,3g2,mj2"
    "matroska": ".mkv",
    "avi": ".avi",
    "mpegts": ".ts",
    "mp3": ".mp3",
    "ogg": ".ogg",
    "wav": ".wav",
    "flac": ".flac",
}


def delivered_name(item: Item, part: int | None) -> str:
    """The source's name; a converted file gets its new suffix, a split part its number,
    a name without a suffix the one its bytes call for."""
    base = safe_name(Path(item.source_path).name, f"item-{item.seq}")
    if item.work_path and Path(item.work_path).suffix.lower() != Path(base).suffix.lower():
        base = f"{Path(base).stem}{Path(item.work_path).suffix}"  # converted: new container
    if not Path(base).suffix and item.media is not None and item.media.container:
        base += _SUFFIX_OF_CONTAINER.get(item.media.container.split(",")[0].lower(), "")
    if part is not None:
        base = f"{Path(base).stem}.part{part}{Path(base).suffix}"
    return base
