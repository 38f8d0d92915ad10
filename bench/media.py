"""Media conversions: remux, transcode, resume, probe rate and photo fitting.

Every input is made on the spot (ffmpeg's ``testsrc2`` with noise, Pillow gradients
with noise), untimed. Each measurement has its reference in the same run:

* remux: ``remux_to_mp4`` on a 1080p H.264/AAC MKV, against ``ffmpeg -c copy
  -movflags +faststart``; × realtime = media seconds / wall seconds;
* transcode: ``transcode_resumable`` against the equivalent ``ffmpeg`` libx264/aac
  command line, runs alternating, medians;
* resume: ``transcode_resumable`` in a child that is SIGKILLed once 80 % of the video
  parts are recorded; finishing (``done`` = the recorded parts) / a full conversion;
* probe rate: ``probe_image`` over small JPEGs, ``probe`` over short MP4 clips;
* photo fitting: ``fit_photo`` on a 40-megapixel JPEG against one Pillow
  open + decode + save at quality 90.

The ffmpeg binary is imageio-ffmpeg's. A ferryman module that cannot be imported
makes its row "not available" (and its target FAIL) instead of stopping the run.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import math
import multiprocessing
import os
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from bench._common import (
    Check,
    Result,
    Table,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    median,
    progress,
    scratch,
)

REMUX_SECONDS = 20.0  # × scale
TRANSCODE_SECONDS = 10.0  # × scale
PROBE_PHOTOS = 200  # × scale
PROBE_CLIPS = 50  # × scale
MIN_REMUX_SECONDS = 2.0
MIN_TRANSCODE_SECONDS = 5.0  # room for 5 resume segments of 1 s
FPS = 25
GOP = FPS  # a keyframe every second, as phones record
NOISE = 3  # ffmpeg's noise strength: ~12 Mbit/s at 1080p with ultrafast, like a phone

REMUX_TARGET = 50.0  # × realtime, at least
TRANSCODE_LIMIT = 1.10  # ferryman / ffmpeg
RESUME_LIMIT = 0.30  # finishing after a kill / a full conversion
RESUME_COVER = 0.8  # kill once the recorded video parts cover this share
RESUME_SEGMENTS = 5  # at least this many video segments in the resume clip
RESUME_SEGMENT_SECONDS = 2.0  # at most
DURATION_SLACK = 0.25  # seconds an output may differ from its source

PHOTO_SIZE = (7728, 5152)  # 40 MP, width + height over Telegram's 10,000
PHOTO_QUALITY = 95
BASELINE_QUALITY = 90
PROBE_PHOTO_SIZE = (1024, 768)
PROBE_CLIP_SIZE = "320x240"
PROBE_CLIP_SECONDS = 1.5

# The same conversion as ``EncodeSettings()``, spelled for the ffmpeg command line.
CRF, PRESET, MAX_HEIGHT, AUDIO_BITRATE = 23, "veryfast", 1080, 128_000
NOT_AVAILABLE = "not available"


def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # type: ignore[import-untyped]

    return str(imageio_ffmpeg.get_ffmpeg_exe())


# --------------------------------------------------------------------------- inputs


def make_clip(ff: str, dst: Path, seconds: float, *, size: str, extra: list[str]) -> None:
    """H.264 (ultrafast, moving noisy test pattern) + AAC stereo 48 kHz, ``seconds`` long."""
    source = f"testsrc2=size={size}:rate={FPS},noise=alls={NOISE}:allf=t"
    cmd = [
        *(ff, "-hide_banner", "-loglevel", "error", "-y"),
        *("-f", "lavfi", "-i", source),
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
        *("-t", f"{seconds:.3f}", "-c:v", "libx264", "-preset", "ultrafast"),
        *("-g", str(GOP), "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-b:a", "128k", "-ac", "2"),
        *extra,
        str(dst),
    ]
    run_tool(cmd, timeout=600)


def make_probe_clips(ff: str, folder: Path, count: int) -> list[Path]:
    """``count`` distinct short MP4 clips, cut from one encode by ffmpeg's segment muxer."""
    folder.mkdir()
    step = PROBE_CLIP_SECONDS
    extra = [
        *("-force_key_frames", f"expr:gte(t,n_forced*{step})"),
        *("-f", "segment", "-segment_time", str(step), "-reset_timestamps", "1"),
        *("-segment_format", "mp4", "-segment_format_options", "movflags=+faststart"),
    ]
    make_clip(ff, folder / "clip%04d.mp4", count * step, size=PROBE_CLIP_SIZE, extra=extra)
    return sorted(folder.glob("clip*.mp4"))


