"""The stages' decodes of an entry, each asked of the route's decoder (the engine's
``media.box.pool``: a confined worker) rather than run on the reading thread: probes, the
canvas check, picture fits, the remux, a video's thumbnail and split, a song's cover.

The preparation's logic (plans, waits for room, the item's files) stays on the reading
thread; only the calls on untrusted bytes cross, by name, so the engine never loads
PyAV for them. Each call's limits grow with the file's size (``DecodeLimits``); a stop
of the read (``net.abort``) ends the call's worker at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ferryman.engine.plumbing.media_options import MediaOptions
from ferryman.media import heic_header, jpeg_header
from ferryman.media.box.pool import DecodeLimits, Stopped
from ferryman.media.declared import check_declared
from ferryman.model import MediaInfo, MediaKind
from ferryman.net import abort

if TYPE_CHECKING:
    from ferryman.media.finish import FinishedVideo
    from ferryman.media.frames import Shape
    from ferryman.media.images import ImageResult
    from ferryman.media.policy import PhotoLimits, Policy, ThumbLimits

# Codes of a limit met while decoding: the file ends there, never tried another way.
LIMITS = ("media.decode_memory", "media.decode_timeout", "media.decoder_crashed")


def decode(options: MediaOptions, target: str, *args: Any, size: int | None, **kwargs: Any) -> Any:
    """``target(*args, **kwargs)`` where ``options`` decode, within the limits of a
    file of ``size`` bytes; a stop of this thread's read raises ``abort.Aborted``."""
    cut = abort.current.get()
    limits = DecodeLimits.for_size(size, options.decode_memory)
    try:
        return options.decoder.run(
            target,
            *args,
            limits=limits,
            stop=(lambda: cut.triggered) if cut is not None else None,
            **kwargs,
        )
    except Stopped:
        raise abort.Aborted from None


def refuse_impossible(path: Path, options: MediaOptions) -> None:
    """``media.declares_too_much`` for an MP4 whose tables no file of its size holds
    (cheap: box headers and counts, on this thread, before any decoder)."""
    check_declared(path, options.max_image_pixels)


def probe(options: MediaOptions, path: Path, size: int | None) -> MediaInfo:
    return cast(MediaInfo, decode(options, "ferryman.media.probe:probe", path, size=size))


def probe_image(
    options: MediaOptions, path: Path, size: int | None, max_bytes: int | None = None
) -> MediaInfo:
    """A plain JPEG's or HEIC's header read here (``media.jpeg_header``,
    ``media.heic_header``: bounded, total, no decoder); any other picture probed by
    Pillow in the box."""
    quick = header_probe(path, options.max_image_pixels, max_bytes)
    if quick is not None:
        return quick
    found = decode(options, "ferryman.media.probe:probe_image", path, None, max_bytes, size=size)
    return cast(MediaInfo, found)


def header_probe(path: Path, max_pixels: int | None, max_bytes: int | None) -> MediaInfo | None:
    """The header reader of the picture's format, by its first bytes (None: the box's)."""
    try:
        with path.open("rb") as f:
            magic = f.read(12)
    except OSError:
        return None
    if magic.startswith(b"\xff\xd8"):
        return jpeg_header.probe_header(path, max_pixels, max_bytes)
    if magic[4:8] == b"ftyp":
        return heic_header.probe_header(path, max_pixels, max_bytes)
    return None


def check_pixels(options: MediaOptions, path: Path, size: int | None) -> None:
    decode(
        options,
        "ferryman.media.images:check_pixels",
        path,
        options.max_image_pixels,
        canvas_bytes=options.max_image_bytes,
        size=size,
    )


def animation_shape(options: MediaOptions, path: Path, size: int | None) -> Shape | None:
    """An animation's frames and canvas, from its structure (``media.frames``)."""
    return cast("Shape | None", decode(options, "ferryman.media.frames:shape_of", path, size=size))


def fit_photo(
    options: MediaOptions,
    path: Path,
    out: Path,
    limits: PhotoLimits,
    size: int | None,
    *,
    page: int | None = None,  # a multipage picture's page; None: the picture as it opens
) -> ImageResult:
    fitted = decode(
        options,
        "ferryman.media.images:fit_photo",
        path,
        out,
        limits,
        max_pixels=options.max_image_pixels,
        max_bytes=options.max_image_bytes,
        page=page,
        size=size,
    )
    return cast("ImageResult", fitted)


def remux_to_mp4(options: MediaOptions, path: Path, out: Path, size: int | None) -> None:
    decode(options, "ferryman.media.remux:remux_to_mp4", path, out, size=size)


def dropped_tracks(options: MediaOptions, path: Path, size: int | None) -> list[str]:
    return cast(list[str], decode(options, "ferryman.media.tracks:dropped_tracks", path, size=size))


def finish_video(options: MediaOptions, path: Path, size: int, policy: Policy) -> FinishedVideo:
    finished = decode(options, "ferryman.media.finish:finish_video", path, size, policy, size=size)
    return cast("FinishedVideo", finished)


def make_cover(
    options: MediaOptions, path: Path, out: Path, limits: ThumbLimits, size: int | None
) -> Path | None:
    return cast(
        "Path | None",
        decode(options, "ferryman.media.cover:make_cover", path, out, limits, size=size),
    )


def ffmpeg_kind(options: MediaOptions, head: bytes) -> MediaKind:
    """Whether FFmpeg reads an entry's head (no signature claimed it) as a video: the
    head is untrusted bytes, looked at in the box like any decode."""
    return cast(
        MediaKind, decode(options, "ferryman.media.classify:ffmpeg_kind", head, size=len(head))
    )
