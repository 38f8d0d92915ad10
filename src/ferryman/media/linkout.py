"""The files the link converter delivers, made with PyAV (no ffmpeg binary).

A page's picture and sound often come as two downloads (YouTube above 360p, HLS with
separate audio renditions). ``video_file`` joins them, copying every packet when the
picture already plays everywhere (H.264 8-bit 4:2:0 no larger than asked) and the sound
is AAC; otherwise it joins them as they are into Matroska, which takes any codec, and
hands that to the existing encoders: the sound alone to AAC when the picture is fine,
else the segmented transcoder (H.264/AAC, short side scaled to the height asked).
``audio_file`` writes MP3 or Opus at the bitrate asked, or M4A with the AAC copied.
Tags (title, artist, date, comment) go into every file.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.stream import VideoStream

from ferryman.errors import FerrymanError
from ferryman.media.audio import extract_audio, main_audio, transcode_audio_only
from ferryman.media.failures import removing_on_failure
from ferryman.media.ffmpeg_binary import encode_audio
from ferryman.media.probe import first_streams
from ferryman.media.remux import MP4_OPTIONS, Timestamps
from ferryman.media.segmented import EncodeSettings, transcode_resumable

Progress = Callable[[float], None]
_EVERYWHERE_PIX = frozenset({"yuv420p", "yuvj420p"})


def video_file(
    picture: Path,
    sound: Path | None,
    dst: Path,
    work: Path,
    keep_sound: bool,
    max_height: int | None,
    tags: dict[str, str],
    progress: Progress,
    ffmpeg: str | None = None,
    *,
    crf: int = 23,
    preset: str = "veryfast",
    threads: int = 0,
    lookahead: int | None = None,
) -> None:
    """Write MP4 ``dst`` from ``picture`` (and ``sound``, a separate download, if any);
    a join that only copies goes through the ``ffmpeg`` binary when one is given. A
    transcode is made as the engine's own (``convert.crf``, ``preset``, ``threads``,
    ``lookahead``): the quality the user chose, and each frame held costs a phone memory.

    Raises ``media.convert_failed``; a partial ``dst`` is removed."""

    picture_ok, sound_codec = _facts(picture, sound, keep_sound, max_height)
    if _copies(picture_ok, sound_codec):
        if ffmpeg is not None:
            from ferryman.media.ffmpeg_binary import join_copy  # lazy: tests patch it here

            seconds = max(_length(p) for p in (picture, sound) if p is not None)
            join_copy(ffmpeg, picture, sound, dst, keep_sound, tags, seconds or None, progress)
        else:
            join(picture, sound, dst, keep_sound, tags, progress)
        return
    joined = work / "joined.mkv"
    join(picture, sound, joined, keep_sound, {}, lambda f: progress(f * 0.1), fmt="matroska")
    encoded = work / "encoded.mp4"
    if picture_ok:  # only the sound re-encoded, straight into the result, tags and all
        transcode_audio_only(joined, dst, progress=lambda f: progress(0.1 + f * 0.9), tags=tags)
        joined.unlink(missing_ok=True)
        return
    settings = EncodeSettings(
        crf=crf,
        preset=preset,
        max_height=max_height or 4320,
        threads=threads,
        lookahead=lookahead,
    )
    transcode_resumable(
        joined, encoded, work / "parts", settings, progress=lambda f: progress(0.1 + f * 0.8)
    )
    if not keep_sound:
        _drop_sound(encoded, work)
    join(encoded, None, dst, keep_sound, tags, lambda f: progress(0.9 + f * 0.1))
    for leftover in (joined, encoded):
        leftover.unlink(missing_ok=True)


def audio_file(
    src: Path,
    dst: Path,
    fmt: str,
    kbps: int | None,
    tags: dict[str, str],
    progress: Progress,
    ffmpeg: str | None = None,
) -> None:
    """Write ``dst`` as ``fmt`` (mp3, opus at ``kbps``; m4a with AAC copied) with tags;
    MP3 and Opus through the ``ffmpeg`` binary when one is given (see ffmpeg_binary)."""

    if fmt not in ("mp3", "m4a", "opus"):
        raise FerrymanError("media.convert_failed", f"no audio format {fmt}")
    if ffmpeg is not None and fmt in ("mp3", "opus"):
        with av.open(str(src)) as inp:
            if main_audio(inp) is None:  # as extract_audio says it, not ffmpeg's failure
                raise FerrymanError("media.no_audio", f"{src.name}: no audio stream")
            seconds = inp.duration / av.time_base if inp.duration else None
        encode_audio(ffmpeg, src, dst, fmt, kbps or 192, tags, seconds, progress)
        return
    extract_audio(
        src,
        dst,
        fmt=fmt,  # type: ignore[arg-type]
        bitrate=(kbps or 192) * 1000,
        progress=progress,
        tags=tags,
    )


def join(
    picture: Path,
    sound: Path | None,
    dst: Path,
    keep_sound: bool,
    tags: dict[str, str],
    progress: Progress,
    *,
    fmt: str = "mp4",
) -> None:
    """Copy the picture's video and the sound's audio (``sound`` None: the picture's own)
    into one file, interleaved by time, both moved back by one shared start."""
    with removing_on_failure(picture, dst, "join"):
        _join(picture, sound, dst, keep_sound, tags, progress, fmt)


def _join(
    picture: Path,
    sound: Path | None,
    dst: Path,
    keep_sound: bool,
    tags: dict[str, str],
    progress: Progress,
    fmt: str,
) -> None:
    with av.open(str(picture)) as first:
        video, own_audio = first_streams(first)
        if video is None:
            raise FerrymanError("media.convert_failed", f"{picture.name}: no video stream")
        second = av.open(str(sound)) if sound is not None and keep_sound else None
        try:
            audio: AudioStream | None = None
            if keep_sound:
                audio = first_streams(second)[1] if second is not None else own_audio
            inputs: list[tuple[InputContainer, VideoStream | AudioStream]] = [(first, video)]
            if audio is not None:
                inputs.append((second or first, audio))
            length = max(_seconds_of(c) for c, _ in inputs) or None
            start = min(_start_of(c, s) for c, s in inputs)
            options = MP4_OPTIONS if fmt == "mp4" else {}
            with av.open(str(dst), "w", format=fmt, options=options) as out:
                out.metadata.update(tags)
                fixers = [Timestamps(c, s, out, start=start) for c, s in inputs]
                streams = [_timed(c, inputs) for c in {id(c): c for c, _ in inputs}.values()]
                for seconds, index, packet in heapq.merge(*streams, key=lambda t: (t[0], t[1])):
                    out.mux(fixers[index].push(packet))
                    if length:
                        progress(min(seconds / length, 1.0))
                for fixer in fixers:
                    out.mux(fixer.flush())
        finally:
            if second is not None:
                second.close()
    progress(1.0)


def _timed(
    container: InputContainer, inputs: list[tuple[InputContainer, VideoStream | AudioStream]]
) -> Iterator[tuple[float, int, Packet[Stream]]]:
    """The packets of the ``inputs`` that ``container`` holds, each with its index in
    ``inputs`` and its time in seconds (a packet without one keeps its stream's last),
    for merging two files' packets in time order.

    One demux per container: two over the same file (a picture with its own sound) each
    dropped the packets the other wanted, and the join lost frames of both."""
    index = {s.index: i for i, (c, s) in enumerate(inputs) if c is container}
    last: dict[int, float] = {}
    for packet in container.demux(*(inputs[i][1] for i in index.values())):
        if packet.size == 0 or packet.stream.index not in index:
            continue
        which = index[packet.stream.index]
        ts = packet.dts if packet.dts is not None else packet.pts
        if ts is not None and packet.time_base:
            last[which] = float(ts * packet.time_base)
        yield last.get(which, 0.0), which, packet


def joins_by_copy(
    picture: Path, sound: Path | None, keep_sound: bool, max_height: int | None
) -> bool:
    """Whether ``video_file`` makes the MP4 by copying packets (nothing re-encoded): the
    picture plays everywhere at the size asked, and the sound is AAC or none."""
    return _copies(*_facts(picture, sound, keep_sound, max_height))


def _copies(picture_ok: bool, sound_codec: str | None) -> bool:
    return picture_ok and sound_codec in (None, "aac")


def _facts(
    picture: Path, sound: Path | None, keep_sound: bool, max_height: int | None
) -> tuple[bool, str | None]:
    """Whether the picture plays everywhere at the size asked, and the sound's codec."""
    with av.open(str(picture)) as inp:
        video, own = first_streams(inp)
        if video is None:
            raise FerrymanError("media.convert_failed", f"{picture.name}: no video stream")
        ctx = video.codec_context
        short = min(ctx.width or 0, ctx.height or 0)
        picture_ok = (
            ctx.name == "h264"
            and (ctx.pix_fmt or "yuv420p") in _EVERYWHERE_PIX
            and (max_height is None or short <= max_height)
        )
        codec = own.codec_context.name if own is not None else None
    if not keep_sound:
        return picture_ok, None
    if sound is not None:
        with av.open(str(sound)) as inp:
            found = first_streams(inp)[1]
            codec = found.codec_context.name if found is not None else None
    return picture_ok, codec


def _drop_sound(path: Path, work: Path) -> None:
    silent = work / "silent.mp4"
    join(path, None, silent, False, {}, lambda _f: None)
    silent.replace(path)


def _start_of(container: InputContainer, stream: VideoStream | AudioStream) -> int:
    """When the stream starts, in ``av.time_base`` units."""
    if stream.start_time is not None and stream.time_base is not None:
        return round(Fraction(stream.start_time) * stream.time_base * av.time_base)
    return container.start_time or 0


def _length(path: Path) -> float:
    with av.open(str(path)) as container:
        return _seconds_of(container)


def _seconds_of(container: InputContainer) -> float:
    return container.duration / av.time_base if container.duration else 0.0
