"""A full destination is a wait, like a full work area: the library on a real 2 MB
filesystem (tmpfs) that another program fills; the job waits with ``sink.space_low``
(where, how much), never fails an item for want of room, leaves no ``.partial``
folder on any outcome, and delivers everything exactly once when room comes back.
The results bucket's "full" answers are the same wait."""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image
from sqlalchemy import update

from ferryman.config import Settings
from ferryman.engine.ops import intake, report
from ferryman.engine.plumbing.events import AlbumWaiting, Event
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.frontdoors.startup import running
from ferryman.model import ItemState, JobState
from ferryman.net.s3 import S3Client, S3Target
from ferryman.samples import make_zip
from ferryman.sinks import library as library_sink
from ferryman.store import Store
from ferryman.store.schema import albums
from tests.store.test_store import _expanded_job
from tests.support.engine_helpers import library_files, sha256
from tests.support.waiting import eventually

SINK_FULL = "sink.space_low"


@pytest.fixture
async def sqlite_store(settings: Settings) -> Store:
    return await Store.open(settings.database)


@pytest.fixture
def tiny_library(settings: Settings) -> Iterator[Path]:
    """The library on a real 2 MB filesystem, so its space runs out for real (the work
    area stays on the test's disk: every file is copied, none hard-linked)."""
    with _tiny_disk(settings.library) as library:
        yield library


@contextlib.contextmanager
def _tiny_disk(library: Path) -> Iterator[Path]:
    library.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(library)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield library
    finally:
        subprocess.run(["umount", "-l", str(library)], check=False)


@pytest.fixture
def quick(settings: Settings) -> Settings:
    """One attempt only: on the old code a full disk failed the album at once."""
    retry = settings.retry.model_copy(update={"max_attempts": 1, "base_seconds": 0.05})
    return settings.model_copy(update={"retry": retry})


def _noise_pngs(folder: Path, count: int) -> list[Path]:
    """~270 KB each: real PNGs of noise, incompressible."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"noise{n}.png"
        noise = random.Random(n).randbytes(300 * 300 * 3)
        Image.frombytes("RGB", (300, 300), noise).save(path, "PNG")
        paths.append(path)
    return paths


def _half_built(library: Path) -> list[Path]:
    return list(library.rglob("*.partial"))


async def _waiting_for_space(store: Store, engine: Engine, job_id: int, rechecks: int) -> None:
    """The job shows the destination's wait, and the album has been tried ``rechecks``
    times since without failing."""
    seen: list[Event] = []
    unsubscribe = engine.bus.subscribe(seen.append)

    async def waits() -> bool:
        job = await store.get_job(job_id)
        tried = sum(isinstance(e, AlbumWaiting) and e.job_id == job_id for e in seen)
        return job.wait_reason == SINK_FULL and tried >= rechecks

    try:
        await eventually(waits, f"job {job_id} waiting for {SINK_FULL}, {rechecks} rechecks")
    finally:
        unsubscribe()


@pytest.mark.parametrize("dest", ["library:", "link:"])
async def test_a_full_destination_waits_then_delivers_everything_once(
    tmp_path: Path, quick: Settings, sqlite_store: Store, dest: str
) -> None:
    """The library, and ``link:``'s results folder (its previews written too)."""
    store = sqlite_store
    photos = _noise_pngs(tmp_path / "in", 5)
    zipped = make_zip(tmp_path / "in.zip", [(p.name, p) for p in photos])
    folder = quick.library if dest == "library:" else quick.results_dir
    with _tiny_disk(folder) as tiny_library:
        await _waits_then_delivers(store, quick, zipped, dest, tiny_library, photos)


