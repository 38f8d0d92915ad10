"""Fix or pull out just the audio: the cheap conversions where the picture can stay as it is.

A video whose picture already plays inline (H.264 8-bit 4:2:0) but whose sound is AC-3,
Opus, MP3, DTS… only needs its audio re-encoded to AAC: the video is copied packet for
packet, which takes seconds instead of the minutes a full transcode would. The link
converter wants the sound alone, as MP3 or M4A; AAC is copied into M4A untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream

from ferryman.errors import FerrymanError
from ferryman.media.failures import removing_on_failure
from ferryman.media.keep_tags import recording_tags
from ferryman.media.probe import first_streams
from ferryman.media.progress import Progress
from ferryman.media.timestamps import MP4_OPTIONS, Timestamps
from ferryman.media.tracks import ExtraTracks
from ferryman.media.transcode import AUDIO_RATE, retime_in_samples

# Sample rates each encoder accepts; anything else is resampled (see ``_output_rate``).
_MP3_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
_AAC_RATES = _MP3_RATES | {7350, 64000, 88200, 96000}
_OPUS_RATES = frozenset({48000})  # libopus takes 8–48 kHz; players expect 48
_MUXERS: dict[str, tuple[str, dict[str, str]]] = {
    "mp3": ("mp3", {}),
    "m4a": ("ipod", MP4_OPTIONS),
    "opus": ("opus", {}),
}
_ENCODERS = {
    "mp3": ("libmp3lame", _MP3_RATES),
    "m4a": ("aac", _AAC_RATES),
    "opus": ("libopus", _OPUS_RATES),
}


def transcode_audio_only(
    src: Path,
    dst: Path,
    *,
    audio_bitrate: int = 128_000,
    progress: Callable[[float], None] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Copy the video of ``src`` and re-encode its main audio to AAC, into MP4 ``dst``
    (with ``tags``, title and the like, in its header).

    The audio taken is the track flagged default (else the first), as stereo 48 kHz at
    ``audio_bitrate``, first and default in ``dst``; the other audio tracks and the text
    subtitles follow (``media.tracks``). All move back by the same start offset, so
    they stay in sync. ``progress`` receives rising fractions ending at 1.0. Raises
    ``media.convert_failed``; a partial ``dst`` is removed.
    """
    with removing_on_failure(src, dst, "audio transcode"):
        _transcode_audio(src, dst, audio_bitrate, Progress(progress), tags or {})


