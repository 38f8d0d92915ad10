"""Tars over HTTP read as they download: plain, .gz, .bz2, .xz and .zst, nothing stored,
a cut or a stall resumed by Range into the same unbroken stream, a changed file
refused; and SIGKILL loops over a zip read in place and a .tar.gz read as it streams."""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.ops import intake, report
from ferryman.engine.runner import Engine
from ferryman.model import JobState
from ferryman.samples import make_photo_set, make_tar, make_video, make_zip
from ferryman.store import Store
from tests.support.engine_helpers import library_files
from tests.support.httpserve import Faults, FaultServer, Link, serving

COMPRESSIONS = ["", "gz", "bz2", "xz", "zst"]
_TYPES = {"": "application/x-tar", "gz": "application/gzip", "bz2": "application/x-bzip2"}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving() as started:
        yield started


@pytest.fixture
def link_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "network": settings.network.model_copy(update={"stall_seconds": 1.5}),
            "retry": settings.retry.model_copy(update={"base_seconds": 0.05}),
        }
    )


def _tar(tmp: Path, compression: str, files: list[Path]) -> Path:
    pairs = [(f"trip/{p.name}", p) for p in files]
    if compression != "zst":
        suffix = f".tar.{compression}" if compression else ".tar"
        return make_tar(tmp / f"trip{suffix}", pairs, compression=compression)
    plain = make_tar(tmp / "trip.tar", pairs)
    packed = tmp / "trip.tar.zst"
    if shutil.which("zstd"):
        subprocess.run(["zstd", "-q", "-f", str(plain), "-o", str(packed)], check=True)
    else:
        pytest.skip("making a .tar.zst needs the zstd command")
    return packed


async def _run(settings: Settings, url: str) -> tuple[int, Store, list[str]]:
    """Add and run the link; what the fetch stage's folders held, seen as events came."""
    store = await Store.open(settings.database)
    engine = Engine(store, settings)
    stored: list[str] = []

    def watch(_event: object) -> None:
        for folder in settings.work_dir.glob("job-*/fetch"):
            stored.extend(p.name for p in folder.rglob("*") if p.is_file())

    engine.bus.subscribe(watch)
    job = await intake.add_source(store, url, settings=settings)
    await asyncio.wait_for(engine.run(until_idle=True), 120)
    return job.id, store, stored


