"""Re-encode a video to the one format every phone plays inline: H.264/AAC in MP4.

Used when the streams themselves are unplayable (HEVC, VP9, 10-bit, 4:4:4, MP3…).
It is slow, so it reports progress and runs in a child process (see ``child``). The
work itself is ``segmented.transcode_resumable``; this module holds the one-shot entry
point for callers that do not keep parts between attempts, plus the shared pieces.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

AUDIO_RATE = 48_000


def transcode_to_mp4(
    src: Path,
    dst: Path,
    *,
    crf: int = 23,
    preset: str = "veryfast",
    max_height: int = 1080,
    audio_bitrate: int = 128_000,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Re-encode ``src`` to H.264 (yuv420p) + AAC stereo 48 kHz in MP4 ``dst`` (faststart).

    ``max_height`` bounds the short side, so a portrait clip gets the same resolution
    as its landscape twin. ``progress`` receives rising fractions ending at 1.0.
    Raises ``media.convert_failed``; a partial ``dst`` is removed.

    This is the resumable transcode run once, with its parts in a folder next to ``dst``
    that is removed afterwards: one encoder path, so both give the same output. The
    folder's name is fixed, so leftovers of a worker killed mid-way (a timeout) are
    cleared by the next attempt instead of piling up.
    """
    # Imported here: ``segmented`` builds on this module's AUDIO_RATE and output_size.
    from ferryman.media.segmented import EncodeSettings, transcode_resumable

    settings = EncodeSettings(crf, preset, max_height, audio_bitrate)
    workdir = dst.with_name(f".{dst.name}.parts")
    shutil.rmtree(workdir, ignore_errors=True)
    try:
        transcode_resumable(src, dst, workdir, settings, progress=progress)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def output_size(width: int, height: int, sar: Fraction | None, max_height: int) -> tuple[int, int]:
    """Square-pixel size with the short side at most ``max_height``, both sides even."""
    if sar and sar > 0:
        width = round(width * sar)
    scale = min(1.0, max_height / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