def noisy_rgb(size: tuple[int, int], sigma: float = 48.0, mix: float = 0.2) -> Image.Image:
    """Gradients under Gaussian noise: detail JPEG cannot squeeze away, as in a real photo."""
    linear = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    radial = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
    noise = Image.effect_noise(size, sigma)
    flip = Image.Transpose
    channels = [
        Image.blend(linear, noise, mix),
        Image.blend(radial, noise.transpose(flip.ROTATE_180), mix),
        Image.blend(
            linear.transpose(flip.FLIP_LEFT_RIGHT), noise.transpose(flip.FLIP_TOP_BOTTOM), mix
        ),
    ]
    return Image.merge("RGB", channels)


def make_probe_photos(folder: Path, count: int) -> list[Path]:
    """``count`` distinct 1024x768 JPEGs: windows at different offsets of one noisy image."""
    folder.mkdir()
    width, height = PROBE_PHOTO_SIZE
    base = noisy_rgb((width + 256, height + 192))
    paths = []
    for i in range(count):
        x, y = (i * 37) % 256, (i * 53) % 192
        path = folder / f"IMG_{i:04d}.jpg"
        base.crop((x, y, x + width, y + height)).save(path, quality=85)
        paths.append(path)
    return paths


def make_big_photo(dst: Path) -> None:
    noisy_rgb(PHOTO_SIZE).save(dst, quality=PHOTO_QUALITY)


# --------------------------------------------------------------------------- helpers


def run_tool(cmd: list[str], timeout: float) -> None:
    """Run ``cmd``; a failure raises with the end of its stderr."""
    done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{Path(cmd[0]).name} exited {done.returncode}: {' | '.join(err)}")


def timed(action: Callable[[], object]) -> float:
    """Wall seconds of ``action``; ``sync`` first, so no earlier writes are flushed meanwhile."""
    os.sync()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU time (user + system) of this process's threads and of its waited-for children."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_call(func: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Wall seconds of ``func(*args)`` (as ``timed``), and what it returned."""
    box: list[Any] = []
    seconds = timed(lambda: box.append(func(*args)))
    return seconds, box[0]


def alternate(
    rounds: int, first: Callable[[int], float], second: Callable[[int], float]
) -> tuple[list[float], list[float]]:
    """``rounds`` runs of each, alternating and swapping who goes first each round."""
    a: list[float] = []
    b: list[float] = []
    for i in range(rounds):
        if i % 2 == 0:
            a.append(first(i))
            b.append(second(i))
        else:
            b.append(second(i))
            a.append(first(i))
    return a, b


def load(module: str, *names: str) -> tuple[list[Any], str]:
    """The named attributes of ``ferryman.media.<module>``, or why they cannot be had."""
    try:
        found = importlib.import_module(f"ferryman.media.{module}")
        return [getattr(found, n) for n in names], ""
    except (ImportError, AttributeError) as exc:
        return [], f"{NOT_AVAILABLE}: ferryman.media.{module} ({type(exc).__name__}: {exc})"


def spread(values: list[float]) -> str:
    return ", ".join(fmt_seconds(v) for v in values)


def realtime(media_seconds: float, wall: float) -> str:
    return f"{media_seconds / wall:.1f}x"


