"""Remux, transcode and the killable child process, on real media."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import psutil
import pytest

from ferryman.errors import FerrymanError
from ferryman.media.child import run_in_child
from ferryman.media.plan import plan_for
from ferryman.media.probe import probe
from ferryman.media.remux import remux_to_mp4
from ferryman.media.segmented import EncodeSettings, transcode_resumable
from ferryman.media.transcode import output_size
from ferryman.model import MediaKind, Plan
from tests.media.test_media_probe_plan import build_media, write_video
from tests.support.child_targets import (
    die_hard,
    nothing,
    raise_bug,
    raise_ferryman_error,
    sleep_forever,
)
from tests.support.once import built_once
from tests.support.waiting import eventually


def transcode_to_mp4(
    src: Path,
    dst: Path,
    *,
    max_height: int = 1080,
    progress: Callable[[float], None] | None = None,
) -> None:
    """A one-shot transcode with the engine's encoder: parts in a folder next to ``dst``.

    Module level, so ``run_in_child`` can run it in a child process.
    """
    workdir = dst.with_name(f".{dst.name}.parts")
    try:
        transcode_resumable(
            src, dst, workdir, EncodeSettings(max_height=max_height), progress=progress
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # The probe tests' media (one per run), and a clip of this module's own.
    samples = dict(built_once(tmp_path_factory, "probe-media", build_media))
    samples["long_hevc.mkv"] = built_once(tmp_path_factory, "long-hevc", _long_hevc)
    return samples


def _long_hevc(root: Path) -> Path:
    """Long enough (and big enough) that progress has time to say something in between."""
    return write_video(root / "long_hevc.mkv", vcodec="libx265", size=(320, 240), seconds=4)


def video_packets(path: Path) -> list[int]:
    """Sizes of the video packets, in order: equal lists mean the stream was copied."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [p.size for p in container.demux(stream) if p.size]


def frame_indexes(path: Path) -> list[int]:
    """The index each frame was drawn with (see ``frame_image``), in presentation-time order.

    Players show frames by timestamp, so a remux that scrambles pts shows up here.
    """
    with av.open(str(path)) as container:
        frames = [
            (frame.pts, round(frame.to_image().getpixel((1, 1))[0] / 10))
            for frame in container.decode(container.streams.video[0])
        ]
    return [index for _, index in sorted(frames, key=lambda f: f[0] or 0)]


def assert_playable(path: Path, duration: float) -> None:
    info = probe(path)
    assert plan_for(MediaKind.VIDEO, info) is Plan.AS_IS, info
    assert info.faststart is True
    assert info.duration == pytest.approx(duration, abs=0.1)


# ---------------------------------------------------------------------------- remux


@pytest.mark.parametrize("name", ["h264.mkv", "h264.ts", "h264.mp4", "h264.avi", "h264.mov"])
def test_remux_copies_the_streams_into_a_faststart_mp4(
    media: dict[str, Path], tmp_path: Path, name: str
) -> None:
    src, dst = media[name], tmp_path / "out.mp4"
    assert plan_for(MediaKind.VIDEO, probe(src)) is Plan.REMUX
    remux_to_mp4(src, dst)
    assert_playable(dst, probe(src).duration or 0)
    copied, original = video_packets(dst), video_packets(src)
    assert len(copied) == len(original)
    if name.endswith((".mkv", ".mp4")):  # TS and AVI store start codes; MP4 lengths
        assert copied == original
    # B-frames still play in order (Matroska lacks some dts, AVI lacks every pts).
    assert frame_indexes(dst) == list(range(25))


def test_remux_keeps_the_rotation(media: dict[str, Path], tmp_path: Path) -> None:
    remux_to_mp4(media["rotated.mp4"], tmp_path / "out.mp4")
    info = probe(tmp_path / "out.mp4")
    assert (info.width, info.height) == (120, 160)


@pytest.mark.parametrize("name", ["text.mp4", "truncated.mp4", "audio.mp3"])
def test_remux_failure_is_convert_failed_and_leaves_nothing(
    media: dict[str, Path], tmp_path: Path, name: str
) -> None:
    dst = tmp_path / "out.mp4"
    with pytest.raises(FerrymanError) as caught:
        remux_to_mp4(media[name], dst)
    assert caught.value.code == "media.convert_failed"
    assert not dst.exists()


# ---------------------------------------------------------------------------- transcode


def test_transcode_hevc_gives_a_playable_mp4_with_honest_progress(
    media: dict[str, Path], tmp_path: Path
) -> None:
    src, dst = media["long_hevc.mkv"], tmp_path / "out.mp4"
    seen: list[float] = []
    transcode_to_mp4(src, dst, progress=seen.append)
    assert_playable(dst, probe(src).duration or 0)
    info = probe(dst)
    assert (info.width, info.height, info.audio_codec) == (320, 240, "aac")
    assert seen == sorted(seen)
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert seen[-1] == 1.0
    assert len(set(seen)) >= 3


@pytest.mark.parametrize(
    ("name", "plan"),
    [
        ("hevc.mkv", Plan.TRANSCODE),
        ("mpeg4.avi", Plan.TRANSCODE),
        ("h264_444.mp4", Plan.TRANSCODE),
        ("h264_10bit.mp4", Plan.TRANSCODE),
        ("h264_mp3.mkv", Plan.AUDIO),  # the cheaper plan; a full transcode must fix it too
    ],
)
def test_transcode_fixes_what_remux_cannot(
    media: dict[str, Path], tmp_path: Path, name: str, plan: Plan
) -> None:
    src, dst = media[name], tmp_path / "out.mp4"
    assert plan_for(MediaKind.VIDEO, probe(src)) is plan
    transcode_to_mp4(src, dst)
    assert_playable(dst, probe(src).duration or 0)
    with av.open(str(dst)) as out:
        audio = out.streams.audio[0].codec_context
        assert (audio.sample_rate, audio.channels) == (48_000, 2)


