"""``media.box.pool``: a decode in a confined worker answers as the call would have in the
engine, and each limit ends the call alone (the next one gets a fresh worker).

Real parts: the media functions the engine calls, on pictures and videos written by
Pillow and PyAV; the workers are real processes, their limits the kernel's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from ferryman.errors import FerrymanError
from ferryman.media.animation import animation_to_mp4
from ferryman.media.box.pool import DecodeLimits, DecoderBug, MediaBox, Stopped
from ferryman.media.child import ChildLimits, run_in_child
from ferryman.media.policy import policy_named
from ferryman.media.probe import probe, probe_image
from ferryman.samples import make_photo, make_video
from tests.support.media_bombs import flat_png
from tests.support.waiting import eventually, eventually_sync

PHOTO = policy_named("telegram").photo
FIT = "ferryman.media.images:fit_photo"
ROOMY = DecodeLimits()


@pytest.fixture
def box() -> Iterator[MediaBox]:
    made = MediaBox()
    yield made
    made.close()


@pytest.fixture
def others() -> frozenset[int]:
    """Media workers of this process that no test here started: the shared box's, which
    the engine tests run before on this worker warmed (tests/support/shared_box.py)."""
    return frozenset(_workers())


def _burning_gif(path: Path, megabytes: int = 16) -> Path:
    """A GIF whose one 16 x 16 frame comes after millions of empty comment blocks:
    Pillow and the canvas check walk them one by one in Python (~2 s of CPU here)."""
    head = b"GIF89a" + (16).to_bytes(2, "little") * 2 + b"\x00\x00\x00"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 16, 16, 0) + b"\x02\x02\x4c\x01\x00"
    path.write_bytes(head + b"\x21\xfe\x00" * (megabytes * (1 << 20) // 3) + frame + b"\x3b")
    return path


def test_a_call_answers_as_it_would_in_process(box: MediaBox, tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", 1)
    clip = make_video(tmp_path / "c.mp4", 2, seconds=0.4)
    assert box.run("ferryman.media.probe:probe_image", photo, limits=ROOMY) == probe_image(photo)
    assert box.run("ferryman.media.probe:probe", clip, limits=ROOMY) == probe(clip)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(FerrymanError) as caught:  # the function's own error, its code
        box.run("ferryman.media.probe:probe", junk, limits=ROOMY)
    assert caught.value.code == "media.unreadable"


def test_a_worker_serves_call_after_call(box: MediaBox, tmp_path: Path) -> None:
    photos = [make_photo(tmp_path / f"p{n}.jpg", n) for n in range(5)]
    for photo in photos:
        box.run("ferryman.media.probe:probe_image", photo, limits=ROOMY)
    assert len(box._idle) == 1  # one warm worker, kept


def test_memory_past_the_cap_ends_the_call_with_its_code(box: MediaBox, tmp_path: Path) -> None:
    """A 4,000 x 4,000 PNG needs ~50 MB decoded: under a 32 MiB cap its fit fails in
    the worker, which retires; the next call is served by a fresh one."""
    png = flat_png(tmp_path / "big.png", 4000)
    with pytest.raises(FerrymanError) as caught:
        box.run(FIT, png, tmp_path / "out.jpg", PHOTO, limits=DecodeLimits(memory=32 << 20))
    assert caught.value.code == "media.decode_memory"
    assert not box._idle  # the worker that came to its cap is gone
    fitted = box.run(FIT, png, tmp_path / "out.jpg", PHOTO, limits=ROOMY)
    assert (fitted.width, fitted.height) == (4000, 4000)


def test_cpu_past_its_seconds_ends_the_call_with_its_code(box: MediaBox, tmp_path: Path) -> None:
    gif = _burning_gif(tmp_path / "slow.gif")
    limits = DecodeLimits(cpu_seconds=0.01, wall_seconds=600)
    with pytest.raises(FerrymanError) as caught:
        box.run("ferryman.media.images:check_pixels", gif, limits=limits)
    assert caught.value.code == "media.decode_timeout"
    assert "CPU" in caught.value.message


def test_the_wall_clock_ends_the_call_with_its_code(box: MediaBox, tmp_path: Path) -> None:
    gif = _burning_gif(tmp_path / "slow.gif")
    box.run("ferryman.media.probe:probe_image", make_photo(tmp_path / "p.jpg", 1), limits=ROOMY)
    limits = DecodeLimits(wall_seconds=0.2)
    with pytest.raises(FerrymanError) as caught:
        box.run("ferryman.media.images:check_pixels", gif, limits=limits)
    assert caught.value.code == "media.decode_timeout"
    assert "wall-clock" in caught.value.message


def test_a_stop_kills_the_call_at_once(
    others: frozenset[int], box: MediaBox, tmp_path: Path
) -> None:
    gif = _burning_gif(tmp_path / "slow.gif")
    box.run("ferryman.media.probe:probe_image", make_photo(tmp_path / "p.jpg", 1), limits=ROOMY)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(Stopped):
        box.run("ferryman.media.images:check_pixels", gif, limits=ROOMY, stop=stop.is_set)
    assert not box._idle
    assert _workers(others) == []  # killed and reaped before the call returned


def test_a_worker_that_dies_ends_the_call_as_a_crash(box: MediaBox, tmp_path: Path) -> None:
    gif = _burning_gif(tmp_path / "slow.gif")
    box.run("ferryman.media.probe:probe_image", make_photo(tmp_path / "p.jpg", 1), limits=ROOMY)
    worker = box._idle[0]
    started = _cpu_ticks(worker.process.pid)  # its start's (~20 ticks): not yet the call's

    def crash() -> None:
        busy = lambda: _cpu_ticks(worker.process.pid) > started + 10  # noqa: E731
        eventually_sync(busy, "the worker busy in this call")
        os.kill(worker.process.pid, signal.SIGSEGV)

    threading.Thread(target=crash).start()
    with pytest.raises(FerrymanError) as caught:
        box.run("ferryman.media.images:check_pixels", gif, limits=ROOMY)
    assert caught.value.code == "media.decoder_crashed"


def test_a_worker_that_died_while_idle_costs_the_next_call_nothing(
    box: MediaBox, tmp_path: Path
) -> None:
    """Killed between calls (the OOM killer, a user): the next call's request met its
    closed pipe (``BrokenPipeError``, the machine's error: the file retried) before."""
    photo = make_photo(tmp_path / "p.jpg", 1)
    box.run("ferryman.media.probe:probe_image", photo, limits=ROOMY)
    worker = box._idle[0]
    os.kill(worker.process.pid, signal.SIGKILL)
    eventually_sync(lambda: worker.process.poll() is not None, "the idle worker dead")
    info = box.run("ferryman.media.probe:probe_image", photo, limits=ROOMY)
    assert info == probe_image(photo)
    assert len(box._idle) == 1 and box._idle[0] is not worker


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, clock ticks


def test_an_unexpected_exception_is_the_files_bug_and_a_system_error_the_machines(
    box: MediaBox, tmp_path: Path
) -> None:
    with pytest.raises(DecoderBug, match="AttributeError"):  # the file's: ``entry.internal``
        box.run("ferryman.media.probe:probe_image", 42, limits=ROOMY)
    with pytest.raises(FileNotFoundError):  # the machine's, with its errno: retried
        box.run("ferryman.media.declared:check_declared", tmp_path / "gone.mp4", 1, limits=ROOMY)


async def test_a_cancel_of_run_async_kills_its_worker(
    others: frozenset[int], box: MediaBox, tmp_path: Path
) -> None:
    gif = _burning_gif(tmp_path / "slow.gif")
    call = asyncio.ensure_future(
        box.run_async("ferryman.media.images:check_pixels", gif, limits=ROOMY)
    )
    await eventually(lambda: _workers(others), "a worker running the call")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert not box._idle
    assert _workers(others) == []


def _workers(others: frozenset[int] = frozenset()) -> list[int]:
    """This process's media workers still there (not reaped), but for ``others``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"media.box.worker" in cmdline:
            found.append(int(proc.name))
    return [pid for pid in found if pid not in others]


def _animation(path: Path, side: int, frames: int) -> Path:
    """A real GIF of ``frames`` frames of ``side`` x ``side`` (Pillow)."""
    shots = [Image.new("P", (side, side), n % 200) for n in range(frames)]
    shots[0].save(path, save_all=True, append_images=shots[1:], duration=40, loop=0)
    return path


async def test_an_encoder_past_its_memory_ends_with_its_code(tmp_path: Path) -> None:
    """The convert stage's children confine themselves too: a 1,500 x 1,500 animation
    (9 MB a frame as RGBA) cannot be encoded in 16 MiB more than the child started
    with; with the default room it is."""
    gif = _animation(tmp_path / "a.gif", 1500, 3)
    kwargs = {"src": gif, "dst": tmp_path / "a.mp4"}
    with pytest.raises(FerrymanError) as caught:
        await run_in_child(
            animation_to_mp4,
            kwargs,
            on_progress=None,
            timeout=120,
            limits=ChildLimits(16 << 20, 60),
        )
    assert caught.value.code == "media.decode_memory"
    await run_in_child(
        animation_to_mp4, kwargs, on_progress=None, timeout=120, limits=ChildLimits(1 << 30, 60)
    )
    assert probe(tmp_path / "a.mp4").video_codec == "h264"


async def test_an_encoder_past_its_cpu_seconds_ends_with_its_code(tmp_path: Path) -> None:
    # The child may use up to 1 s more than asked (RLIMIT_CPU counts whole seconds from
    # what it used already): 16 MB of comments (~2 s) were walked within that once, and
    # its frame, never meant to decode, failed as media.unreadable. 64 MB: ~8 s.
    gif = _burning_gif(tmp_path / "slow.gif", megabytes=64)
    kwargs = {"src": gif, "dst": tmp_path / "a.mp4"}
    with pytest.raises(FerrymanError) as caught:
        await run_in_child(
            animation_to_mp4,
            kwargs,
            on_progress=None,
            timeout=120,
            limits=ChildLimits(1 << 30, 0.01),
        )
    assert caught.value.code == "media.decode_timeout"