@dataclass
class Bench:
    """What the sections share: where to work, the tools, and the problems found."""

    args: argparse.Namespace
    root: Path
    ff: str
    result: Result
    rounds: int
    problems: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)

    def video_problem(self, path: Path, seconds: float, what: str) -> None:
        """Record it when ``path`` is not H.264/AAC MP4 of the source's duration."""
        from ferryman.media.probe import probe

        info = probe(path)
        wrong = []
        if info.video_codec != "h264" or info.audio_codec != "aac":
            wrong.append(f"codecs {info.video_codec}/{info.audio_codec}")
        if info.duration is None or abs(info.duration - seconds) > DURATION_SLACK:
            wrong.append(f"duration {info.duration} s, source {seconds:.2f} s")
        if not info.faststart:
            wrong.append("index not first")
        if wrong:
            self.problems.append(f"{what}: {', '.join(wrong)}")

    def not_available(self, target: str, limit: str, reason: str) -> None:
        if reason not in self.result.notes:
            self.result.notes.append(reason)
        self.result.checks.append(Check(target, NOT_AVAILABLE, limit, False))


def media_seconds(path: Path, fallback: float) -> float:
    from ferryman.media.probe import probe

    return probe(path).duration or fallback


# --------------------------------------------------------------------------- remux


def remux_section(b: Bench) -> None:
    seconds = max(MIN_REMUX_SECONDS, REMUX_SECONDS * b.args.scale)
    src = b.root / "remux-src.mkv"
    progress(f"media: making a {seconds:g} s 1080p H.264/AAC MKV")
    made = timed(lambda: make_clip(b.ff, src, seconds, size="1920x1080", extra=[]))
    b.generated.append(f"remux source {fmt_seconds(made)} s")
    duration = media_seconds(src, seconds)
    caption = (
        f"remux: {duration:.1f} s 1920x1080 {FPS} fps H.264 + AAC MKV"
        f" ({fmt_bytes(src.stat().st_size)}) -> MP4 with the index first;"
        f" median of {b.rounds}, alternating"
    )
    table = Table(["tool", "median s", "x realtime", "runs s", "time vs ffmpeg"])
    limit = f">= {REMUX_TARGET:.0f}x realtime"
    found, reason = load("remux", "remux_to_mp4")
    dst = b.root / "remux-out.mp4"

    def ffmpeg(i: int) -> float:
        cmd = [b.ff, "-hide_banner", "-loglevel", "error", "-y", "-i", str(src)]
        cmd += ["-c", "copy", "-movflags", "+faststart", str(dst)]
        seconds = timed(lambda: run_tool(cmd, b.args.timeout))
        dst.unlink()
        return seconds

    if not found:
        ours: list[float] = []
        theirs = [ffmpeg(i) for i in range(b.rounds)]
    else:
        remux_to_mp4 = found[0]

        def ferryman(i: int) -> float:
            progress(f"media: remux round {i + 1}/{b.rounds}")
            seconds = timed(lambda: remux_to_mp4(src, dst))
            if i == 0:
                b.video_problem(dst, duration, "remux output")
            dst.unlink()
            return seconds

        ours, theirs = alternate(b.rounds, ferryman, ffmpeg)
    ff_s = median(theirs)
    if ours:
        our_s = median(ours)
        speed = duration / our_s
        table.add(
            "ferryman remux_to_mp4",
            fmt_seconds(our_s),
            realtime(duration, our_s),
            spread(ours),
            fmt_ratio(our_s / ff_s),
        )
        b.result.checks.append(
            Check("remux speed (ferryman)", f"{speed:.0f}x realtime", limit, speed >= REMUX_TARGET)
        )
    else:
        table.add("ferryman remux_to_mp4", NOT_AVAILABLE, "-", "-", "-")
        b.not_available("remux speed (ferryman)", limit, reason)
    table.add(
        "ffmpeg -c copy -movflags +faststart",
        fmt_seconds(ff_s),
        realtime(duration, ff_s),
        spread(theirs),
        "1.00x",
    )
    b.result.tables.append((caption, table))
    b.result.data["remux"] = {"media_seconds": duration, "ferryman": ours, "ffmpeg": theirs}


