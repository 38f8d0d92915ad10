"""Thumbnails and video attributes, from real clips written here with PyAV and Pillow."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from ferryman.errors import FerrymanError
from ferryman.media.policy import ThumbLimits
from ferryman.media.probe import probe
from ferryman.media.thumbnail import Thumbnail, make_thumbnail, video_attributes
from ferryman.model import MediaInfo
from tests.media.test_media_probe_plan import FPS, SIZE, write_audio, write_video
from tests.support.once import built_once

LIMITS = ThumbLimits()
CONTENT_FRAMES = 3 * FPS  # the content clips last 3 s: long enough to be sampled by seeking
BAR_STEP = 2  # pixels the white bar moves per frame, so a frame's content tells its time


def content(index: int, size: tuple[int, int] = SIZE) -> Image.Image:
    """A colourful, detailed frame: a grid of coloured blocks and a bar at ``2 * index``."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 10):
        for x in range(0, width, 10):
            fill = ((x * 37 + y * 91) % 256, (x * 53 + y * 17) % 256, (x * 11 + y * 71) % 256)
            draw.rectangle((x, y, x + 9, y + 9), fill=fill)
    bar = (BAR_STEP * index) % width
    draw.rectangle((bar, 0, bar + 3, height), fill="white")
    return image


def fade_in(index: int) -> Image.Image:
    """1 s of black, a short fade, then content: what most phone clips start with."""
    if index < FPS:
        return Image.new("RGB", SIZE)
    level = min(1.0, (index - FPS) / 10)
    return Image.eval(content(index), lambda v: round(v * level))


def write_frames(
    path: Path,
    make: Callable[[int], Image.Image],
    count: int,
    *,
    fmt: str | None = None,
    rate: int = FPS,
    rotation: int = 0,
    pix_fmt: str = "yuv420p",
    sar: Fraction | None = None,
    options: dict[str, str] | None = None,
    start: int = 0,
) -> Path:
    """A silent H.264 clip whose frame ``i`` is ``make(i)``, shown at ``start + i`` frames.

    The factory's clips only move a box; these say which frame they are.
    """
    size = make(0).size
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=rate, options=options or {})
        stream.width, stream.height = size
        stream.pix_fmt = pix_fmt
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = sar
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(count):
            frame = av.VideoFrame.from_image(make(i))
            frame.pts, frame.time_base = start + i, Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def noise(index: int) -> Image.Image:
    """Colour noise: the worst case for JPEG size."""
    return Image.merge("RGB", [Image.effect_noise((1280, 720), 80) for _ in range(3)])


def grey(index: int) -> Image.Image:
    """Flat frames getting lighter: every one is dark or flat, the last is the brightest."""
    return Image.new("RGB", SIZE, (index, index, index))


