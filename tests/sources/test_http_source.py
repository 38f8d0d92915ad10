"""Links through the whole engine: added, fetched (resumably, with its own stage),
read like a local input, delivered; a page without media, a missing file and a cancel
mid-download."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import random
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.ops import control, intake, report
from ferryman.engine.plumbing.events import Event, JobFetching
from ferryman.engine.plumbing.workarea import kept_fetch_dir
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import Job, JobState
from ferryman.samples import make_photo_set, make_zip
from ferryman.store import Store
from tests.support import forked
from tests.support.engine_helpers import library_files
from tests.support.httpserve import Faults, FaultServer, serving
from tests.support.waiting import eventually, eventually_sync


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving() as started:
        yield started


@pytest.fixture
def link_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "network": settings.network.model_copy(update={"stall_seconds": 2.0}),
            "retry": settings.retry.model_copy(update={"base_seconds": 0.05}),
        }
    )


def _zip_of_photos(tmp: Path, count: int) -> tuple[bytes, dict[str, str]]:
    photos = make_photo_set(tmp / "photos", count)
    archive = make_zip(tmp / "trip.zip", [(p.name, p) for p in photos], compress=False)
    made = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    return archive.read_bytes(), made


async def _run(store: Store, settings: Settings) -> None:
    await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 120)


@pytest.mark.parametrize("stream", ["auto", "never"])
async def test_a_zip_link_is_delivered_even_when_the_connection_is_cut(
    tmp_path: Path, link_settings: Settings, server: FaultServer, stream: str
) -> None:
    """auto: the zip is read where it is (by range, nothing stored); never: fetched whole
    first. Either way a cut connection is resumed, not started over."""
    data, made = _zip_of_photos(tmp_path, 12)
    server.add("/dl/trip.zip", data, content_type="application/zip")
    server.resources["/dl/trip.zip"].faults = Faults(cut_at=len(data) // 2)
    settings = link_settings.model_copy(
        update={"network": link_settings.network.model_copy(update={"stream_archives": stream})}
    )
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, server.url("/dl/trip.zip"))
        assert job.source.startswith("http://127.0.0.1") and job.name == "trip"
        await _run(store, settings)
        done = await store.get_job(job.id)
        data_report = await report.report(store, job.id)
        fetched = await store.fetched(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert data_report["delivered"] == 12
    delivered = {
        Path(e["source_path"]).name: e["disk_sha256"] for e in library_files(settings.library)
    }
    assert delivered == made  # every photo once, byte-exact
    assert fetched is not None and fetched.state == "done"
    assert (fetched.path is None) == (stream == "auto")  # in place: no copy was made
    # Resumed, not fetched again; read in place, the central directory (the tail from its
    # start) is read twice: once to decide, once to read.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        tail = len(data) - archive.start_dir
    assert server.served["/dl/trip.zip"] <= 1.05 * len(data) + 2 * tail
    assert not (settings.work_dir / f"job-{job.id:05d}").exists()  # nothing left behind


async def test_a_zip_read_in_place_stores_no_copy_and_crosses_the_link_once(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    photos = make_photo_set(tmp_path / "photos", 40, size=(640, 480))
    archive = make_zip(tmp_path / "big.zip", [(p.name, p) for p in photos], compress=False)
    data = archive.read_bytes()
    server.add("/big.zip", data, content_type="application/zip")
    seen: list[Path] = []
    store = await Store.open(link_settings.database)
    engine = Engine(store, link_settings)
    work = link_settings.work_dir

    def watch(event: object) -> None:  # what the work area holds as each entry lands
        seen.extend(p for p in work.rglob("*") if p.is_file() and p.suffix == ".zip")

    engine.bus.subscribe(watch)
    try:
        job = await intake.add_source(store, server.url("/big.zip"))
        await asyncio.wait_for(engine.run(until_idle=True), 120)
        done = await store.get_job(job.id)
        fetched = await store.fetched(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE
    assert len(library_files(link_settings.library)) == 40
    assert fetched is not None and fetched.path is None and seen == []  # never stored
    with zipfile.ZipFile(io.BytesIO(data)) as opened:
        tail = len(data) - opened.start_dir
    assert server.served["/big.zip"] <= 1.01 * len(data) + 2 * tail


async def test_a_web_page_without_media_fails_with_a_code(
    link_settings: Settings, server: FaultServer
) -> None:
    """A page goes to the link converter (yt-dlp), which finds nothing in this one."""
    server.add("/page", b"<!doctype html><html><body>hi</body></html>", content_type="text/html")
    store = await Store.open(link_settings.database)
    try:
        job = await intake.add_source(store, server.url("/page"))
        await _run(store, link_settings)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.FAILED, "link.no_media")


async def test_a_missing_file_fails_the_job_at_once(
    link_settings: Settings, server: FaultServer
) -> None:
    store = await Store.open(link_settings.database)
    try:
        job = await intake.add_source(store, server.base + "/nothing.zip")
        await _run(store, link_settings)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.FAILED, "source.not_found")
    assert len(server.requests_for("/nothing.zip")) <= 2  # a probe, maybe a GET: no retries


def _stalling_download(
    tmp_path: Path, link_settings: Settings, server: FaultServer, lease_seconds: float
) -> tuple[bytes, Settings]:
    """`/slow.zip`, which stalls for 30 s halfway, and settings that download it whole."""
    data, _ = _zip_of_photos(tmp_path, 4)
    server.add("/slow.zip", data, content_type="application/zip")
    server.resources["/slow.zip"].faults = Faults(stall_at=len(data) // 2, stall_seconds=30)
    settings = link_settings.model_copy(
        update={
            "network": link_settings.network.model_copy(
                update={"stall_seconds": 60.0, "stream_archives": "never"}  # a download
            ),
            "lease_seconds": lease_seconds,
        }
    )
    return data, settings


@contextlib.asynccontextmanager
async def _halfway(
    tmp_path: Path, link_settings: Settings, server: FaultServer, lease_seconds: float
) -> AsyncIterator[tuple[Store, Job, Settings]]:
    """An engine running, and a job whose download stalls halfway (30 s) right now."""
    data, settings = _stalling_download(tmp_path, link_settings, server, lease_seconds)
    store = await Store.open(settings.database)
    engine = Engine(store, settings)
    running = asyncio.create_task(engine.run())
    try:
        job = await intake.add_source(store, server.url("/slow.zip"))
        await eventually(
            lambda: server.served["/slow.zip"] >= len(data) // 2, "half the zip was sent"
        )
        yield store, job, settings
    finally:
        engine.stop()
        await asyncio.wait_for(running, 60)
        await store.close()


async def test_cancel_stops_a_download_in_flight(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    # the housekeeper removes an ended job's folder a lease after
    async with _halfway(tmp_path, link_settings, server, 3.0) as (store, job, settings):
        await control.cancel_job(store, job.id)
        fetched = await store.fetched(job.id)
        assert fetched is not None and fetched.state == "cancelled"
        await eventually(
            lambda: not (settings.work_dir / f"job-{job.id:05d}").exists(),
            "the cancelled job's work folder removed",
        )
        assert (await store.get_job(job.id)).state is JobState.CANCELLED


async def test_cancel_then_retry_goes_on_from_the_partial_download_by_range(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """Cancel mid-download, then Retry: the download goes on from where it stopped, as
    after a restart (the cancel deleted the partial file and the retry began at byte 0).
    Kept aside meanwhile, out of the job's work folder; a remove deletes it."""
    async with _halfway(tmp_path, link_settings, server, 3.0) as (store, job, settings):
        folder = settings.work_dir / f"job-{job.id:05d}"
        await eventually(lambda: bool(list(folder.rglob("*.part"))), "the partial file on disk")
        await control.cancel_job(store, job.id)
        kept = kept_fetch_dir(settings, job.id)
        await eventually(lambda: not folder.exists(), "the cancelled job's work folder removed")
        assert list(kept.rglob("*.part")), "the partial download was not kept"
        server.resources["/slow.zip"].faults = Faults()  # no stall this time
        before = len(server.requests_for("/slow.zip"))
        await control.retry_job(store, job.id)

        async def ended() -> bool:
            return (await store.get_job(job.id)).state.terminal

        await eventually(ended, "the retried job ended", within=60)
        assert (await store.get_job(job.id)).state is JobState.DONE
        again = server.requests_for("/slow.zip")[before:]
        starts = [r.headers.get("range", r.headers.get("Range", "")) for r in again]
        assert any(s.startswith("bytes=") and not s.startswith("bytes=0-") for s in starts), starts
        assert not kept.exists()  # taken back by the fetch
        await control.remove_job(store, settings, job.id)


