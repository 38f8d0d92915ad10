"""The tracks besides the picture and the main sound: other languages and subtitles.

A film in MKV often carries two or three audio languages and subtitles; a conversion
that kept only the first audio track lost what the viewer chose the file for. Every
audio track is carried into the MP4: copied when MP4 players take its codec
(``MP4_AUDIO``), else re-encoded to AAC; text subtitles become ``mov_text`` (``media.
mov_text``). Each keeps its language; the main audio track (the one a player picks) is
the first and the only one flagged default, as Telegram plays the first. Picture
subtitles (Blu-ray PGS, DVD) cannot go into an MP4 a phone plays: they are dropped,
and ``dropped_tracks`` names them for the item's report.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Disposition, Stream

from ferryman.media import mov_text
from ferryman.media.plan import MP4_AUDIO
from ferryman.media.timestamps import Timestamps
from ferryman.media.transcode import AUDIO_RATE, retime_in_samples

TEXT_SUBTITLES = frozenset({"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text"})
_CUE_SECONDS = 4  # how long a cue without a duration stays up


def _codec(stream: Stream) -> str:
    ctx = stream.codec_context
    return ctx.codec.canonical_name if ctx is not None else "unknown"


def _language(stream: Stream) -> str | None:
    value = stream.metadata.get("language")
    return value if value and value != "und" else None


def dropped_tracks(src: Path) -> list[str]:
    """The tracks of ``src`` a converted MP4 cannot carry, as report lines
    (``dropped_subtitle:hdmv_pgs_subtitle/eng``); none for a file that has none."""
    try:
        with av.open(str(src)) as inp:
            return [
                f"dropped_subtitle:{_codec(s)}/{_language(s) or 'und'}"
                for s in inp.streams.subtitles
                if _codec(s) not in TEXT_SUBTITLES
            ]
    except (av.FFmpegError, OSError):  # only a note: the conversion itself succeeded
        return []


def mark_main_audio(out: OutputContainer, main: AudioStream | None) -> None:
    """The first audio track (``main``'s copy or encode) is the default one, with
    ``main``'s language; the others are not default."""
    for number, stream in enumerate(out.streams.audio):
        stream.disposition = Disposition.default if number == 0 else Disposition(0)
        if number == 0 and main is not None:
            _labelled(stream, main)


class ExtraTracks:
    """The audio tracks other than ``main`` and the text subtitles of ``inp``, added to
    ``out`` after its video and main audio, all moved back by the input's start (or
    ``start``, in ``av.time_base`` units) like the rest of the output.

    ``inputs`` are the streams to demux along with the others; ``push`` turns one of
    their packets into output packets (with ``packet.stream`` set), ``flush`` empties
    the encoders at the end. The caller muxes them.
    """

    def __init__(
        self,
        inp: InputContainer,
        main: AudioStream | None,
        out: OutputContainer,
        *,
        audio_bitrate: int,
        start: int | None = None,
    ) -> None:
        begin = inp.start_time or 0 if start is None else start
        self._tracks: dict[int, _Track] = {}
        self._templates: list[InputContainer] = []
        for audio in inp.streams.audio:
            if (main is not None and audio.index == main.index) or audio.codec_context is None:
                continue  # the main track is the caller's; one FFmpeg cannot read stays out
            if _codec(audio) in MP4_AUDIO:
                self._tracks[audio.index] = _CopiedAudio(inp, audio, out, begin)
            else:
                self._tracks[audio.index] = _EncodedAudio(audio, out, begin, audio_bitrate)
        for sub in inp.streams.subtitles:
            if _codec(sub) in TEXT_SUBTITLES:
                template = mov_text.open_template()
                self._templates.append(template)
                self._tracks[sub.index] = _Subtitles(sub, out, begin, template)
        mark_main_audio(out, main)
        self.inputs: list[Stream] = [s for s in inp.streams if s.index in self._tracks]

    def push(self, packet: Packet[Any]) -> list[Packet[Any]]:
        if packet.size == 0:
            return []
        return self._tracks[packet.stream_index].push(packet)

    def flush(self) -> list[Packet[Any]]:
        flushed = [p for track in self._tracks.values() for p in track.flush()]
        for template in self._templates:
            template.close()
        return flushed


class _Track:
    def push(self, packet: Packet[Any]) -> list[Packet[Any]]:
        raise NotImplementedError

    def flush(self) -> list[Packet[Any]]:
        return []


def _labelled(stream: Stream, source: Stream) -> Stream:
    language = _language(source)
    if language:
        stream.metadata["language"] = language
    return stream


class _CopiedAudio(_Track):
    def __init__(self, inp: InputContainer, audio: AudioStream, out: OutputContainer, begin: int):
        self._fixer = Timestamps(inp, audio, out, begin)
        _labelled(self._fixer.stream, audio)

    def push(self, packet: Packet[Any]) -> list[Packet[Any]]:
        return self._fixer.push(packet)

    def flush(self) -> list[Packet[Any]]:
        return self._fixer.flush()


class _EncodedAudio(_Track):
    """DTS, TrueHD, FLAC, Opus, Vorbis, PCM… as stereo AAC at 48 kHz."""

    def __init__(self, audio: AudioStream, out: OutputContainer, begin: int, bitrate: int):
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        stream = out.add_stream("aac", rate=AUDIO_RATE)
        assert isinstance(stream, AudioStream)
        stream.layout = "stereo"
        stream.codec_context.bit_rate = bitrate
        _labelled(stream, audio)
        self._stream = stream
        self._time_base = audio.time_base or Fraction(1, audio.codec_context.sample_rate)
        self._start = Fraction(begin, av.time_base)

    def push(self, packet: Packet[Any]) -> list[Packet[Any]]:
        try:
            frames: list[Any] = list(packet.decode())
        except av.InvalidDataError:
            return []  # a damaged packet: skip it like FFmpeg does
        return self._encode([f for f in frames if isinstance(f, AudioFrame)])

    def flush(self) -> list[Packet[Any]]:
        return [*self._encode([None]), *self._stream.encode(None)]

    def _encode(self, frames: Sequence[AudioFrame | None]) -> list[Packet[Any]]:
        packets: list[Packet[Any]] = []
        for frame in frames:
            if frame is not None:
                retime_in_samples(frame, self._time_base, self._start)
            for resampled in self._resampler.resample(frame):
                packets.extend(self._stream.encode(resampled))
        return packets


class _Subtitles(_Track):
    """Cues as ``mov_text`` samples, in rising time: a cue that starts before the
    previous one (overlapping cues, which MP4 text cannot show) is left out."""

    def __init__(self, sub: Stream, out: OutputContainer, begin: int, template: InputContainer):
        self._codec = _codec(sub)
        source = template.streams[0] if self._codec != "mov_text" else sub
        self._stream = _labelled(out.add_stream_from_template(source), sub)
        if sub.disposition & Disposition.default:
            self._stream.disposition = Disposition.default
        time_base = sub.time_base or Fraction(1, 1000)
        self._offset = round(Fraction(begin, av.time_base) / time_base)
        self._default = round(_CUE_SECONDS / time_base)
        self._last: int | None = None

    def push(self, packet: Packet[Any]) -> list[Packet[Any]]:
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is None:
            return []
        pts -= self._offset
        if pts < 0 or (self._last is not None and pts <= self._last):
            return []
        self._last = pts
        if self._codec != "mov_text":
            text = mov_text.cue_text(self._codec, bytes(packet))
            cue: Packet[Any] = Packet(mov_text.sample(text))
            cue.time_base = packet.time_base
            cue.duration = packet.duration or self._default
            packet = cue
        packet.pts = packet.dts = pts
        packet.stream = self._stream
        return [packet]