# --------------------------------------------------------------------------- transcode


def _settings(encode_settings: Callable[..., Any]) -> Any:
    return encode_settings(
        crf=CRF, preset=PRESET, max_height=MAX_HEIGHT, audio_bitrate=AUDIO_BITRATE
    )


def transcode_section(b: Bench, src: Path, duration: float) -> float | None:
    """ferryman against ffmpeg, alternating; returns ferryman's median (None: not run)."""
    caption = (
        f"transcode: {duration:.1f} s 1920x1080 {FPS} fps H.264 + AAC MP4"
        f" ({fmt_bytes(src.stat().st_size)}) -> H.264 crf {CRF} {PRESET} + AAC"
        f" {AUDIO_BITRATE // 1000}k; median of {b.rounds}, alternating, fresh workdir per run"
    )
    table = Table(["tool", "median s", "x realtime", "runs s", "cpu s", "ratio", "best-run ratio"])
    limit = f"<= {TRANSCODE_LIMIT:.2f}"
    cpu: dict[str, list[float]] = {"ferryman": [], "ffmpeg": []}

    def clocked(who: str, action: Callable[[], object]) -> float:
        before = cpu_seconds()
        seconds = timed(action)
        cpu[who].append(cpu_seconds() - before)
        return seconds

    found, reason = load("segmented", "transcode_resumable", "EncodeSettings")
    dst = b.root / "transcode-out.mp4"

    def ffmpeg(i: int) -> float:
        progress(f"media: transcode round {i + 1}/{b.rounds}: ffmpeg")
        cmd = [b.ff, "-hide_banner", "-loglevel", "error", "-y", "-i", str(src)]
        cmd += ["-c:v", "libx264", "-crf", str(CRF), "-preset", PRESET, "-pix_fmt", "yuv420p"]
        cmd += ["-c:a", "aac", "-b:a", f"{AUDIO_BITRATE // 1000}k", "-ac", "2", "-ar", "48000"]
        cmd += ["-movflags", "+faststart", str(dst)]
        seconds = clocked("ffmpeg", lambda: run_tool(cmd, b.args.timeout))
        dst.unlink()
        return seconds

    if not found:
        ours: list[float] = []
        theirs = [ffmpeg(i) for i in range(b.rounds)]
    else:
        transcode_resumable, encode_settings = found
        settings = _settings(encode_settings)

        def ferryman(i: int) -> float:
            progress(f"media: transcode round {i + 1}/{b.rounds}: ferryman")
            work = b.root / f"transcode-work-{i}"
            work.mkdir()
            seconds = clocked("ferryman", lambda: transcode_resumable(src, dst, work, settings))
            if i == 0:
                b.video_problem(dst, duration, "transcode output")
            dst.unlink()
            shutil.rmtree(work)
            return seconds

        ours, theirs = alternate(b.rounds, ferryman, ffmpeg)
    ff_s = median(theirs)
    our_s = median(ours) if ours else None
    if our_s is not None:
        ratio = our_s / ff_s
        table.add(
            "ferryman transcode_resumable (segment_seconds default)",
            fmt_seconds(our_s),
            realtime(duration, our_s),
            spread(ours),
            fmt_seconds(median(cpu["ferryman"])),
            fmt_ratio(ratio),
            fmt_ratio(min(ours) / min(theirs)),
        )
        b.result.checks.append(
            Check("transcode time / ffmpeg", f"{ratio:.2f}", limit, ratio <= TRANSCODE_LIMIT)
        )
    else:
        table.add("ferryman transcode_resumable", NOT_AVAILABLE, "-", "-", "-", "-", "-")
        b.not_available("transcode time / ffmpeg", limit, reason)
    table.add(
        "ffmpeg -c:v libx264 -c:a aac (baseline)",
        fmt_seconds(ff_s),
        realtime(duration, ff_s),
        spread(theirs),
        fmt_seconds(median(cpu["ffmpeg"])),
        "1.00x",
        "1.00x",
    )
    b.result.tables.append((caption, table))
    b.result.data["transcode"] = {
        "media_seconds": duration,
        "ferryman": ours,
        "ffmpeg": theirs,
        "cpu": cpu,
    }
    return our_s


