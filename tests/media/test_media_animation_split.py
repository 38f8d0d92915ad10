"""GIF/WebP to silent MP4, and splitting an oversized MP4 at keyframes, on real media."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from av.packet import Packet
from av.video.stream import VideoStream
from PIL import Image, ImageStat

from ferryman.errors import FerrymanError
from ferryman.media import split
from ferryman.media.animation import animation_to_mp4
from ferryman.media.plan import plan_for
from ferryman.media.probe import MP4_FAMILY, probe
from ferryman.media.split import split_at_keyframes
from ferryman.model import MediaKind, Plan
from tests.media.test_media_probe_plan import frame_image, write_video

ODD = (161, 121)
DELAYS = [100, 200, 300]  # ms

# ---------------------------------------------------------------------------- factory


def write_animation(path: Path, delays: list[int], size: tuple[int, int] = ODD) -> Path:
    """An animation (format from the suffix) whose frames differ in colour and delay."""
    frames = [frame_image(i * 8, size) for i in range(len(delays))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=delays, loop=0)
    return path


def write_transparent_gif(path: Path) -> Path:
    """Two frames, each transparent on the left half and red on the right."""
    frames = []
    for shade in (255, 200):
        image = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
        image.paste((shade, 0, 0, 255), (20, 0, 40, 30))
        frames.append(image)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, disposal=2)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("anim")
    return {
        "anim.gif": write_animation(root / "anim.gif", DELAYS),
        "anim.webp": write_animation(root / "anim.webp", DELAYS),
        "still.gif": write_animation(root / "still.gif", [500]),
        "fast.gif": write_animation(root / "fast.gif", [0, 0, 0, 0]),
        "alpha.gif": write_transparent_gif(root / "alpha.gif"),
        # 6 s with a keyframe every second: cuts can only fall on whole seconds.
        "gops.mp4": write_video(
            root / "gops.mp4",
            size=(320, 240),
            seconds=6,
            faststart=True,
            video_options={"g": "25", "keyint_min": "25", "sc_threshold": "0"},
        ),
    }


# ---------------------------------------------------------------------------- helpers


def video_packets(path: Path) -> list[Packet[VideoStream]]:
    """The video packets in decode order (their stream is gone once this returns)."""
    with av.open(str(path)) as container:
        return [p for p in container.demux(container.streams.video[0]) if p.size]


def first_frame(path: Path) -> Image.Image:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0)).reformat(format="rgb24")
    plane = frame.planes[0]
    size = (frame.width, frame.height)
    return Image.frombytes("RGB", size, bytes(plane), "raw", "RGB", plane.line_size)


def mean_colour(image: Image.Image) -> list[float]:
    return [float(v) for v in ImageStat.Stat(image.convert("RGB")).mean]


def audio_samples(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0))


def rising_to_one(fractions: list[float]) -> bool:
    return bool(fractions) and fractions[-1] == 1.0 and fractions == sorted(set(fractions))


# ---------------------------------------------------------------------------- animation


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp"])
def test_animation_becomes_a_silent_mp4_with_its_delays(
    media: dict[str, Path], tmp_path: Path, name: str
) -> None:
    src, dst = media[name], tmp_path / "out.mp4"
    fractions: list[float] = []
    animation_to_mp4(src, dst, progress=fractions.append)
    info = probe(dst)
    assert (info.container, info.video_codec, info.pix_fmt) == (MP4_FAMILY, "h264", "yuv420p")
    assert (info.audio_codec, info.faststart) == (None, True)
    assert (info.width, info.height) == (162, 122)  # odd sides padded by one pixel
    assert plan_for(MediaKind.VIDEO, info) is Plan.AS_IS
    packets = video_packets(dst)
    assert len(packets) == len(DELAYS)
    assert info.duration == pytest.approx(sum(DELAYS) / 1000, abs=0.1)
    starts = [float(p.pts * p.time_base) for p in packets if p.pts is not None and p.time_base]
    assert starts == pytest.approx([0, 0.1, 0.3], abs=0.002)  # each frame keeps its own delay
    with Image.open(src) as original:
        expected = mean_colour(original)
    got = mean_colour(first_frame(dst).crop((0, 0, *ODD)))
    assert got == pytest.approx(expected, abs=6)
    assert rising_to_one(fractions), fractions


def test_animation_single_frame_becomes_two(media: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    animation_to_mp4(media["still.gif"], dst)
    assert len(video_packets(dst)) == 2
    assert probe(dst).duration == pytest.approx(0.5, abs=0.02)


def test_animation_zero_delays_play_like_a_browser(media: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    animation_to_mp4(media["fast.gif"], dst)
    assert len(video_packets(dst)) == 4
    assert probe(dst).duration == pytest.approx(0.4, abs=0.02)  # 0 ms is shown as 100 ms


def test_animation_transparency_becomes_white(media: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    animation_to_mp4(media["alpha.gif"], dst)
    image = first_frame(dst)
    left, right = mean_colour(image.crop((2, 2, 16, 28))), mean_colour(image.crop((24, 2, 38, 28)))
    assert min(left) > 240
    assert right[0] > 200 and max(right[1:]) < 60


def test_animation_scales_the_short_side_down(media: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    animation_to_mp4(media["anim.gif"], dst, max_height=60)
    info = probe(dst)
    assert (info.width, info.height) == (80, 60)
    assert info.duration == pytest.approx(0.6, abs=0.1)


def test_animation_refuses_a_non_image(tmp_path: Path) -> None:
    src, dst = tmp_path / "fake.gif", tmp_path / "out.mp4"
    src.write_bytes(b"GIF89a" + bytes(range(200)))
    with pytest.raises(FerrymanError) as caught:
        animation_to_mp4(src, dst)
    assert caught.value.code == "media.convert_failed"
    assert "fake.gif" in caught.value.message
    assert not dst.exists()


# ---------------------------------------------------------------------------- split


def test_split_cuts_at_keyframes_into_playable_parts(
    media: dict[str, Path], tmp_path: Path
) -> None:
    src = media["gops.mp4"]
    max_bytes = int(src.stat().st_size * 0.4)
    fractions: list[float] = []
    parts = split_at_keyframes(src, tmp_path, "clip", max_bytes, progress=fractions.append)
    assert len(parts) >= 3
    assert parts == [tmp_path / f"clip.part{n}.mp4" for n in range(1, len(parts) + 1)]
    assert sorted(tmp_path.iterdir()) == sorted(parts)  # no temp files left
    for part in parts:
        assert part.stat().st_size <= max_bytes
        info = probe(part)
        assert (info.video_codec, info.audio_codec, info.faststart) == ("h264", "aac", True)
        assert plan_for(MediaKind.VIDEO, info) is Plan.AS_IS
        first = video_packets(part)[0]
        assert first.is_keyframe
        assert first.pts is not None and first.time_base is not None
        assert float(first.pts * first.time_base) == pytest.approx(0, abs=0.01)
    source = probe(src).duration or 0
    assert sum(probe(p).duration or 0 for p in parts) == pytest.approx(source, abs=0.1)
    copied = [bytes(p) for part in parts for p in video_packets(part)]
    assert copied == [bytes(p) for p in video_packets(src)]  # nothing lost, nothing doubled
    assert sum(audio_samples(p) for p in parts) == pytest.approx(audio_samples(src), abs=1024)
    assert rising_to_one(fractions), fractions


def test_split_leaves_a_file_that_fits_alone(media: dict[str, Path], tmp_path: Path) -> None:
    src = media["gops.mp4"]
    assert split_at_keyframes(src, tmp_path, "clip", src.stat().st_size) == [src]
    assert list(tmp_path.iterdir()) == []


def test_split_refuses_when_one_keyframe_interval_is_too_big(
    media: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(FerrymanError) as caught:
        split_at_keyframes(media["gops.mp4"], tmp_path, "clip", 10_000)
    assert caught.value.code == "media.over_limit"
    assert "gops.mp4" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def gop_payloads(path: Path) -> list[int]:
    """Bytes of each keyframe interval (video packets plus the audio in its time span)."""
    video: list[tuple[bool, int]] = []  # keyframe, size
    audio: list[tuple[float, int]] = []  # start, size
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size and packet.pts is not None and packet.time_base is not None:
                if packet.stream.type == "video":
                    video.append((packet.is_keyframe, packet.size))
                else:
                    audio.append((float(packet.pts * packet.time_base), packet.size))
    sizes: list[int] = []
    for keyframe, size in video:
        if keyframe:
            sizes.append(0)
        sizes[-1] += size
    for start, size in audio:  # one keyframe a second: interval n holds [n s, n+1 s)
        sizes[min(max(0, int(start)), len(sizes) - 1)] += size
    return sizes


def test_split_redoes_a_part_that_came_out_too_big(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no index budget the first plan (two intervals) overshoots by the index size,
    so each part must be written again one interval shorter."""
    monkeypatch.setattr(split, "INDEX_BYTES_PER_PACKET", 0)
    monkeypatch.setattr(split, "INDEX_BYTES_FIXED", 0)
    src = media["gops.mp4"]
    payloads = gop_payloads(src)
    max_bytes = payloads[0] + payloads[1] + 200  # two fit on paper, not on disk
    parts = split_at_keyframes(src, tmp_path, "clip", max_bytes)
    assert len(video_packets(parts[0])) == 25  # one interval: the two-interval try was over
    assert all(p.stat().st_size <= max_bytes for p in parts)
    assert sum(len(video_packets(p)) for p in parts) == len(video_packets(src))
    assert sorted(tmp_path.iterdir()) == sorted(parts)


def test_split_cleans_up_when_the_disk_check_fails(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(split, "INDEX_BYTES_PER_PACKET", 0)
    monkeypatch.setattr(split, "INDEX_BYTES_FIXED", 0)
    src = media["gops.mp4"]
    max_bytes = max(gop_payloads(src)) + 100  # every interval fits on paper; none on disk
    with pytest.raises(FerrymanError) as caught:
        split_at_keyframes(src, tmp_path, "clip", max_bytes)
    assert caught.value.code == "media.over_limit"
    assert list(tmp_path.iterdir()) == []