async def _waits_then_delivers(
    store: Store, quick: Settings, zipped: Path, dest: str, tiny_library: Path, photos: list[Path]
) -> None:
    job = await intake.add_source(store, zipped, dest=dest)
    filler = tiny_library / "someone-elses-file"
    filler.write_bytes(b"\0" * 1_900_000)  # another program fills the disk
    engine = Engine(store, quick)
    run = asyncio.create_task(engine.run(until_idle=True))
    await _waiting_for_space(store, engine, job.id, rechecks=5)
    waiting = await store.get_job(job.id)
    assert waiting.state is not JobState.DONE and not run.done()
    assert str(tiny_library) in (waiting.error_message or "") and "MB" in (
        waiting.error_message or ""
    )
    told = await report.report(store, job.id)
    assert told["waiting"]["code"] == SINK_FULL and "free space there" in told["waiting"]["next"]
    assert not any(it.state is ItemState.FAILED for it in await store.job_items(job.id))
    assert _half_built(tiny_library) == []
    filler.unlink()  # room again: the job goes on by itself
    await asyncio.wait_for(run, 60)
    done = await store.get_job(job.id)
    assert done.state is JobState.DONE and done.error_code is None, done
    assert done.wait_reason is None and done.error_message is None
    delivered = sorted(f["disk_sha256"] for f in library_files(tiny_library))
    assert delivered == sorted(sha256(p) for p in photos)  # each once, intact
    assert _half_built(tiny_library) == []
    await store.close()