async def test_a_run_until_idle_leaves_no_partial_download_of_a_job_cancelled_meanwhile(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """`ferryman cancel` from another shell while `run --until-idle` downloads: the run
    ends idle at once, and the partial file leaves the job's work folder: set aside for
    a retry to go on from, until a `remove` deletes it."""
    # the grace a running engine gives (a lease) is not what ends it
    data, settings = _stalling_download(tmp_path, link_settings, server, lease_seconds=30.0)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, server.url("/slow.zip"))
        running = asyncio.create_task(Engine(store, settings).run(until_idle=True))
        folder = settings.work_dir / f"job-{job.id:05d}"
        await eventually(
            lambda: server.served["/slow.zip"] >= len(data) // 2, "half the zip was sent"
        )
        await eventually(lambda: bool(list(folder.rglob("*.part"))), "the partial file on disk")
        cancelled = time.monotonic()
        await control.cancel_job(store, job.id)
        await asyncio.wait_for(running, 60)
        ended = time.monotonic() - cancelled
        assert (await store.get_job(job.id)).state is JobState.CANCELLED
        assert not folder.exists()
        kept = kept_fetch_dir(settings, job.id)
        assert list(kept.rglob("*.part")), "the partial download was not kept for a retry"
        await control.remove_job(store, settings, job.id)
        assert not kept.exists()  # a remove deletes it
    finally:
        await store.close()
    assert ended < 5, (
        f"the download went on {ended:.1f} s after the cancel"
    )  # 10 s without a wake-up


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_a_stop_mid_download_is_at_once_and_the_download_goes_on_from_its_part(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """A stop while a server stalls is at once (it waited STOP_GRACE_SECONDS, 20 s). The
    fetch goes on from its part next time, and so does its progress: every fetch began
    with 0 %, then jumped back to where its part was."""
    _, settings = _stalling_download(tmp_path, link_settings, server, lease_seconds=30.0)
    events: list[Event] = []
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, server.url("/slow.zip"))
        engine = Engine(store, settings)
        engine.bus.subscribe(events.append)
        running = asyncio.create_task(engine.run())
        await eventually(
            lambda: any(isinstance(e, JobFetching) and e.done for e in events),
            "bytes received before the stall",
        )
        stopped = time.monotonic()
        engine.stop()  # with half the zip in its part
        await asyncio.wait_for(running, 60)
        assert time.monotonic() - stopped < 5, "the stop waited for the stalled download"
        events.clear()
        engine = Engine(store, settings)
        engine.bus.subscribe(events.append)
        await asyncio.wait_for(engine.run(until_idle=True), 60)
        assert (await store.get_job(job.id)).state is JobState.DONE
    finally:
        await store.close()
    shown = [e for e in events if isinstance(e, JobFetching)]
    assert shown, "no progress at all"
    first = shown[0].fraction
    assert shown[0].done > 0 and first is not None and first >= 0.4, shown[0]
    fractions = [float(d.fraction) for d in shown if d.fraction is not None]
    assert fractions == sorted(fractions), fractions


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
@pytest.mark.parametrize("name", ["trip.zip", "trip.tar"])
def test_ctrl_c_while_a_server_stalls_a_read_in_place_ends_the_run_at_once(
    tmp_path: Path, server: FaultServer, name: str
) -> None:
    """`ferryman run`, reading a zip in place (or a tar as it streams) when the server
    stalls for good: Ctrl-C ends it at once. The reading thread sat in a `recv` for
    `stall_seconds`, then in retries, and the process could not exit: it was still
    there two minutes later. The next run delivers every photo once."""
    import signal
    import subprocess

    from ferryman.samples import make_tar
    from tests.crash.test_crash import _env

    photos = make_photo_set(tmp_path / "photos", 60, size=(640, 480))
    members = [(p.name, p) for p in photos]
    if name.endswith(".zip"):
        archive = make_zip(tmp_path / name, members, compress=False)
    else:
        archive = make_tar(tmp_path / name, members)
    data = archive.read_bytes()
    made = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    server.add(f"/{name}", data, content_type="application/octet-stream")
    stall = Faults(stall_at=len(data) * 3 // 4, stall_seconds=600, stall_times=None)
    server.resources[f"/{name}"].faults = stall
    env = _env(tmp_path / "data", FERRYMAN_NETWORK__STALL_SECONDS="30")
    forked.run(["add", server.url(f"/{name}")], env=env, check=True, timeout=60)
    run = forked.popen(["run"], env=env, stderr=subprocess.PIPE, text=True)
    try:

        def in_recv() -> bool:  # every byte before the stall sent, and read by the run
            assert run.poll() is None, "the run ended before the read stalled"
            with server.lock:
                stalled = set(server.stalled.get(f"/{name}", ()))
            # the stalled response's connection drained (windows read ahead of it, a
            # zip's next entries, may wait unread on connections of their own)
            port = int(server.base.rsplit(":", 1)[1])
            return any(_unread_from(port, client=peer) == 0 for peer in stalled)

        eventually_sync(in_recv, "the reading thread waiting in its recv", within=60, every=0.05)
        asked = time.monotonic()
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
        took = time.monotonic() - asked
    finally:
        run.kill()
    assert run.returncode == 130, err[-2000:]  # interrupted: the exit code table's row
    assert took < 5, f"Ctrl-C took {took:.1f} s to end the run"
    server.resources[f"/{name}"].faults = Faults()
    forked.run(["run", "--until-idle"], env=env, check=True, timeout=120)
    delivered = library_files(tmp_path / "data" / "library")
    assert sorted(Path(d["source_path"]).name for d in delivered) == sorted(made)  # each once
    assert {Path(d["source_path"]).name: d["disk_sha256"] for d in delivered} == made


def _unread_from(port: int, client: int | None = None) -> int | None:
    """Bytes the kernel holds unread on this machine's connections to ``port`` (the
    client's receive queues, ``/proc/net/tcp``), or on the one from ``client`` (a local
    port); None while there is no such connection."""
    queued = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local = int(fields[1].rsplit(":", 1)[1], 16)
                remote = int(fields[2].rsplit(":", 1)[1], 16)
                if remote == port and fields[3] == "01" and client in (None, local):
                    queued = (queued or 0) + int(fields[4].split(":")[1], 16)
    return queued


def test_links_are_described_without_their_secrets() -> None:
    from ferryman.sources.builtin import default_sources

    registry = default_sources()
    uri = registry.to_uri(" <https://ann:pw@store-12.eu.tb-cdn.st/dl/x.zip?token=abc#frag> ")
    assert uri == "https://ann:pw@store-12.eu.tb-cdn.st/dl/x.zip?token=abc"  # kept whole
    shown = registry.describe(uri)
    assert shown == "https://store-12.eu.tb-cdn.st/dl/x.zip?…"
    assert "pw" not in shown and "abc" not in shown


def test_a_range_file_resumes_a_cut_and_refuses_a_changed_file(server: FaultServer) -> None:
    import httpx

    from ferryman.config import Retry
    from ferryman.errors import FerrymanError
    from ferryman.net.rangefile import RangeFile

    data = bytes(range(256)) * 4096  # 1 MiB
    server.add("/f.bin", data)
    server.resources["/f.bin"].faults = Faults(cut_at=300_000)
    etag = server.resources["/f.bin"].etag
    retry = Retry(max_attempts=3, base_seconds=0.01, max_seconds=1, jitter=0)
    with httpx.Client() as client:
        remote = RangeFile(client, server.url("/f.bin"), len(data), etag, retry)
        remote.seek(100_000)
        assert remote.read(400_000) == data[100_000:500_000]  # across the cut
        assert remote.fetched == 400_000  # the cut part was not asked again
        server.replace("/f.bin", b"x" * len(data))
        remote.seek(0)
        with pytest.raises(FerrymanError) as caught:
            remote.read(10)
    assert caught.value.code == "source.http.changed"


def test_a_range_file_takes_only_what_it_asked_of_a_server_sending_more(
    server: FaultServer,
) -> None:
    """A 206 from the byte asked for to the file's end (a trial's server): the read
    overfilled its buffer and the zip reader failed with engine.internal."""
    import httpx

    from ferryman.config import Retry
    from ferryman.net.rangefile import open_range_file

    data = random.Random(5).randbytes(3 << 20)
    server.add("/f.bin", data)
    server.resources["/f.bin"].faults = Faults(range_to_end=True)
    retry = Retry(max_attempts=3, base_seconds=0.01, max_seconds=1, jitter=0)
    with httpx.Client() as client:
        remote = open_range_file(client, server.url("/f.bin"), len(data), None, retry)
        for start, length in ((2_000_000, 100), (10, 70_000), (2_900_000, 300_000)):
            remote.seek(start)
            assert remote.read(length) == data[start : start + length]
        assert remote.raw.fetched < len(data)  # what it asked, not the file's ends


async def test_a_zip_on_a_server_sending_more_than_each_range_is_delivered(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    from PIL import Image

    photos = make_photo_set(tmp_path / "photos", 20, size=(640, 480))
    large = tmp_path / "photos" / "large.jpg"  # larger than the 1 MiB read-ahead: read by range
    noise = random.Random(6).randbytes(1200 * 900 * 3)
    Image.frombytes("RGB", (1200, 900), noise).save(large, quality=95)
    assert large.stat().st_size > 1 << 20
    photos.insert(10, large)
    archive = make_zip(tmp_path / "more.zip", [(p.name, p) for p in photos], compress=False)
    data = archive.read_bytes()
    made = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    server.add("/more.zip", data, content_type="application/zip")
    server.resources["/more.zip"].faults = Faults(range_to_end=True)
    state, delivered, _ = await _deliver_link(tmp_path, link_settings, server, "/more.zip")
    assert state is JobState.DONE
    assert delivered == made


def test_a_links_token_appears_nowhere_a_person_looks(tmp_path: Path, server: FaultServer) -> None:
    from typer.testing import CliRunner

    from ferryman.frontdoors.cli.root import app

    data, _ = _zip_of_photos(tmp_path, 2)
    server.add("/t.zip", data, content_type="application/zip", token="s3cr3t-t0ken")
    link = server.url("/t.zip")
    assert "s3cr3t-t0ken" in link

    def cli(*args: str) -> str:
        done = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), *args])
        assert done.exit_code == 0, done.output
        return done.output

    said = cli("add", link) + cli("run", "--until-idle") + cli("status", "--json")
    said += cli("report", "1") + cli("status")
    assert "s3cr3t-t0ken" not in said
    assert json.loads(cli("status", "--json"))["jobs"][0]["state"] == "done"  # it was used
    manifests = list((tmp_path / "data" / "library").rglob("manifest.json"))
    assert manifests  # the library's record of the album, which others may read
    for manifest in manifests:
        written = manifest.read_text()
        assert "s3cr3t-t0ken" not in written
        assert json.loads(written)["source"] == server.base + "/t.zip?…"


