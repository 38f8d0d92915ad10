"""Probe and plan against real media written here with PyAV and Pillow.

This module also holds the small media factory the other media tests import
(``write_video``, ``write_audio``, ``write_image``, ``media_dir``).
"""

from __future__ import annotations

import array
import math
import struct
import zlib
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image, ImageDraw

from ferryman.errors import FerrymanError
from ferryman.media.plan import VIDEO_RULES, explain, over_limit, plan_for
from ferryman.media.policy import (
    LIBRARY,
    LIBRARY_PLAYABLE,
    MIB,
    TELEGRAM,
    TELEGRAM_BOT_API,
    TELEGRAM_PREMIUM,
)
from ferryman.media.probe import MP4_FAMILY, probe, probe_image
from ferryman.model import MediaInfo, MediaKind, Plan
from tests.support.once import built_once

SIZE = (160, 120)
FPS = 25
_QUIET = {"libx265": {"x265-params": "log-level=error"}}

# ---------------------------------------------------------------------------- factory


def frame_image(index: int, size: tuple[int, int] = SIZE) -> Image.Image:
    """A frame whose red level encodes ``index`` (10 per frame), so order can be checked."""
    width, height = size
    image = Image.new("RGB", size, ((index * 10) % 256, 60, 120))
    x = (index * 3) % width
    ImageDraw.Draw(image).rectangle((x, height // 4, x + width // 8, height // 2), fill="yellow")
    return image


def write_video(
    path: Path,
    *,
    fmt: str | None = None,
    vcodec: str = "libx264",
    pix_fmt: str = "yuv420p",
    acodec: str | None = "aac",
    size: tuple[int, int] = SIZE,
    seconds: float = 1.0,
    faststart: bool = False,
    rotation: int = 0,
    video_options: dict[str, str] | None = None,
) -> Path:
    """A real clip: moving frames plus (optionally) a sine tone."""
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        stream = out.add_stream(
            vcodec, rate=FPS, options={**_QUIET.get(vcodec, {}), **(video_options or {})}
        )
        stream.width, stream.height = size
        stream.pix_fmt = pix_fmt
        if rotation:
            stream.set_display_rotation(rotation)
        sound = _add_audio(out, acodec) if acodec else None
        for i in range(round(seconds * FPS)):
            frame = av.VideoFrame.from_image(frame_image(i, size))
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if sound is not None:
            _write_tone(out, sound, seconds)
    return path


# AVI's usual sound, as ``write_avi`` names it: (encoder, options). The MP3 is VBR
# (LAME quality 4), so its packets differ in size the way real rips' do.
AVI_AUDIO = {
    "ac3": ("ac3", {}),
    "mp3": ("libmp3lame", {"flags": "+qscale", "global_quality": str(4 * 118)}),
    "pcm": ("pcm_s16le", {}),
}


def write_avi(path: Path, *, audio: str, seconds: float = 3.0) -> Path:
    """An AVI as old rips are: MPEG-4 Part 2 with B-frames (a keyframe each second) and
    48 kHz stereo ``AVI_AUDIO``.

    AVI times AC-3 and MP3 in one tick per codec frame (1536 or 1152 samples), not
    per sample: that is what an encoder re-cutting frames must cope with.
    """
    codec, options = AVI_AUDIO[audio]
    with av.open(str(path), "w", format="avi") as out:
        every_second = {"bf": "2", "g": str(FPS), "sc_threshold": "1000000000"}
        stream = out.add_stream("mpeg4", rate=FPS, options=every_second)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        sound = out.add_stream(codec, rate=48_000, options=options)
        assert isinstance(sound, av.audio.stream.AudioStream)
        sound.layout = "stereo"
        for i in range(round(seconds * FPS)):
            frame = av.VideoFrame.from_image(frame_image(i))
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        _write_tone(out, sound, seconds)
    return path


def write_audio(
    path: Path, *, fmt: str, codec: str, seconds: float = 1.0, faststart: bool = False
) -> Path:
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        _write_tone(out, _add_audio(out, codec), seconds)
    return path


def _add_audio(out: av.container.OutputContainer, codec: str) -> av.audio.stream.AudioStream:
    stream = out.add_stream(codec, rate=44_100 if codec == "libmp3lame" else 48_000)
    assert isinstance(stream, av.audio.stream.AudioStream)
    stream.layout = "stereo"
    return stream


def _write_tone(
    out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float
) -> None:
    rate = stream.codec_context.sample_rate
    total, pts, chunk = round(seconds * rate), 0, 1024
    while pts < total:
        count = min(chunk, total - pts)
        samples = array.array(
            "f", (0.2 * math.sin(2 * math.pi * 440 * (pts + k) / rate) for k in range(count))
        )
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=count)
        for plane in frame.planes:
            plane.update(samples.tobytes())
        frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
        out.mux(stream.encode(frame))
        pts += count
    out.mux(stream.encode(None))


def write_image(path: Path, *, frames: int = 1, exif_orientation: int | None = None) -> Path:
    """An image in the format its suffix names; ``frames`` > 1 makes an animation."""
    images = [frame_image(i) for i in range(frames)]
    extra: dict[str, object] = {}
    if frames > 1:
        extra = {"save_all": True, "append_images": images[1:], "duration": 100, "loop": 0}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        extra["exif"] = exif
    images[0].save(path, **extra)
    return path


def huge_png(path: Path, side: int = 30_000) -> Path:
    """A PNG whose header claims side x side pixels (a decompression bomb), in 60 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def build_media(root: Path) -> dict[str, Path]:
    """Every sample the media tests share, written once per test module."""
    v = {
        "h264.mp4": write_video(root / "h264.mp4"),
        "h264_fast.mp4": write_video(root / "h264_fast.mp4", faststart=True),
        "silent_fast.mp4": write_video(root / "silent_fast.mp4", acodec=None, faststart=True),
        "rotated.mp4": write_video(root / "rotated.mp4", rotation=90, faststart=True),
        "h264.mkv": write_video(root / "h264.mkv", video_options={"bf": "2"}),
        "h264.ts": write_video(root / "h264.ts", fmt="mpegts"),
        "h264.mov": write_video(root / "h264.mov", fmt="mov", faststart=True),
        "h264_mp3.mkv": write_video(root / "h264_mp3.mkv", acodec="libmp3lame"),
        "h264_444.mp4": write_video(root / "h264_444.mp4", pix_fmt="yuv444p", faststart=True),
        "h264_10bit.mp4": write_video(
            root / "h264_10bit.mp4", pix_fmt="yuv420p10le", faststart=True
        ),
        "hevc.mkv": write_video(root / "hevc.mkv", vcodec="libx265"),
        "mpeg4.avi": write_video(root / "mpeg4.avi", vcodec="mpeg4", acodec="libmp3lame"),
        "h264.avi": write_video(root / "h264.avi", fmt="avi", acodec=None),
        "audio.mp3": write_audio(root / "audio.mp3", fmt="mp3", codec="libmp3lame"),
        "audio.m4a": write_audio(root / "audio.m4a", fmt="ipod", codec="aac"),
        "audio.aac": write_audio(root / "audio.aac", fmt="adts", codec="aac"),
        "audio.flac": write_audio(root / "audio.flac", fmt="flac", codec="flac"),
        "audio.wav": write_audio(root / "audio.wav", fmt="wav", codec="pcm_s16le"),
        "audio.opus": write_audio(root / "audio.opus", fmt="ogg", codec="libopus"),
    }
    images = {
        "photo.jpg": write_image(root / "photo.jpg"),
        "rotated.jpg": write_image(root / "rotated.jpg", exif_orientation=6),
        "photo.png": write_image(root / "photo.png"),
        "still.gif": write_image(root / "still.gif"),
        "anim.gif": write_image(root / "anim.gif", frames=3),
        "still.webp": write_image(root / "still.webp"),
        "anim.webp": write_image(root / "anim.webp", frames=3),
        "photo.bmp": write_image(root / "photo.bmp"),
        "photo.tiff": write_image(root / "photo.tiff"),
        "photo.avif": write_image(root / "photo.avif"),
    }
    text = root / "text.mp4"
    text.write_text("not a video, just text\n")
    truncated = root / "truncated.mp4"  # moov at the end, so the cut removes the index
    truncated.write_bytes(v["h264.mp4"].read_bytes()[:6000])
    cut_fast = root / "truncated_fast.mp4"  # index intact, media data cut
    cut_fast.write_bytes(v["h264_fast.mp4"].read_bytes()[:6000])
    noise = root / "noise.mp4"
    noise.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(5000)))
    return {**v, **images, "text.mp4": text, "truncated.mp4": truncated,
            "truncated_fast.mp4": cut_fast, "noise.mp4": noise}  # fmt: skip


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return built_once(tmp_path_factory, "probe-media", build_media)  # one per run


# ---------------------------------------------------------------------------- probe

# name: (video codec, pix_fmt, audio codec, faststart, plan)
VIDEOS: dict[str, tuple[str, str, str | None, bool | None, Plan]] = {
    "h264.mp4": ("h264", "yuv420p", "aac", False, Plan.REMUX),
    "h264_fast.mp4": ("h264", "yuv420p", "aac", True, Plan.AS_IS),
    "silent_fast.mp4": ("h264", "yuv420p", None, True, Plan.AS_IS),
    "rotated.mp4": ("h264", "yuv420p", "aac", True, Plan.AS_IS),
    "h264.mkv": ("h264", "yuv420p", "aac", None, Plan.REMUX),
    "h264.ts": ("h264", "yuv420p", "aac", None, Plan.REMUX),
    "h264.mov": ("h264", "yuv420p", "aac", True, Plan.REMUX),  # QuickTime brand: not MP4
    "h264.avi": ("h264", "yuv420p", None, None, Plan.REMUX),
    "h264_mp3.mkv": ("h264", "yuv420p", "mp3", None, Plan.AUDIO),
    "h264_444.mp4": ("h264", "yuv444p", "aac", True, Plan.TRANSCODE),
    "h264_10bit.mp4": ("h264", "yuv420p10le", "aac", True, Plan.TRANSCODE),
    "hevc.mkv": ("hevc", "yuv420p", "aac", None, Plan.TRANSCODE),
    "mpeg4.avi": ("mpeg4", "yuv420p", "mp3", None, Plan.TRANSCODE),
}
CONTAINERS = {
    ".mp4": MP4_FAMILY,
    ".mkv": "matroska,webm",
    ".ts": "mpegts",
    ".avi": "avi",
    ".mov": "mov",
}


@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_probe_video(media: dict[str, Path], name: str) -> None:
    vcodec, pix_fmt, acodec, faststart, plan = VIDEOS[name]
    info = probe(media[name])
    assert info.container == CONTAINERS[media[name].suffix]
    assert (info.video_codec, info.pix_fmt, info.audio_codec) == (vcodec, pix_fmt, acodec)
    assert info.faststart is faststart
    expected_size = (120, 160) if name == "rotated.mp4" else SIZE
    assert (info.width, info.height) == expected_size
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert info.frame_rate == pytest.approx(FPS)
    assert plan_for(MediaKind.VIDEO, info) is plan


@pytest.mark.parametrize(
    ("name", "codec"),
    [("audio.mp3", "mp3"), ("audio.m4a", "aac"), ("audio.flac", "flac"), ("audio.opus", "opus")],
)
def test_probe_audio(media: dict[str, Path], name: str, codec: str) -> None:
    info = probe(media[name])
    assert (info.audio_codec, info.video_codec, info.width) == (codec, None, None)
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert plan_for(MediaKind.AUDIO, info) is Plan.AS_IS


@pytest.mark.parametrize(
    ("name", "frames"),
    [("anim.gif", 2), ("still.gif", 1), ("anim.webp", 2), ("still.webp", 1)],
)
def test_probe_counts_animation_frames_up_to_two(
    media: dict[str, Path], name: str, frames: int
) -> None:
    info = probe(media[name])
    assert (info.width, info.height, info.frames) == (*SIZE, frames)


@pytest.mark.parametrize("name", ["text.mp4", "truncated.mp4", "truncated_fast.mp4", "noise.mp4"])
def test_probe_refuses_broken_files(media: dict[str, Path], name: str) -> None:
    with pytest.raises(FerrymanError) as caught:
        probe(media[name])
    assert caught.value.code == "media.unreadable"
    assert name in caught.value.message


@pytest.mark.parametrize(
    ("name", "size", "frames"),
    [
        ("photo.jpg", SIZE, 1),
        ("rotated.jpg", (120, 160), 1),  # EXIF orientation 6: shown turned by 90 degrees
        ("photo.png", SIZE, 1),
        ("still.gif", SIZE, 1),
        ("anim.gif", SIZE, 2),
        ("anim.webp", SIZE, 2),
        ("photo.bmp", SIZE, 1),
        ("photo.tiff", SIZE, 1),
        ("photo.avif", SIZE, 1),
    ],
)
def test_probe_image(media: dict[str, Path], name: str, size: tuple[int, int], frames: int) -> None:
    info = probe_image(media[name])
    assert ((info.width, info.height), info.frames) == (size, frames)
    # Read from the bytes staging kept, the same is learned, and the file is not opened.
    kept = media[name].read_bytes()
    assert probe_image(Path("/nonexistent") / name, kept) == info


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png"])
def test_probe_image_refuses_a_truncated_image(
    media: dict[str, Path], tmp_path: Path, name: str
) -> None:
    cut = tmp_path / name
    data = media[name].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    for kept in (None, cut.read_bytes()):  # from the file, and from staging's bytes
        with pytest.raises(FerrymanError) as caught:
            probe_image(cut, kept)
        assert caught.value.code == "media.unreadable"


@pytest.mark.parametrize("name", ["text.mp4", "noise.mp4"])
def test_probe_image_refuses_non_images(media: dict[str, Path], name: str) -> None:
    with pytest.raises(FerrymanError) as caught:
        probe_image(media[name])
    assert caught.value.code == "media.unreadable"


def test_probe_image_turns_a_decompression_bomb_into_an_error(tmp_path: Path) -> None:
    with pytest.raises(FerrymanError) as caught:
        probe_image(huge_png(tmp_path / "bomb.png"))
    assert caught.value.code == "media.too_many_pixels"
    assert "pixels" in caught.value.message


# ---------------------------------------------------------------------------- plan


@pytest.mark.parametrize(
    ("kind", "plan"),
    [
        (MediaKind.ANIMATION, Plan.ANIMATION),
        (MediaKind.AUDIO, Plan.AS_IS),
        (MediaKind.DOCUMENT, Plan.DOCUMENT),
        (MediaKind.ARCHIVE, Plan.DOCUMENT),
        (MediaKind.OTHER, Plan.DOCUMENT),
    ],
)
def test_plan_for_kinds_that_need_no_probe(kind: MediaKind, plan: Plan) -> None:
    assert plan_for(kind, None) is plan
    assert plan_for(kind, MediaInfo(video_codec="hevc")) is plan


def test_plan_for_video_edge_cases() -> None:
    assert plan_for(MediaKind.VIDEO, None) is Plan.TRANSCODE
    audio_only = MediaInfo(container=MP4_FAMILY, audio_codec="aac", faststart=True)
    assert plan_for(MediaKind.VIDEO, audio_only) is Plan.DOCUMENT


GOOD_VIDEO = MediaInfo(
    container=MP4_FAMILY,
    video_codec="h264",
    pix_fmt="yuv420p",
    audio_codec="aac",
    faststart=True,
    width=1280,
    height=720,
)


def test_explain_names_every_missed_rule_and_takes_the_costliest_fix() -> None:
    info = replace(GOOD_VIDEO, container="matroska,webm", video_codec="hevc", faststart=None)
    plan, reason = explain(MediaKind.VIDEO, info)
    assert plan is Plan.TRANSCODE
    assert reason == "video_codec=hevc, container=matroska,webm"
    assert explain(MediaKind.VIDEO, GOOD_VIDEO) == (Plan.AS_IS, None)
    assert {rule.name for rule in VIDEO_RULES} <= set(MediaInfo.__slots__) | {"even_dimensions"}


@pytest.mark.parametrize(
    ("change", "plan", "reason"),
    [
        ({"faststart": False}, Plan.REMUX, "faststart=False"),
        ({"audio_codec": "ac3"}, Plan.AUDIO, "audio_codec=ac3"),
        ({"audio_codec": "opus", "faststart": False}, Plan.AUDIO,
         "audio_codec=opus, faststart=False"),
        ({"audio_codec": None}, Plan.AS_IS, None),
        ({"width": 161}, Plan.TRANSCODE, "size=161x720"),
        ({"pix_fmt": "yuv420p10le", "audio_codec": "ac3"}, Plan.TRANSCODE,
         "pix_fmt=yuv420p10le, audio_codec=ac3"),
    ],
)  # fmt: skip
def test_the_cheapest_fix_wins(change: dict[str, object], plan: Plan, reason: str | None) -> None:
    assert explain(MediaKind.VIDEO, replace(GOOD_VIDEO, **change)) == (plan, reason)


GOOD_PHOTO = MediaInfo(container="jpeg", width=4000, height=3000, size=3_000_000, image_mode="RGB")


@pytest.mark.parametrize(
    ("change", "plan", "reason"),
    [
        ({}, Plan.AS_IS, None),
        ({"container": "png", "image_mode": "P"}, Plan.AS_IS, None),
        ({"container": "heif"}, Plan.IMAGE, "format=HEIF"),
        ({"size": 12_000_000}, Plan.IMAGE, "size=12000000>10000000"),
        ({"width": 12000, "height": 800}, Plan.IMAGE, "width+height=12800>10000"),
        ({"width": 3000, "height": 100}, Plan.DOCUMENT, "aspect=30.0>20"),
        ({"rotation": 270}, Plan.IMAGE, "exif_rotation=270"),
        ({"image_mode": "CMYK"}, Plan.IMAGE, "mode=CMYK"),
        ({"container": "png", "image_mode": "RGBA"}, Plan.IMAGE, "alpha=RGBA"),
        ({"container": "png", "image_mode": "I;16"}, Plan.IMAGE, "mode=I;16"),
    ],
)
def test_photo_plans_follow_telegrams_limits(
    change: dict[str, object], plan: Plan, reason: str | None
) -> None:
    assert explain(MediaKind.PHOTO, replace(GOOD_PHOTO, **change)) == (plan, reason)


def test_the_library_keeps_big_rotated_photos_and_heic_and_converts_heic_when_asked() -> None:
    big = replace(GOOD_PHOTO, width=12000, height=800, size=30_000_000, rotation=90)
    heic = replace(GOOD_PHOTO, container="heif", image_mode="RGBA", bit_depth=10)
    for policy in (LIBRARY, LIBRARY_PLAYABLE):
        assert explain(MediaKind.PHOTO, big, policy) == (Plan.AS_IS, None)
        assert explain(MediaKind.PHOTO, None, policy)[0] is Plan.DOCUMENT
    assert explain(MediaKind.PHOTO, heic, LIBRARY) == (Plan.AS_IS, None)
    assert explain(MediaKind.PHOTO, heic, LIBRARY_PLAYABLE)[0] is Plan.IMAGE


def test_the_library_keeps_videos_media_servers_play_and_remuxes_the_rest() -> None:
    hevc = replace(
        GOOD_VIDEO, video_codec="hevc", pix_fmt="yuv420p10le", bit_depth=10, width=3840,
        height=2160, audio_codec="opus", container="matroska,webm", faststart=None,
    )  # fmt: skip
    assert explain(MediaKind.VIDEO, hevc, LIBRARY) == (Plan.AS_IS, None)
    assert explain(MediaKind.VIDEO, hevc, LIBRARY_PLAYABLE)[0] is Plan.TRANSCODE
    late = replace(hevc, container=MP4_FAMILY, faststart=False)
    # Issue 79: an original byte for byte, its index where its maker put it (a server
    # reads the file from its disk); an iPhone's or a camera's MOV likewise.
    assert explain(MediaKind.VIDEO, late, LIBRARY) == (Plan.AS_IS, None)
    assert explain(MediaKind.VIDEO, replace(late, container="mov"), LIBRARY) == (Plan.AS_IS, None)
    assert explain(MediaKind.VIDEO, late, LIBRARY_PLAYABLE)[0] is Plan.TRANSCODE
    odd = replace(hevc, container="nut")  # a container no media server opens
    assert explain(MediaKind.VIDEO, odd, LIBRARY)[0] is Plan.REMUX
    assert explain(MediaKind.ANIMATION, None, LIBRARY) == (Plan.AS_IS, None)
    assert explain(MediaKind.ANIMATION, None, LIBRARY_PLAYABLE)[0] is Plan.ANIMATION


def test_over_limit_follows_the_policy() -> None:
    assert over_limit(2000 * MIB + 1, TELEGRAM)
    assert not over_limit(2000 * MIB, TELEGRAM)
    assert not over_limit(2000 * MIB + 1, TELEGRAM_PREMIUM)
    assert over_limit(50_000_001, TELEGRAM_BOT_API)
    assert not over_limit(10**12, LIBRARY)


def test_a_tiff_with_thumbnail_pages_is_a_photo_not_an_animation(tmp_path: Path) -> None:
    # A camera's or scanner's TIFF keeps reduced previews as later pages: it became a
    # 0.2-second "animation" MP4 instead of a photo.
    picture = Image.new("RGB", (400, 300), "red")
    with_thumb = tmp_path / "camera.tif"
    picture.save(with_thumb, save_all=True, append_images=[picture.resize((80, 60))])
    info = probe_image(with_thumb)
    assert (info.frames, info.width, info.height) == (1, 400, 300)
    assert probe_image(with_thumb).pages is None  # its thumbnail is no page to deliver


def test_a_tiff_of_pages_of_one_size_is_pages_not_an_animation(tmp_path: Path) -> None:
    # A scan's or a fax's pages, all of one size, became a 0.3-second MP4: a TIFF has
    # no frame durations, it is never an animation.
    pages = [Image.new("RGB", (400, 300), colour) for colour in ("red", "green", "blue")]
    scan = tmp_path / "scan.tif"
    pages[0].save(scan, save_all=True, append_images=pages[1:])
    info = probe_image(scan)
    assert (info.frames, info.pages, info.width, info.height) == (1, 3, 400, 300)
    single = tmp_path / "single.tif"
    pages[0].save(single)
    assert probe_image(single).pages is None
