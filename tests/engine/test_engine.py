"""The engine end to end, in-process: real archives and media in, library albums out."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import threading
import time
import weakref
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from ferryman.config import Settings
from ferryman.engine.context import Context
from ferryman.engine.ops import control, intake, report
from ferryman.engine.plumbing import destination
from ferryman.engine.plumbing.events import (
    AlbumDelivered,
    EventBus,
    ItemConverting,
    JobReadDone,
    JobWaiting,
)
from ferryman.engine.read import entry_batch, job_read, reading_thread
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, JobState
from ferryman.samples import make_photo, make_photo_set, make_tar, make_video, make_zip
from ferryman.store import Store
from ferryman.store.sql import sqlite_direct
from tests.support.clock import ManualClock, driven, engine_idle
from tests.support.engine_helpers import leftovers, library_files, run_until_idle, sha256
from tests.support.waiting import eventually


@pytest.fixture
async def sqlite_store(settings: Settings) -> Store:
    return await Store.open(settings.database)


async def test_archives_folders_and_files_become_albums(
    tmp_path: Path, settings: Settings, sqlite_store: Store
) -> None:
    store = sqlite_store
    src = tmp_path / "src"
    photos = make_photo_set(src / "p", 23)
    video = make_video(src / "clip.mp4", 1)
    readme = src / "readme.txt"
    readme.write_text("not media")
    archive = make_zip(
        tmp_path / "big.zip",
        [(f"sub/{p.name}", p) for p in photos[:12]]
        + [("v/clip.mp4", video), ("readme.txt", readme)],
    )
    tarball = make_tar(
        tmp_path / "t.tar.gz", [(f"a/b/{p.name}", p) for p in photos[12:]], compression="gz"
    )
    mkv = make_video(tmp_path / "remux-me.mkv", 2)
    jobs = [await intake.add_source(store, p) for p in (archive, tarball, mkv)]
    await run_until_idle(store, settings)

    files = library_files(settings.library)
    expected = {sha256(p) for p in photos} | {sha256(video)}
    delivered = [f["disk_sha256"] for f in files]
    assert len(delivered) == len(set(delivered)) == len(expected) + 1
    assert expected <= set(delivered)
    for f in files:
        assert f["sha256"] == f["disk_sha256"]  # the manifest tells the truth
    big = sorted({f["album_dir"] for f in files if "/big/" in f["album_dir"]})
    assert [Path(d).name for d in big] == ["0001", "0002"]  # 13 media: 10 + 3, in order
    first = json.loads((Path(big[0]) / "manifest.json").read_text())
    assert [i["source_path"] for i in first["items"]] == [f"sub/{p.name}" for p in photos[:10]]
    # album 1 may leave while the zip is still being read; its caption is final anyway
    assert first["caption"] == "big — 1/2"
    last = json.loads((Path(big[1]) / "manifest.json").read_text())
    assert last["caption"] == "big — 2/2"
    remuxed = [f for f in files if f["source_path"] == "remux-me.mkv"]
    assert remuxed and remuxed[0]["file"] == "remux-me.mp4" and remuxed[0]["actions"] == ["remux"]

    states = {j.id: (await store.get_job(j.id)).state for j in jobs}
    assert set(states.values()) == {JobState.DONE}
    rep = await report.report(store, jobs[0].id)
    assert rep["skipped"] == {"not_media": 1} and rep["delivered"] == 13
    assert leftovers(settings.work_dir) == []
    await store.close()


async def test_documents_are_sent_apart_when_asked(
    tmp_path: Path, settings: Settings, sqlite_store: Store
) -> None:
    store = sqlite_store
    await store.set_runtime_setting("send_documents", True)
    photo = make_photo(tmp_path / "a.jpg", 1)
    doc = tmp_path / "notes.txt"
    doc.write_text("hello")
    archive = make_zip(tmp_path / "mixed.zip", [("a.jpg", photo), ("notes.txt", doc)])
    await intake.add_source(store, archive)
    await run_until_idle(store, settings)
    files = library_files(settings.library)
    by_name = {f["file"]: f for f in files}
    assert by_name["notes.txt"]["kind"] == "document"
    assert by_name["notes.txt"]["album_dir"] != by_name["a.jpg"]["album_dir"]
    await store.close()


async def test_transcode_waits_for_deliverable_work(
    tmp_path: Path, settings: Settings, sqlite_store: Store
) -> None:
    """The first album holds no conversion: it goes before the encode starts. The
    video is the 13th file, so the second album (files 11-13) waits for it and keeps
    the archive's order (it once went last, alone: files 1 and 2 of the album ahead)."""
    store = sqlite_store
    hevc = make_video(tmp_path / "h.mkv", 3, vcodec="libx265", acodec=None)
    photos = make_photo_set(tmp_path / "p", 12)
    archive = make_zip(tmp_path / "m.zip", [(p.name, p) for p in photos] + [("h.mkv", hevc)])
    await intake.add_source(store, archive)
    engine = Engine(store, settings)
    order: list[str] = []
    engine.bus.subscribe(
        lambda e: order.append(e.kind) if isinstance(e, AlbumDelivered | ItemConverting) else None
    )
    await asyncio.wait_for(engine.run(until_idle=True), 120)
    assert order == ["album_delivered", "item_converting", "album_delivered"]
    files = library_files(settings.library)
    albums = sorted({f["album_dir"] for f in files})
    last = [f["source_path"] for f in files if f["album_dir"] == albums[-1]]
    assert last == [photos[10].name, photos[11].name, "h.mkv"]
    converted = [f for f in files if f["source_path"] == "h.mkv"]
    assert converted[0]["file"] == "h.mp4" and converted[0]["actions"] == ["transcode"]
    assert converted[0]["media"]["video_codec"] == "h264"
    assert leftovers(settings.work_dir) == []
    await store.close()