def extract_audio(
    src: Path,
    dst: Path,
    *,
    fmt: Literal["mp3", "m4a", "opus"],
    bitrate: int = 192_000,
    progress: Callable[[float], None] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Write the main audio track of ``src`` (any container) alone as MP3, M4A or Opus
    ``dst``, with ``tags`` (title, artist…) in its header.

    Stereo, or mono if the source is mono; the sample rate is kept where the format
    allows it (Opus runs at 48 kHz). AAC going to M4A is copied, not re-encoded.
    Raises ``media.no_audio`` (no track), ``media.convert_failed``; a partial ``dst`` is removed.
    """
    with removing_on_failure(src, dst, f"{fmt} extraction"):
        _extract(src, dst, fmt, bitrate, Progress(progress), tags or {})


def main_audio(container: InputContainer) -> AudioStream | None:
    """The audio track a player would pick: the one flagged default, else the first."""
    return first_streams(container)[1]


def _transcode_audio(
    src: Path, dst: Path, bitrate: int, progress: Progress, tags: dict[str, str]
) -> None:
    with av.open(str(src)) as inp:
        video, _ = first_streams(inp)
        audio = main_audio(inp)
        if video is None:
            raise FerrymanError("media.convert_failed", f"{src.name}: no video stream")
        if audio is None:
            raise FerrymanError("media.convert_failed", f"{src.name}: no audio stream")
        start = Fraction(inp.start_time or 0, av.time_base)
        progress.start(_duration(inp))
        with av.open(str(dst), "w", format="mp4", options=MP4_OPTIONS) as out:
            out.metadata.update({**recording_tags(inp), **tags})
            copier = Timestamps(inp, video, out)  # offsets by the same start as ``start``
            sound = _AudioEncoder(out, audio, "aac", AUDIO_RATE, 2, bitrate, start)
            extras = ExtraTracks(inp, audio, out, audio_bitrate=bitrate)
            for packet in inp.demux([video, audio, *extras.inputs]):
                if packet.size == 0:  # end-of-stream marker from the demuxer
                    continue
                progress.update(_seconds(packet) - float(start))
                if packet.stream_index == video.index:
                    out.mux(copier.push(packet))
                elif packet.stream_index == audio.index:
                    sound.encode(packet)
                else:
                    out.mux(extras.push(packet))
            out.mux(copier.flush())
            sound.finish(src)
            out.mux(extras.flush())
    progress.done()


def _extract(
    src: Path, dst: Path, fmt: str, bitrate: int, progress: Progress, tags: dict[str, str]
) -> None:
    with av.open(str(src)) as inp:
        audio = main_audio(inp)
        if audio is None:  # no retry makes sound: said once, with what to do instead
            raise FerrymanError("media.no_audio", f"{src.name}: no audio stream")
        progress.start(_duration(inp))
        copy = fmt == "m4a" and audio.codec_context.name == "aac"
        muxer, options = _MUXERS[fmt]
        with av.open(str(dst), "w", format=muxer, options=options) as out:
            out.metadata.update(tags)
            if copy:
                _copy_audio(inp, audio, out, progress)
            else:
                _encode_audio(src, inp, audio, out, fmt, bitrate, progress)
    progress.done()


def _encode_audio(
    src: Path,
    inp: InputContainer,
    audio: AudioStream,
    out: OutputContainer,
    fmt: str,
    bitrate: int,
    progress: Progress,
) -> None:
    ctx = audio.codec_context
    codec, rates = _ENCODERS[fmt]
    channels = 1 if ctx.channels == 1 else 2
    rate = _output_rate(ctx.sample_rate, rates)
    start = _stream_start(audio)
    sound = _AudioEncoder(out, audio, codec, rate, channels, bitrate, start)
    for packet in inp.demux([audio]):
        if packet.size:
            progress.update(_seconds(packet) - float(start))
            sound.encode(packet)
    sound.finish(src)


def _copy_audio(
    inp: InputContainer, audio: AudioStream, out: OutputContainer, progress: Progress
) -> None:
    """Copy AAC packets as they are, moved back so the audio starts at zero."""
    stream = out.add_stream_from_template(audio)
    time_base = audio.time_base or Fraction(1, audio.codec_context.sample_rate)
    offset = round(_stream_start(audio) / time_base)
    last: int | None = None
    for packet in inp.demux([audio]):
        if packet.size == 0:
            continue
        progress.update(_seconds(packet) - float(offset * time_base))
        ts = packet.dts if packet.dts is not None else packet.pts
        if ts is None:  # no time at all: it follows the previous packet
            ts = 0 if last is None else last + (packet.duration or 1)
        else:
            ts -= offset
        if last is not None and ts <= last:
            ts = last + 1  # AAC has no reordering: a rising dts is all MP4 needs
        packet.dts = packet.pts = last = ts
        packet.stream = stream
        out.mux(packet)


class _AudioEncoder:
    """Decodes one audio stream and re-encodes it, keeping its timeline minus ``start``.

    PyAV's encoder converts sample format, layout and rate itself and cuts the frames
    to the codec's frame size, so decoded frames go in as they come.
    """

    def __init__(
        self,
        out: OutputContainer,
        audio: AudioStream,
        codec: str,
        rate: int,
        channels: int,
        bitrate: int,
        start: Fraction,
    ) -> None:
        stream = out.add_stream(codec, rate=rate)
        assert isinstance(stream, AudioStream)
        stream.layout = "mono" if channels == 1 else "stereo"
        stream.codec_context.bit_rate = bitrate
        self._stream = stream
        self._time_base = audio.time_base or Fraction(1, audio.codec_context.sample_rate)
        self._start = start
        self._out = out
        self.frames = 0

    def encode(self, packet: Packet[Stream]) -> None:
        try:
            frames = packet.decode()
        except av.InvalidDataError:
            return  # a damaged packet: skip it like FFmpeg does
        for frame in frames:
            if isinstance(frame, AudioFrame):
                retime_in_samples(frame, self._time_base, self._start)
                self._out.mux(self._stream.encode(frame))
                self.frames += 1

    def finish(self, src: Path) -> None:
        """Flush the encoder; raises ``media.convert_failed`` if nothing decoded."""
        if self.frames == 0:
            raise FerrymanError("media.convert_failed", f"{src.name}: no decodable audio")
        self._out.mux(self._stream.encode(None))


def _output_rate(rate: int, allowed: frozenset[int]) -> int:
    """The source rate if the encoder takes it, else 48 kHz or 44.1 kHz, whichever divides."""
    if rate in allowed:
        return rate
    fallback = 44_100 if rate % 11_025 == 0 else 48_000
    return fallback if fallback in allowed else 48_000


def _stream_start(stream: AudioStream) -> Fraction:
    """When the stream's first sample plays, in seconds (0 if the file does not say)."""
    if stream.start_time is None or stream.time_base is None:
        return Fraction(0)
    return stream.start_time * stream.time_base


def _seconds(packet: Packet[Stream]) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    return float(ts * packet.time_base) if ts is not None and packet.time_base else 0.0


def _duration(inp: InputContainer) -> float | None:
    return inp.duration / av.time_base if inp.duration else None
