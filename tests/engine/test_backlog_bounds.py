"""A job's backlog in the work area is bounded by files and by bytes: reading waits at
whichever it meets first (20 small photos were two albums; 20 videos could be 20 GB),
and one file larger than the byte bound still goes, alone."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.workarea import job_work_dir
from ferryman.engine.runner import Engine
from ferryman.samples import make_photo_set, make_video
from ferryman.samples.archives import make_zip
from ferryman.sinks.base import SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.store import Store
from tests.support.clock import ManualClock, driven, engine_idle
from tests.support.httpserve import serving
from tests.support.memsink import MemKind
from tests.support.once import built_once

PHOTOS = 12


@pytest.mark.parametrize(
    ("bound", "waits_at"),
    [
        ("items", 3),  # three files, far under the byte bound
        ("bytes", 5),  # five photos' bytes, far under the file bound
        ("one larger", 1),  # a byte bound under one photo: it goes alone, then a wait
    ],
)
async def test_reading_waits_at_the_backlog_bound_it_meets_first(
    tmp_path: Path, settings: Settings, bound: str, waits_at: int
) -> None:
    photos = make_photo_set(tmp_path / "in", PHOTOS)
    sizes = [p.stat().st_size for p in sorted(photos)]
    limits = {
        "items": {"backlog_items": 3, "backlog_bytes": 1 << 40},
        "bytes": {"backlog_items": 1000, "backlog_bytes": sum(sizes[:5])},
        "one larger": {"backlog_items": 1000, "backlog_bytes": 1},
    }[bound]
    settings, store, sinks, engine, running, clock = await _held_back(settings, limits, 4, PHOTOS)
    try:
        job = await intake.add_source(store, tmp_path / "in", dest="mem:box", sinks=sinks)

        async def waiting() -> str | None:
            return (await store.get_job(job.id)).wait_reason

        assert await driven(clock, settings, waiting, "the read waits for the backlog") == "backlog"
        await _polls_later(clock, settings)
        assert await store.backlog(job.id) == (waits_at, sum(sizes[:waits_at]))
        assert len(await store.job_items(job.id)) == waits_at  # read no further
    finally:
        engine.stop()
        await asyncio.wait_for(running, 60)
        await store.close()


@pytest.mark.parametrize(("where", "waits_at"), [("link", 8), ("local zip", None)])
async def test_a_streamed_read_waits_at_the_sinks_albums(
    tmp_path: Path, settings: Settings, where: str, waits_at: int | None
) -> None:
    """A zip read by Range to a sink that bounds its backlog by albums (Telegram: two)
    waits at those albums' files, far under ``backlog_items``: the download must not
    run ahead of a slower uplink and fill the disk. A local zip keeps the settings'
    bound (here: every photo read, no wait)."""
    photos = sorted(make_photo_set(tmp_path / "in", PHOTOS))
    archive = make_zip(tmp_path / "photos.zip", [(p.name, p) for p in photos], compress=False)
    mem = MemKind(album_max=4, backlog_albums=2, waits=[600] * PHOTOS)  # none leaves
    sinks = default_sinks().with_kind(mem)
    clock = ManualClock(start=time.time())  # the engine's and the store's
    store = await Store.open(settings.database, clock=clock.now)
    engine = Engine(store, settings, sinks=sinks, clock=clock)
    running = asyncio.create_task(engine.run())
    with serving() as web:
        web.add("/photos.zip", archive.read_bytes(), content_type="application/zip")
        source = web.url("/photos.zip") if where == "link" else archive
        try:
            job = await intake.add_source(store, source, dest="mem:box", sinks=sinks)

            async def items() -> int:
                return len(await store.job_items(job.id))

            if waits_at is None:

                async def all_read() -> bool:
                    return await items() == PHOTOS

                assert await driven(clock, settings, all_read, "every photo read")
                assert await store.backlog(job.id) == (PHOTOS, sum(sizes(photos)))
            else:

                async def waiting() -> str | None:
                    return (await store.get_job(job.id)).wait_reason

                waits = await driven(clock, settings, waiting, "the read waits for the backlog")
                assert waits == "backlog"
                await _polls_later(clock, settings)
                assert await store.backlog(job.id) == (waits_at, sum(sizes(photos)[:waits_at]))
                assert await items() == waits_at  # read no further
        finally:
            engine.stop()
            await asyncio.wait_for(running, 60)
            await store.close()


VIDEOS = 4


def _remux_videos(folder: Path) -> list[Path]:
    """``VIDEOS`` MP4s with their index last: a library that converts remuxes them."""
    return [
        make_video(folder / f"clip{n}.mp4", n, seconds=2, size=(640, 480), faststart=False)
        for n in range(VIDEOS)
    ]


@pytest.mark.parametrize("bound", ["items", "bytes"])
async def test_a_remuxed_videos_original_counts_in_the_backlog(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, settings: Settings, bound: str
) -> None:
    """A remuxed video keeps its original beside the remux until delivered (a refused
    remux sends the original to quarantine): two files of about its size. The backlog
    counts both, and an entry waits for room before its copy is made, so while the
    deliveries are held back the work area never holds more files, or bytes, than the
    bound (thumbnails, a few KB, aside)."""
    folder = tmp_path / "in"
    folder.mkdir()
    # Their index last: a library that keeps originals keeps such an MP4 as it is, one
    # that converts (``library_playable``: the index first) remuxes it.
    settings = settings.model_copy(
        update={"media": settings.media.model_copy(update={"policy": "library_playable"})}
    )
    # Encoded once a run for both bounds (~2.4 CPU-s each time), copied into this
    # test's own input folder (the shared ones are read-only to the tests).
    made = built_once(tmp_path_factory, "backlog-remux-videos", _remux_videos)
    videos = [Path(shutil.copy2(video, folder / video.name)) for video in made]
    largest = max(v.stat().st_size for v in videos)
    limits = {
        "items": {"backlog_items": 3, "backlog_bytes": 1 << 40},
        "bytes": {"backlog_items": 1000, "backlog_bytes": int(3.5 * largest)},
    }[bound]
    settings, store, sinks, engine, running, clock = await _held_back(settings, limits, 1, VIDEOS)
    peak = [0, 0]  # files, bytes
    sampling = True

    async def sample(work: Path) -> None:
        while sampling:
            files = await asyncio.to_thread(_work_files, work)
            peak[0], peak[1] = max(peak[0], len(files)), max(peak[1], sum(files))
            await asyncio.sleep(0.01)  # a sampler's period, not a wait for a state

    sampler: asyncio.Task[None] | None = None
    try:
        job = await intake.add_source(store, folder, dest="mem:box", sinks=sinks)
        sampler = asyncio.create_task(sample(job_work_dir(settings, job.id)))

        async def waiting() -> str | None:
            return (await store.get_job(job.id)).wait_reason

        assert await driven(clock, settings, waiting, "the read waits for the backlog") == "backlog"
        await _polls_later(clock, settings)
        items = await store.job_items(job.id)
        assert [i.actions[:1] for i in items] == [["remux"]] * len(items)  # each kept its mp4
        assert len(items) < VIDEOS  # read no further
        if bound == "items":
            assert peak[0] <= 3
        else:
            assert peak[1] <= settings.backlog_bytes
        # The store counts each original beside its remux, and their bytes as they are.
        held = [Path(p) for i in items for p in (i.work_path, i.original_path) if p]
        assert len(held) == 2 * len(items)
        assert await store.backlog(job.id) == (len(held), sum(sizes(held)))
    finally:
        sampling = False
        if sampler is not None:
            await sampler
        engine.stop()
        await asyncio.wait_for(running, 60)
        await store.close()


async def _held_back(
    settings: Settings, limits: dict[str, int], album_max: int, entries: int
) -> tuple[Settings, Store, SinkRegistry, Engine, asyncio.Task[None], ManualClock]:
    """An engine running with ``limits`` on a clock of the test's (the store's too), its
    sink holding every album back (none leaves): the settings, the store, the sinks, the
    engine, its task and the clock."""
    settings = settings.model_copy(update=limits)
    sinks = default_sinks().with_kind(MemKind(album_max=album_max, waits=[600] * entries))
    clock = ManualClock(start=time.time())
    store = await Store.open(settings.database, clock=clock.now)
    engine = Engine(store, settings, sinks=sinks, clock=clock)
    return settings, store, sinks, engine, asyncio.create_task(engine.run()), clock


async def _polls_later(clock: ManualClock, settings: Settings) -> None:
    """Twenty polls on, each worker back at its wait after them: a read that did not
    wait at the bound would still be reading, or would have read on (no window waited
    out in real time: the reading thread is waited for until the read is back at its
    wait on the clock)."""
    await engine_idle(clock, settings)
    await clock.advance(20 * settings.poll_seconds)
    await engine_idle(clock, settings)


def _work_files(work: Path) -> list[int]:
    """The sizes of the files in a job's work area, thumbnails aside."""
    if not work.is_dir():
        return []
    return [
        p.stat().st_size
        for p in work.iterdir()
        if p.is_file() and not p.name.endswith(".thumb.jpg")
    ]


def sizes(paths: list[Path]) -> list[int]:
    return [p.stat().st_size for p in paths]