@pytest.mark.parametrize("compression", COMPRESSIONS)
async def test_a_tar_is_read_as_it_downloads(
    tmp_path: Path, link_settings: Settings, server: FaultServer, compression: str
) -> None:
    photos = make_photo_set(tmp_path / "p", 12, size=(320, 240))
    video = make_video(tmp_path / "v" / "clip.mp4", 2, seconds=0.6)
    archive = _tar(tmp_path, compression, [*photos, video])
    data = archive.read_bytes()
    # A generic type: the bytes and the name decide, as for most servers.
    server.add(
        f"/{archive.name}", data, content_type=_TYPES.get(compression, "application/octet-stream")
    )
    job_id, store, stored = await _run(link_settings, server.url(f"/{archive.name}"))
    try:
        done = await store.get_job(job_id)
        fetched = await store.fetched(job_id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    delivered = sorted(e["disk_sha256"] for e in library_files(link_settings.library))
    assert delivered == sorted(_digest(p) for p in [*photos, video])
    assert fetched is not None and fetched.path is None  # streamed: no copy was stored
    assert stored == []  # the archive was never written to the work area
    assert server.served[f"/{archive.name}"] <= 1.01 * len(data) + 8192  # one pass, plus a sniff


async def test_a_cut_and_a_stall_mid_stream_are_resumed_in_the_same_stream(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    photos = make_photo_set(tmp_path / "p", 30, size=(320, 240))
    archive = _tar(tmp_path, "gz", photos)
    data = archive.read_bytes()
    server.add("/t.tgz", data, content_type="application/gzip")
    server.resources["/t.tgz"].faults = Faults(
        cut_at=len(data) // 3,
        cut_times=1,
        stall_at=2 * len(data) // 3,
        stall_seconds=5,
        stall_times=1,
    )
    job_id, store, _ = await _run(link_settings, server.url("/t.tgz"))
    try:
        done = await store.get_job(job_id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    delivered = sorted(e["disk_sha256"] for e in library_files(link_settings.library))
    assert delivered == sorted(_digest(p) for p in photos)
    assert server.served["/t.tgz"] <= 1.05 * len(data) + 8192
    ranges = [
        {k.lower(): v for k, v in r.headers.items()}.get("range")
        for r in server.requests_for("/t.tgz")
        if r.method == "GET"
    ]
    assert any(r and not r.startswith("bytes=0-") for r in ranges)  # picked up mid-way


async def test_a_tar_that_changes_mid_stream_is_never_mixed_with_the_new_one(
    tmp_path: Path, link_settings: Settings, server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The file is replaced at the cut: the resumed request's If-Range no longer holds
    (source.http.changed), and the next attempt finds another file than the one it
    began on (kept in the source memo): the job ends source.http.replaced, with what
    was read of the first file delivered and nothing of the second."""
    old = make_photo_set(tmp_path / "old", 20, size=(320, 240))
    new = make_photo_set(tmp_path / "new", 20, start_seed=100, size=(320, 240))
    data = make_tar(tmp_path / "old.tar", [(p.name, p) for p in old]).read_bytes()
    replacement = make_tar(tmp_path / "new.tar", [(p.name, p) for p in new]).read_bytes()
    server.add("/t.tar", data, content_type="application/x-tar")
    server.resources["/t.tar"].faults = Faults(
        cut_at=len(data) // 2, cut_times=1, replace_on_cut=replacement
    )
    job_id, store, _ = await _run(link_settings, server.url("/t.tar"))
    try:
        done = await store.get_job(job_id)
        summary = await report.report(store, job_id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.FAILED, "source.http.replaced"), done
    assert "source.http.changed" in caplog.text
    assert "--force" in summary["error"]["next"]
    delivered = [e["disk_sha256"] for e in library_files(link_settings.library)]
    assert 0 < len(delivered) < 20
    assert set(delivered) <= {_digest(p) for p in old}  # the first file only, never mixed


async def test_never_streams_when_told_not_to(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    photos = make_photo_set(tmp_path / "p", 5)
    data = _tar(tmp_path, "gz", photos).read_bytes()
    server.add("/t.tar.gz", data, content_type="application/gzip")
    never = link_settings.model_copy(
        update={"network": link_settings.network.model_copy(update={"stream_archives": "never"})}
    )
    job_id, store, _ = await _run(never, server.url("/t.tar.gz"))
    try:
        done = await store.get_job(job_id)
        fetched = await store.fetched(job_id)
        summary = await report.report(store, job_id)
    finally:
        await store.close()
    assert done.state is JobState.DONE and summary["delivered"] == 5
    assert fetched is not None and fetched.path is not None  # downloaded whole first


def _served_total(server: FaultServer, path: str) -> int:
    return server.served.get(path, 0)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_sigkill_while_reading_over_http_loses_and_duplicates_nothing(
    tmp_path: Path, kind: str
) -> None:
    """A 200-entry zip read in place, a .tar.gz read as it streams: `ferryman run`
    killed at random moments; every media file once in the library, and (the zip) the
    bytes served across every attempt ≤ 1.2× the archive. The link is paced at 12 MB/s
    (~2.5 s for the archive): on loopback a fast machine finished the whole job before
    the first kill came."""
    with serving(Link(bandwidth=12e6)) as server:
        _kill_while_reading(tmp_path, server, kind)


def _kill_while_reading(tmp_path: Path, server: FaultServer, kind: str) -> None:
    from tests.crash.test_crash import _add, _all_terminal, _env, _kill_repeatedly

    photos = make_photo_set(tmp_path / "p", 200, size=(320, 240))
    for n, photo in enumerate(photos):  # phone-photo sized: a kill's lost read is small beside it
        with photo.open("ab") as padded:  # bytes after a JPEG's end: decoders ignore them
            padded.write(random.Random(n).randbytes(150_000))
    if kind == "zip":
        archive = make_zip(tmp_path / "big.zip", [(p.name, p) for p in photos], compress=False)
    else:
        archive = make_tar(tmp_path / "big.tar.gz", [(p.name, p) for p in photos], compression="gz")
    data = archive.read_bytes()
    path = f"/{archive.name}"
    server.add(path, data, content_type="application/octet-stream")
    env = _env(tmp_path / "data", FERRYMAN_LEASE_SECONDS="1", FERRYMAN_RETRY__BASE_SECONDS="0.05")
    _add([server.url(path)], env)  # type: ignore[list-item]
    _kill_repeatedly(env, random.Random(len(data)), (0.05, 0.6), wanted=4, most=4, items=200)

    delivered = sorted(f["disk_sha256"] for f in library_files(tmp_path / "data" / "library"))
    assert delivered == sorted(_digest(p) for p in photos)  # every entry, exactly once
    assert _all_terminal(tmp_path / "data" / "ferryman.db")
    if kind == "zip":
        assert _served_total(server, path) <= 1.2 * len(data)


# --- a zip read in place fetches nothing of the entries it skips ---------------------


async def _items(settings: Settings, url: str) -> tuple[JobState, str | None, dict[str, str]]:
    """Run the link; the job's state and error code, and each item's state by path."""
    job_id, store, stored = await _run(settings, url)
    try:
        done = await store.get_job(job_id)
        items = {i.source_path: i.state.value for i in await store.job_items(job_id)}
    finally:
        await store.close()
    assert stored == []  # read where it is: the fetch stage stored nothing
    return done.state, done.error_code, items


async def test_a_skipped_entry_of_a_zip_read_in_place_is_not_fetched(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """A 16 MiB file that is not media, among photos: its head is looked at, the rest
    never crosses the link (the read stage stops there: SourceEntry.over_network)."""
    photos = make_photo_set(tmp_path / "p", 8, size=(320, 240))
    big = tmp_path / "disk-image.bin"
    big.write_bytes(random.Random(5).randbytes(16 << 20))
    members = [(p.name, p) for p in photos[:4]] + [(big.name, big)]
    members += [(p.name, p) for p in photos[4:]]
    data = make_zip(tmp_path / "mixed.zip", members, compress=False).read_bytes()
    server.add("/mixed.zip", data, content_type="application/zip")
    state, code, items = await _items(link_settings, server.url("/mixed.zip"))
    assert state is JobState.DONE, code
    assert items[big.name] == "skipped"
    delivered = sorted(e["disk_sha256"] for e in library_files(link_settings.library))
    assert delivered == sorted(_digest(p) for p in photos)
    rest = len(data) - big.stat().st_size
    # Of the 16 MiB, the head and at most one read-ahead (1 MiB) crossed the link.
    assert server.served["/mixed.zip"] <= rest + (3 << 19)


async def test_a_nested_bomb_in_a_zip_read_in_place_is_still_stopped(
    tmp_path: Path, link_settings: Settings, server: FaultServer
) -> None:
    """Entries fetched by range stop at their head when unwanted, but an archive inside
    is copied out whole and looked into: a bomb in it is stopped as in a local zip."""
    import io
    import zipfile

    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(2):
            with zf.open(f"z{i}.jpg", "w", force_zip64=True) as out:
                for _ in range(16):
                    out.write(bytes(1 << 20))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for i in range(4):
            zf.write(inner, f"level1-{i}.zip")
    server.add("/outer.zip", buffer.getvalue(), content_type="application/zip")
    limits = link_settings.archive.model_copy(
        update={"max_ratio": 20.0, "ratio_grace_bytes": 1 << 20}  # the default floor: 1 GiB
    )
    state, code, _ = await _items(
        link_settings.model_copy(update={"archive": limits}), server.url("/outer.zip")
    )
    assert code == "archive.limit_exceeded", state