async def test_disk_floor_makes_the_job_wait_then_resume(
    tmp_path: Path, settings: Settings
) -> None:
    clock = ManualClock(start=time.time())  # the engine's and the store's
    store = await Store.open(settings.database, clock=clock.now)
    photos = make_photo_set(tmp_path / "p", 4)
    archive = make_zip(tmp_path / "z.zip", [(p.name, p) for p in photos])
    job = await intake.add_source(store, archive)
    await store.set_runtime_setting("space_floor", "1000TB")
    waits: list[str] = []
    running = await _run_until_it_waits_for_space(
        store, settings, clock, job.id, lambda e: waits.append(e.reason)
    )
    status = await report.status(store)
    assert status["jobs"][0]["waiting"] == "space.low"  # still waiting, not failed
    assert status["jobs"][0]["counts"]["delivered"] == 0
    await store.set_runtime_setting("space_floor", "0")
    await _run_out(clock, settings, running)
    assert waits[0] == "space.low"
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert len(library_files(settings.library)) == 4
    await store.close()


async def test_bad_inputs_get_codes_and_the_rest_continues(
    tmp_path: Path, settings: Settings, sqlite_store: Store
) -> None:
    store = sqlite_store
    good = make_zip(tmp_path / "good.zip", [("a.jpg", make_photo(tmp_path / "a.jpg", 1))])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text_zip = tmp_path / "notes.zip"
    text_zip.write_text("this is not a zip file\n" * 20)
    whole = make_zip(
        tmp_path / "whole.zip",
        [(f"{p.name}", p) for p in make_photo_set(tmp_path / "w", 6, size=(400, 300))],
        compress=False,
    )
    truncated = tmp_path / "truncated.zip"
    data = whole.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    fake_video = tmp_path / "movie.mp4"
    fake_video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000))
    inputs = {
        "missing": tmp_path / "nope.zip",
        "empty": empty,
        "text_zip": text_zip,
        "truncated": truncated,
        "fake_video": fake_video,
        "good": good,
    }
    jobs = {  # a download link quarantines what it cannot decode (a library keeps it)
        k: await intake.add_source(store, p, dest="link:" if k == "fake_video" else "library:")
        for k, p in inputs.items()
    }
    await run_until_idle(store, settings)
    codes = {k: (await store.get_job(j.id)).error_code for k, j in jobs.items()}
    assert codes["missing"] == "source.not_found"
    assert codes["empty"] == "source.empty"
    assert codes["text_zip"] == "archive.unreadable"
    assert codes["truncated"] == "archive.truncated"
    assert codes["good"] is None
    fake = await report.report(store, jobs["fake_video"].id)
    assert fake["quarantined"][0]["code"] == "media.unreadable"
    assert (settings.quarantine_dir).exists()
    reason_files = list(settings.quarantine_dir.rglob("movie.mp4.reason.txt"))
    assert reason_files and "media.unreadable" in reason_files[0].read_text()
    trunc = await report.report(store, jobs["truncated"].id)
    assert trunc["delivered"] >= 1  # what came before the cut is delivered
    assert trunc["error"]["code"] == "archive.truncated"
    assert list(settings.quarantine_dir.rglob("truncated.zip"))  # the input is kept
    assert truncated.exists()  # and the user's own file is not moved away
    assert {f["source_path"] for f in library_files(settings.library)} >= {"a.jpg"}
    for job in jobs.values():
        assert (await store.get_job(job.id)).state.terminal
    await store.close()