async def test_an_error_names_the_link_without_its_token(
    link_settings: Settings, server: FaultServer
) -> None:
    store = await Store.open(link_settings.database)
    try:
        job = await intake.add_source(store, server.base + "/gone.zip?token=s3cr3t&u=ann")
        await _run(store, link_settings)
        done = await store.get_job(job.id)
        text = json.dumps(await report.report(store, job.id))
    finally:
        await store.close()
    assert done.error_code == "source.not_found"
    assert "/gone.zip?…" in (done.error_message or "")
    assert "s3cr3t" not in (done.error_message or "") and "s3cr3t" not in text


async def test_adding_a_link_twice_names_it_without_its_token(tmp_path: Path) -> None:
    """Both stores refuse the second add; the message names the link as a person sees
    it, never with its token (the stored URI keeps the token for the download)."""
    from ferryman.store.startup.sqlite3_store import open_sqlite3

    link = "https://cdn.example.org/dl/trip.zip?token=S3CRET-T0KEN"
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'full.db'}")
    try:
        await intake.add_source(store, link)
        with pytest.raises(FerrymanError) as full:
            await intake.add_source(store, link)
    finally:
        await store.close()
    light_store = open_sqlite3(f"sqlite:///{tmp_path / 'light.db'}", create=True)
    assert light_store is not None
    try:
        intake.add_source_now(light_store, link)
        with pytest.raises(FerrymanError) as light:
            intake.add_source_now(light_store, link)
    finally:
        light_store.close()
    for refused in (full.value, light.value):
        assert refused.code == "source.duplicate"
        assert "S3CRET" not in refused.message
        assert "cdn.example.org/dl/trip.zip" in refused.message and "job 1" in refused.message


