"""Decode budgets for animations and long work (issue 78): an animation's frames x
canvas read from its structure before it is converted (over the budget: never
converted, a code and a next step), and no file holding the one conversion slot past a
deadline that grows with its frames, picture and duration. Real GIF, APNG and WebP
files made by Pillow; the real engine and its conversion child."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ferryman.config import Settings
from ferryman.engine.convert import step
from ferryman.engine.ops import intake
from ferryman.media import frames
from ferryman.media.frames import MAX_ANIMATION_PIXELS, Shape, deadline, over_budget, shape_of
from ferryman.model import ItemState, Plan
from ferryman.samples.media import make_video
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle

__all__ = ["memory_store"]


def _frames(count: int, size: tuple[int, int]) -> list[Image.Image]:
    """Frames that differ one from the next (Pillow merges equal ones)."""
    return [Image.new("RGB", size, (255 * (i % 2), 40, 90 + i % 100)) for i in range(count)]


def _gif(
    path: Path, count: int, size: tuple[int, int], canvas: tuple[int, int] | None = None
) -> Path:
    """A GIF of ``count`` frames by Pillow; ``canvas``: its logical screen made that
    large (the issue's file: tiny frames on a 4000x4000 canvas, a few hundred KB)."""
    first, *rest = _frames(count, size)
    first.save(path, save_all=True, append_images=rest, duration=40, loop=0)
    if canvas is not None:
        data = bytearray(path.read_bytes())
        data[6:10] = struct.pack("<HH", *canvas)
        path.write_bytes(bytes(data))
    return path


def test_a_gif_s_frames_and_canvas_are_read_from_its_blocks(tmp_path: Path) -> None:
    bomb = _gif(tmp_path / "bomb.gif", 300, (2, 2), canvas=(4000, 4000))
    assert bomb.stat().st_size < 100_000
    with Image.open(bomb) as image:  # Pillow agrees: what the converter would play
        assert (image.size, image.n_frames) == ((4000, 4000), 300)
    started = time.monotonic()
    assert shape_of(bomb) == Shape(300, 4000, 4000)
    assert time.monotonic() - started < 1.0
    assert over_budget(Shape(300, 4000, 4000), "bomb.gif") is not None
    assert over_budget(Shape(300, 320, 240), "fine.gif") is None


def test_an_apng_and_an_animated_webp_are_counted_too(tmp_path: Path) -> None:
    first, *rest = _frames(7, (640, 480))
    png = tmp_path / "a.png"
    first.save(png, save_all=True, append_images=rest, duration=40)
    webp = tmp_path / "a.webp"
    first.save(webp, save_all=True, append_images=rest, duration=40, lossless=True)
    assert shape_of(png) == Shape(7, 640, 480)
    assert shape_of(webp) == Shape(7, 640, 480)
    still = tmp_path / "still.webp"
    first.save(still)
    first.save(tmp_path / "still.png")
    assert shape_of(still) is None and shape_of(tmp_path / "still.png") is None


def test_the_walk_is_total_on_cut_and_hostile_bytes(tmp_path: Path) -> None:
    gif = _gif(tmp_path / "a.gif", 5, (16, 16))
    data = gif.read_bytes()
    for cut in range(0, len(data), 7):
        (tmp_path / "cut.gif").write_bytes(data[:cut])
        shape_of(tmp_path / "cut.gif")  # never raises, never loops
    body = b"\x00\x00\x00\x00"
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 9, 9, 8, 2, 0, 0, 0))
    (tmp_path / "odd.png").write_bytes(png + _chunk(b"acTL", body * 2))
    assert shape_of(tmp_path / "odd.png") is None  # claims an animation, has no frame
    (tmp_path / "noise.webp").write_bytes(b"RIFF\xff\xff\xff\xffWEBP" + b"\xff" * 64)
    assert shape_of(tmp_path / "noise.webp") is None


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_a_conversion_s_deadline_grows_with_its_frames_picture_and_duration() -> None:
    ceiling = 3600.0
    small = deadline(ceiling, width=320, height=240, frames=50)
    large = deadline(ceiling, width=1920, height=1080, frames=50)
    longer = deadline(ceiling, width=1920, height=1080, frames=500)
    assert frames.DEADLINE_FLOOR <= small < large < longer <= ceiling
    clip = deadline(ceiling, width=640, height=360, duration=1.0, frame_rate=25)
    assert clip < deadline(ceiling, width=640, height=360, duration=10.0, frame_rate=25)
    assert clip < 120  # a 1-second clip never holds the slot for the hour
    assert deadline(ceiling, width=None, height=None) == ceiling  # nothing known: the setting
    assert deadline(ceiling, width=8000, height=8000, duration=7200.0) == ceiling
    assert ceiling >= MAX_ANIMATION_PIXELS / frames.SLOW_PIXELS_PER_SECOND


async def test_an_animation_over_its_budget_is_refused_at_once_and_the_queue_goes_on(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The issue's case: tiny frames on a 4000x4000 canvas sat at "converting 0 %" with
    a one-second transcode queued behind it. Now it is refused before it is converted,
    with its code, and the transcode goes through."""
    folder = tmp_path / "in"
    folder.mkdir()
    _gif(folder / "bomb.gif", 300, (2, 2), canvas=(4000, 4000))
    make_video(folder / "clip.avi", 1, seconds=1.0, vcodec="mpeg4")  # needs a transcode
    job = await intake.add_source(store, folder, settings=settings)
    started = time.monotonic()
    await run_until_idle(store, settings, limit=90)
    assert time.monotonic() - started < 60
    items = {i.source_path: i for i in await store.job_items(job.id)}
    bomb = items["bomb.gif"]
    # never converted; the library, which needs no conversion to keep it, has it as it is
    assert (bomb.state, bomb.plan) == (ItemState.DELIVERED, Plan.DOCUMENT)
    assert (bomb.reason or "").startswith("media.animation_over_budget: ")
    assert items["clip.avi"].state is ItemState.DELIVERED
    assert [f for f in library_files(settings.library) if f["path"].endswith(".mp4")]


async def test_a_conversion_past_its_deadline_is_stopped_and_the_queue_goes_on(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the frame budget, yet slower than its deadline (the animation's made one
    second here, the clip's left as computed): the child is killed at the deadline, the
    entry ends with its code (the library keeps it as it came), and the next conversion
    runs."""
    computed = step.deadline

    def one_second_for_animations(ceiling: float, **shape: Any) -> float:
        return 1.0 if shape.get("frames") else computed(ceiling, **shape)

    monkeypatch.setattr(step, "deadline", one_second_for_animations)
    folder = tmp_path / "in"
    folder.mkdir()
    first, *rest = _frames(40, (1200, 1200))  # seconds of work
    first.save(folder / "slow.webp", save_all=True, append_images=rest, duration=40)
    make_video(folder / "clip.avi", 1, seconds=1.0, vcodec="mpeg4")
    job = await intake.add_source(store, folder, settings=settings)
    await run_until_idle(store, settings, limit=120)
    items = {i.source_path: i for i in await store.job_items(job.id)}
    slow = items["slow.webp"]
    assert (slow.state, slow.plan) == (ItemState.DELIVERED, Plan.DOCUMENT)  # as it came
    assert (slow.reason or "").startswith("media.convert_deadline: ")
    assert items["clip.avi"].state is ItemState.DELIVERED
