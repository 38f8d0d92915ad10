"""When a photo or video was taken, as its file says: what a library's ``{date}``
folders are named by (a file's modified time is when ferryman wrote it, or when the
archive was made). Only headers are read: EXIF, or the container's ``creation_time``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PIL import Image

# EXIF: the Exif IFD, its DateTimeOriginal, and the main IFD's DateTime
_EXIF_IFD, _ORIGINAL, _DATETIME = 0x8769, 0x9003, 0x0132
_PICTURES = frozenset({".jpg", ".jpeg", ".heic", ".heif", ".tif", ".tiff", ".png", ".webp"})


def taken_at(path: Path) -> datetime | None:
    """The date the file says it was taken, or None (none written, or unreadable)."""
    try:
        if path.suffix.lower() in _PICTURES:
            return _exif_date(path)
        return _container_date(path)
    except Exception:  # a header we cannot read: the caller falls back
        return None


def _exif_date(path: Path) -> datetime | None:
    with Image.open(path) as image:
        exif = image.getexif()
        raw = exif.get_ifd(_EXIF_IFD).get(_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(raw, str):
        return None
    return datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")


def _container_date(path: Path) -> datetime | None:
    import av  # lazy: PyAV (~0.1 s of start-up, ~20 MB), which a library of photos never needs

    with av.open(str(path)) as container:
        metadata = {key.lower(): value for key, value in container.metadata.items()}
    raw = metadata.get("creation_time") or metadata.get("com.apple.quicktime.creationdate")
    if not raw:
        return None
    when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return when.astimezone().replace(tzinfo=None) if when.tzinfo else when