# --------------------------------------------------------------------------- resume


def resume_child(src: str, dst: str, workdir: str, record: str, segment_seconds: float) -> None:
    """Child process target: convert, appending each finished part's index to ``record``."""
    from ferryman.media.segmented import EncodeSettings, transcode_resumable

    def on_part(index: int) -> None:
        with open(record, "a") as out:
            out.write(f"{index}\n")

    settings = _settings(EncodeSettings)
    transcode_resumable(
        Path(src),
        Path(dst),
        Path(workdir),
        settings,
        on_part=on_part,
        segment_seconds=segment_seconds,
    )


def recorded_parts(record: Path) -> set[int]:
    """The part indices written so far; a line still being written is left out."""
    try:
        text = record.read_text()
    except FileNotFoundError:
        return set()
    lines = text.split("\n")[:-1]  # the last piece has no newline yet (or is empty)
    return {int(line) for line in lines if line.strip()}


@dataclass
class Killed:
    seconds: float  # from start to the kill (or the child's own end)
    parts: set[int]
    killed: bool
    exitcode: int | None


def run_until_cover(
    b: Bench, src: Path, dst: Path, work: Path, segment_seconds: float, need: int
) -> Killed:
    """Start the child; SIGKILL it once ``need`` video parts are recorded."""
    record = b.root / "resume-parts.txt"
    ctx = multiprocessing.get_context("spawn")
    args = (str(src), str(dst), str(work), str(record), segment_seconds)
    child = ctx.Process(target=resume_child, args=args, name="bench-resume")
    started = time.perf_counter()
    child.start()
    killed = False
    try:
        while child.is_alive():
            video = {p for p in recorded_parts(record) if p >= 0}
            if len(video) >= need:
                assert child.pid is not None
                os.kill(child.pid, signal.SIGKILL)
                killed = True
                break
            if time.perf_counter() - started > b.args.timeout:
                raise TimeoutError(f"resume child ran over {b.args.timeout:.0f} s")
            time.sleep(0.01)
        seconds = time.perf_counter() - started
    finally:
        if child.is_alive() and not killed:
            child.kill()
        child.join()
    return Killed(seconds, recorded_parts(record), killed, child.exitcode)