async def test_unreadable_file_permission(
    tmp_path: Path, settings: Settings, sqlite_store: Store
) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: file permissions cannot make a file unreadable")
    store = sqlite_store
    locked = make_photo(tmp_path / "locked.jpg", 1)
    locked.chmod(0)
    job = await intake.add_source(store, locked)
    await run_until_idle(store, settings)
    assert (await store.get_job(job.id)).error_code == "source.unreadable"
    await store.close()


async def test_cancel_and_pause_from_outside(
    tmp_path: Path, settings: Settings, sqlite_store: Store
) -> None:
    store = sqlite_store
    photos = make_photo_set(tmp_path / "p", 30)
    first = await intake.add_source(
        store, make_zip(tmp_path / "a.zip", [(p.name, p) for p in photos])
    )
    second = await intake.add_source(
        store, make_zip(tmp_path / "b.zip", [(p.name, p) for p in photos[:3]])
    )
    await store.set_paused(second.id, True)
    await store.cancel(first.id)
    await run_until_idle(store, settings)  # idle: the paused job does not block the exit
    assert (await store.get_job(first.id)).state is JobState.CANCELLED
    assert (await store.get_job(second.id)).state is JobState.QUEUED
    await store.set_paused(second.id, False)
    await run_until_idle(store, settings)
    assert (await store.get_job(second.id)).state is JobState.DONE
    assert len(library_files(settings.library)) == 3
    await store.close()


def test_zip_fixture_is_real(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "x.zip", [("a.jpg", make_photo(tmp_path / "a.jpg", 1))])
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None


async def test_passing_read_errors_are_retried_with_backoff(
    tmp_path: Path, settings: Settings, sqlite_store: Store
) -> None:
    """ENOSPC while staging is `space.low`: the job waits and resumes, using no attempt."""
    from ferryman.engine.read import stage

    store = sqlite_store
    photos = make_photo_set(tmp_path / "p", 3)
    job = await intake.add_source(
        store, make_zip(tmp_path / "z.zip", [(p.name, p) for p in photos])
    )
    real = stage.stage_entry
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> stage.Staged:
        calls["n"] += 1
        if calls["n"] == 2:
            raise FerrymanError("space.low", "the disk filled up")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    waits: list[str] = []
    engine = Engine(store, settings)
    engine.bus.subscribe(lambda e: waits.append(e.reason) if isinstance(e, JobWaiting) else None)
    from unittest import mock

    with mock.patch("ferryman.engine.read.staging.stage_entry", flaky):
        await asyncio.wait_for(engine.run(until_idle=True), 60)
    final = await store.get_job(job.id)
    assert waits == ["space.low"]
    assert final.state is JobState.DONE and final.attempts == 0
    assert sorted(f["disk_sha256"] for f in library_files(settings.library)) == sorted(
        sha256(p) for p in photos
    )
    await store.close()


@pytest.fixture
def tiny_work_area(settings: Settings) -> Iterator[Path]:
    """The work area on a real 2 MB filesystem, so space runs out for real."""
    work = settings.work_dir
    work.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(work)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield work
    finally:
        subprocess.run(["umount", "-l", str(work)], check=False)


async def waiting_for_space(store: Store, job_id: int) -> None:
    async def waits() -> bool:
        return (await store.get_job(job_id)).wait_reason == "space.low"

    await eventually(waits, f"job {job_id} waiting for space.low")


async def _run_until_it_waits_for_space(
    store: Store,
    settings: Settings,
    clock: ManualClock,
    job_id: int,
    on_wait: Callable[[JobWaiting], object] = lambda _: None,
) -> asyncio.Task[None]:
    """The engine on ``clock`` (the store's too), running, with the job seen waiting on
    space.low, and still waiting after twenty rechecks of the space, each worker back at
    its wait after them: an engine that failed the job or ended its run there would
    have by then (no window waited out in real time)."""
    engine = Engine(store, settings, clock=clock)
    engine.bus.subscribe(lambda e: on_wait(e) if isinstance(e, JobWaiting) else None)
    running = asyncio.create_task(engine.run(until_idle=True))

    async def waits() -> bool:
        return (await store.get_job(job_id)).wait_reason == "space.low"

    await driven(clock, settings, waits, f"job {job_id} waiting for space.low")
    await engine_idle(clock, settings)
    await clock.advance(20 * settings.space_recheck_seconds)
    await engine_idle(clock, settings)
    assert not running.done()
    assert await waits()
    return running


