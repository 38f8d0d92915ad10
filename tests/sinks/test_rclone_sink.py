"""``rclone:REMOTE:path`` against real rclone backends run here: its local backend and
``rclone serve sftp`` on loopback, driven through ``rclone rcd`` as ferryman runs it."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from PIL import Image

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake, report
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, JobState
from ferryman.net.rclone import rclone_binary
from ferryman.net.rclone_conf import KeptRclone
from ferryman.samples import make_zip
from ferryman.sinks.builtin import default_sinks
from ferryman.store import Store
from tests.support.engine_helpers import run_until_idle
from tests.support.rclone_serve import serve
from tests.support.s3serve import S3Server
from tests.support.waiting import eventually

BINARY = rclone_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason="rclone is not installed here")

TREE = ["Day 1/a.jpg", "Day 1/b.jpg", "Day 2/c.jpg", "top.jpg"]


def _photos(
    root: Path, names: list[str], shade: int = 0, *, noisy: bool = False
) -> list[tuple[str, Path]]:
    """Photos of one colour each (a few KB); ``noisy``: of noise (~150 KB each)."""
    found = []
    for i, name in enumerate(names):
        path = root / f"{i:02d}-{shade}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        if noisy:
            Image.frombytes("RGB", (320, 240), os.urandom(320 * 240 * 3)).save(path, quality=95)
        else:
            Image.new("RGB", (120, 90), (i * 40 % 255, shade, 150)).save(path, quality=90)
        found.append((name, path))
    return found


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _config(tmp_path: Path, extra: str = "") -> Path:
    conf = tmp_path / "rclone.conf"
    conf.write_text("[loc]\ntype = local\n\n" + extra)
    return conf


def _settings(tmp_path: Path, conf: Path, data: str = "data") -> Settings:
    return load_settings(
        None,
        {
            "data_dir": tmp_path / data,
            "poll_seconds": 0.05,
            "space_floor": 0,
            "rclone": {"config": conf},
        },
    )


def _tree(remote: Path) -> dict[str, str]:
    return {
        str(p.relative_to(remote)): _sha(p)
        for p in sorted(remote.rglob("*"))
        if p.is_file() and not p.name.endswith(".partial")
    }


async def _deliver(settings: Settings, archive: Path, dest: str, *, left: int = 0) -> int:
    """The job added and run to its end: done, every item delivered but ``left`` left out
    by the person's own choice."""
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, archive, dest=dest)
        await run_until_idle(store, settings)
        ended = await store.get_job(job.id)
        items = await store.job_items(job.id)
        assert ended.state is JobState.DONE, (ended.error_code, ended.error_message)
        delivered = [it for it in items if it.state is ItemState.DELIVERED]
        assert len(delivered) == len(items) - left, [(it.source_path, it.state) for it in items]
        return job.id
    finally:
        await store.close()


async def test_a_tree_goes_to_a_local_remote_byte_for_byte_under_the_jobs_name(
    tmp_path: Path,
) -> None:
    conf = _config(tmp_path)
    remote = tmp_path / "remote"
    entries = _photos(tmp_path / "in", TREE)
    archive = make_zip(tmp_path / "trip.zip", entries)
    await _deliver(_settings(tmp_path, conf), archive, f"rclone:loc:{remote}/Photos")

    want = {f"Photos/trip/{name}": _sha(path) for name, path in entries}
    assert _tree(remote) == want
    for name, _ in entries:  # the remote's own copy, not the work area's inode
        assert (remote / "Photos/trip" / name).stat().st_nlink == 1


async def test_a_fresh_jobs_first_albums_grow_at_a_remote_and_not_at_a_library(
    tmp_path: Path,
) -> None:
    """At a remote an album is only a batch (one copy): a fresh job's first file goes
    alone, the next albums double (1, 2, 4, 8) up to the album size, so the link starts
    with the first file read rather than the tenth. A library's albums stay whole."""
    conf = _config(tmp_path)
    entries = _photos(tmp_path / "in", [f"p{i:02d}.jpg" for i in range(25)])
    archive = make_zip(tmp_path / "trip.zip", entries)
    settings = _settings(tmp_path, conf)
    to_remote = await _deliver(settings, archive, f"rclone:loc:{tmp_path / 'remote'}")
    to_library = await _deliver(settings, archive, f"library:{tmp_path / 'library'}")
    store = await Store.open(settings.database)
    try:

        async def sizes(job_id: int) -> list[int]:
            counted: dict[int, int] = {}
            for item in await store.job_items(job_id):
                assert item.album_id is not None
                counted[item.album_id] = counted.get(item.album_id, 0) + 1
            return [counted[album] for album in sorted(counted)]

        assert await sizes(to_remote) == [1, 2, 4, 8, 10]
        assert await sizes(to_library) == [10, 10, 5]
    finally:
        await store.close()
    assert _tree(tmp_path / "remote") == {f"trip/{name}": _sha(path) for name, path in entries}


