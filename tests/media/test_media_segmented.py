"""The resumable transcode on real media: plans, formats, progress, a killed worker, resume."""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import re
import signal
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from ferryman.errors import FerrymanError
from ferryman.media.probe import probe
from ferryman.media.segmented import (
    AUDIO_PART,
    EncodeSettings,
    Segment,
    part_name,
    plan_segments,
    transcode_resumable,
)
from tests.media.test_media_probe_plan import (
    AVI_AUDIO,
    FPS,
    SIZE,
    frame_image,
    write_avi,
    write_video,
)
from tests.support.once import built_once
from tests.support.waiting import eventually_sync

SECONDS = 6
STEP = 1.5  # segment_seconds: with a keyframe every second, segments of 2 s
EVERY_SECOND = {"g": str(FPS), "keyint_min": str(FPS), "sc_threshold": "0"}
X265_EVERY_SECOND = {"x265-params": f"log-level=error:keyint={FPS}:min-keyint={FPS}:scenecut=0"}
# MPEG-2 and -4 take sc_threshold the other way round; B-frames as in DivX AVIs and on TV.
MPEG4_EVERY_SECOND = {"g": str(FPS), "sc_threshold": "1000000000", "bf": "2"}
VP9_EVERY_SECOND = {"g": str(FPS), "keyint_min": str(FPS), "deadline": "realtime", "cpu-used": "8"}
SILENT = {"silent.mp4", "vfr.mp4"}
VFR_GAPS = (40, 20, 60, 33, 47, 80)  # ms between frames: irregular, and each GOP starts elsewhere


def write_vfr(path: Path) -> Path:
    """A clip whose frames are unevenly spaced in time (a phone's variable frame rate)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options=EVERY_SECOND)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for i in range(SECONDS * FPS):
            frame = av.VideoFrame.from_image(frame_image(i))  # type: ignore[no-untyped-call]
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            out.mux(stream.encode(frame))
            pts += VFR_GAPS[i % len(VFR_GAPS)]
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return built_once(tmp_path_factory, "segmented-samples", _make_samples)  # one per run


def _make_samples(root: Path) -> dict[str, Path]:
    common: dict[str, Any] = {"seconds": SECONDS, "video_options": EVERY_SECOND}
    return {
        "hevc.mkv": write_video(
            root / "hevc.mkv", vcodec="libx265", seconds=SECONDS, video_options=X265_EVERY_SECOND
        ),
        "vp9.webm": write_video(
            root / "vp9.webm",
            vcodec="libvpx-vp9",
            acodec="libopus",
            seconds=SECONDS,
            video_options=VP9_EVERY_SECOND,
        ),
        "h264_10bit.mp4": write_video(root / "h264_10bit.mp4", pix_fmt="yuv420p10le", **common),
        "h264_444.mp4": write_video(root / "h264_444.mp4", pix_fmt="yuv444p", **common),
        "mpeg4.avi": write_video(
            root / "mpeg4.avi",
            vcodec="mpeg4",
            acodec="libmp3lame",
            seconds=SECONDS,
            video_options=MPEG4_EVERY_SECOND,
        ),
        # AVI times AC-3 and MP3 per codec frame (see ``write_avi``), PCM per sample.
        **{
            f"{audio}.avi": write_avi(root / f"{audio}.avi", audio=audio, seconds=SECONDS)
            for audio in AVI_AUDIO
        },
        "mpeg2.ts": write_video(  # a TV recording: no index, so seeks land late
            root / "mpeg2.ts",
            vcodec="mpeg2video",
            acodec="mp2",
            seconds=SECONDS,
            video_options=MPEG4_EVERY_SECOND,
        ),
        "odd.mkv": write_video(root / "odd.mkv", pix_fmt="yuv444p", size=(161, 121), **common),
        "rotated.mp4": write_video(root / "rotated.mp4", rotation=90, **common),
        "silent.mp4": write_video(root / "silent.mp4", acodec=None, **common),
        "vfr.mp4": write_vfr(root / "vfr.mp4"),
    }


# ---------------------------------------------------------------------------- helpers


def keyframes(path: Path) -> tuple[list[int], Fraction, int]:
    """The video's keyframe pts, its time base and where its last frame ends."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size and p.pts is not None]
        keys = sorted(p.pts for p in packets if p.pts is not None and p.is_keyframe)
        end = max(p.pts + (p.duration or 0) for p in packets if p.pts is not None)
        assert stream.time_base is not None
        return keys, stream.time_base, end