async def _run_out(clock: ManualClock, settings: Settings, running: asyncio.Task[None]) -> None:
    """The run ``--until-idle`` to its end, its clock moved a poll at a time."""
    await driven(clock, settings, running.done, "the run at its end")
    await running


async def test_freeing_space_lets_a_waiting_job_resume(
    tmp_path: Path, settings: Settings, tiny_work_area: Path
) -> None:
    clock = ManualClock(start=time.time())  # the engine's and the store's
    store = await Store.open(settings.database, clock=clock.now)
    big = [tmp_path / f"big{n}.png" for n in range(3)]
    for n, path in enumerate(big):  # ~270 KB each: real PNGs of noise, incompressible
        noise = random.Random(n).randbytes(300 * 300 * 3)
        Image.frombytes("RGB", (300, 300), noise).save(path, "PNG")
    job = await intake.add_source(store, make_zip(tmp_path / "big.zip", [(p.name, p) for p in big]))
    filler = tiny_work_area / "someone-elses-file"
    filler.write_bytes(b"\0" * 1_900_000)  # another program fills the disk
    running = await _run_until_it_waits_for_space(store, settings, clock, job.id)
    filler.unlink()  # space is freed: the job resumes by itself
    await _run_out(clock, settings, running)
    assert (await store.get_job(job.id)).state is JobState.DONE
    delivered = sorted(f["disk_sha256"] for f in library_files(settings.library))
    assert delivered == sorted(sha256(p) for p in big)  # copied across filesystems intact
    await store.close()


async def test_a_nested_archive_waits_for_space_before_it_is_copied_out(
    tmp_path: Path, settings: Settings, tiny_work_area: Path
) -> None:
    """A nested archive is copied to the work area to be read: it waits for room like
    an entry does, instead of filling the disk (ENOSPC) or failing the job."""
    clock = ManualClock(start=time.time())  # the engine's and the store's
    store = await Store.open(settings.database, clock=clock.now)
    small = make_photo(tmp_path / "small.jpg", 1)
    big = tmp_path / "big.png"  # ~270 KB of noise: incompressible
    Image.frombytes("RGB", (300, 300), random.Random(5).randbytes(300 * 300 * 3)).save(big)
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as zf:
        zf.write(big, "big.png")
        zf.writestr("padding.bin", random.Random(6).randbytes(600_000))
    top = tmp_path / "top.zip"
    with zipfile.ZipFile(top, "w", zipfile.ZIP_STORED) as zf:
        zf.write(small, "small.jpg")
        zf.write(inner, "inner.zip")
    job = await intake.add_source(store, top)
    filler = tiny_work_area / "someone-elses-file"
    filler.write_bytes(b"\0" * 1_300_000)  # room for the photo, not for inner.zip (~870 KB)
    running = await _run_until_it_waits_for_space(store, settings, clock, job.id)
    # Waiting inside the reading step (not a failed copy sent back to the queue):
    assert (await store.get_job(job.id)).state is JobState.READING
    nested = tiny_work_area / f"job-{job.id:05d}" / "nested"
    assert not nested.exists() or not any(p.is_file() for p in nested.rglob("*"))
    filler.unlink()
    await _run_out(clock, settings, running)
    assert (await store.get_job(job.id)).state is JobState.DONE
    delivered = sorted(f["disk_sha256"] for f in library_files(settings.library))
    assert delivered == sorted(sha256(p) for p in (small, big))
    await store.close()


async def test_cancelling_a_job_whose_nested_archive_waits_for_space(
    tmp_path: Path, settings: Settings, sqlite_store: Store, tiny_work_area: Path
) -> None:
    """The wait for room runs for the reading thread; cancelling the job must end it
    at once, not when room appears, and nothing is copied out afterwards."""
    store = sqlite_store
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("padding.bin", random.Random(7).randbytes(900_000))
    top = tmp_path / "top.zip"
    with zipfile.ZipFile(top, "w", zipfile.ZIP_STORED) as zf:
        zf.write(inner, "inner.zip")
    job = await intake.add_source(store, top)
    filler = tiny_work_area / "someone-elses-file"
    filler.write_bytes(b"\0" * 1_300_000)
    quick = settings.model_copy(update={"lease_seconds": 1.0})  # the lost lease seen soon
    engine = Engine(store, quick)
    readers_before = set(threading.enumerate())
    running = asyncio.create_task(engine.run())  # a long-running engine: it stays up
    await waiting_for_space(store, job.id)
    await control.cancel_job(store, job.id)
    assert (await store.get_job(job.id)).state is JobState.CANCELLED
    # The reading worker is free again while there is still no room: the next job runs.
    photo = make_photo(tmp_path / "next.jpg", 2)
    following = await intake.add_source(store, photo)

    async def done() -> bool:
        return (await store.get_job(following.id)).state is JobState.DONE

    await eventually(done, "the next job done while the cancelled one's input waits")
    # Still no room: a reading thread stuck in the wait would stay alive; each ends only
    # once its wait ended and it closed its reader. None left: nothing can copy out.
    await eventually(
        lambda: not [
            t for t in threading.enumerate()
            if t.name.startswith("ferryman-read") and t not in readers_before
        ],
        "every reading thread of this engine ended (none left waiting for room)",
    )  # fmt: skip
    filler.unlink()
    nested = tiny_work_area / f"job-{job.id:05d}" / "nested"
    assert not nested.exists() or not any(p.is_file() for p in nested.rglob("*"))
    engine.stop()
    await asyncio.wait_for(running, 20)
    await store.close()