_HOLDS_A_DAEMON = """
import asyncio, sys, threading
from pathlib import Path
from ferryman.net.rclone import Rclone

async def main() -> None:
    rclone = Rclone(Path(sys.argv[1]))
    await rclone.call("rc/noop")
    await asyncio.to_thread(lambda: None)  # threads come and go meanwhile
    await rclone.call("rc/noop")
    parents = [t.name for t in threading.enumerate() if t.name == "rclone-rcd"]
    print(rclone._proc.pid, parents, flush=True)
    await asyncio.to_thread(sys.stdin.read)  # until killed

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie no one reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def test_the_daemon_lives_with_its_owner_and_dies_with_it_when_killed(
    tmp_path: Path,
) -> None:
    """``rclone rcd`` is started off the event loop, by a thread that lives as long as
    the daemon (Linux sends the parent-death signal when the thread that started a
    child ends): it answers while its owner runs, and a SIGKILLed owner leaves none."""
    conf = _config(tmp_path)
    owner = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-c", _HOLDS_A_DAEMON, str(conf)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        pid, parents = (await asyncio.to_thread(owner.stdout.readline)).split(" ", 1)
        assert parents.strip() == "['rclone-rcd']"
        assert _alive(int(pid))
    finally:
        owner.kill()
        await asyncio.to_thread(owner.wait)
    await eventually(lambda: not _alive(int(pid)), "the daemon gone with its killed owner")


async def test_a_second_data_folder_finds_its_files_already_there_and_a_clash_a_free_name(
    tmp_path: Path,
) -> None:
    conf = _config(tmp_path)
    remote = tmp_path / "remote"
    entries = _photos(tmp_path / "in", TREE)
    archive = make_zip(tmp_path / "trip.zip", entries)
    dest = f"rclone:loc:{remote}"
    await _deliver(_settings(tmp_path, conf, "one"), archive, dest)
    before = {p: p.stat().st_mtime_ns for p in remote.rglob("*.jpg")}
    await _deliver(_settings(tmp_path, conf, "two"), archive, dest)  # the same bytes again
    assert {p: p.stat().st_mtime_ns for p in remote.rglob("*.jpg")} == before  # untouched

    other = _photos(tmp_path / "other", ["Day 1/a.jpg"], shade=200)  # a.jpg, other bytes
    again = make_zip(tmp_path / "trip.zip", [*other, entries[3]])  # top.jpg: the same
    await _deliver(_settings(tmp_path, conf, "three"), again, dest)
    tree = _tree(remote)
    assert tree["trip/Day 1/a.jpg"] == _sha(entries[0][1])  # the first one left alone
    assert tree["trip/Day 1/a (1).jpg"] == _sha(other[0][1])
    assert len(tree) == len(TREE) + 1


async def test_a_run_that_found_its_files_on_the_remote_says_they_were_already_there(
    tmp_path: Path,
) -> None:
    conf = _config(tmp_path)
    archive = make_zip(tmp_path / "trip.zip", _photos(tmp_path / "in", TREE))
    dest = f"rclone:loc:{tmp_path / 'remote'}"
    await _deliver(_settings(tmp_path, conf, "one"), archive, dest)
    second = _settings(tmp_path, conf, "two")  # a new data folder: the remote has them
    job_id = await _deliver(second, archive, dest)
    store = await Store.open(second.database)
    try:
        said = await report.run_summary(store, 0.0, only=[job_id])
    finally:
        await store.close()
    assert [(w["id"], w["already"]) for w in said["where"]] == [(job_id, len(TREE))]


async def test_a_takeout_s_photos_are_dated_on_the_remote_when_they_were_taken(
    tmp_path: Path,
) -> None:
    conf = _config(tmp_path)
    (name, photo), (_, other) = _photos(tmp_path / "in", ["IMG_0001.jpg", "IMG_0002.jpg"])
    sidecar = tmp_path / "in" / "IMG_0001.jpg.json"
    sidecar.write_text('{"title": "IMG_0001.jpg", "photoTakenTime": {"timestamp": "1546344000"}}')
    folder = "Takeout/Google Photos/Photos from 2019"
    archive = make_zip(
        tmp_path / "takeout-20261130T000000Z-001.zip",
        [(f"{folder}/{name}", photo), (f"{folder}/IMG_0002.jpg", other),
         (f"{folder}/IMG_0001.jpg.json", sidecar)],
    )  # fmt: skip
    remote = tmp_path / "remote"
    await _deliver(_settings(tmp_path, conf), archive, f"rclone:loc:{remote}", left=1)
    dated = {p.name: p.stat().st_mtime for p in remote.rglob("*.jpg")}
    assert dated["IMG_0001.jpg"] == 1546344000  # its sidecar's, not the zip's
    assert dated["IMG_0002.jpg"] != 1546344000  # no sidecar: its entry's own


@pytest.fixture
def sftp_remote(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """``rclone serve sftp`` on loopback over a folder: (the folder, its config part)."""
    assert BINARY is not None
    served = tmp_path / "served"
    served.mkdir()
    with serve(BINARY, "sftp", served, "box") as part:
        yield served, part


async def test_a_tree_goes_to_an_sftp_box(tmp_path: Path, sftp_remote: tuple[Path, str]) -> None:
    served, part = sftp_remote
    conf = _config(tmp_path, part)
    entries = _photos(tmp_path / "in", TREE)
    archive = make_zip(tmp_path / "trip.zip", entries)
    await _deliver(_settings(tmp_path, conf), archive, "rclone:box:backup")
    assert _tree(served) == {f"backup/trip/{name}": _sha(path) for name, path in entries}


def test_a_destination_names_a_remote_and_is_refused_when_rclone_cannot_reach_it(
    tmp_path: Path,
) -> None:
    sinks = default_sinks()
    assert sinks.parse("rclone:gdrive:Photos/Trip").target == "gdrive:Photos/Trip"
    for bad in ("rclone:nocolon", "rclone::path", "rclone:gd:../up"):
        with pytest.raises(FerrymanError) as refused:
            sinks.parse(bad)
        assert refused.value.code == "sink.unknown"
    settings = _settings(tmp_path, tmp_path / "missing.conf")
    with pytest.raises(FerrymanError) as missing:
        sinks.kind("rclone:x:y").check_ready(settings, "x:y")
    assert missing.value.code == "rclone.missing"


def test_the_remote_is_looked_for_in_the_conf_its_run_uses_the_one_kept_through_the_page(
    tmp_path: Path,
) -> None:
    """An administrator's rclone.conf given on the page (``<data_dir>/rclone/
    rclone.conf``) is the one a run uses before ``rclone.config``: a remote of it is
    taken when added, one it does not name refused with the remotes it has."""
    settings = _settings(tmp_path, tmp_path / "other.conf")
    (tmp_path / "other.conf").write_text("[elsewhere]\ntype = local\n")
    kept = KeptRclone(settings.data_dir).path
    kept.parent.mkdir(parents=True)
    kept.write_text("[photos]\ntype = local\n\n[nas]\ntype = local\n")
    kind = default_sinks().kind("rclone:photos:x")
    kind.check_ready(settings, "photos:Trips")
    with pytest.raises(FerrymanError) as refused:
        kind.check_ready(settings, "elsewhere:Trips")
    assert refused.value.code == "rclone.no_remote"
    said = refused.value.message
    assert "elsewhere is not a remote of the server's rclone.conf (given on the page)" in said
    assert "(its remotes: photos, nas)" in said and "(photos, nas)" in refused.value.next_step


async def test_a_remote_keeps_every_file_as_a_library_does_unless_media_alone_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FERRYMAN_LIBRARY_MEDIA_ONLY", raising=False)  # the default
    conf = _config(tmp_path)
    remote = tmp_path / "remote"
    notes = tmp_path / "notes.pdf"
    notes.write_bytes(b"%PDF-1.4\n% a trip's tickets\n")
    entries = [*_photos(tmp_path / "in", ["a.jpg"]), ("notes.pdf", notes)]
    archive = make_zip(tmp_path / "trip.zip", entries)
    await _deliver(_settings(tmp_path, conf, "one"), archive, f"rclone:loc:{remote}/all")
    await _deliver(
        _settings(tmp_path, conf, "two"), archive, f"rclone:loc:{remote}/media?media=only", left=1
    )
    tree = _tree_all(remote)
    assert tree["all/trip/notes.pdf"] == _sha(notes)
    assert "all/trip/a.jpg" in tree and "media/trip/a.jpg" in tree
    assert "media/trip/notes.pdf" not in tree


def _tree_all(remote: Path) -> dict[str, str]:
    return {str(p.relative_to(remote)): _sha(p) for p in remote.rglob("*") if p.is_file()}


async def test_an_albums_progress_is_rclones_own_count_of_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file copied under a bandwidth cap (rclone reads ``RCLONE_BWLIMIT``): the album's
    sending events carry the bytes rclone's stats group counted on the way, then all."""
    from ferryman.engine.plumbing.events import AlbumSending, Event
    from ferryman.engine.runner import Engine

    monkeypatch.setenv("RCLONE_BWLIMIT", "3M")
    monkeypatch.delenv("FERRYMAN_LIBRARY_MEDIA_ONLY", raising=False)  # a PDF is kept
    conf = _config(tmp_path)
    blob = tmp_path / "scan.pdf"
    _write_pdf(blob, 9 << 20)
    archive = make_zip(tmp_path / "trip.zip", [("scan.pdf", blob)])
    settings = _settings(tmp_path, conf)
    store = await Store.open(settings.database)
    seen: list[Event] = []
    try:
        job = await intake.add_source(store, archive, dest=f"rclone:loc:{tmp_path / 'remote'}")
        engine = Engine(store, settings)
        engine.bus.subscribe(seen.append)
        await asyncio.wait_for(engine.run(until_idle=True), 120)
        assert (await store.get_job(job.id)).state is JobState.DONE
    finally:
        await store.close()
    sends = [e for e in seen if isinstance(e, AlbumSending)]
    assert sends and sends[-1].done == sends[-1].total == 9 << 20
    assert any(0 < e.done < e.total for e in sends), [(e.done, e.total) for e in sends]
    assert _sha(tmp_path / "remote/trip/scan.pdf") == _sha(blob)