async def test_a_disk_that_fills_mid_album_leaves_no_half_album_and_waits(
    tmp_path: Path,
    quick: Settings,
    sqlite_store: Store,
    tiny_library: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The room looked enough and another program took it meanwhile: the copy meets
    the kernel's ENOSPC half-way; the half-built folder goes, and the job waits."""
    store = sqlite_store
    monkeypatch.setattr(library_sink, "check_space", lambda *args: None, raising=False)  # a race
    photos = _noise_pngs(tmp_path / "in", 5)
    job = await intake.add_source(
        store, make_zip(tmp_path / "in.zip", [(p.name, p) for p in photos])
    )
    filler = tiny_library / "someone-elses-file"
    filler.write_bytes(b"\0" * 1_200_000)  # room for some of the album, not all
    engine = Engine(store, quick)
    run = asyncio.create_task(engine.run(until_idle=True))
    await _waiting_for_space(store, engine, job.id, rechecks=3)
    assert _half_built(tiny_library) == []
    assert not any(it.state is ItemState.FAILED for it in await store.job_items(job.id))
    filler.unlink()
    await asyncio.wait_for(run, 60)
    assert (await store.get_job(job.id)).state is JobState.DONE
    delivered = sorted(f["disk_sha256"] for f in library_files(tiny_library))
    assert delivered == sorted(sha256(p) for p in photos)
    assert _half_built(tiny_library) == []
    await store.close()


async def test_cancelled_while_waiting_for_space_and_a_killed_runs_half_album_swept(
    tmp_path: Path, quick: Settings, sqlite_store: Store, tiny_library: Path
) -> None:
    store = sqlite_store
    photos = _noise_pngs(tmp_path / "in", 5)
    job = await intake.add_source(
        store, make_zip(tmp_path / "in.zip", [(p.name, p) for p in photos])
    )
    filler = tiny_library / "someone-elses-file"
    filler.write_bytes(b"\0" * 1_900_000)
    engine = Engine(store, quick)
    run = asyncio.create_task(engine.run())
    await _waiting_for_space(store, engine, job.id, rechecks=2)
    engine.stop()
    await asyncio.wait_for(run, 60)
    # What a run killed mid-copy leaves (the stop above let its copy end cleanly).
    folder = library_sink.LibrarySink(tiny_library).job_dir(await store.get_job(job.id))
    half = folder / ".0001.partial"
    half.mkdir(parents=True)
    (half / "noise0.png").write_bytes(b"\0" * 1000)
    await store.cancel(job.id)  # a cancel meanwhile: no retry will clear it
    await store.close()
    async with running(quick) as started:
        assert _half_built(tiny_library) == []  # swept at start-up
        await asyncio.wait_for(started.engine.run(until_idle=True), 60)
        assert (await started.store.get_job(job.id)).state is JobState.CANCELLED
    assert _half_built(tiny_library) == []
    assert library_files(tiny_library) == []


class _FullBucket(BaseHTTPRequestHandler):
    """An S3 endpoint whose every write is refused the way full services refuse it."""

    answers: ClassVar[list[tuple[int, str]]] = [
        (507, "InsufficientStorage"),
        (403, "QuotaExceeded"),
        (400, "EntityTooLarge"),
        (507, "XMinioStorageFull"),
    ]

    def do_PUT(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        status, code = self.answers[int(self.path.rsplit("-", 1)[1])]
        body = f"<Error><Code>{code}</Code><Message>full</Message></Error>".encode()
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


async def test_a_full_results_bucket_is_a_wait_for_space() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FullBucket)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    client = S3Client(
        S3Target(
            endpoint=f"http://127.0.0.1:{server.server_port}",
            bucket="results",
            access_key="k",
            secret_key="s",
            region="us-east-1",
            virtual_host=False,
        )
    )
    try:
        for n in range(len(_FullBucket.answers)):
            with pytest.raises(FerrymanError) as caught:
                await client.put_bytes(f"job-1/0001/a-{n}", b"x" * 10, "image/png")
            assert caught.value.code == SINK_FULL, caught.value
            assert "results" in caught.value.message and "full" in caught.value.message
            assert caught.value.retryable
    finally:
        await client.close()
        server.shutdown()
        server.server_close()


async def test_the_wait_is_recorded_uncounted_and_ends_with_a_delivery(store: Store) -> None:
    """Both stores: each album back in line without an attempt, the job showing the
    wait (new once, for the job's first album to meet it), the claim seeing it, and the
    last album that waited, once delivered, ending it."""
    job_id = await _expanded_job(store, 3, album_size=2)  # two albums
    full = FerrymanError(SINK_FULL, "the disk holding /lib/in is full: album 1 needs 0.3 MB there")
    waited = []
    for delay in (60.0, 0.0):  # the first rechecks later: the second is claimed next
        claim = await store.claim_delivery("d", 30)
        assert claim is not None
        waited.append(await store.album_waits_for_space(claim.album.id, "d", job_id, full, delay))
    assert waited == [True, False]  # one notice for the job, not one per album
    job = await store.get_job(job_id)
    assert (job.wait_reason, job.error_message) == (SINK_FULL, full.message)
    assert [(j.id, seqs) for j, seqs in await store.albums_no_one_delivers()] == [(job_id, [1, 2])]
    second = await store.claim_delivery("d", 30)
    assert second is not None and second.album.seq == 2 and second.album.attempts == 0
    assert second.job.wait_reason == SINK_FULL
    await store.album_delivered(second.album.id, "d", "ref-2")
    assert not await store.end_space_wait(job_id, SINK_FULL)  # album 1 still waits
    assert (await store.get_job(job_id)).wait_reason == SINK_FULL
    async with store.engine.begin() as conn:  # album 1's recheck is due
        await conn.execute(update(albums).values(not_before=0.0))
    first = await store.claim_delivery("d", 30)
    assert first is not None and first.album.seq == 1 and first.album.attempts == 0
    await store.album_delivered(first.album.id, "d", "ref-1")
    assert await store.end_space_wait(job_id, SINK_FULL)
    job = await store.get_job(job_id)
    assert job.wait_reason is None and job.error_message is None
    assert await store.albums_no_one_delivers() == []


async def test_an_ended_job_never_says_its_failed_items_are_retried(store: Store) -> None:
    """A job ended ``done`` with items failed for good on a retryable code (``sink.io``
    after its attempts): nothing retries them now, and its next step says so."""
    job_id = await _expanded_job(store, 3, album_size=2)
    delivered = await store.claim_delivery("d", 30)
    assert delivered is not None
    await store.album_delivered(delivered.album.id, "d", "ref-1")
    failed = await store.claim_delivery("d", 30)
    assert failed is not None
    await store.album_failed(failed.album.id, "d", FerrymanError("sink.io", "I/O error"))
    assert await store.finish_jobs() == [job_id]
    told = await report.report(store, job_id)
    assert told["state"] == "done" and told["error"]["code"] == "sink.io"
    assert "it is retried" not in told["error"]["next"]
    assert "nothing retries it now" in told["error"]["next"]
    needs = (await report.run_summary(store, 0.0, [job_id]))["needs"]
    assert "nothing retries it now" in needs[0]["next"], needs