def quadrant(index: int) -> Image.Image:
    """Blue with a red top-left quadrant, plus a little texture so it scores as content."""
    image = Image.new("RGB", SIZE, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, SIZE[0] // 2, SIZE[1] // 2))
    draw = ImageDraw.Draw(image)
    for x in range(0, SIZE[0], 16):
        draw.line((x, SIZE[1] // 2 + 4, x + 8, SIZE[1] - 4), fill="white")
    return image


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return built_once(tmp_path_factory, "thumbnail-clips", _make_clips)  # one per run


def _make_clips(root: Path) -> dict[str, Path]:
    text = root / "text.mp4"
    text.write_text("not a video, just text\n")
    quiet = {"preset": "ultrafast"}
    return {
        "fade.mp4": write_frames(root / "fade.mp4", fade_in, CONTENT_FRAMES),
        "content.mkv": write_frames(
            root / "content.mkv", content, CONTENT_FRAMES, options={"bf": "2"}
        ),
        "content.ts": write_frames(
            root / "content.ts", content, CONTENT_FRAMES, fmt="mpegts", start=10 * FPS
        ),
        "black.mp4": write_frames(root / "black.mp4", lambda i: Image.new("RGB", SIZE), FPS),
        "grey.mp4": write_frames(root / "grey.mp4", grey, FPS),
        "noise.mp4": write_frames(root / "noise.mp4", noise, 5, rate=5, options=quiet),
        "one.mp4": write_frames(root / "one.mp4", content, 1),
        "odd.mp4": write_frames(
            root / "odd.mp4", lambda i: content(i, (161, 121)), FPS, pix_fmt="yuv444p"
        ),
        "sar.mp4": write_frames(root / "sar.mp4", content, FPS, sar=Fraction(2, 1)),
        "factory.mkv": write_video(root / "factory.mkv"),
        "factory.ts": write_video(root / "factory.ts", fmt="mpegts"),
        "fast.mp4": write_video(root / "fast.mp4", faststart=True, seconds=2.0),
        "slow.mp4": write_video(root / "slow.mp4"),
        "rotated.mp4": write_video(root / "rotated.mp4", rotation=90, faststart=True),
        "audio.mp3": write_audio(root / "audio.mp3", fmt="mp3", codec="libmp3lame"),
        "text.mp4": text,
    }


def thumb(
    clips: dict[str, Path], name: str, tmp_path: Path, limits: ThumbLimits = LIMITS
) -> Thumbnail:
    result = make_thumbnail(clips[name], tmp_path / "thumb.jpg", limits)
    check_jpeg(result, limits)
    return result


def check_jpeg(result: Thumbnail, limits: ThumbLimits) -> None:
    """What every thumbnail must be: the JPEG it claims, within the limits."""
    data = result.path.read_bytes()
    assert data[:3] == b"\xff\xd8\xff"
    assert len(data) == result.size <= limits.max_bytes
    with Image.open(result.path) as image:
        assert (image.format, image.mode) == ("JPEG", "RGB")
        assert image.size == (result.width, result.height)
    assert max(result.width, result.height) <= limits.max_side


def luma(path: Path) -> ImageStat.Stat:
    with Image.open(path) as image:
        return ImageStat.Stat(image.convert("L"))


def matching_frame(path: Path, make: Callable[[int], Image.Image], count: int) -> int:
    """The index of the source frame the thumbnail looks most like."""
    with Image.open(path) as image:
        shot = image.convert("RGB")

    def distance(index: int) -> float:
        diff = ImageChops.difference(shot, make(index).resize(shot.size))
        return sum(ImageStat.Stat(diff).mean)

    return min(range(count), key=distance)


# ---------------------------------------------------------------------------- choosing the frame


def test_fade_in_gives_a_content_frame_not_the_black_start(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    result = thumb(clips, "fade.mp4", tmp_path)
    assert luma(result.path).mean[0] > 60  # the content's mean luma is ~110, black is 0
    assert result.at_seconds > 1.4  # past the black second and the fade after it
    shown = matching_frame(result.path, fade_in, CONTENT_FRAMES)
    assert shown >= FPS + 10  # a full-brightness content frame...
    assert abs(shown - result.at_seconds * FPS) <= 2  # ...and the one at_seconds names


@pytest.mark.parametrize("name", ["content.mkv", "content.ts"])
def test_at_seconds_names_the_frame_shown(
    clips: dict[str, Path], name: str, tmp_path: Path
) -> None:
    """Seeking counts from the stream's start: this TS starts at 10 s, not at 0."""
    if name.endswith(".ts"):
        with av.open(str(clips[name])) as container:
            assert container.start_time / av.time_base == pytest.approx(10, abs=0.5)
    result = thumb(clips, name, tmp_path)
    assert 0.25 < result.at_seconds < 3.0
    shown = matching_frame(result.path, content, CONTENT_FRAMES)
    assert abs(shown - result.at_seconds * FPS) <= 2
    assert (result.width, result.height) == SIZE


def test_the_thumbnail_decodes_on_slice_threads_not_a_frame_each_core(
    clips: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frame threads hold frames of their own, one thread a core: a 4K clip's thumbnail
    took 356 MiB on an 8-core phone's 9 threads against 156 MiB on slices (the decoder's
    own default); a few frames after each seek gain nothing from frame threads."""
    from ferryman.media import thumbnail

    seen: list[av.codec.context.ThreadType] = []
    opened = thumbnail._video_stream

    def spy(container: Any, src: Path) -> Any:
        stream = opened(container, src)
        seen.append(stream.thread_type)
        return stream

    monkeypatch.setattr(thumbnail, "_video_stream", spy)
    thumb(clips, "content.mkv", tmp_path)
    assert seen and all(t == av.codec.context.ThreadType.SLICE for t in seen), seen


def test_all_black_clip_still_gets_a_thumbnail(clips: dict[str, Path], tmp_path: Path) -> None:
    result = thumb(clips, "black.mp4", tmp_path)
    assert (result.width, result.height) == SIZE
    assert luma(result.path).mean[0] < 16  # honest: the clip has nothing brighter
    assert 0 <= result.at_seconds < 1.0


def test_dark_or_flat_everywhere_takes_the_brightest(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    result = thumb(clips, "grey.mp4", tmp_path)
    assert result.at_seconds == pytest.approx((FPS - 1) / FPS)
    assert luma(result.path).mean[0] == pytest.approx(FPS - 1, abs=3)


# ---------------------------------------------------------------------------- geometry


def test_rotated_clip_gives_a_portrait_thumbnail(clips: dict[str, Path], tmp_path: Path) -> None:
    result = thumb(clips, "rotated.mp4", tmp_path)
    assert (result.width, result.height) == (SIZE[1], SIZE[0])


# set_display_rotation(d) stores d counter-clockwise and frame.rotation reads d back (180
# reads as -180). A player (checked against the ffmpeg CLI, which autorotates) shows a clip
# tagged 90 turned 90 degrees counter-clockwise: the stored top-left corner lands at the
# bottom left; -90 turns it clockwise, to the top right.
@pytest.mark.parametrize(
    ("rotation", "read_back", "corner", "size"),
    [
        (90, 90, "bottom_left", (120, 160)),
        (-90, -90, "top_right", (120, 160)),
        (180, -180, "bottom_right", (160, 120)),
    ],
)
def test_rotation_turns_the_content_upright(
    tmp_path: Path, rotation: int, read_back: int, corner: str, size: tuple[int, int]
) -> None:
    clip = write_frames(tmp_path / "quadrant.mp4", quadrant, 3, rotation=rotation)
    with av.open(str(clip)) as container:
        assert next(container.decode(video=0)).rotation == read_back
    result = make_thumbnail(clip, tmp_path / "thumb.jpg", LIMITS)
    assert (result.width, result.height) == size
    width, height = size
    corners = {
        "top_left": (4, 4),
        "top_right": (width - 5, 4),
        "bottom_left": (4, height - 5),
        "bottom_right": (width - 5, height - 5),
    }
    with Image.open(result.path) as image:
        rgb = image.convert("RGB")
        red = {name for name, xy in corners.items() if rgb.getpixel(xy)[0] > 200}  # type: ignore[index]
    assert red == {corner}


def test_non_square_pixels_are_stretched(clips: dict[str, Path], tmp_path: Path) -> None:
    """160x120 stored with 2:1 pixels displays as 320x120."""
    result = thumb(clips, "sar.mp4", tmp_path)
    assert (result.width, result.height) == (320, 120)


def test_big_noisy_clip_is_scaled_and_fits(clips: dict[str, Path], tmp_path: Path) -> None:
    result = thumb(clips, "noise.mp4", tmp_path)
    assert (result.width, result.height) == (320, 180)
    assert 5_000 < result.size <= 200_000  # at quality 90: the tight limits below must work


def test_tight_byte_limit_lowers_quality(clips: dict[str, Path], tmp_path: Path) -> None:
    result = thumb(clips, "noise.mp4", tmp_path, ThumbLimits(max_side=320, max_bytes=5_000))
    assert result.size <= 5_000
    assert (result.width, result.height) == (320, 180)


def test_tighter_byte_limit_also_shrinks(clips: dict[str, Path], tmp_path: Path) -> None:
    result = thumb(clips, "noise.mp4", tmp_path, ThumbLimits(max_side=320, max_bytes=1_500))
    assert result.size <= 1_500
    assert result.width < 320  # quality 30 at 320x180 takes ~3 kB of this noise
    assert result.width * 9 == pytest.approx(result.height * 16, abs=16)  # still 16:9


def test_impossible_byte_limit_is_over_limit(clips: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "thumb.jpg"
    with pytest.raises(FerrymanError) as caught:
        make_thumbnail(clips["noise.mp4"], dst, ThumbLimits(max_bytes=100))  # < any JPEG
    assert caught.value.code == "media.over_limit"
    assert not dst.exists()


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("one.mp4", SIZE),
        ("odd.mp4", (161, 121)),
        ("factory.mkv", SIZE),
        ("factory.ts", SIZE),
    ],
)
def test_small_odd_and_other_containers(
    clips: dict[str, Path], tmp_path: Path, name: str, size: tuple[int, int]
) -> None:
    result = thumb(clips, name, tmp_path)
    assert (result.width, result.height) == size
    assert luma(result.path).stddev[0] > 8  # real content, not a blank frame
    assert 0 <= result.at_seconds < 1.0


@pytest.mark.parametrize("name", ["audio.mp3", "text.mp4"])
def test_no_video_is_unreadable(clips: dict[str, Path], tmp_path: Path, name: str) -> None:
    dst = tmp_path / "thumb.jpg"
    with pytest.raises(FerrymanError) as caught:
        make_thumbnail(clips[name], dst, LIMITS)
    assert caught.value.code == "media.unreadable"
    assert name in caught.value.message
    assert not dst.exists()


def test_stale_dst_is_removed_on_failure(clips: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "thumb.jpg"
    dst.write_bytes(b"half a jpeg")
    with pytest.raises(FerrymanError):
        make_thumbnail(clips["audio.mp3"], dst, LIMITS)
    assert not dst.exists()


# ---------------------------------------------------------------------------- attributes


def test_attributes_of_a_faststart_mp4(clips: dict[str, Path]) -> None:
    attrs = video_attributes(probe(clips["fast.mp4"]))
    assert attrs.supports_streaming is True
    assert attrs.duration == pytest.approx(2.0, abs=0.1)
    assert (attrs.width, attrs.height) == SIZE


def test_attributes_of_a_rotated_mp4_are_as_displayed(clips: dict[str, Path]) -> None:
    attrs = video_attributes(probe(clips["rotated.mp4"]))
    assert (attrs.width, attrs.height) == (SIZE[1], SIZE[0])
    assert attrs.supports_streaming is True


@pytest.mark.parametrize("name", ["factory.mkv", "slow.mp4"])
def test_no_streaming_unless_mp4_with_index_first(clips: dict[str, Path], name: str) -> None:
    attrs = video_attributes(probe(clips[name]))
    assert attrs.supports_streaming is False
    assert attrs.duration == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize(
    "info",
    [
        MediaInfo(container="matroska,webm", width=160, height=120),
        MediaInfo(container="matroska,webm", width=160, height=120, duration=0.0),
        MediaInfo(container="matroska,webm", width=0, height=120, duration=1.0),
        MediaInfo(container="matroska,webm", width=160, duration=1.0),
        MediaInfo(container="matroska,webm", width=160, height=120, duration=float("nan")),
    ],
)
def test_attributes_need_duration_and_size(info: MediaInfo) -> None:
    with pytest.raises(FerrymanError) as caught:
        video_attributes(info)
    assert caught.value.code == "media.unreadable"
