"""A small WebP preview of a delivered file, for the web page's gallery of results.

Made once, when the ``link:`` sink delivers an album, so the page never decodes a
photo or a video to show a grid: a photo is scaled from its own pixels (JPEG's draft
mode decodes at 1/2..1/8 size, so a 24 MP photo costs tens of milliseconds), a video
reuses the thumbnail prepared for it (a well-chosen frame, ``media.thumbnail``) and
only makes one itself when there is none. Blocking: call it from a thread.
"""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path

from PIL import Image, ImageOps

from ferryman.errors import FerrymanError
from ferryman.media.budget import DEFAULT_MAX_IMAGE_BYTES, check_budget
from ferryman.media.openers import ensure_openers
from ferryman.media.policy import ThumbLimits
from ferryman.media.thumbnail import make_thumbnail
from ferryman.model import MediaKind

PREVIEW_SIDE = 320  # pixels, the long side: a grid tile at 2x on a phone
PREVIEW_QUALITY = 70  # WebP: a 320 px photo is about 10-20 kB
log = logging.getLogger(__name__)


def make_preview(src: Path, kind: MediaKind, thumb: Path | None = None) -> bytes | None:
    """``src`` as a WebP within ``PREVIEW_SIDE``; None for a kind without a picture
    (audio, documents) or a file that cannot be read (logged: the file is still
    delivered, its tile shows an icon instead)."""
    try:
        if kind is MediaKind.PHOTO:
            return _webp_of(src)
        if kind in (MediaKind.VIDEO, MediaKind.ANIMATION):
            if thumb is not None and thumb.is_file():
                return _webp_of(thumb)
            return _frame_of(src)
    except (OSError, ValueError, Image.DecompressionBombError, FerrymanError) as exc:
        log.warning("no preview for %s: %s", src.name, exc)
    return None


def _webp_of(path: Path) -> bytes:
    ensure_openers()  # a HEIC kept as it is (a library policy may deliver one)
    with Image.open(path) as image:
        image.draft("RGB", (PREVIEW_SIDE, PREVIEW_SIDE))  # JPEG: decode already shrunk
        # A picture sent unchanged as a document for its size is not decoded for a tile.
        check_budget(image, path.name, DEFAULT_MAX_IMAGE_BYTES)
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
        if upright.mode not in ("RGB", "RGBA"):
            upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
        out = io.BytesIO()
        upright.save(out, "WEBP", quality=PREVIEW_QUALITY, method=4)
        return out.getvalue()


def _frame_of(video: Path) -> bytes:
    """A video without a prepared thumbnail: one made now (PyAV, a few seeks)."""

    with tempfile.TemporaryDirectory(prefix="ferryman-preview-") as folder:
        frame = Path(folder) / "frame.jpg"
        make_thumbnail(video, frame, ThumbLimits(max_side=PREVIEW_SIDE, max_bytes=1 << 20))
        return _webp_of(frame)