async def test_an_unexpected_error_is_retried_a_bounded_number_of_times(
    tmp_path: Path, settings: Settings, sqlite_store: Store
) -> None:
    """A bug in a step must end the job with engine.internal, not loop forever."""
    from unittest import mock

    store = sqlite_store
    await store.set_runtime_setting("backlog_items", 20)
    fast = settings.model_copy(
        update={
            "retry": settings.retry.model_copy(update={"max_attempts": 3, "base_seconds": 0.01})
        }
    )
    photos = make_photo_set(tmp_path / "p", 2)
    job = await intake.add_source(
        store, make_zip(tmp_path / "z.zip", [(p.name, p) for p in photos])
    )

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    with mock.patch("ferryman.engine.read.staging.prepare", broken):
        await asyncio.wait_for(run_until_idle(store, fast), 60)
    final = await store.get_job(job.id)
    assert final.state is JobState.FAILED
    assert final.error_code == "engine.internal"
    assert final.attempts == 2  # two retries, then the third failure ends it
    await store.close()


async def test_two_broken_videos_of_one_name_are_both_kept_in_quarantine(
    tmp_path: Path, settings: Settings, sqlite_store: Store
) -> None:
    root = tmp_path / "trip"
    made = {}
    for day in ("day1", "day2"):
        (root / day).mkdir(parents=True)
        data = b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000)
        (root / day / "movie.mp4").write_bytes(data)
        made[day] = data
    job = await intake.add_source(sqlite_store, root, dest="link:")  # a library keeps them
    await run_until_idle(sqlite_store, settings)
    states = [it.state for it in await sqlite_store.job_items(job.id)]
    assert states == [ItemState.QUARANTINED, ItemState.QUARANTINED]
    kept = sorted(p for p in settings.quarantine_dir.rglob("movie.mp4") if p.is_file())
    assert [p.read_bytes() for p in kept] == [made["day1"], made["day2"]]
    assert [p.parent.name for p in kept] == ["day1", "day2"]


@pytest.mark.parametrize("outcome", ["fails", "succeeds"])
async def test_cancelling_a_job_mid_album_leaves_no_work_files(
    tmp_path: Path,
    settings: Settings,
    sqlite_store: Store,
    monkeypatch: pytest.MonkeyPatch,
    outcome: str,
) -> None:
    """A cancel lets the album being delivered finish; whichever way it ends, the job's
    work folder goes, and the summary counts what went out."""
    from ferryman.sinks.library import LibrarySink

    store = sqlite_store
    photos = make_photo_set(tmp_path / "p", 4)
    job = await intake.add_source(
        store, make_zip(tmp_path / "a.zip", [(p.name, p) for p in photos])
    )
    started, release = asyncio.Event(), asyncio.Event()
    real = LibrarySink.deliver

    async def held_open(self: LibrarySink, delivery: Any) -> str:
        started.set()
        await release.wait()
        if outcome == "fails":
            raise OSError(28, "No space left on device")
        return await real(self, delivery)

    monkeypatch.setattr(LibrarySink, "deliver", held_open)
    # A folder goes a lease's length after the job ended: short, so the test is quick.
    engine = Engine(store, settings.model_copy(update={"lease_seconds": 1.0}))
    running = asyncio.create_task(engine.run())
    await asyncio.wait_for(started.wait(), 30)
    work = settings.work_dir / f"job-{job.id:05d}"
    assert leftovers(work), "the album's files are in the work area while it is delivered"
    await control.cancel_job(store, job.id)
    release.set()
    await eventually(lambda: not work.exists(), f"{work} removed after the cancel")
    engine.stop()
    await asyncio.wait_for(running, 30)
    assert not work.exists() and leftovers(settings.work_dir) == []
    ended = await store.get_job(job.id)
    assert ended.state is JobState.CANCELLED and ended.summary is not None
    states = {it.state for it in await store.job_items(job.id)}
    if outcome == "fails":
        assert states == {ItemState.CANCELLED}
        assert library_files(settings.library) == []
    else:
        assert states == {ItemState.DELIVERED}
        assert ended.summary["delivered"] == 4
        assert len(library_files(settings.library)) == 4


