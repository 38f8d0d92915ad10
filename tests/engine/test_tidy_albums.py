"""Albums are tidy when some of their videos need converting (a trial's 19 files, three
of them HEVC MKVs, arrived as albums of 10, 1 and 8: the ready files around a
conversion went ahead without it). An album's files are chosen in the input's order
among those that will be delivered, so it waits for a conversion in its place, up to
``convert.album_wait_seconds`` (the engine's clock), then goes without it. Real media:
JPEGs and HEVC MKVs made by PyAV, a real zip, the engine in-process to a library."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.events import AlbumDelivered
from ferryman.engine.runner import Engine
from ferryman.model import ItemState, JobState, MediaKind
from ferryman.samples import make_photo_set, make_video, make_zip
from ferryman.store import Store
from ferryman.store.shared.rows import NewItem
from tests.support.clock import ManualClock, driven, engine_idle
from tests.support.engine_helpers import leftovers, library_files
from tests.support.telegram_helpers import media_kind
from tests.telegram.test_telegram_sink import World

VIDEOS = (2, 6, 14)  # the 3rd, 7th and 15th of 19 files


def _nineteen(tmp_path: Path) -> tuple[Path, list[str]]:
    """A zip of 19 files, 16 photos and three HEVC MKVs in their places; its names in order."""
    photos = iter(make_photo_set(tmp_path / "p", 16))
    files = []
    for n in range(19):
        if n in VIDEOS:
            clip = make_video(tmp_path / f"{n:02d}.mkv", n, vcodec="libx265", acodec=None)
            files.append((f"{n:02d}.mkv", clip))
        else:
            files.append((f"{n:02d}.jpg", next(photos)))
    return make_zip(tmp_path / "trip.zip", files), [name for name, _ in files]


def _albums(settings: Settings) -> list[list[str]]:
    """The library's albums in order, each its files' names in the input."""
    files = library_files(settings.library)
    dirs = sorted({f["album_dir"] for f in files})
    return [[f["source_path"] for f in files if f["album_dir"] == d] for d in dirs]


async def test_nineteen_files_with_conversions_go_as_ten_and_nine_in_order(
    tmp_path: Path, settings: Settings
) -> None:
    store = await Store.open(settings.database)
    archive, names = _nineteen(tmp_path)
    job = await intake.add_source(store, archive)
    engine = Engine(store, settings)
    sizes: list[int] = []
    engine.bus.subscribe(lambda e: sizes.append(e.items) if isinstance(e, AlbumDelivered) else None)
    await asyncio.wait_for(engine.run(until_idle=True), 180)
    assert _albums(settings) == [names[:10], names[10:]]  # 10 + 9, each video in its place
    assert sizes == [10, 9]  # two deliveries, nothing sent again
    files = library_files(settings.library)
    videos = [f for f in files if f["source_path"].endswith(".mkv")]
    assert [f["file"] for f in videos] == ["02.mp4", "06.mp4", "14.mp4"]
    assert {f["media"]["video_codec"] for f in videos} == {"h264"}
    assert all(f["actions"] == ["transcode"] for f in videos)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert leftovers(settings.work_dir) == []
    await store.close()


async def test_an_album_waits_for_a_slow_conversion_only_up_to_the_wait(tmp_path: Path) -> None:
    """Another machine's album is being delivered under a long lease, so no conversion
    starts here (deliverable work goes first): the video's album waits, on the engine's
    clock, ``album_wait_seconds`` from when its photos were ready, then goes without it;
    the video, converted once that delivery ends, follows alone (nothing comes after)."""
    wait = 20.0
    overrides = {"data_dir": tmp_path / "data", "poll_seconds": 0.05, "space_floor": 0}
    settings = load_settings(None, overrides | {"convert": {"album_wait_seconds": wait}})
    clock = ManualClock(start=time.time())  # the engine's and the store's
    store = await Store.open(settings.database, clock=clock.now)
    other = await store.add_job(source="/elsewhere", name="elsewhere", dest="library:")
    claimed = await store.claim_job("elsewhere", 30)
    assert claimed is not None and claimed.id == other.id
    photo = NewItem(seq=0, source_path="x.jpg", kind=MediaKind.PHOTO, state=ItemState.READY)
    await store.record_entries(other.id, "elsewhere", 1, [photo], 10, last=True)
    held = await store.claim_album("elsewhere", 3600)
    assert held is not None
    photos = make_photo_set(tmp_path / "p", 4)
    clip = make_video(tmp_path / "01.mkv", 1, vcodec="libx265", acodec=None)
    files = [
        ("00.jpg", photos[0]),
        ("01.mkv", clip),
        *[(f"0{n}.jpg", photos[n - 1]) for n in (2, 3, 4)],
    ]
    job = await intake.add_source(store, make_zip(tmp_path / "five.zip", files))
    engine = Engine(store, settings, clock=clock)
    running = asyncio.create_task(engine.run(until_idle=True))

    async def read() -> bool:
        return (await store.get_job(job.id)).read_done

    await driven(clock, settings, read, "the zip read")
    await engine_idle(clock, settings)
    read_at = clock.now()
    await driven(
        clock, settings, lambda: clock.now() >= read_at + wait / 2, "half the wait", step=1.0
    )
    await engine_idle(clock, settings)
    assert await store.album_count(job.id) == 0  # waiting for the video, half the wait on

    async def delivered() -> bool:
        return bool(library_files(settings.library))

    await driven(clock, settings, delivered, "the album past its wait", step=1.0)
    assert read_at + wait - 1 <= clock.now() <= read_at + wait + 5
    assert _albums(settings) == [["00.jpg", "02.jpg", "03.jpg", "04.jpg"]]
    await store.album_delivered(held.id, "elsewhere", "ref")  # that delivery ends
    await driven(clock, settings, running.done, "the run at its end")
    await running
    assert _albums(settings) == [["00.jpg", "02.jpg", "03.jpg", "04.jpg"], ["01.mkv"]]
    assert (await store.get_job(job.id)).state is JobState.DONE
    await store.close()


async def test_to_telegram_nineteen_files_arrive_as_ten_and_nine_in_order(tmp_path: Path) -> None:
    """The trial's own way: to a Telegram channel (the real Telethon client against the
    fake), two albums of 10 and 9 messages, each file once, each video in its place."""
    w = await World.logged_in(tmp_path)
    store = await w.store()
    archive, names = _nineteen(tmp_path / "made")
    job = await intake.add_source(store, archive, dest="telegram:@dest")
    await w.run(store, limit=180)
    sent = w.server.chat(w.channel)
    groups = [m.grouped_id for m in sent]
    assert [groups.count(g) for g in dict.fromkeys(groups)] == [10, 9]
    expected = ["video" if name.endswith(".mkv") else "photo" for name in names]
    assert [media_kind(m) for m in sent] == expected
    assert {it.state for it in await store.job_items(job.id)} == {ItemState.DELIVERED}
    await store.close()
