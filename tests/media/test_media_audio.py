"""Audio-only fixes on real media: AAC for a copied video, and audio pulled out as MP3/M4A."""

from __future__ import annotations

import array
import math
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import pytest
from av.audio.stream import AudioStream
from av.stream import Disposition

from ferryman.errors import FerrymanError
from ferryman.media.audio import extract_audio, transcode_audio_only
from ferryman.media.ffmpeg_binary import find_ffmpeg
from ferryman.media.linkout import audio_file
from ferryman.media.plan import plan_for
from ferryman.media.probe import MP4_FAMILY, probe
from ferryman.model import MediaKind, Plan
from tests.media.test_media_probe_plan import (
    AVI_AUDIO,
    FPS,
    SIZE,
    frame_image,
    write_audio,
    write_avi,
    write_video,
)

# ---------------------------------------------------------------------------- factory


def add_tone(
    out: av.container.OutputContainer, codec: str, *, rate: int = 48_000, layout: str = "stereo"
) -> AudioStream:
    stream = out.add_stream(codec, rate=rate)
    assert isinstance(stream, AudioStream)
    stream.layout = layout
    return stream


def write_tone(
    out: av.container.OutputContainer,
    stream: AudioStream,
    freq: float,
    seconds: float = 1.0,
    start: float = 0.0,
) -> None:
    """Encode ``seconds`` of a sine of ``freq`` Hz from time ``start`` into ``stream``."""
    rate, layout = stream.codec_context.sample_rate, stream.codec_context.layout.name
    total, pts, chunk = round(seconds * rate), 0, 1024
    first = round(start * rate)
    while pts < total:
        count = min(chunk, total - pts)
        wave = array.array(
            "f", (0.3 * math.sin(2 * math.pi * freq * (pts + k) / rate) for k in range(count))
        )
        frame = av.AudioFrame(format="fltp", layout=layout, samples=count)
        for plane in frame.planes:
            plane.update(wave.tobytes())
        frame.sample_rate, frame.pts, frame.time_base = rate, first + pts, Fraction(1, rate)
        out.mux(stream.encode(frame))
        pts += count
    out.mux(stream.encode(None))


def write_tracks(path: Path, freqs: list[float], default: int | None) -> Path:
    """One second of H.264 plus an AC-3 track per frequency; only ``default`` is flagged."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        tracks = [add_tone(out, "ac3") for _ in freqs]
        for index, track in enumerate(tracks):
            track.disposition = Disposition.default if index == default else Disposition(0)
        for i in range(FPS):
            picture = _picture(i)
            picture.pts, picture.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(picture))
        out.mux(video.encode(None))
        for track, freq in zip(tracks, freqs, strict=True):
            write_tone(out, track, freq)
    return path


def _picture(index: int) -> av.VideoFrame:
    image = frame_image(index).convert("RGBA")
    return av.VideoFrame.from_bytes(image.tobytes(), *image.size, format="rgba")


def write_wav(path: Path, *, rate: int, layout: str) -> Path:
    with av.open(str(path), "w", format="wav") as out:
        write_tone(out, add_tone(out, "pcm_s16le", rate=rate, layout=layout), 440)
    return path


def write_late(path: Path, video_start: float, audio_start: float) -> Path:
    """One second of H.264 and AC-3 whose clocks start late, the audio later still."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        audio = add_tone(out, "ac3")
        first = round(video_start * FPS)
        for i in range(FPS):
            picture = _picture(i)
            picture.pts, picture.time_base = first + i, Fraction(1, FPS)
            out.mux(video.encode(picture))
        out.mux(video.encode(None))
        write_tone(out, audio, 440, start=audio_start)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("audio")
    return {
        "ac3.mkv": write_video(root / "ac3.mkv", acodec="ac3", video_options={"bf": "2"}),
        "opus.mkv": write_video(root / "opus.mkv", acodec="libopus"),
        "mp3.mp4": write_video(root / "mp3.mp4", acodec="libmp3lame"),
        "late.mkv": write_late(root / "late.mkv", video_start=2.0, audio_start=2.2),
        "aac.mp4": write_video(root / "aac.mp4", faststart=True),
        "silent.mkv": write_video(root / "silent.mkv", acodec=None),
        "default_second.mkv": write_tracks(root / "default_second.mkv", [440, 1500], 1),
        "no_default.mkv": write_tracks(root / "no_default.mkv", [440, 1500], None),
        "audio.opus": write_audio(root / "audio.opus", fmt="ogg", codec="libopus"),
        "audio.aac": write_audio(root / "audio.aac", fmt="adts", codec="aac"),
        "mono22k.wav": write_wav(root / "mono22k.wav", rate=22_050, layout="mono"),
        "stereo96k.wav": write_wav(root / "stereo96k.wav", rate=96_000, layout="stereo"),
    }