def resume_section(b: Bench, src: Path, duration: float, full: float | None) -> None:
    segment_seconds = min(RESUME_SEGMENT_SECONDS, duration / RESUME_SEGMENTS)
    segments = math.ceil(duration / segment_seconds - 1e-6)
    need = math.ceil(RESUME_COVER * segments)
    caption = (
        f"resume: the transcode clip with segment_seconds={segment_seconds:g}"
        f" ({segments} video parts + audio part -1); the child is SIGKILLed once"
        f" >= {RESUME_COVER:.0%} ({need}) video parts are recorded"
    )
    table = Table(["step", "seconds", "parts", "vs full conversion"])
    limit = f"<= {RESUME_LIMIT:.2f}"
    target = "resume: finish / full conversion"
    found, reason = load("segmented", "transcode_resumable", "EncodeSettings")
    if not found:
        table.add("child, then finish in-process", NOT_AVAILABLE, "-", "-")
        b.result.tables.append((caption, table))
        b.not_available(target, limit, reason)
        return
    transcode_resumable, encode_settings = found
    dst, work = b.root / "resume-out.mp4", b.root / "resume-work"
    work.mkdir()
    progress(f"media: resume: child until {need}/{segments} video parts, then SIGKILL")
    killed = run_until_cover(b, src, dst, work, segment_seconds, need)
    if not killed.killed:
        b.result.notes.append(
            f"resume: the child ended on its own (exit {killed.exitcode}) before {need} video"
            " parts were recorded, so the finish had less (or nothing) left to do"
        )
    settings = _settings(encode_settings)
    runs: list[float] = []
    made: list[int] = []
    for i in range(b.rounds):
        # Each finish starts from a copy of the workdir as the kill left it.
        progress(f"media: resume: finishing in-process {i + 1}/{b.rounds}")
        copy = b.root / f"resume-finish-{i}"
        shutil.copytree(work, copy)
        made_now: list[int] = []
        finish_once = functools.partial(
            transcode_resumable,
            src,
            dst,
            copy,
            settings,
            done=frozenset(killed.parts),
            on_part=made_now.append,
            segment_seconds=segment_seconds,
        )
        runs.append(timed(finish_once))
        if i == 0:
            made = made_now
            b.video_problem(dst, duration, "resumed output")
        dst.unlink()
        shutil.rmtree(copy)
    finish = median(runs)
    video = sorted(p for p in killed.parts if p >= 0)
    audio = "audio + " if -1 in killed.parts else ""
    how = "SIGKILL" if killed.killed else f"ended itself, exit {killed.exitcode}"
    table.add(
        f"child until {how}",
        fmt_seconds(killed.seconds),
        f"recorded {audio}{len(video)}/{segments} video",
        "-",
    )
    table.add(
        f"finish in-process, done = the recorded parts (median of {b.rounds}: {spread(runs)})",
        fmt_seconds(finish),
        f"made {_parts(made)}",
        fmt_ratio(finish / full) if full else "-",
    )
    if full:
        table.add(
            "full conversion (transcode table, ferryman median)", fmt_seconds(full), "", "1.00x"
        )
        ratio = finish / full
        b.result.checks.append(Check(target, f"{ratio:.2f}", limit, ratio <= RESUME_LIMIT))
    else:
        b.not_available(target, limit, "resume: no full-conversion time to compare with")
    b.result.tables.append((caption, table))
    b.result.data["resume"] = {
        "segment_seconds": segment_seconds,
        "segments": segments,
        "child_seconds": killed.seconds,
        "killed": killed.killed,
        "recorded": sorted(killed.parts),
        "finish_seconds": runs,
        "finish_made": made,
        "full_seconds": full,
    }


def _parts(parts: Collection[int]) -> str:
    if not parts:
        return "no parts"
    return "parts " + ",".join(str(p) for p in sorted(parts))


# --------------------------------------------------------------------------- probe rate


def probe_all(func: Callable[[Path], Any], paths: list[Path]) -> tuple[float, list[Any]]:
    """Wall seconds to probe every path in turn, and what each probe returned."""
    infos: list[Any] = []
    seconds = timed(lambda: infos.extend(func(p) for p in paths))
    return seconds, infos