async def test_an_entry_larger_than_the_whole_disk_fails_alone_instead_of_waiting(
    tmp_path: Path, settings: Settings, sqlite_store: Store, tiny_work_area: Path
) -> None:
    """On a 2 MB disk, a 3 MB entry (or nested archive) can never have room: it fails
    with space.too_large and the rest of the archive is delivered."""
    store = sqlite_store
    small = make_photo(tmp_path / "a.jpg", 1)
    big = tmp_path / "big.jpg"
    big.write_bytes(random.Random(1).randbytes(3_000_000))
    inner_file = tmp_path / "inner.jpg"
    inner_file.write_bytes(random.Random(2).randbytes(3_000_000))
    inner = make_zip(tmp_path / "inner.zip", [("inner.jpg", inner_file)], compress=False)
    archive = make_zip(
        tmp_path / "o.zip",
        [("a.jpg", small), ("big.jpg", big), ("inner.zip", inner)],
        compress=False,
    )
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings, limit=60)
    items = {Path(it.source_path).name: it for it in await store.job_items(job.id)}
    assert items["a.jpg"].state is ItemState.DELIVERED
    for name in ("big.jpg", "inner.zip"):
        assert items[name].state is ItemState.FAILED, name
        assert items[name].error_code == "space.too_large", name
    assert (await store.get_job(job.id)).state.terminal
    assert [f["source_path"] for f in library_files(settings.library)] == ["a.jpg"]


