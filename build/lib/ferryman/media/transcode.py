"""The output format every encoder shares: what phones play inline, sized the same way.

The transcode itself is ``segmented.transcode_resumable`` (run by the convert stage in
a child process); the audio-only and animation encoders use these pieces too.
"""

from __future__ import annotations

from fractions import Fraction

from av.audio.frame import AudioFrame

AUDIO_RATE = 48_000


def output_size(width: int, height: int, sar: Fraction | None, max_height: int) -> tuple[int, int]:
    """Square-pixel size with the short side at most ``max_height``, both sides even."""
    if sar and sar > 0:
        width = round(width * sar)
    scale = min(1.0, max_height / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def retime_in_samples(frame: AudioFrame, time_base: Fraction, start: Fraction) -> float | None:
    """Stamp a decoded ``frame`` in samples (time base 1/rate), moved ``start`` s earlier.

    Demuxers give audio times in the stream's time base, which in AVI ticks once per
    codec frame (1/31.25 s for 48 kHz AC-3, 1/41.67 s for MP3). An encoder whose frame
    size differs (AAC takes 1024 samples) re-cuts the frames and stamps the pieces by
    counting samples from that pts; in such a coarse time base the pieces go back in
    time and the MP4 muxer refuses them (EINVAL). A resampler only re-times what it
    converts, so a source already at the output rate kept its ticks. Returns the
    frame's time in seconds, or None when it has none (the encoder then counts on).
    """
    if frame.pts is None:
        return None
    rate = frame.sample_rate
    seconds = frame.pts * (frame.time_base or time_base) - start
    frame.pts = round(seconds * rate)
    frame.time_base = Fraction(1, rate)
    return float(seconds)
