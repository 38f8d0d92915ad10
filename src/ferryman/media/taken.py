"""When a photo or video was taken, as its file says: what a library's ``{date}``
folders are named by and its files are dated with (a file's modified time is when
ferryman wrote it, or when the archive was made). Only headers are read: EXIF, or the
container's ``creation_time``. The probe asks (``exif_taken``, ``container_taken``),
so the time travels with the item's media facts and nothing opens the file again."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from PIL import Image

# EXIF: the Exif IFD, its DateTimeOriginal, and the main IFD's DateTime
_EXIF_IFD, _ORIGINAL, _DATETIME = 0x8769, 0x9003, 0x0132
_PICTURES = frozenset({".jpg", ".jpeg", ".heic", ".heif", ".tif", ".tiff", ".png", ".webp"})
_EARLIEST = datetime(1970, 1, 2)  # a zeroed camera clock ("0000:00:00") or before: unknown


def taken_at(path: Path) -> datetime | None:
    """The date the file says it was taken, or None (none written, or unreadable)."""
    try:
        if path.suffix.lower() in _PICTURES:
            with Image.open(path) as image:
                return exif_taken(image)
        return _container_date(path)
    except Exception:  # a header we cannot read: the caller falls back
        return None


def exif_taken(image: Image.Image) -> datetime | None:
    """EXIF's DateTimeOriginal, else its DateTime (local time, as cameras write it)."""
    try:
        exif = image.getexif()
        raw = exif.get_ifd(_EXIF_IFD).get(_ORIGINAL) or exif.get(_DATETIME)
        if not isinstance(raw, str):
            return None
        when = datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except Exception:  # a malformed date or IFD: not known
        return None
    return when if when >= _EARLIEST else None


def container_taken(metadata: Mapping[str, str]) -> datetime | None:
    """A container's ``creation_time`` (or Apple's creation date), in local time."""
    tags = {key.lower(): value for key, value in metadata.items()}
    raw = tags.get("creation_time") or tags.get("com.apple.quicktime.creationdate")
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    when = when.astimezone().replace(tzinfo=None) if when.tzinfo else when
    return when if when >= _EARLIEST else None


def as_seconds(when: datetime | None) -> float | None:
    """``when`` (local time) as seconds since the epoch, as a file's modified time."""
    try:
        return when.timestamp() if when is not None else None
    except (OverflowError, OSError, ValueError):
        return None


def _container_date(path: Path) -> datetime | None:
    import av  # lazy: PyAV (~0.1 s of start-up, ~20 MB), which a library of photos never needs

    with av.open(str(path)) as container:
        return container_taken(container.metadata)