def _write_pdf(path: Path, size: int) -> None:
    head = b"%PDF-1.4\n"
    path.write_bytes(head + os.urandom(size - len(head)))


async def test_a_tree_goes_to_a_webdav_server_rclone_serves(tmp_path: Path) -> None:
    assert BINARY is not None
    served = tmp_path / "served"
    served.mkdir()
    entries = _photos(tmp_path / "in", TREE)
    archive = make_zip(tmp_path / "trip.zip", entries)
    with serve(BINARY, "webdav", served, "dav") as part:
        conf = _config(tmp_path, part)
        await _deliver(_settings(tmp_path, conf), archive, "rclone:dav:Photos")
        before = {p: p.stat().st_mtime_ns for p in served.rglob("*.jpg")}
        # Again from another data folder: every name holds these bytes, nothing copied.
        await _deliver(_settings(tmp_path, conf, "two"), archive, "rclone:dav:Photos")
    assert _tree(served) == {f"Photos/trip/{name}": _sha(path) for name, path in entries}
    assert {p: p.stat().st_mtime_ns for p in served.rglob("*.jpg")} == before


async def test_a_tree_goes_to_an_s3_bucket(tmp_path: Path, s3_server: S3Server) -> None:
    """The S3 server the results tests use (SeaweedFS), as an rclone s3 remote: every
    object there once, byte for byte (MD5 both ends know, read back)."""
    bucket = s3_server.settings()
    s3_server.make_bucket(bucket)
    part = (
        f"[s3]\ntype = s3\nprovider = SeaweedFS\naccess_key_id = {s3_server.access_key}\n"
        f"secret_access_key = {s3_server.secret_key}\nendpoint = {s3_server.endpoint}\n"
    )
    conf = _config(tmp_path, part)
    entries = _photos(tmp_path / "in", TREE)
    archive = make_zip(tmp_path / "trip.zip", entries)
    await _deliver(_settings(tmp_path, conf), archive, f"rclone:s3:{bucket['bucket']}/backup")
    await _deliver(
        _settings(tmp_path, conf, "two"), archive, f"rclone:s3:{bucket['bucket']}/backup"
    )
    got = _fetched(conf, f"s3:{bucket['bucket']}", tmp_path / "got")
    assert _tree(got) == {f"backup/trip/{name}": _sha(path) for name, path in entries}