def test_a_range_file_read_front_to_back_costs_one_get_for_the_run(server: FaultServer) -> None:
    """Reads that follow on go on in one GET of the rest (not a request, and a round
    trip, per read), and nothing is sent twice; a seek elsewhere ends that GET."""
    import httpx

    from ferryman.config import Retry
    from ferryman.net.rangefile import READ_AHEAD, STREAM_AFTER, open_range_file

    data = random.Random(5).randbytes(8 * READ_AHEAD + 123)
    server.add("/f.zip", data)
    etag = server.resources["/f.zip"].etag
    retry = Retry(max_attempts=3, base_seconds=0.01, max_seconds=1, jitter=0)
    url = server.url("/f.zip")
    with httpx.Client() as client, open_range_file(client, url, len(data), etag, retry) as remote:
        got = b"".join(iter(lambda: remote.read(64 * 1024), b""))
        assert got == data
        ranged = len(server.requests_for("/f.zip"))
        assert ranged == STREAM_AFTER + 1  # the first reads by range, then one GET
        assert server.served["/f.zip"] == len(data)  # no byte twice
        remote.seek(READ_AHEAD // 2)
        assert remote.read(1000) == data[READ_AHEAD // 2 : READ_AHEAD // 2 + 1000]
    sent = server.requests_for("/f.zip")
    assert len(sent) == ranged + 1  # the seek asked for its range alone
    assert (
        sent[-1].headers.get("Range")
        == f"bytes={READ_AHEAD // 2}-{READ_AHEAD // 2 + READ_AHEAD - 1}"
    )
    assert all(r.headers.get("If-Range") == etag for r in sent)


async def _deliver_link(
    tmp_path: Path, settings: Settings, server: FaultServer, path: str
) -> tuple[JobState, dict[str, str], str | None]:
    """Add the link at ``path``, run until idle: the job's state, what the library got
    (name -> sha256) and where the fetch stored the input (None: read in place)."""
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, server.url(path))
        await _run(store, settings)
        done = await store.get_job(job.id)
        fetched = await store.fetched(job.id)
    finally:
        await store.close()
    delivered = {
        Path(e["source_path"]).name: e["disk_sha256"] for e in library_files(settings.library)
    }
    return done.state, delivered, fetched.path if fetched is not None else None


async def test_a_server_that_claims_ranges_but_ignores_them_has_its_zip_downloaded_whole(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """`Accept-Ranges: bytes` copied by a proxy or a download script that then sends
    the whole file to every ranged GET: not a file that changed (it failed for good as
    one), but a server to download from whole."""
    data, made = _zip_of_photos(tmp_path, 6)
    server.add("/get.php", data, content_type="application/zip")
    server.resources["/get.php"].faults = Faults(ignore_range=True, claim_ranges=True)
    state, delivered, stored = await _deliver_link(tmp_path, link_settings, server, "/get.php")
    assert state is JobState.DONE
    assert delivered == made
    assert stored is not None  # downloaded, not read in place


async def test_a_server_compressing_on_the_fly_is_asked_for_the_file_as_it_is(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """nginx's `gzip on` compresses for any client that accepts gzip, and then gives no
    length and no ranges. Every request asks `Accept-Encoding: identity`, so the zip is
    read in place as usual (it failed for good with 'the server gives no size')."""
    data, made = _zip_of_photos(tmp_path, 6)
    server.add("/trip.zip", data, content_type="application/zip", gzip_on_the_fly=True)
    state, delivered, stored = await _deliver_link(tmp_path, link_settings, server, "/trip.zip")
    assert state is JobState.DONE
    assert delivered == made
    assert stored is None  # read where it is
    asked = {r.headers.get("Accept-Encoding") for r in server.requests_for("/trip.zip")}
    assert asked == {"identity"}


async def test_a_tar_gz_labelled_content_encoding_gzip_is_read_as_its_bytes_are(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """Apache's `AddEncoding x-gzip .gz` labels a stored .tar.gz `Content-Encoding: gzip`;
    its length and ranges count the stored bytes. Read as it downloads, the stream must
    hand over those bytes, not the client's unzipping of them (which overran the
    length, and a cut resumed at an offset into the wrong bytes)."""
    from ferryman.samples import make_tar

    photos = make_photo_set(tmp_path / "photos", 6)
    archive = make_tar(tmp_path / "trip.tar.gz", [(p.name, p) for p in photos], compression="gz")
    made = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    data = archive.read_bytes()
    server.add("/trip.tar.gz", data, content_type="application/x-tar", encoding="gzip")
    server.resources["/trip.tar.gz"].faults = Faults(cut_at=len(data) // 2)
    state, delivered, stored = await _deliver_link(tmp_path, link_settings, server, "/trip.tar.gz")
    assert state is JobState.DONE
    assert delivered == made
    assert stored is None  # streamed, resumed after the cut


@pytest.mark.parametrize("name", ["trip.zip", "trip.tar.gz"])
@pytest.mark.parametrize(
    "head", [Faults(refuse_head=True), Faults(head_says_page=True)], ids=["refused", "page"]
)
async def test_a_link_whose_head_cannot_be_believed_is_read_where_it_is(
    tmp_path: Path, link_settings: Settings, server: FaultServer, name: str, head: Faults
) -> None:
    """A presigned link refuses HEAD (403 or 405: it was signed for GET) and serves
    GET with Range. The probe asks by GET; so must reading in place (it failed for good
    with source.http.refused, or source.auth for a 403). A server whose HEAD answers
    its HTML default (GET sends the file) was taken for a page and sent to the link
    converter, which found no media."""
    from ferryman.samples import make_tar

    photos = make_photo_set(tmp_path / "photos", 6)
    members = [(p.name, p) for p in photos]
    if name.endswith(".zip"):
        archive = make_zip(tmp_path / name, members, compress=False)
    else:
        archive = make_tar(tmp_path / name, members, compression="gz")
    made = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    server.add(f"/{name}", archive.read_bytes(), content_type="application/octet-stream")
    server.resources[f"/{name}"].faults = head
    state, delivered, stored = await _deliver_link(tmp_path, link_settings, server, f"/{name}")
    assert state is JobState.DONE
    assert delivered == made
    assert stored is None  # read where it is, no copy


async def test_balanced_origins_with_their_own_etags_have_the_zip_downloaded_whole(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """Two origins behind one name send the same bytes under different ETags, so a read
    pinned to one is refused by the other: not a changed file to fail for good, but a
    link to download whole."""
    data, made = _zip_of_photos(tmp_path, 6)
    server.add("/lb.zip", data, content_type="application/zip")
    server.resources["/lb.zip"].faults = Faults(two_origins=True)
    state, delivered, stored = await _deliver_link(tmp_path, link_settings, server, "/lb.zip")
    assert state is JobState.DONE
    assert delivered == made
    assert stored is not None  # downloaded


async def test_a_job_is_named_as_the_server_names_its_file(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """A debrid or share link (`/dl/8f3a9c2b/`) says the file's name only in
    Content-Disposition: the job, and the library folder its albums go under, take that
    name (they were named `8f3a9c2b`); two such files stay apart."""
    data, _ = _zip_of_photos(tmp_path, 3)
    server.add("/dl/8f3a9c2b/", data, disposition='attachment; filename="Trip photos.zip"')
    other, _ = _zip_of_photos(tmp_path / "b", 2)
    server.add(
        "/dl/77aa/", other, disposition="attachment; filename*=UTF-8''%E7%85%A7%E7%89%87.zip"
    )
    again, _ = _zip_of_photos(tmp_path / "c", 2)
    server.add("/dl/99bb/", again, disposition='attachment; filename="Trip photos.zip"')
    store = await Store.open(link_settings.database)
    try:
        added = [
            await intake.add_source(store, server.url(p)) for p in ("/dl/8f3a9c2b/", "/dl/77aa/")
        ]
        await _run(store, link_settings)
        added.append(await intake.add_source(store, server.url("/dl/99bb/")))
        await _run(store, link_settings)
        names = [(await store.get_job(job.id)).name for job in added]
        kept = await store.name_from_input(added[0].id, "something else")
    finally:
        await store.close()
    assert [job.name for job in added] == ["8f3a9c2b", "77aa", "99bb"]  # as added
    assert names == ["Trip photos", "照片", "Trip photos (2)"]
    folders = sorted(p.name for p in link_settings.library.iterdir() if p.is_dir())
    assert folders == ["Trip photos", "Trip photos (2)", "照片"]
    assert kept is None  # once albums exist, the name stays


async def test_a_photo_from_a_link_without_a_suffix_is_delivered_with_one(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """`/media/IMG_0042` sent as application/octet-stream: the library file is
    `IMG_0042.jpg`, which a gallery shows (it was `IMG_0042`, which none does)."""
    photo = make_photo_set(tmp_path / "p", 1)[0]
    server.add("/media/IMG_0042", photo.read_bytes())
    state, delivered, _ = await _deliver_link(tmp_path, link_settings, server, "/media/IMG_0042")
    assert state is JobState.DONE
    files = [p.name for p in link_settings.library.rglob("*") if p.is_file()]
    assert "IMG_0042.jpg" in files, files
    assert list(delivered.values()) == [hashlib.sha256(photo.read_bytes()).hexdigest()]


async def test_a_job_failed_for_good_is_not_said_to_be_retried(
    link_settings: Settings, server: FaultServer
) -> None:
    """A server that answers 500 every time: the code is one that is retried, and once
    the attempts ran out, what a person reads must say how to try again, not that it
    is retried automatically (what it said)."""
    from ferryman.errors import spec_for

    server.add("/down.zip", b"PK")
    server.resources["/down.zip"].faults = Faults(status=500, status_times=None)
    store = await Store.open(link_settings.database)
    try:
        job = await intake.add_source(store, server.url("/down.zip"))
        since = store.clock()
        await _run(store, link_settings)
        done = await store.get_job(job.id)
        told = await report.report(store, job.id)
        summary = await report.run_summary(store, since - 1)
    finally:
        await store.close()
    assert done.state is JobState.FAILED and done.error_code == "source.http.status"
    assert "retried" in spec_for("source.http.status").next_step  # while it still was
    for said in (told["error"]["next"], summary["needs"][0]["next"]):
        assert "ran out" in said and f"ferryman retry {job.id}" in said.replace("JOB", str(job.id))
        assert "it is retried" not in said


async def test_status_says_a_job_is_fetching_while_its_link_downloads(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """A job whose link downloads is still `queued` for the read stage; `status` (the
    full store, and the light one the CLI reads) says `fetching` instead of `queued`."""
    from ferryman.frontdoors.terminal import state_cell
    from ferryman.store.startup.sqlite3_store import open_sqlite3

    async with _halfway(tmp_path, link_settings, server, 3.0) as (store, job, settings):
        full = (await report.status(store))["jobs"][0]
        light_store = open_sqlite3(settings.database, create=False)
        assert light_store is not None
        try:
            light = report.status_of(
                light_store.list_jobs(),
                light_store.item_counts(),
                fetching=light_store.fetching_jobs(),
            )["jobs"][0]
        finally:
            light_store.close()
        await control.cancel_job(store, job.id)
        after = (await report.status(store))["jobs"][0]
    assert full["state"] == "queued" and full["fetching"] is True
    assert light["fetching"] is True and state_cell(light) == "fetching"
    assert after["fetching"] is False and state_cell(after).startswith("cancelled")