async def test_the_reading_thread_stages_small_entries_in_runs(
    tmp_path: Path, settings: Settings, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hop to the reading thread and back per entry, and one more for the next entry,
    was most of a small photo's cost on the loop: a run stages many in one hop."""
    photos = make_photo_set(tmp_path / "photos", 120, size=(32, 24))
    job = await intake.add_source(sqlite_store, tmp_path / "photos")
    hops: list[str] = []
    call = reading_thread.ReadingThread.call

    async def counted(reader: Any, fn: Any, *args: Any) -> Any:
        hops.append(getattr(fn, "__name__", repr(fn)))
        return await call(reader, fn, *args)

    monkeypatch.setattr(reading_thread.ReadingThread, "call", counted)
    # A backlog that never fills: how often a full one cuts a run short depends on how
    # fast albums leave (with 20, about one entry per album went the careful way).
    roomy = settings.model_copy(update={"backlog_items": 1000})
    await run_until_idle(sqlite_store, roomy)

    delivered = [f["disk_sha256"] for f in library_files(settings.library)]
    assert sorted(delivered) == sorted(sha256(p) for p in photos)
    assert (await sqlite_store.get_job(job.id)).state is JobState.DONE
    assert hops.count("stage_and_prepare") == 0  # none was left to the loop
    runs = hops.count("read_run")
    assert 1 <= runs <= 120 / 4, f"{runs} runs for 120 entries: {hops}"  # was 240 hops


async def test_a_batch_that_failed_to_record_goes_first_in_the_next_flush(
    tmp_path: Path, settings: Settings, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nested archive's wait for room may flush the batch while the loop adds to it:
    a flush that fails must not let the next one move the cursor past its entries."""
    store = sqlite_store
    make_photo_set(tmp_path / "photos", 6)
    await intake.add_source(store, tmp_path / "photos")
    job = await store.claim_job("test", 60)
    assert job is not None
    ctx = Context(store, EventBus(), settings, owner="test")
    batch = entry_batch.EntryBatch(ctx, job, await destination.resolve(ctx, job.dest))
    record = store.record_entries
    calls = 0

    async def failing_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return await record(*args, **kwargs)

    monkeypatch.setattr(store, "record_entries", failing_once)
    for index in range(3):
        await batch.add(index, f"skipped-{index}", job_read.skipped("not_media"))
    with pytest.raises(OperationalError):
        await batch.flush()
    for index in range(3, 5):  # added meanwhile, flushed by someone else
        await batch.add(index, f"skipped-{index}", job_read.skipped("not_media"))
    await batch.flush()
    items = await store.job_items(job.id)
    assert [item.seq for item in items] == [0, 1, 2, 3, 4]
    assert (await store.get_job(job.id)).cursor == 5


async def test_small_entries_are_recorded_in_batches_and_a_stop_loses_none(
    tmp_path: Path, settings: Settings, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several entries share a transaction (a commit per entry was most of a small
    photo's cost); a stop between batches drops the unrecorded ones, read again next run."""
    store = sqlite_store
    photos = make_photo_set(tmp_path / "photos", 300, size=(32, 24))
    archive = make_zip(tmp_path / "many.zip", [(p.name, p) for p in photos])
    job = await intake.add_source(store, archive)
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ITEMS"):
            inserts.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    run = sqlite_direct._run  # statements sql/sqlite_direct runs on sqlite3 itself count too

    def counted(db: Any, statement: str, values: Any) -> Any:
        count(db, None, statement)
        return run(db, statement, values)

    monkeypatch.setattr(sqlite_direct, "_run", counted)
    engine = Engine(store, settings)

    def stop_after_two_albums(ev: Any) -> None:
        if isinstance(ev, AlbumDelivered) and ev.album == 2:
            engine.stop()  # the reader may hold a batch it has not recorded yet

    engine.bus.subscribe(stop_after_two_albums)
    await asyncio.wait_for(engine.run(), 60)
    assert (await store.get_job(job.id)).state is not JobState.DONE  # stopped part-way
    await run_until_idle(store, settings)

    delivered = [f["disk_sha256"] for f in library_files(settings.library)]
    assert sorted(delivered) == sorted(sha256(p) for p in photos)  # each once
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert leftovers(settings.work_dir) == []
    # both runs together: at most a fifth as many statements as entries
    assert 1 <= len(inserts) <= 300 / 5, f"{len(inserts)} item inserts for 300 entries"


async def test_a_delivered_album_hands_the_next_one_to_its_worker(
    tmp_path: Path, settings: Settings, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transaction that records an album delivered claims the next sealed one: one
    claim of its own per run of sealed albums, not one per album."""
    from ferryman.sinks.library import LibrarySink

    store = sqlite_store
    photos = make_photo_set(tmp_path / "photos", 45, size=(32, 24))
    job = await intake.add_source(store, tmp_path / "photos")
    claimed: list[int] = []
    claim = store.claim_delivery

    async def counted(*args: Any, **kwargs: Any) -> Any:
        got = await claim(*args, **kwargs)
        if got is not None:
            claimed.append(got.album.seq)
        return got

    monkeypatch.setattr(store, "claim_delivery", counted)
    read = asyncio.Event()
    deliver = LibrarySink.deliver

    async def after_reading(sink: LibrarySink, delivery: Any) -> Any:
        await read.wait()  # every album is sealed before the first one goes
        return await deliver(sink, delivery)

    monkeypatch.setattr(LibrarySink, "deliver", after_reading)
    engine = Engine(store, settings.model_copy(update={"backlog_items": 1000}))
    engine.bus.subscribe(lambda e: read.set() if isinstance(e, JobReadDone) else None)
    await asyncio.wait_for(engine.run(until_idle=True), 60)

    delivered = [f["disk_sha256"] for f in library_files(settings.library)]
    assert sorted(delivered) == sorted(sha256(p) for p in photos)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert claimed == [1], claimed  # albums 2-5 came with the deliveries before them


class _Cycle:
    """An object that refers to itself: freed only by a collection that sees it."""

    me: object


async def test_a_front_door_sets_start_up_aside_from_the_collector(settings: Settings) -> None:
    """What start-up made is kept out of the collector's walks from the engine's start
    to the process's end (the process is the front door's: nothing thaws it), and what
    the run makes is collected as before."""
    import gc

    from ferryman.frontdoors.startup import running

    gc.unfreeze()  # the test runner's own (tests/conftest.py): a process's as it starts
    try:
        async with running(settings) as started:
            assert gc.get_freeze_count() > 0
            made = _Cycle()
            made.me = made  # made while the engine runs, freed only by a collection
            seen = weakref.ref(made)
            del made
            await asyncio.wait_for(started.engine.run(until_idle=True), 30)
            gc.collect()
            assert seen() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.collect()
        gc.freeze()


async def test_a_heap_set_aside_by_the_process_owner_stays_so_through_a_front_door(
    settings: Settings,
) -> None:
    """Thawing is the owner's: a front door inside a process whose heap was set aside
    already (a test runner, a fork server's child) leaves it set aside."""
    import gc

    from ferryman.frontdoors.startup import running

    garbage = _Cycle()
    garbage.me = garbage  # freed only by a collection that sees it
    seen = weakref.ref(garbage)
    gc.freeze()
    del garbage
    async with running(settings) as started:
        await asyncio.wait_for(started.engine.run(until_idle=True), 30)
    gc.collect()
    assert seen() is not None  # still out of the collector's sight: not thawed
    gc.unfreeze()
    gc.collect()
    assert seen() is None  # the owner's thaw gives it back
    gc.freeze()


async def test_a_start_waits_for_the_lock_of_a_ferryman_that_stopped_only_when_asked(
    settings: Settings,
) -> None:
    """`add --run` takes over once the running ferryman marked itself stopped, but that
    process still closes its store before its lock goes: the take-over waits for the
    lock (``lock_wait``); a plain start is refused at once, as before."""
    from ferryman.engine.plumbing.lock import DataDirLock
    from ferryman.frontdoors.startup import running

    held = DataDirLock(settings.data_dir, "run").__enter__()  # the stopping ferryman's
    with pytest.raises(FerrymanError) as refused:
        async with running(settings):
            pass
    assert refused.value.code == "engine.locked"
    entered = asyncio.Event()

    async def take_over() -> None:
        async with running(settings, lock_wait=60):
            entered.set()

    tries = 0
    enter = DataDirLock.__enter__

    def counted(lock: DataDirLock) -> DataDirLock:
        nonlocal tries
        tries += 1
        return enter(lock)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DataDirLock, "__enter__", counted)
        taking = asyncio.create_task(take_over())
        await eventually(lambda: tries >= 3, "three looks at the held lock")
        assert not entered.is_set() and not taking.done()  # still waiting, not refused
        held.__exit__(None, None, None)  # that process ended
    await asyncio.wait_for(taking, 60)
    assert entered.is_set()


async def test_a_chained_album_survives_its_predecessors_heartbeat(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record of a delivery clears the album's owner: a heartbeat after it would
    take that for a lost lease and cancel the step, dropping the album claimed with the
    record, which would then wait out its lease while the next one went first."""
    from ferryman.sinks.library import LibrarySink

    clock = ManualClock(start=time.time())  # the engine's and the store's
    store = await Store.open(settings.database, clock=clock.now)
    make_photo_set(tmp_path / "photos", 30, size=(32, 24))
    job = await intake.add_source(store, tmp_path / "photos")
    read = asyncio.Event()
    sent: list[int] = []
    deliver = LibrarySink.deliver

    async def after_reading(sink: LibrarySink, delivery: Any) -> Any:
        await read.wait()  # all three albums are sealed before the first one goes
        sent.append(delivery.album.seq)
        return await deliver(sink, delivery)

    recorded = store.album_delivered

    async def slow_after_record(*args: Any, **kwargs: Any) -> Any:
        chained = await recorded(*args, **kwargs)
        await clock.advance(0.6)  # past a heartbeat (lease 1 s: one every third)
        return chained

    monkeypatch.setattr(LibrarySink, "deliver", after_reading)
    monkeypatch.setattr(store, "album_delivered", slow_after_record)
    quick = settings.model_copy(update={"backlog_items": 1000, "lease_seconds": 1.0})
    engine = Engine(store, quick, clock=clock)
    engine.bus.subscribe(lambda e: read.set() if isinstance(e, JobReadDone) else None)
    try:
        await asyncio.wait_for(engine.run(until_idle=True), 60)
        assert sent == [1, 2, 3]  # in order: none stranded behind a false lost lease
        assert (await store.get_job(job.id)).state is JobState.DONE
    finally:
        await store.close()


@pytest.mark.parametrize("photos", [1, 10, 12, 20, 30])
async def test_a_jobs_last_album_ends_it_without_the_housekeepers_gap(
    tmp_path: Path,
    settings: Settings,
    sqlite_store: Store,
    monkeypatch: pytest.MonkeyPatch,
    photos: int,
) -> None:
    """Housekeeping rounds are kept apart (a busy engine ran one per album); the job's
    last album, or the end of its reading when that comes last, cuts the gap short, so
    the job ends, and ``run --until-idle`` exits, at once. Full albums only (10, 20, 30)
    are often claimed before the reading ends, partial ones after."""
    from ferryman.engine import runner

    monkeypatch.setattr(runner, "KEEPER_GAP_SECONDS", 60.0)
    store = sqlite_store
    make_photo_set(tmp_path / "photos", photos, size=(32, 24))
    job = await intake.add_source(store, tmp_path / "photos")
    engine = Engine(store, settings.model_copy(update={"poll_seconds": 60.0}))
    await asyncio.wait_for(engine.run(until_idle=True), 20)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert len(library_files(settings.library)) == photos