def _fetched(conf: Path, remote: str, into: Path) -> Path:
    """``remote`` copied here with a plain ``rclone copy``: what is there, as bytes."""
    assert BINARY is not None
    subprocess.run(
        [BINARY, "copy", remote, str(into), f"--config={conf}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return into


async def test_an_albums_copies_are_read_back_against_the_digests_known_here(
    tmp_path: Path,
) -> None:
    """The one-call path: the album's files linked in the work area, copied in one
    ``sync/copy`` and read back in one ``operations/check`` against the digests this
    side knows; an object whose hash is not the one known fails the album."""
    from ferryman.net.rclone import Rclone
    from ferryman.sinks.base import SinkState
    from ferryman.sinks.rclone import RcloneSink, _linked

    work = tmp_path / "work"
    [(_, a), (_, b)] = _photos(work, ["a.jpg", "b.jpg"])
    rclone = Rclone(_config(tmp_path))
    sink = RcloneSink(rclone, cast(SinkState, None), f"loc:{tmp_path / 'remote'}", work)
    try:
        good = await asyncio.to_thread(
            _linked, work, [(a, "trip/a.jpg", _sha(a)), (b, "trip/Day 2/b.jpg", _sha(b))]
        )
        assert good is not None and good[1]  # linked, with a SUM file
        await sink._batch(good[0], summed=True, kind="sha256", group="g")
        assert _tree(tmp_path / "remote") == {"trip/a.jpg": _sha(a), "trip/Day 2/b.jpg": _sha(b)}
        bad = await asyncio.to_thread(
            _linked, work, [(a, "x/a.jpg", "0" * 64), (b, "x/b.jpg", _sha(b))]
        )
        assert bad is not None
        with pytest.raises(FerrymanError) as wrong:
            await sink._batch(bad[0], summed=True, kind="sha256", group="g")
        assert wrong.value.code == "rclone.failed" and "x/a.jpg" in wrong.value.message
    finally:
        await rclone.close()


async def test_a_remote_the_config_does_not_name_is_an_error_no_retry_mends(
    tmp_path: Path,
) -> None:
    """rclone's "didn't find section in config file" is ``rclone.no_remote``, which no
    retry mends, so an album bound there fails at its first try (it was ``rclone.failed``,
    tried five times as a fault that heals); its next step says where remotes are listed."""
    from ferryman.errors import spec_for
    from ferryman.net.rclone import Rclone

    rclone = Rclone(_config(tmp_path))
    try:
        with pytest.raises(FerrymanError) as missing:
            await rclone.call("operations/fsinfo", fs="nowhere:x")
    finally:
        await rclone.close()
    assert missing.value.code == "rclone.no_remote" and "nowhere" in missing.value.message
    assert not missing.value.retryable and "doctor" in spec_for("rclone.no_remote").next_step


async def test_the_next_album_is_named_and_linked_while_one_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two albums under a cap: the second's files are linked for their copy (its names
    chosen and recorded) while the first's still go, so its copy starts as the first's
    ends, not once the first is read back and recorded. Only the album copying asks
    rclone its stats: one waiting its turn, or being read back, asks nothing."""
    from ferryman.engine.runner import Engine
    from ferryman.net.rclone import Rclone

    following = [0]
    most = [0]
    calls: list[str] = []
    follow = Rclone.follow_stats

    async def counted(self: Rclone, group: str, *args: object, **kwargs: object) -> None:
        calls.append(group)
        following[0] += 1
        most[0] = max(most[0], following[0])
        try:
            await follow(self, group, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            following[0] -= 1

    monkeypatch.setattr(Rclone, "follow_stats", counted)

    monkeypatch.setenv("RCLONE_BWLIMIT", "300k")
    conf = _config(tmp_path)
    # Albums of 1, 2, 4, 8 and 5: a fresh job's first albums at a remote grow.
    names = [f"p{i:02d}.jpg" for i in range(20)]
    entries = _photos(tmp_path / "in", names, noisy=True)
    archive = make_zip(tmp_path / "trip.zip", entries)
    settings = _settings(tmp_path, conf)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, archive, dest=f"rclone:loc:{tmp_path / 'remote'}")
        running = asyncio.ensure_future(Engine(store, settings).run(until_idle=True))

        def both_ready() -> bool:
            assert not running.done(), "the job ended with never two albums ready at once"
            return len(list(settings.work_dir.rglob(".rclone-*"))) >= 2

        await eventually(both_ready, "two albums linked for their copies at once", within=60)
        await asyncio.wait_for(running, 120)
        assert (await store.get_job(job.id)).state is JobState.DONE
        delivered, albums = await store.album_tally(job.id)
    finally:
        await store.close()
    assert _tree(tmp_path / "remote") == {f"trip/{name}": _sha(path) for name, path in entries}
    assert delivered == albums == 5
    assert len(calls) == len(set(calls)) == albums  # an album's stats followed once each
    assert most[0] == 1  # never the one waiting its turn beside the one copying
