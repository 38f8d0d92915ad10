"""WebDAV folders through the whole engine, against a real WebDAV server (wsgidav):
walked in name order, read file by file where they are, the listing kept so a restart
delivers nothing twice, logins from the settings or the link and shown nowhere."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.config import Settings, WebdavLogin, WebdavSettings
from ferryman.engine.ops import intake, report
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.samples import make_photo_set, make_video, make_zip
from ferryman.sources.base import ReadOptions
from ferryman.sources.webdav import WebdavSource
from ferryman.store import Store
from tests.support import forked
from tests.support.davserve import PASSWORD, USER, DavServer, dav_serving
from tests.support.engine_helpers import library_files
from tests.support.httpserve import serving


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(root: Path, tmp: Path) -> dict[str, str]:
    """Three nested folders of photos, a video, a zip of photos and a text file; the
    media by name with their hashes (what the library must hold, once each)."""
    photos = make_photo_set(tmp / "made", 9, size=(96, 72))
    video = make_video(tmp / "made" / "clip.mp4", 3, seconds=0.4)
    inner = make_photo_set(tmp / "inner", 3, start_seed=50, size=(96, 72))
    places = [
        "Trip/a",
        "Trip/a",
        "Trip/a/deeper",
        "Trip/b",
        "Trip/b",
        "Trip",
        "Trip",
        "Trip/c",
        "Trip/c",
    ]
    for photo, place in zip(photos, places, strict=True):
        (root / place).mkdir(parents=True, exist_ok=True)
        (root / place / photo.name).write_bytes(photo.read_bytes())
    (root / "Trip/b/clip.mp4").write_bytes(video.read_bytes())
    make_zip(root / "Trip/c/more.zip", [(p.name, p) for p in inner], compress=False)
    (root / "Trip/a/notes.txt").write_text("not media\n")
    return {p.name: _digest(p) for p in [*photos, video, *inner]}


@pytest.fixture
def dav(tmp_path: Path) -> Iterator[DavServer]:
    root = tmp_path / "dav"
    root.mkdir()
    with dav_serving(root) as server:
        yield server


@pytest.fixture
def dav_settings(settings: Settings, dav: DavServer) -> Settings:
    login = WebdavLogin(username=USER, password=PASSWORD)
    return settings.model_copy(
        update={
            "webdav": WebdavSettings(hosts={f"127.0.0.1:{dav.port}": login}),
            "network": settings.network.model_copy(update={"stall_seconds": 3.0}),
            "retry": settings.retry.model_copy(update={"base_seconds": 0.05}),
        }
    )


async def _add_and_run(settings: Settings, uri: str) -> tuple[int, Store]:
    store = await Store.open(settings.database)
    job = await intake.add_source(store, uri, settings=settings)
    await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 120)
    return job.id, store


async def test_a_folder_is_walked_and_every_media_file_delivered_once(
    tmp_path: Path, dav: DavServer, dav_settings: Settings
) -> None:
    made = _tree(dav.root, tmp_path)
    job_id, store = await _add_and_run(dav_settings, dav.uri("Trip/"))
    try:
        done = await store.get_job(job_id)
        summary = await report.report(store, job_id)
        fetched = await store.fetched(job_id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    delivered = {
        Path(e["source_path"]).name: e["disk_sha256"] for e in library_files(dav_settings.library)
    }
    assert delivered == made  # every photo, the video and the zip's photos, once, byte-exact
    skipped = [it for it in summary["items"] if it["state"] == "skipped"]
    assert [(Path(it["path"]).name, it["reason"]) for it in skipped] == [
        ("notes.txt", "not media or an archive (text/plain)")
    ]
    assert dav.sent.get("/Trip/a/notes.txt", 0) == 0  # skipped unread
    assert fetched is not None and fetched.path is None  # nothing stored: read in place
    # Name order, depth first: a folder's files, then its folders.
    order = [Path(it["path"]).as_posix() for it in summary["items"]]
    assert order.index("a/notes.txt") < order.index(
        "a/deeper/" + sorted(p.name for p in (dav.root / "Trip/a/deeper").iterdir())[0]
    )
    assert not (dav_settings.work_dir / f"job-{job_id:05d}").exists()


async def test_a_single_file_and_the_links_own_login(
    tmp_path: Path, dav: DavServer, settings: Settings
) -> None:
    """No [webdav] settings: the login in the link serves, and is shown nowhere."""
    video = make_video(tmp_path / "v.mp4", 7, seconds=0.4)
    (dav.root / "clip one.mp4").write_bytes(video.read_bytes())
    uri = dav.uri("clip%20one.mp4", login=True)
    job_id, store = await _add_and_run(settings, uri)
    try:
        done = await store.get_job(job_id)
        status = json.dumps(await report.status(store))
        summary = json.dumps(await report.report(store, job_id))
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert [e["disk_sha256"] for e in library_files(settings.library)] == [_digest(video)]
    assert PASSWORD not in status and PASSWORD not in summary
    assert f"dav://127.0.0.1:{dav.port}/clip%20one.mp4" in status


async def test_a_wrong_password_fails_with_source_auth_and_a_next_step(
    tmp_path: Path, dav: DavServer, dav_settings: Settings
) -> None:
    """The job fails with the setting to fix, and is not lost: once the login is set
    right, `retry` delivers it."""
    photo = make_photo_set(tmp_path / "p", 1)[0]
    (dav.root / "x.jpg").write_bytes(photo.read_bytes())
    bad = dav_settings.model_copy(
        update={
            "webdav": WebdavSettings(
                hosts={"127.0.0.1": WebdavLogin(username=USER, password="wrong")}
            )
        }
    )
    job_id, store = await _add_and_run(bad, dav.uri("x.jpg"))
    try:
        done = await store.get_job(job_id)
        summary = await report.report(store, job_id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.FAILED, "source.auth")
    assert "[webdav.hosts." in (done.error_message or "")
    assert "webdav" in summary["error"]["next"].lower()
    assert library_files(bad.library) == []

    from ferryman.engine.ops.control import retry_job

    store = await Store.open(dav_settings.database)
    try:
        await retry_job(store, job_id)
        await asyncio.wait_for(Engine(store, dav_settings).run(until_idle=True), 120)
        again = await store.get_job(job_id)
    finally:
        await store.close()
    assert again.state is JobState.DONE, again
    assert [e["disk_sha256"] for e in library_files(dav_settings.library)] == [_digest(photo)]


async def test_a_server_that_is_not_webdav_is_told_apart(settings: Settings) -> None:
    with serving() as plain:
        plain.add("/Trip/", b"<html>a web page</html>", content_type="text/html")
        uri = plain.url("/Trip/").replace("http://", "dav://")
        job_id, store = await _add_and_run(settings, uri)
        try:
            done = await store.get_job(job_id)
        finally:
            await store.close()
    assert done.state is JobState.FAILED
    assert done.error_code == "webdav.protocol", done


async def test_a_missing_folder_is_source_not_found(dav: DavServer, dav_settings: Settings) -> None:
    job_id, store = await _add_and_run(dav_settings, dav.uri("Nope/"))
    try:
        done = await store.get_job(job_id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.FAILED, "source.not_found")


class _Memo:
    def __init__(self) -> None:
        self.kept: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.kept.get(key)

    def put(self, key: str, value: str) -> None:
        self.kept[key] = value


def _paths(source: WebdavSource, uri: str, options: ReadOptions) -> list[tuple[int, str]]:
    with source.open(uri, options) as entries:
        return [(e.info.index, e.info.path) for e in entries if e.skip is None]


def test_the_listing_is_kept_so_indexes_stay_put_when_the_server_changes(
    tmp_path: Path, dav: DavServer, dav_settings: Settings
) -> None:
    """A file added (sorting first) between two runs does not shift the indexes of the
    first run: the second reads the kept listing. Without the memo it would."""
    for n, photo in enumerate(make_photo_set(tmp_path / "p", 3)):
        (dav.root / "F").mkdir(exist_ok=True)
        (dav.root / "F" / f"img{n + 1}.jpg").write_bytes(photo.read_bytes())
    source, uri, memo = WebdavSource(), dav.uri("F/"), _Memo()
    options = ReadOptions(memo=memo, settings=dav_settings, scratch=tmp_path / "s")
    first = _paths(source, uri, options)
    (dav.root / "F" / "img0.jpg").write_bytes((dav.root / "F" / "img1.jpg").read_bytes())
    assert (
        _paths(source, uri, options) == first == [(0, "img1.jpg"), (1, "img2.jpg"), (2, "img3.jpg")]
    )
    fresh = _paths(source, uri, ReadOptions(settings=dav_settings, scratch=tmp_path / "s"))
    assert fresh[0] == (0, "img0.jpg")  # what a run without the memo would have done


def test_descriptions_and_logs_never_hold_the_password(
    tmp_path: Path, dav: DavServer, caplog: pytest.LogCaptureFixture
) -> None:
    """`ferryman add` with a login in the link, then `status`: the password is in
    neither, nor in the logs of a failing read."""
    (dav.root / "a.jpg").write_bytes(make_photo_set(tmp_path / "p", 1)[0].read_bytes())
    data = tmp_path / "data"
    uri = dav.uri("a.jpg", login=True)
    runs = [
        forked.run(
            ["--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        for args in (["add", uri], ["status", "--json"], ["report", "1", "--json"])
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert PASSWORD not in run.stdout + run.stderr
    assert f"dav://127.0.0.1:{dav.port}/a.jpg" in runs[0].stdout
    caplog.set_level(logging.DEBUG)
    with pytest.raises(FerrymanError) as failed:
        _paths(WebdavSource(), dav.uri("gone.jpg", login=True), ReadOptions(scratch=tmp_path))
    assert failed.value.code == "source.not_found"
    assert PASSWORD not in str(failed.value) and PASSWORD not in caplog.text


@pytest.mark.slow
def test_sigkill_during_a_walk_loses_and_duplicates_nothing(tmp_path: Path, dav: DavServer) -> None:
    """`ferryman run` killed at random moments while it walks and reads three nested
    folders of photos and videos and a zip: afterwards every media file is in the
    library exactly once, and the restarts did not read every file again."""
    import random

    from tests.crash.test_crash import _add, _all_terminal, _env, _kill_repeatedly

    photos = make_photo_set(tmp_path / "made", 360, size=(96, 72))
    videos = [make_video(tmp_path / "made" / f"v{n}.mp4", n, seconds=0.4) for n in range(4)]
    for n, photo in enumerate(photos[:300]):
        place = dav.root / "Trip" / ["a", "a/x", "b"][n % 3]
        place.mkdir(parents=True, exist_ok=True)
        (place / photo.name).write_bytes(photo.read_bytes())
    for video in videos:
        (dav.root / "Trip" / "b" / video.name).write_bytes(video.read_bytes())
    make_zip(dav.root / "Trip/c.zip", [(p.name, p) for p in photos[300:]], compress=False)
    expected = sorted(_digest(p) for p in [*photos, *videos])
    data = tmp_path / "data"
    env = _env(data, FERRYMAN_LEASE_SECONDS="1")
    _add([dav.uri("Trip/", login=True)], env)  # type: ignore[list-item]
    _kill_repeatedly(env, random.Random(20261122), (0.02, 0.5), wanted=5, most=8, items=364)

    delivered = sorted(f["disk_sha256"] for f in library_files(data / "library"))
    assert delivered == expected  # every file, exactly once
    assert _all_terminal(data / "ferryman.db")
    loose = sum(p.stat().st_size for p in (dav.root / "Trip").rglob("*") if p.suffix != ".zip")
    read = sum(n for path, n in dav.sent.items() if not path.endswith(".zip"))
    assert read <= 1.5 * loose  # a restart reads again at most what was in flight


def test_a_zip_in_the_folder_is_read_where_it_lies(tmp_path: Path, dav: DavServer) -> None:
    """A zip the in-place backend reads is never copied (no room asked for it): its
    entries come by Range. A file that only looks like a zip is copied to scratch,
    opened there, and fails alone; the indexes run on across both."""
    photos = make_photo_set(tmp_path / "p", 5, size=(96, 72))
    make_zip(dav.root / "a.zip", [(p.name, p) for p in photos], compress=False)
    (dav.root / "b.zip").write_bytes(b"PK\x03\x04 but broken" * 50)
    asked: list[int] = []
    options = ReadOptions(scratch=tmp_path / "scratch", wait_to_write=asked.append)
    with WebdavSource().open(dav.uri("", login=True), options) as entries:
        got = []
        for entry in entries:
            data = b"".join(entry.read_blocks()) if entry.error is None else b""
            got.append(
                (entry.info.index, entry.info.path, entry.error, hashlib.sha256(data).hexdigest())
            )
    assert [g[1] for g in got[:5]] == [f"a.zip/{p.name}" for p in photos]
    assert [g[3] for g in got[:5]] == [_digest(p) for p in photos]  # byte-exact, by range
    assert asked == [(dav.root / "b.zip").stat().st_size]  # only the broken one was copied
    assert got[5][1] == "b.zip" and got[5][2] is not None  # and it failed alone
    assert [g[0] for g in got] == list(range(6))
    zip_size = (dav.root / "a.zip").stat().st_size
    assert dav.sent["/a.zip"] <= 1.01 * zip_size + 64 * 1024  # the entries, and the directory


async def test_names_with_hash_question_mark_percent_and_accents(
    tmp_path: Path, dav: DavServer, dav_settings: Settings
) -> None:
    """Names that mean something in a URL (``#``, ``?``, ``%20`` taken literally, ``+``)
    and accents, in a folder whose own name has them: each walked and read once."""
    names = ["a #1.jpg", "b?x.jpg", "c%20d.jpg", "e+f [g].jpg", "ü ñ.jpg"]
    folder = dav.root / "Trip #2 ?"
    folder.mkdir()
    made = {}
    for name, photo in zip(names, make_photo_set(tmp_path / "p", 5, size=(96, 72)), strict=True):
        (folder / name).write_bytes(photo.read_bytes())
        made[name] = _digest(photo)
    job_id, store = await _add_and_run(dav_settings, dav.uri("Trip%20%232%20%3F/"))
    try:
        done = await store.get_job(job_id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    got = {
        Path(e["source_path"]).name: e["disk_sha256"] for e in library_files(dav_settings.library)
    }
    assert got == made


async def test_a_file_gone_or_changed_after_the_listing(
    tmp_path: Path, dav_settings: Settings
) -> None:
    """The listing is kept, but the folder lives on: as the first file is read, the
    second is replaced and the third deleted. The replaced one is delivered as it is
    now (nothing of the old one was staged), the deleted one fails alone with
    source.entry_gone, and the rest of the folder is delivered."""
    root = tmp_path / "dav"
    (root / "F").mkdir(parents=True)
    photos = make_photo_set(tmp_path / "p", 5, size=(96, 72))
    for n, photo in enumerate(photos[:4]):
        (root / "F" / f"img{n}.jpg").write_bytes(photo.read_bytes())
    changed: list[str] = []

    def meanwhile(method: str, path: str) -> None:
        if method == "GET" and not changed:
            changed.append(path)
            (root / "F/img1.jpg").write_bytes(photos[4].read_bytes())
            (root / "F/img2.jpg").unlink()

    with dav_serving(root, before=meanwhile) as server:
        login = WebdavLogin(username=USER, password=PASSWORD)
        settings = dav_settings.model_copy(
            update={"webdav": WebdavSettings(hosts={"127.0.0.1": login})}
        )
        job_id, store = await _add_and_run(settings, server.uri("F/"))
        try:
            done = await store.get_job(job_id)
            summary = await report.report(store, job_id)
        finally:
            await store.close()
    assert changed == ["/F/img0.jpg"]
    assert done.state is JobState.DONE, done
    got = {Path(e["source_path"]).name: e["disk_sha256"] for e in library_files(settings.library)}
    assert got == {
        "img0.jpg": _digest(photos[0]),
        "img1.jpg": _digest(photos[4]),  # the new version, whole
        "img3.jpg": _digest(photos[3]),
    }
    failed = [(it["path"], it["reason"]) for it in summary["items"] if it["state"] == "failed"]
    assert failed == [("img2.jpg", "source.entry_gone")]


async def test_a_server_error_during_the_walk_and_a_read_is_retried(
    tmp_path: Path, dav_settings: Settings
) -> None:
    """A 500 to the folder's listing and another to a file's read (a NAS waking up):
    passing trouble, retried with backoff; the job ends done with every file once."""
    root = tmp_path / "dav"
    (root / "F").mkdir(parents=True)
    photos = make_photo_set(tmp_path / "p", 3, size=(96, 72))
    for n, photo in enumerate(photos):
        (root / "F" / f"img{n}.jpg").write_bytes(photo.read_bytes())
    failed: list[str] = []
    propfinds: list[str] = []

    def flaky(method: str, path: str) -> None:
        if method == "PROPFIND":
            propfinds.append(path)
        # The second PROPFIND of the folder is the walk's (the first is the fetch check).
        walk = method == "PROPFIND" and len(propfinds) == 2
        if (walk or (method, path) == ("GET", "/F/img1.jpg")) and method not in failed:
            failed.append(method)
            raise RuntimeError("the disk is spinning up")  # cheroot answers 500

    with dav_serving(root, before=flaky) as server:
        login = WebdavLogin(username=USER, password=PASSWORD)
        settings = dav_settings.model_copy(
            update={"webdav": WebdavSettings(hosts={"127.0.0.1": login})}
        )
        job_id, store = await _add_and_run(settings, server.uri("F/"))
        try:
            done = await store.get_job(job_id)
        finally:
            await store.close()
    assert sorted(failed) == ["GET", "PROPFIND"]
    assert done.state is JobState.DONE, done
    got = sorted(e["disk_sha256"] for e in library_files(settings.library))
    assert got == sorted(_digest(p) for p in photos)