# ---------------------------------------------------------------------------- helpers


def packet_bytes(path: Path, kind: str) -> list[bytes]:
    """The payload of every packet of the first ``kind`` stream, in order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def tone_frequency(path: Path) -> float:
    """The frequency of the tone in the first audio stream, from its rising edges.

    An edge counts only once the wave has swung from below -0.1 to above +0.1, so codec
    noise around zero (and the silence of encoder padding) does not add edges.
    """
    edges, samples, low, rate = 0, 0, False, 1
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for value in array.array("f", bytes(frame.planes[0]))[: frame.samples]:
                if value < -0.1:
                    low = True
                elif value > 0.1 and low:
                    edges, low = edges + 1, False
            samples += frame.samples
            rate = frame.sample_rate
    return edges / (samples / rate)


def audio_layout(path: Path) -> tuple[str, int, int, int]:
    """Codec, channels, sample rate and number of audio streams."""
    with av.open(str(path)) as container:
        ctx = container.streams.audio[0].codec_context
        return ctx.name, ctx.channels, ctx.sample_rate, len(container.streams.audio)


def first_times(path: Path) -> tuple[float, float]:
    """When the first video frame and the first audio sample play, in seconds."""
    with av.open(str(path)) as container:
        video = next(container.decode(video=0))
    with av.open(str(path)) as container:
        audio = next(container.decode(audio=0))
    return float(video.time or 0), float(audio.time or 0)


def rising_to_one(fractions: list[float]) -> bool:
    return bool(fractions) and fractions[-1] == 1.0 and fractions == sorted(set(fractions))


# ---------------------------------------------------------------------------- transcode


@pytest.mark.parametrize("name", ["ac3.mkv", "opus.mkv", "mp3.mp4"])
def test_audio_transcode_copies_video_and_makes_aac(
    media: dict[str, Path], tmp_path: Path, name: str
) -> None:
    src, dst = media[name], tmp_path / "out.mp4"
    fractions: list[float] = []
    transcode_audio_only(src, dst, progress=fractions.append)
    assert packet_bytes(dst, "video") == packet_bytes(src, "video")
    assert audio_layout(dst) == ("aac", 2, 48_000, 1)
    info = probe(dst)
    assert info.container == MP4_FAMILY and info.faststart is True
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert plan_for(MediaKind.VIDEO, info) is Plan.AS_IS
    assert info.duration == pytest.approx(probe(src).duration, abs=0.1)
    assert tone_frequency(dst) == pytest.approx(440, rel=0.05)
    assert rising_to_one(fractions), fractions


@pytest.mark.parametrize("audio", sorted(AVI_AUDIO))
def test_avi_sound_timed_per_codec_frame_becomes_aac_of_the_same_length(
    tmp_path: Path, audio: str
) -> None:
    # AVI ticks once per AC-3 or MP3 frame; AAC's 1024-sample pieces stamped from those
    # ticks went back in time and the muxer refused them (EINVAL).
    src = write_avi(tmp_path / f"{audio}.avi", audio=audio, seconds=2.0)
    length = probe(src).duration
    video, sound = tmp_path / "out.mp4", tmp_path / "out.m4a"
    transcode_audio_only(src, video)
    extract_audio(src, sound, fmt="m4a")
    assert packet_bytes(video, "video") == packet_bytes(src, "video")
    assert audio_layout(video) == ("aac", 2, 48_000, 1)
    for out in (video, sound):
        assert probe(out).duration == pytest.approx(length, abs=0.1), out.name
        assert tone_frequency(out) == pytest.approx(440, rel=0.05), out.name


def test_audio_transcode_keeps_sync_when_the_source_starts_late(
    media: dict[str, Path], tmp_path: Path
) -> None:
    src, dst = media["late.mkv"], tmp_path / "out.mp4"
    assert first_times(src) == pytest.approx((2.0, 2.2), abs=0.01)
    transcode_audio_only(src, dst, audio_bitrate=96_000)
    video_start, audio_start = first_times(dst)
    assert video_start == pytest.approx(0, abs=0.01)  # both clocks move back by 2 s...
    assert audio_start == pytest.approx(0.2, abs=0.03)  # ...so the sound still comes later
    assert probe(dst).duration == pytest.approx(1.2, abs=0.1)
    assert packet_bytes(dst, "video") == packet_bytes(src, "video")


@pytest.mark.parametrize(("name", "freq"), [("default_second.mkv", 1500), ("no_default.mkv", 440)])
def test_audio_transcode_takes_the_default_track(
    media: dict[str, Path], tmp_path: Path, name: str, freq: int
) -> None:
    dst = tmp_path / "out.mp4"
    transcode_audio_only(media[name], dst)
    # The track a player picks comes first, the only default; the other one follows.
    assert audio_layout(dst)[3] == 2
    with av.open(str(dst)) as out:
        defaults = [bool(s.disposition & av.stream.Disposition.default) for s in out.streams.audio]
    assert defaults == [True, False]
    assert tone_frequency(dst) == pytest.approx(freq, rel=0.05)


@pytest.mark.parametrize(("name", "missing"), [("silent.mkv", "audio"), ("audio.opus", "video")])
def test_audio_transcode_needs_video_and_audio(
    media: dict[str, Path], tmp_path: Path, name: str, missing: str
) -> None:
    dst = tmp_path / "out.mp4"
    with pytest.raises(FerrymanError) as caught:
        transcode_audio_only(media[name], dst)
    assert caught.value.code == "media.convert_failed"
    assert name in caught.value.message and f"no {missing}" in caught.value.message
    assert not dst.exists()


def test_audio_transcode_refuses_garbage(tmp_path: Path) -> None:
    src, dst = tmp_path / "noise.mkv", tmp_path / "out.mp4"
    src.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(FerrymanError) as caught:
        transcode_audio_only(src, dst)
    assert caught.value.code == "media.convert_failed"
    assert not dst.exists()


# ---------------------------------------------------------------------------- extract

Format = Literal["mp3", "m4a"]
EXTRACTED = {"mp3": ("mp3", "mp3"), "m4a": ("aac", MP4_FAMILY)}  # codec, demuxer


@pytest.mark.parametrize("fmt", ["mp3", "m4a"])
@pytest.mark.parametrize("name", ["aac.mp4", "audio.opus", "ac3.mkv"])
def test_extract_audio_encodes_at_the_bitrate_asked(
    media: dict[str, Path], tmp_path: Path, name: str, fmt: Format
) -> None:
    src, dst = media[name], tmp_path / f"out.{fmt}"
    fractions: list[float] = []
    extract_audio(src, dst, fmt=fmt, bitrate=160_000, progress=fractions.append)
    codec, demuxer = EXTRACTED[fmt]
    info = probe(dst)
    assert (info.container, info.audio_codec, info.video_codec) == (demuxer, codec, None)
    assert info.duration == pytest.approx(1.0, abs=0.1)
    with av.open(str(dst)) as container:
        ctx = container.streams.audio[0].codec_context
        assert (ctx.channels, ctx.sample_rate) == (2, 48_000)
    if fmt == "m4a":
        assert info.faststart is True
    if (name, fmt) != ("aac.mp4", "m4a"):  # that one is copied: its bitrate is the source's
        assert dst.stat().st_size * 8 / (info.duration or 1) == pytest.approx(160_000, rel=0.25)
    assert tone_frequency(dst) == pytest.approx(440, rel=0.05)
    assert rising_to_one(fractions), fractions


@pytest.mark.parametrize("fmt", ["mp3", "m4a"])
def test_extract_audio_higher_bitrate_bigger_file(
    media: dict[str, Path], tmp_path: Path, fmt: Format
) -> None:
    sizes = []
    for bitrate in (64_000, 192_000):
        dst = tmp_path / f"{bitrate}.{fmt}"
        extract_audio(media["opus.mkv"], dst, fmt=fmt, bitrate=bitrate)
        sizes.append(dst.stat().st_size)
    assert sizes[1] > 2 * sizes[0]


@pytest.mark.parametrize("name", ["aac.mp4", "audio.aac"])
def test_extract_m4a_copies_aac(media: dict[str, Path], tmp_path: Path, name: str) -> None:
    dst = tmp_path / "out.m4a"
    extract_audio(media[name], dst, fmt="m4a", bitrate=32_000)
    adts = 7 if name.endswith(".aac") else 0  # MP4 keeps the frames without their ADTS header
    assert packet_bytes(dst, "audio") == [p[adts:] for p in packet_bytes(media[name], "audio")]
    info = probe(dst)
    assert (info.audio_codec, info.faststart) == ("aac", True)
    assert info.duration == pytest.approx(probe(media[name]).duration, abs=0.1)


def test_extract_mp3_keeps_mono_and_a_rate_mp3_allows(
    media: dict[str, Path], tmp_path: Path
) -> None:
    mono, high = tmp_path / "mono.mp3", tmp_path / "high.mp3"
    extract_audio(media["mono22k.wav"], mono, fmt="mp3")
    extract_audio(media["stereo96k.wav"], high, fmt="mp3")
    assert audio_layout(mono) == ("mp3float", 1, 22_050, 1)
    assert audio_layout(high) == ("mp3float", 2, 48_000, 1)
    assert probe(mono).duration == pytest.approx(1.0, abs=0.1)
    assert tone_frequency(high) == pytest.approx(440, rel=0.05)


def test_extract_audio_takes_the_default_track(media: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "out.m4a"
    extract_audio(media["default_second.mkv"], dst, fmt="m4a")
    assert tone_frequency(dst) == pytest.approx(1500, rel=0.05)


@pytest.mark.parametrize("fmt", ["mp3", "m4a"])
def test_extract_audio_without_audio_fails(
    media: dict[str, Path], tmp_path: Path, fmt: Format
) -> None:
    dst = tmp_path / f"out.{fmt}"
    with pytest.raises(FerrymanError) as caught:
        extract_audio(media["silent.mkv"], dst, fmt=fmt)
    assert caught.value.code == "media.no_audio"  # not retried: no retry makes sound
    assert "silent.mkv" in caught.value.message and "no audio" in caught.value.message
    assert not dst.exists()


def test_an_mp3_of_a_silent_video_through_ffmpeg_says_no_audio(
    media: dict[str, Path], tmp_path: Path
) -> None:
    """The ffmpeg binary's path (`links.ffmpeg`) says it as PyAV's does, not as a failed
    encode retried until its attempts run out (`add --audio mp3` of a silent video)."""
    ffmpeg = find_ffmpeg("auto")
    assert ffmpeg is not None  # the dev tools bring imageio-ffmpeg's binary
    dst = tmp_path / "out.mp3"
    with pytest.raises(FerrymanError) as caught:
        audio_file(media["silent.mkv"], dst, "mp3", 192, {}, lambda _: None, ffmpeg=ffmpeg)
    assert caught.value.code == "media.no_audio"
    assert not dst.exists()
