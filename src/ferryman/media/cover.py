"""A song's cover: the picture embedded in its file, as a thumbnail Telegram shows.

MP3 (ID3 APIC), M4A (``covr``), FLAC and Ogg (a picture block) carry their cover as an
"attached picture" stream: FFmpeg hands over its bytes, a JPEG or PNG, undecoded. It
is fitted to the thumbnail limits like a video's frame. A song without one has none:
Telegram then shows its own icon. A picture chosen as documents' thumbnail
(``?thumb=``) is fitted the same way (``picture_thumbnail``).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import av
from av.stream import Disposition
from PIL import Image, UnidentifiedImageError

from ferryman.errors import FerrymanError
from ferryman.media.budget import DEFAULT_MAX_IMAGE_BYTES, check_budget
from ferryman.media.policy import ThumbLimits
from ferryman.media.thumbnail import fit_jpeg

log = logging.getLogger(__name__)


def embedded_cover(src: Path) -> bytes | None:
    """The bytes of the first attached picture in ``src``, or None."""
    try:
        with av.open(str(src)) as container:
            for stream in container.streams.video:
                if stream.disposition & Disposition.attached_pic:
                    for packet in container.demux(stream):
                        if packet.size:
                            return bytes(packet)
                    return None
    except (av.FFmpegError, OSError, ValueError) as exc:
        log.info("no cover read from %s: %s", src.name, exc)
    return None


def make_cover(src: Path, dst: Path, limits: ThumbLimits) -> Path | None:
    """Write ``src``'s embedded cover to ``dst`` as a JPEG within ``limits``; None when it
    has none or it cannot be decoded (the song still goes, without a cover)."""
    data = embedded_cover(src)
    if data is None:
        return None
    return picture_thumbnail(data, src, dst, limits)


def picture_thumbnail(data: bytes, src: Path, dst: Path, limits: ThumbLimits) -> Path | None:
    """Write the picture ``data`` (of ``src``, named in the log) to ``dst`` as a JPEG
    within ``limits``; None when it cannot be decoded or fitted (a song's cover, a
    document's chosen thumbnail)."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            # A cover is small; a "cover" of gigapixels is not decoded for a thumbnail.
            check_budget(picture, src.name, DEFAULT_MAX_IMAGE_BYTES)
            picture.draft("RGB", (limits.max_side, limits.max_side))
            image = picture.convert("RGB")
        image.thumbnail((limits.max_side, limits.max_side), Image.Resampling.LANCZOS)
        jpeg, _ = fit_jpeg(image, limits.max_bytes, src)
        dst.write_bytes(jpeg)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        log.info("cover of %s not used: %s", src.name, exc)
        dst.unlink(missing_ok=True)
        return None
    except FerrymanError as exc:  # over the budget or no fitting JPEG
        log.info("cover of %s not used: %s", src.name, exc.message)
        dst.unlink(missing_ok=True)
        return None
    return dst