def test_transcode_scales_down_to_even_dimensions(media: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "out.mp4"
    transcode_to_mp4(media["hevc.mkv"], dst, max_height=45)
    info = probe(dst)
    assert info.width is not None and info.height is not None
    assert info.width % 2 == 0 and info.height % 2 == 0
    assert info.height <= 46 and info.width / info.height == pytest.approx(4 / 3, rel=0.05)


def test_transcode_keeps_rotation_and_absent_audio(media: dict[str, Path], tmp_path: Path) -> None:
    transcode_to_mp4(media["rotated.mp4"], tmp_path / "rotated.mp4")
    rotated = probe(tmp_path / "rotated.mp4")
    assert (rotated.width, rotated.height) == (120, 160)
    transcode_to_mp4(media["silent_fast.mp4"], tmp_path / "silent.mp4")
    assert probe(tmp_path / "silent.mp4").audio_codec is None


@pytest.mark.parametrize(
    ("size", "sar", "limit", "expected"),
    [
        ((1920, 1080), None, 1080, (1920, 1080)),
        ((3840, 2160), None, 1080, (1920, 1080)),
        ((1080, 1920), None, 720, (720, 1280)),  # portrait: the short side is bounded
        ((720, 576), 4 / 3, 1080, (960, 576)),  # anamorphic: square pixels out
        ((161, 121), None, 1080, (160, 120)),
    ],
)
def test_output_size(
    size: tuple[int, int], sar: float | None, limit: int, expected: tuple[int, int]
) -> None:
    ratio = Fraction(sar).limit_denominator() if sar else None
    assert output_size(*size, ratio, limit) == expected


def test_transcode_failure_is_convert_failed_and_leaves_nothing(
    media: dict[str, Path], tmp_path: Path
) -> None:
    dst = tmp_path / "out.mp4"
    with pytest.raises(FerrymanError) as caught:
        transcode_to_mp4(media["noise.mp4"], dst)
    assert caught.value.code == "media.convert_failed"
    assert not dst.exists()


# ---------------------------------------------------------------------------- child process
# Targets run in a child live in a light module of their own (``tests/support/
# child_targets``): a child imports the module of its target.


def read_pid(pid_file: Path) -> int | None:
    text = pid_file.read_text() if pid_file.exists() else ""
    return int(text) if text else None


async def wait_for_pid(pid_file: Path) -> int:
    return await eventually(lambda: read_pid(pid_file), f"the child's pid in {pid_file.name}")


def gone(pid: int) -> bool:
    """Not running and reaped (a zombie would still count as there)."""
    return not psutil.pid_exists(pid)


async def test_child_runs_a_transcode_and_forwards_progress(
    media: dict[str, Path], tmp_path: Path
) -> None:
    dst = tmp_path / "out.mp4"
    seen: list[float] = []
    await run_in_child(
        transcode_to_mp4,
        {"src": media["hevc.mkv"], "dst": dst},
        on_progress=seen.append,
        timeout=60,
    )
    assert_playable(dst, 1.0)
    assert seen and seen == sorted(seen) and seen[-1] == 1.0


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_child_timeout_kills_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    seen: list[float] = []
    # The template warmed first: its own start is not what the 5 s bound the child's.
    await run_in_child(nothing, {}, on_progress=None, timeout=120)
    started = time.monotonic()
    with pytest.raises(FerrymanError) as caught:
        await run_in_child(
            # 5 s: the child's start (a fork of the template that imports a light module)
            # is within them on a loaded machine, so it is killed mid-sleep, not at start.
            sleep_forever,
            {"pid_file": pid_file},
            on_progress=seen.append,
            timeout=5,
        )
    assert caught.value.code == "media.convert_timeout"
    assert time.monotonic() - started < 10
    pid = read_pid(pid_file)
    assert pid is not None and gone(pid)
    assert seen == [0.25]


async def test_cancelling_the_waiting_task_kills_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.create_task(
        run_in_child(sleep_forever, {"pid_file": pid_file}, on_progress=None, timeout=120)
    )
    pid = await wait_for_pid(pid_file)
    assert not gone(pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gone(pid)


async def test_a_ferryman_error_in_the_child_keeps_its_code() -> None:
    with pytest.raises(FerrymanError) as caught:
        await run_in_child(
            raise_ferryman_error, {"code": "media.unreadable"}, on_progress=None, timeout=60
        )
    assert (caught.value.code, caught.value.message) == ("media.unreadable", "refused on purpose")


@pytest.mark.parametrize("target", [raise_bug, die_hard])
async def test_a_bug_or_a_dead_child_is_convert_failed(target: Callable[..., None]) -> None:
    with pytest.raises(FerrymanError) as caught:
        await run_in_child(target, {}, on_progress=None, timeout=60)
    assert caught.value.code == "media.convert_failed"


async def test_an_unpicklable_target_is_convert_failed() -> None:
    def local(progress: Callable[[float], None]) -> None:
        pass

    with pytest.raises(FerrymanError) as caught:
        await run_in_child(local, {}, on_progress=None, timeout=60)
    assert caught.value.code == "media.convert_failed"
