"""Prove a made file is what was asked for before it is called delivered.

Users of link converters most often complain of 0-byte files, videos cut off at 30 or
40 minutes, and quality below what they chose. So: the file is not empty; its length
is the source's (within 1 s, or 1 % of a long one); its first and its last seconds
decode; it has the streams asked for (a mute MP4 none of sound) and no picture taller
than asked. Any miss is ``media.incomplete`` (retried: fetched and made again).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.video.stream import VideoStream

from ferryman.errors import FerrymanError
from ferryman.media.probe import first_streams


@dataclass(frozen=True, slots=True)
class Verified:
    duration: float
    width: int | None
    height: int | None
    audio_codec: str | None
    audio_kbps: float | None  # measured: the audio stream's bytes over its length
    size: int | None = None  # filled in by whoever hashed the file (links.make)
    sha256: str | None = None


def tolerance(expected: float) -> float:
    return max(1.0, expected * 0.01)


def verify(
    path: Path,
    expected: float | None,
    *,
    video: bool,
    audio: bool,
    max_height: int | None = None,
) -> Verified:
    """Check ``path``; raises ``media.incomplete`` with what is wrong."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        raise FerrymanError("media.incomplete", f"{path.name}: the file is empty")
    try:
        with av.open(str(path)) as inp:
            found_video, found_audio = first_streams(inp)
            _streams(path, found_video, found_audio, video=video, audio=audio)
            duration = _length(inp)
            if expected and abs(duration - expected) > tolerance(expected):
                raise FerrymanError(
                    "media.incomplete",
                    f"{path.name}: {duration:.1f} s long, the source says {expected:.1f} s",
                )
            main = found_video or found_audio
            assert main is not None
            _decodes_at(inp, main, 0.0, path, "first")
            _decodes_at(inp, main, max(duration - 1.5, 0.0), path, "last")
            width = height = None
            if found_video is not None:
                width, height = found_video.codec_context.width, found_video.codec_context.height
                short = min(width, height)
                if max_height is not None and short > max_height:
                    raise FerrymanError(
                        "media.incomplete", f"{path.name}: {short}p, more than {max_height}p"
                    )
    except av.FFmpegError as exc:
        raise FerrymanError("media.incomplete", f"{path.name}: does not play ({exc})") from exc
    codec = found_audio.codec_context.name if found_audio is not None else None
    kbps = _audio_kbps(path, duration) if found_audio is not None and found_video is None else None
    return Verified(duration, width, height, codec, kbps)


def _streams(
    path: Path,
    found_video: VideoStream | None,
    found_audio: AudioStream | None,
    *,
    video: bool,
    audio: bool,
) -> None:
    if video and found_video is None:
        raise FerrymanError("media.incomplete", f"{path.name}: no picture")
    if not video and found_video is not None:
        raise FerrymanError("media.incomplete", f"{path.name}: a picture where sound was asked")
    if audio and found_audio is None:
        raise FerrymanError("media.incomplete", f"{path.name}: no sound")
    if not audio and found_audio is not None:
        raise FerrymanError("media.incomplete", f"{path.name}: sound in a file asked mute")


def _length(inp: InputContainer) -> float:
    if inp.duration:
        return float(inp.duration / av.time_base)
    longest = 0.0
    for stream in inp.streams:
        if stream.duration and stream.time_base:
            longest = max(longest, float(stream.duration * stream.time_base))
    return longest


def _decodes_at(
    inp: InputContainer, stream: VideoStream | AudioStream, seconds: float, path: Path, which: str
) -> None:
    """A frame decodes at (or just after) ``seconds``."""
    inp.seek(int(seconds * av.time_base), backward=True, any_frame=False)
    for packet in inp.demux(stream):
        try:
            if packet.decode():
                return
        except av.InvalidDataError:
            continue
    try:
        if stream.codec_context.decode(None):  # frames the decoder still holds
            return
    except av.FFmpegError:
        pass
    raise FerrymanError("media.incomplete", f"{path.name}: its {which} second does not decode")


def _audio_kbps(path: Path, duration: float) -> float | None:
    """The sound's real bitrate, from the file's size over its length (an audio-only
    file is all sound but for a small header)."""
    if duration <= 0:
        return None
    return path.stat().st_size * 8 / duration / 1000