def probe_section(b: Bench) -> None:
    photos_n = max(10, round(PROBE_PHOTOS * b.args.scale))
    clips_n = max(5, round(PROBE_CLIPS * b.args.scale))
    progress(f"media: making {photos_n} JPEGs and {clips_n} MP4 clips to probe")
    started = time.perf_counter()
    photos = make_probe_photos(b.root / "probe-photos", photos_n)
    clips = make_probe_clips(b.ff, b.root / "probe-clips", clips_n)
    b.generated.append(f"probe inputs {time.perf_counter() - started:.1f} s")
    photo_bytes = sum(p.stat().st_size for p in photos)
    clip_bytes = sum(p.stat().st_size for p in clips)
    table = Table(["function", "files", "total s", "files/s", "ms/file"])
    rates: dict[str, float] = {}
    rows: list[tuple[str, str, list[Path], Callable[[Any], bool]]] = [
        (
            "probe_image",
            f"probe_image: {len(photos)} JPEGs {PROBE_PHOTO_SIZE[0]}x{PROBE_PHOTO_SIZE[1]}"
            f" (~{fmt_bytes(photo_bytes / len(photos))} each)",
            photos,
            lambda info: info.width == PROBE_PHOTO_SIZE[0] and info.height == PROBE_PHOTO_SIZE[1],
        ),
        (
            "probe",
            f"probe: {len(clips)} MP4 clips {PROBE_CLIP_SIZE} H.264 + AAC,"
            f" ~{PROBE_CLIP_SECONDS:g} s (~{fmt_bytes(clip_bytes / len(clips))} each)",
            clips,
            lambda info: info.video_codec == "h264" and info.audio_codec == "aac",
        ),
    ]
    for name, label, paths, good in rows:
        found, reason = load("probe", name)
        if not found:
            table.add(label, len(paths), NOT_AVAILABLE, "-", "-")
            b.result.notes.append(reason)
            continue
        func = found[0]
        progress(f"media: {name} over {len(paths)} files")
        try:
            seconds, infos = probe_all(func, paths)
        except ImportError as exc:  # the probe needs a module that has not landed yet
            table.add(label, len(paths), NOT_AVAILABLE, "-", "-")
            b.result.notes.append(f"{name}: {NOT_AVAILABLE} ({type(exc).__name__}: {exc})")
            continue
        bad = sum(1 for info in infos if not good(info))
        if bad:
            b.problems.append(f"{name}: {bad} of {len(paths)} files probed wrong")
        rates[name] = len(paths) / seconds
        table.add(
            label,
            len(paths),
            fmt_seconds(seconds),
            f"{len(paths) / seconds:,.0f}",
            f"{seconds / len(paths) * 1000:.2f}",
        )
    b.result.tables.append(("probe rate (no target; one pass, files in the page cache)", table))
    b.result.data["probe_rate"] = rates


# --------------------------------------------------------------------------- photo fitting


def photo_section(b: Bench) -> None:
    src = b.root / "big.jpg"
    progress(f"media: making a {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG (quality {PHOTO_QUALITY})")
    b.generated.append(f"40 MP photo {fmt_seconds(timed(lambda: make_big_photo(src)))} s")
    size = src.stat().st_size
    caption = (
        f"photo fitting: {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG"
        f" ({PHOTO_SIZE[0] * PHOTO_SIZE[1] / 1e6:.0f} MP, {fmt_bytes(size)}, quality"
        f" {PHOTO_QUALITY}, gradients + noise) into TELEGRAM.photo; median of {b.rounds}"
    )
    table = Table(["step", "median s", "runs s", "ratio", "output"])
    baseline_dst = b.root / "baseline.jpg"

    def reencode() -> None:
        with Image.open(src) as image:
            image.load()
            image.save(baseline_dst, quality=BASELINE_QUALITY)

    progress("media: photo baseline (Pillow open + decode + save)")
    base_runs = [timed(reencode) for _ in range(b.rounds)]
    base_s = median(base_runs)
    base_size = baseline_dst.stat().st_size
    baseline_dst.unlink()

    found, reason = load("images", "fit_photo")
    policy, _ = load("policy", "TELEGRAM")
    target = "photo fitted into TELEGRAM.photo"
    if not found or not policy:
        table.add("fit_photo", NOT_AVAILABLE, "-", "-", "-")
        b.not_available(target, "no problems", reason)
    else:
        fit_photo, limits = found[0], policy[0].photo
        runs: list[float] = []
        misfits: list[str] = []
        outcome: Any = None
        for i in range(b.rounds):
            progress(f"media: fit_photo round {i + 1}/{b.rounds}")
            dst = b.root / f"fit-{i}.jpg"
            seconds, outcome = timed_call(fit_photo, src, dst, limits)
            runs.append(seconds)
            out_path = Path(outcome.path)
            with Image.open(out_path) as fitted:
                fmt, (w, h) = fitted.format, fitted.size
            problems = limits.problems(fmt, w, h, out_path.stat().st_size)
            if problems:
                misfits.append(f"run {i + 1}: {', '.join(problems)}")
            out_path.unlink()
            dst.unlink(missing_ok=True)
        fit_s = median(runs)
        table.add(
            "fit_photo(TELEGRAM.photo)",
            fmt_seconds(fit_s),
            spread(runs),
            fmt_ratio(fit_s / base_s),
            f"{outcome.width}x{outcome.height} {fmt_bytes(outcome.size)} {outcome.format},"
            f" quality {outcome.quality}, scale {outcome.scale:.3f}, {outcome.trials} trials",
        )
        verdict = "; ".join(misfits) or f"fits ({b.rounds}/{b.rounds} runs)"
        b.result.checks.append(Check(target, verdict, "no problems", not misfits))
        if getattr(outcome, "actions", None):
            b.result.notes.append(f"fit_photo actions: {', '.join(map(str, outcome.actions))}")
        b.result.data["photo"] = {
            "fit_seconds": runs,
            "trials": outcome.trials,
            "quality": outcome.quality,
            "scale": outcome.scale,
            "size": outcome.size,
        }
    table.add(
        f"Pillow open + decode + save q{BASELINE_QUALITY} (baseline)",
        fmt_seconds(base_s),
        spread(base_runs),
        "1.00x",
        f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} {fmt_bytes(base_size)} JPEG",
    )
    b.result.tables.append((caption, table))
    b.result.data.setdefault("photo", {})["baseline_seconds"] = base_runs