def decoded(path: Path) -> list[tuple[float, Image.Image]]:
    """(time, picture) of every frame, in presentation order."""
    with av.open(str(path)) as container:
        frames = [(f.time or 0.0, f.to_image()) for f in container.decode(video=0)]  # type: ignore[no-untyped-call]
    return sorted(frames, key=lambda frame: frame[0])


def red(image: Image.Image) -> float:
    """The red level of the strip above the moving box: ``frame_image`` puts the index there."""
    return float(ImageStat.Stat(image.crop((0, 0, image.width, image.height // 5))).mean[0])


def psnr(source: Image.Image, output: Image.Image) -> float:
    if source.size != output.size:
        source = source.resize(output.size, Image.Resampling.BICUBIC)
    diff = ImageChops.difference(source.convert("RGB"), output.convert("RGB"))
    mse = sum(ImageStat.Stat(diff).sum2) / (3 * output.width * output.height)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def assert_same_pictures(src: Path, dst: Path) -> None:
    """Every source frame is in the output, once, in order, and looks like itself."""
    source, output = decoded(src), decoded(dst)
    assert len(output) == len(source)
    # The red level moves by 10 a frame: a lost, doubled or swapped frame breaks this.
    drift = [round(red(o) - red(s)) for (_, s), (_, o) in zip(source, output, strict=True)]
    assert max(map(abs, drift)) <= 4, drift
    for i in (0, len(source) // 2, -1):
        assert psnr(source[i][1], output[i][1]) >= 28


def stats(workdir: Path, parts: set[int]) -> dict[int, tuple[int, int]]:
    """Inode and mtime of the parts' files: equal means the file was not written again."""
    found = {i: (workdir / part_name(i)).stat() for i in parts}
    return {i: (stat.st_ino, stat.st_mtime_ns) for i, stat in found.items()}


def all_parts(src: Path) -> set[int]:
    return {AUDIO_PART, *(s.index for s in plan_segments(src, STEP))}


# ---------------------------------------------------------------------------- plan


@pytest.mark.parametrize(
    "name", ["hevc.mkv", "vp9.webm", "h264_10bit.mp4", "mpeg4.avi", "mpeg2.ts"]
)
def test_plan_cuts_at_keyframes_and_covers_the_stream(samples: dict[str, Path], name: str) -> None:
    src = samples[name]
    keys, time_base, end = keyframes(src)
    assert len(keys) >= SECONDS
    plan = plan_segments(src, STEP)
    starts = [s.start for s in plan]
    assert len(plan) == 3 and set(starts) <= set(keys) and starts[0] == keys[0]
    assert [s.index for s in plan] == list(range(len(plan)))
    assert [s.end for s in plan] == [*starts[1:], None]
    # Each cut is the first keyframe at least STEP after the previous one.
    for previous, start in itertools.pairwise(starts):
        assert (start - previous) * time_base >= STEP
        assert all((k - previous) * time_base < STEP for k in keys if previous < k < start)
    assert (end - starts[-1]) * time_base >= STEP / 2  # no sliver at the end
    assert plan_segments(src, STEP) == plan  # a restart gets the same plan
    assert [s.start for s in plan_segments(src, 0)] == keys
    assert plan_segments(src, 60) == [Segment(0, keys[0], None)]


def test_a_single_keyframe_gives_one_segment(tmp_path: Path) -> None:
    src = write_video(
        tmp_path / "one.mp4", seconds=2, video_options={"g": "250", "sc_threshold": "0"}
    )
    assert len(keyframes(src)[0]) == 1
    assert plan_segments(src, 0.5) == [Segment(0, 0, None)]


# ---------------------------------------------------------------------------- output


@pytest.mark.parametrize(
    "name",
    [
        "hevc.mkv",
        "vp9.webm",
        "h264_10bit.mp4",
        "h264_444.mp4",
        "mpeg4.avi",
        *(f"{audio}.avi" for audio in AVI_AUDIO),
        "mpeg2.ts",
        "odd.mkv",
        "rotated.mp4",
        "silent.mp4",
        "vfr.mp4",
    ],
)
def test_every_source_becomes_h264_aac_in_a_faststart_mp4(
    samples: dict[str, Path], tmp_path: Path, name: str
) -> None:
    src, dst = samples[name], tmp_path / "out.mp4"
    assert len(plan_segments(src, STEP)) == 3  # so the join really joins
    transcode_resumable(src, dst, tmp_path / "work", EncodeSettings(), segment_seconds=STEP)
    info, original = probe(dst), probe(src)
    assert (info.video_codec, info.pix_fmt, info.faststart) == ("h264", "yuv420p", True)
    assert info.audio_codec == (None if name in SILENT else "aac")
    assert info.width is not None and info.height is not None
    assert info.width % 2 == 0 and info.height % 2 == 0
    assert info.duration == pytest.approx(original.duration, abs=0.1)
    assert_same_pictures(src, dst)
    if info.audio_codec:
        with av.open(str(dst)) as out:
            audio = out.streams.audio[0].codec_context
            assert (audio.sample_rate, audio.channels) == (48_000, 2)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_threads_setting_reaches_x264_and_keeps_the_parts(
    samples: dict[str, Path], tmp_path: Path, threads: int
) -> None:
    """``convert.threads`` (two on a phone, where each thread's frames cost memory): x264
    writes its options into the stream (an SEI), its threads among them. The setting
    is not in the repr that names the parts' folder: a change keeps finished parts."""
    src, dst = samples["vp9.webm"], tmp_path / "out.mp4"
    settings = EncodeSettings(threads=threads)
    transcode_resumable(src, dst, tmp_path / "work", settings, segment_seconds=STEP)
    assert set(re.findall(rb" threads=\d+ ", dst.read_bytes())) == {f" threads={threads} ".encode()}
    assert repr(settings) == repr(EncodeSettings())


@pytest.mark.parametrize("lookahead", [3, 6])
def test_the_lookahead_setting_reaches_x264_and_keeps_the_parts(
    samples: dict[str, Path], tmp_path: Path, lookahead: int
) -> None:
    """``convert.lookahead`` (5 on a phone): each frame x264 looks ahead at is held, and
    so is the queue of a lookahead thread, which a set lookahead turns off (~28 MiB of a
    720p transcode). The preset's own when unset; parts kept across a change."""
    src, dst = samples["vp9.webm"], tmp_path / "out.mp4"
    settings = EncodeSettings(threads=2, lookahead=lookahead)
    transcode_resumable(src, dst, tmp_path / "work", settings, segment_seconds=STEP)
    found = set(re.findall(rb" rc_lookahead=\d+ ", dst.read_bytes()))
    assert found == {f" rc_lookahead={lookahead} ".encode()}
    assert settings.x264_options()["x264-params"] == "sync-lookahead=0"
    assert not {"rc-lookahead", "x264-params"} & EncodeSettings().x264_options().keys()
    assert repr(settings) == repr(EncodeSettings())


@pytest.mark.parametrize(
    ("name", "size", "rotation"), [("rotated.mp4", (120, 160), 90), ("odd.mkv", (160, 120), 0)]
)
def test_rotation_is_kept_and_odd_sizes_become_even(
    samples: dict[str, Path], tmp_path: Path, name: str, size: tuple[int, int], rotation: int
) -> None:
    dst = tmp_path / "out.mp4"
    transcode_resumable(
        samples[name], dst, tmp_path / "work", EncodeSettings(), segment_seconds=STEP
    )
    info = probe(dst)
    assert (info.width, info.height) == size  # as displayed: turned by the rotation
    with av.open(str(dst)) as out:
        assert next(out.decode(video=0)).rotation == rotation


def test_variable_frame_rate_stays_variable(samples: dict[str, Path], tmp_path: Path) -> None:
    src, dst = samples["vfr.mp4"], tmp_path / "out.mp4"
    transcode_resumable(src, dst, tmp_path / "work", EncodeSettings(), segment_seconds=STEP)
    times = [round(t, 3) for t, _ in decoded(dst)]
    assert times == [round(t, 3) for t, _ in decoded(src)]
    gaps = {round((b - a) * 1000) for a, b in itertools.pairwise(times)}
    assert gaps == set(VFR_GAPS)


# ---------------------------------------------------------------------------- progress


def test_progress_is_one_rising_curve_without_big_jumps(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    src = samples["hevc.mkv"]
    seen: list[float] = []
    transcode_resumable(
        src, tmp_path / "out.mp4", tmp_path / "work", EncodeSettings(), progress=seen.append,
        segment_seconds=STEP,
    )  # fmt: skip
    plan = plan_segments(src, STEP)
    _, _, end = keyframes(src)
    longest = max((s.end or end) - s.start for s in plan) / end  # a segment's share at most
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert seen[0] < 0.05 and seen[-1] == 1.0
    assert max(b - a for a, b in itertools.pairwise(seen)) <= longest
    assert len(seen) > len(plan) + 1  # something is said inside the parts too


# ---------------------------------------------------------------------------- resume


def record_parts(src: Path, dst: Path, workdir: Path, record: Path) -> None:
    """Runs in a spawned child: a transcode whose 'database' is a file of part indexes.

    Once two parts are recorded and the next one is begun (its temporary file there),
    its progress report never returns: the parent kills it in the middle of that part.
    """
    recorded: list[int] = []

    def on_part(index: int) -> None:
        with record.open("a") as f:
            f.write(f"{index}\n")
            f.flush()
            os.fsync(f.fileno())
        recorded.append(index)

    def progress(fraction: float) -> None:
        if len(recorded) >= 2 and any(workdir.glob(".*.tmp")):
            threading.Event().wait()  # never set: held mid-part until the kill

    transcode_resumable(
        src, dst, workdir, EncodeSettings(), on_part=on_part, progress=progress,
        segment_seconds=STEP,
    )  # fmt: skip


def read_record(record: Path) -> list[int]:
    text = record.read_text() if record.exists() else ""
    return [int(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def kill_after_two_parts(src: Path, dst: Path, workdir: Path, record: Path) -> list[int]:
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=record_parts, args=(src, dst, workdir, record))
    child.start()
    try:
        eventually_sync(
            lambda: len(read_record(record)) >= 2 or not child.is_alive(),
            "two parts recorded",
            within=60,
        )
        assert child.is_alive(), "the child ended before two parts were recorded"
        # Inside the next part: its temporary file is there (the part is not done yet).
        eventually_sync(lambda: list(workdir.glob(".*.tmp")), "the next part begun")
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.join(10)
    assert child.exitcode == -signal.SIGKILL
    return read_record(record)


def test_a_killed_transcode_resumes_where_it_stopped(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    src, dst, work = samples["hevc.mkv"], tmp_path / "out.mp4", tmp_path / "work"
    recorded = kill_after_two_parts(src, dst, work, tmp_path / "record")
    parts = all_parts(src)
    assert 2 <= len(recorded) < len(parts) and not dst.exists()
    assert list(work.glob(".*.tmp"))  # killed in the middle of a part
    before = stats(work, set(recorded))
    reported: list[int] = []
    seen: list[float] = []
    transcode_resumable(
        src, dst, work, EncodeSettings(), done=recorded, on_part=reported.append,
        progress=seen.append, segment_seconds=STEP,
    )  # fmt: skip
    assert sorted(reported) == sorted(parts - set(recorded))  # each once, none recorded
    assert stats(work, set(recorded)) == before  # the recorded files were not rewritten
    assert not list(work.glob(".*"))  # the killed part's temp file was redone, not left
    assert 0 < seen[0] < 1 and seen[-1] == 1.0  # a resumed job starts at its share
    assert_same_pictures(src, dst)
    assert probe(dst).duration == pytest.approx(SECONDS, abs=0.1)


def test_a_recorded_part_whose_file_is_gone_is_encoded_again(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    src, work = samples["h264_444.mp4"], tmp_path / "work"
    first: list[int] = []
    transcode_resumable(
        src, tmp_path / "a.mp4", work, EncodeSettings(), on_part=first.append,
        segment_seconds=STEP,
    )  # fmt: skip
    assert sorted(first) == sorted(all_parts(src))
    (work / part_name(1)).unlink()
    kept = stats(work, set(first) - {1})
    again: list[int] = []
    transcode_resumable(
        src, tmp_path / "b.mp4", work, EncodeSettings(), done=first, on_part=again.append,
        segment_seconds=STEP,
    )  # fmt: skip
    assert again == [1]
    assert stats(work, set(first) - {1}) == kept
    assert_same_pictures(src, tmp_path / "b.mp4")


def test_parts_from_other_settings_are_refused_at_the_join(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    src, dst, work = samples["h264_444.mp4"], tmp_path / "out.mp4", tmp_path / "work"
    first: list[int] = []
    transcode_resumable(
        src, dst, work, EncodeSettings(), on_part=first.append, segment_seconds=STEP
    )
    (work / part_name(1)).unlink()
    with pytest.raises(FerrymanError) as caught:
        transcode_resumable(
            src, dst, work, EncodeSettings(preset="ultrafast"), done=first,
            segment_seconds=STEP,
        )  # fmt: skip
    assert caught.value.code == "media.parts_unusable"  # the caller discards them
    assert src.name in caught.value.message and part_name(1) in caught.value.message
    assert not dst.exists()
    assert all((work / part_name(i)).exists() for i in first)  # kept for the next attempt


def test_parts_from_another_plan_are_refused_at_the_join(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    src, dst, work = samples["silent.mp4"], tmp_path / "out.mp4", tmp_path / "work"
    first: list[int] = []
    transcode_resumable(
        src, dst, work, EncodeSettings(), on_part=first.append, segment_seconds=STEP
    )
    assert len(plan_segments(src, 0.5)) == SECONDS  # video-00000.mp4 now means 0-1 s
    with pytest.raises(FerrymanError) as caught:
        transcode_resumable(src, dst, work, EncodeSettings(), done=first, segment_seconds=0.5)
    assert caught.value.code == "media.parts_unusable"
    assert part_name(0) in caught.value.message and "segment 1" in caught.value.message
    assert not dst.exists()


# ---------------------------------------------------------------------------- failures


def test_a_failing_segment_is_named_and_finished_parts_stay(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    src, dst, work = samples["silent.mp4"], tmp_path / "out.mp4", tmp_path / "work"
    # segment 2 cannot be written (its temporary name carries the writer's pid)
    (work / f".{part_name(1)}.{os.getpid()}.tmp").mkdir(parents=True)
    reported: list[int] = []
    with pytest.raises(FerrymanError) as caught:
        transcode_resumable(
            src, dst, work, EncodeSettings(), on_part=reported.append, segment_seconds=STEP
        )
    assert caught.value.code == "media.convert_failed"
    assert src.name in caught.value.message and "segment 2 of 3" in caught.value.message
    assert reported == [0] and (work / part_name(0)).exists()
    assert not dst.exists()


def test_garbage_and_truncated_inputs_are_convert_failed(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    noise = tmp_path / "noise.mkv"
    noise.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(5000)))
    cut = tmp_path / "cut.mp4"  # the index (moov) is at the end, so the cut loses it
    cut.write_bytes(samples["silent.mp4"].read_bytes()[:20_000])
    for src in (noise, cut):
        dst = tmp_path / "out.mp4"
        dst.write_bytes(b"an older attempt")
        with pytest.raises(FerrymanError) as caught:
            transcode_resumable(src, dst, tmp_path / "work", EncodeSettings())
        assert caught.value.code == "media.convert_failed"
        assert src.name in caught.value.message
        assert not dst.exists()
        with pytest.raises(FerrymanError) as planning:
            plan_segments(src)
        assert planning.value.code == "media.convert_failed"
