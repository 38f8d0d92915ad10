"""The output format every encoder shares: what phones play inline, sized the same way.

The transcode itself is ``segmented.transcode_resumable`` (run by the convert stage in
a child process); the audio-only and animation encoders use these pieces too.
"""

from __future__ import annotations

from fractions import Fraction

AUDIO_RATE = 48_000


def output_size(width: int, height: int, sar: Fraction | None, max_height: int) -> tuple[int, int]:
    """Square-pixel size with the short side at most ``max_height``, both sides even."""
    if sar and sar > 0:
        width = round(width * sar)
    scale = min(1.0, max_height / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