# --------------------------------------------------------------------------- the run


def guarded(b: Bench, name: str, section: Callable[[], object]) -> None:
    """Run one section; a crash becomes a failed check, and the other sections still run."""
    try:
        section()
    except Exception as exc:  # one broken section must not hide the rest
        progress(f"media: {name} failed: {type(exc).__name__}: {exc}")
        b.result.checks.append(
            Check(f"{name} ran to the end", f"{type(exc).__name__}: {exc}", "", False)
        )


def run(args: argparse.Namespace) -> Result:
    rounds = getattr(args, "media_repeat", 3)
    result = Result("media", "remux, transcode, resume, probe rate, photo fitting vs ffmpeg/Pillow")
    with scratch("media", args.tmp_dir, args.keep) as root:
        b = Bench(args, root, ffmpeg_exe(), result, rounds)
        guarded(b, "remux", lambda: remux_section(b))

        clip = root / "transcode-src.mp4"
        seconds = max(MIN_TRANSCODE_SECONDS, TRANSCODE_SECONDS * args.scale)
        progress(f"media: making a {seconds:g} s 1080p H.264/AAC MP4")
        made = timed(lambda: make_clip(b.ff, clip, seconds, size="1920x1080", extra=[]))
        b.generated.append(f"transcode source {fmt_seconds(made)} s")
        duration = media_seconds(clip, seconds)
        full: list[float | None] = [None]
        guarded(b, "transcode", lambda: full.__setitem__(0, transcode_section(b, clip, duration)))
        guarded(b, "resume", lambda: resume_section(b, clip, duration, full[0]))

        guarded(b, "probe rate", lambda: probe_section(b))
        guarded(b, "photo fitting", lambda: photo_section(b))

    result.checks.append(
        Check(
            "every output valid (H.264/AAC, source duration, index first; probes, photo limits)",
            "; ".join(b.problems) or "all",
            "all",
            not b.problems,
        )
    )
    result.notes += [
        "x realtime = media seconds / wall seconds; ffmpeg times include its process"
        " start-up (~0.05 s), ferryman runs in this process (modules already imported)",
        "transcode: ratio = ferryman median / ffmpeg median (the target); best-run ratio ="
        " fastest / fastest, less sensitive to others' load; cpu s = user + system CPU"
        " seconds of the conversion (median): wall ratio above the cpu ratio means less"
        " parallelism, not more work",
        "resume: the ideal is about 1 - 80 % = 0.20 of a full run (the last segment) plus"
        " joining the parts; the full conversion is the transcode table's ferryman median"
        " (default segment_seconds, so one part for the whole clip)",
        "photo fitting: ratio = fit_photo median / the baseline's median, i.e. what fitting"
        " costs beyond one decode + re-encode",
        f"ffmpeg = {b.ff}",
        "inputs (untimed): " + ", ".join(b.generated),
    ]
    return result
