"""Move playable streams into an MP4 with the index first, without re-encoding them.

Stream copy keeps quality and takes seconds, but timestamps must be made valid for
MP4: Matroska and TS leave some packets without a decode time, AVI has no presentation
times at all (so B-frames would play out of order), and every input may start late.
"""

from __future__ import annotations

from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.video.stream import VideoStream

from ferryman.errors import FerrymanError
from ferryman.media.failures import removing_on_failure
from ferryman.media.keep_tags import recording_tags
from ferryman.media.probe import first_streams
from ferryman.media.timestamps import MP4_OPTIONS, Timestamps
from ferryman.media.tracks import ExtraTracks

__all__ = ["MP4_OPTIONS", "Timestamps", "remux_to_mp4"]

# Only a track the plan let through re-encodes here (none: a remux plan copies every
# audio track), so this is a guard, not a setting.
_EXTRA_AUDIO_BITRATE = 128_000


def remux_to_mp4(src: Path, dst: Path) -> None:
    """Copy the first video stream of ``src``, its main audio (first in ``dst``, the
    default), its other audio tracks and its text subtitles (as ``mov_text``) into MP4
    ``dst`` (faststart); ``media.tracks`` says which tracks go and how.

    Raises ``media.convert_failed``; a partial ``dst`` is removed.
    """
    with removing_on_failure(src, dst, "remux"):
        _remux(src, dst)


def _remux(src: Path, dst: Path) -> None:
    with av.open(str(src)) as inp:
        video, audio = first_streams(inp)
        if video is None:
            raise FerrymanError("media.convert_failed", f"{src.name}: no video stream to remux")
        display = _avi_display_times(src, video.index) if _needs_display_times(inp, video) else {}
        streams: list[VideoStream | AudioStream] = [s for s in (video, audio) if s is not None]
        with av.open(str(dst), "w", format="mp4", options=MP4_OPTIONS) as out:
            out.metadata.update(recording_tags(inp))
            fixers = {s.index: Timestamps(inp, s, out) for s in streams}
            extras = ExtraTracks(inp, audio, out, audio_bitrate=_EXTRA_AUDIO_BITRATE)
            for packet in inp.demux([*streams, *extras.inputs]):
                if packet.size == 0:  # end-of-stream marker from the demuxer
                    continue
                if packet.stream_index not in fixers:
                    out.mux(extras.push(packet))
                    continue
                if display and packet.stream_index == video.index and packet.pts is not None:
                    packet.pts = display.get(packet.pts, packet.pts)
                out.mux(fixers[packet.stream_index].push(packet))
            for fixer in fixers.values():
                out.mux(fixer.flush())
            out.mux(extras.flush())


def _needs_display_times(inp: InputContainer, video: VideoStream) -> bool:
    return inp.format.name == "avi" and bool(video.codec_context.has_b_frames)


def _avi_display_times(src: Path, index: int) -> dict[int, int]:
    """Map AVI's made-up presentation times to real ones, learned by decoding once.

    AVI stores frames in decode order with no presentation times; FFmpeg invents
    ``pts = dts + 1``, which in MP4 would show B-frames out of order. The decoder
    emits frames in display order, each tagged with its packet's made-up pts, so the
    k-th frame out gets the k-th tick of the (evenly spaced) decode clock, shifted
    so that no frame is shown before it is decoded.
    """
    dts_of: dict[int, int] = {}
    shown: list[int] = []
    with av.open(str(src)) as inp:
        stream = next(s for s in inp.streams.video if s.index == index)
        for packet in inp.demux(stream):
            if packet.size and packet.pts is not None and packet.dts is not None:
                dts_of[packet.pts] = packet.dts
            shown.extend(f.pts for f in packet.decode() if f.pts is not None)
    ticks = sorted(dts_of.values())
    pairs = [(pts, tick) for pts, tick in zip(shown, ticks, strict=False) if pts in dts_of]
    if len(pairs) != len(dts_of):  # frames lost in decoding: keep FFmpeg's guess
        return {}
    shift = max((dts_of[pts] - tick for pts, tick in pairs), default=0)
    return {pts: tick + max(shift, 0) for pts, tick in pairs}
