"""Magnet links (and a .torrent) through Torbox on the debrid face, against the fake
Torbox API (``createtorrent``, ``checkcached``, ``mylist``, ``requestdl``,
``controltorrent``): found or added once, polled while Torbox downloads, its id kept so
a restart polls the same torrent, then read as a Torbox item."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import Job, JobState
from ferryman.samples import make_photo_set
from ferryman.sources.builtin import default_sources
from ferryman.sources.magnet import info_hash
from ferryman.store import Store
from tests.sources.test_torbox_source import cdn, tb_settings, torbox
from tests.support.engine_helpers import library_files, run_until_waiting
from tests.support.faketorbox import FakeTorbox, Torrent
from tests.support.waiting import eventually

__all__ = ["cdn", "tb_settings", "torbox"]

HASH = "c9e15763f722f23e98a29decdfae341b98d53056"
MAGNET = f"magnet:?xt=urn:btih:{HASH}&dn=Trip%202024&tr=udp%3A%2F%2Ftracker.example%3A80"


def _photos(tmp: Path) -> list[tuple[str, bytes, str]]:
    return [
        (f"Trip 2024/{p.name}", p.read_bytes(), "image/jpeg")
        for p in make_photo_set(tmp / "p", 3, size=(120, 90))
    ]


def _hashes(files: list[tuple[str, bytes, str]]) -> list[str]:
    return sorted(hashlib.sha256(data).hexdigest() for _, data, _ in files)


async def _magnet_job(settings: Settings) -> Job:
    """The magnet added and the engine run until idle: the job as it ended."""
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, MAGNET, settings=settings)
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 60)
        return await store.get_job(job.id)
    finally:
        await store.close()


async def test_a_cached_magnet_is_added_once_and_its_files_delivered(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    files = _photos(tmp_path)
    torbox.swarm[HASH] = Torrent("Trip 2024", files)
    done = await _magnet_job(tb_settings)
    assert (done.state, done.name) == (JobState.DONE, "Trip 2024")
    assert sorted(e["disk_sha256"] for e in library_files(tb_settings.library)) == _hashes(files)
    assert torbox.calls["createtorrent"] == 1 and torbox.calls["checkcached"] == 1


async def test_a_magnet_torbox_already_has_is_not_added_again(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    files = _photos(tmp_path)
    item = torbox.add("torrent", 77, "Trip 2024", files)
    item.hash = HASH
    done = await _magnet_job(tb_settings)
    assert done.state is JobState.DONE
    assert torbox.calls["createtorrent"] == 0
    assert sorted(e["disk_sha256"] for e in library_files(tb_settings.library)) == _hashes(files)


async def test_an_engine_stopped_while_torbox_downloads_polls_the_same_torrent_after(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    files = _photos(tmp_path)
    torbox.swarm[HASH] = Torrent("Trip 2024", files, cached=False)
    store = await Store.open(tb_settings.database)
    try:
        job = await intake.add_source(store, MAGNET, settings=tb_settings)
        engine = Engine(store, tb_settings)
        running = asyncio.create_task(engine.run())

        async def waiting() -> bool:
            return (await store.get_job(job.id)).wait_reason == "torbox.not_ready"

        await eventually(waiting, "the job waits for Torbox", within=30)
        engine.stop()  # as a stop or a crash leaves it: the torrent added, not ready
        await asyncio.wait_for(running, 30)
        item = torbox.items[("torrent", torbox.next_id)]
        item.finished = True
        item.hash = ""  # the hash search finds nothing now: only the kept id leads to it
        await asyncio.wait_for(Engine(store, tb_settings).run(until_idle=True), 60)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert torbox.calls["createtorrent"] == 1  # never added twice
    assert sorted(e["disk_sha256"] for e in library_files(tb_settings.library)) == _hashes(files)


async def test_a_magnet_no_swarm_knows_fails_with_torboxs_words(
    torbox: FakeTorbox, tb_settings: Settings
) -> None:
    """TorBox refuses it (``BOZO_TORRENT``, of its documented codes): it fails at once,
    as a refused torrent, not retried as an API error."""
    done = await _magnet_job(tb_settings)
    assert (done.state, done.error_code) == (JobState.FAILED, "debrid.refused")
    assert "BOZO_TORRENT" in (done.error_message or "")
    assert "No peers or metadata" in (done.error_message or "")
    assert torbox.calls["createtorrent"] == 1


def test_magnets_are_read_strictly() -> None:
    sources = default_sources()
    assert sources.to_uri(MAGNET) == MAGNET
    base32 = "magnet:?xt=urn:btih:ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMCW"
    assert info_hash(base32) == HASH
    for bad in ("magnet:?dn=x", "magnet:?xt=urn:btih:123", "magnet:?xt=urn:sha1:" + "a" * 40):
        with pytest.raises(FerrymanError) as refused:
            sources.to_uri(bad)
        assert refused.value.code == "source.invalid"


async def test_a_torrent_file_is_uploaded_to_torbox_once_and_its_files_delivered(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    from tests.support.fakedebrid import Torrent as Swarmed
    from tests.support.fakedebrid import torrent_file

    files = _photos(tmp_path)
    data, digest = torrent_file(Swarmed("Trip 2024", files))
    torbox.uploads[data] = digest
    torbox.swarm[digest] = Torrent("Trip 2024", files)
    path = tmp_path / "trip.torrent"
    path.write_bytes(data)
    store = await Store.open(tb_settings.database)
    try:
        job = await intake.add_source(store, str(path), settings=tb_settings)
        await asyncio.wait_for(Engine(store, tb_settings).run(until_idle=True), 60)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert (done.state, done.name) == (JobState.DONE, "Trip 2024"), done.error_message
    assert torbox.calls["createtorrent"] == 1
    assert sorted(e["disk_sha256"] for e in library_files(tb_settings.library)) == _hashes(files)


def test_torbox_on_the_debrid_face_finds_adds_and_deletes(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    from ferryman.sources.debrid.base import api_client
    from ferryman.sources.debrid.services import make_service
    from ferryman.sources.torbox import RateLimit

    torbox.swarm[HASH] = Torrent("Trip 2024", _photos(tmp_path))
    with api_client(tb_settings.network, tb_settings, "torbox") as client:
        limit = RateLimit(300)
        service = make_service("torbox", client, tb_settings, limit, tb_settings.retry)
        assert service.find(HASH) is None
        item = service.add_magnet(MAGNET)
        assert service.find(HASH) == item and service.status(item).ready
        service.delete(item)
        assert service.find(HASH) is None
    assert torbox.calls["checkcached"] == 1 and torbox.calls["createtorrent"] == 1


async def test_a_torrent_torbox_queues_waits_as_queued_and_is_added_once(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    """At the plan's active limit TorBox queues the torrent (success, a ``queued_id``):
    the job keeps the queued item and waits (``debrid.queued``) across a restart, adds
    nothing again, and goes on once TorBox has started it (found in mylist by hash)."""
    files = _photos(tmp_path)
    torbox.swarm[HASH] = Torrent("Trip 2024", files)
    torbox.active_limit = 0
    store = await Store.open(tb_settings.database)
    try:
        job = await intake.add_source(store, MAGNET, settings=tb_settings)

        async def queued() -> bool:
            said = await store.fetched(job.id)
            words = said.error_message if said is not None else ""
            waits = (await store.get_job(job.id)).wait_reason == "debrid.queued"
            return waits and "queued at TorBox: your plan's active limit" in (words or "")

        for _ in range(2):  # the second engine is the restart: it polls the kept item
            engine = Engine(store, tb_settings)
            running = asyncio.create_task(engine.run())
            asked = torbox.calls["getqueued"]
            await eventually(queued, "the job waits while TorBox queues it", within=30)
            await eventually(lambda a=asked: torbox.calls["getqueued"] > a, "asked", within=30)
            engine.stop()
            await asyncio.wait_for(running, 30)
        assert torbox.calls["createtorrent"] == 1 and torbox.queued
        assert len(torbox.start_queued()) == 1
        await asyncio.wait_for(Engine(store, tb_settings).run(until_idle=True), 60)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert torbox.calls["createtorrent"] == 1  # never added twice
    assert sorted(e["disk_sha256"] for e in library_files(tb_settings.library)) == _hashes(files)


def test_torbox_on_the_debrid_face_finds_a_queued_torrent_and_then_the_started_one(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    from ferryman.sources.debrid.base import api_client
    from ferryman.sources.debrid.services import make_service
    from ferryman.sources.torbox import RateLimit

    torbox.swarm[HASH] = Torrent("Trip 2024", _photos(tmp_path))
    torbox.active_limit = 0
    with api_client(tb_settings.network, tb_settings, "torbox") as client:
        service = make_service("torbox", client, tb_settings, RateLimit(300), tb_settings.retry)
        item = service.add_magnet(MAGNET)
        (queued_id,) = torbox.queued
        assert item == f"queued:{queued_id}:{HASH}"
        assert service.find(HASH) == item  # a restart before the id was kept: not added again
        waiting = service.status(item)
        assert (waiting.queued, waiting.ready, waiting.id) == (True, False, item)
        assert waiting.state == "queued at TorBox: your plan's active limit"
        (started,) = torbox.start_queued()
        now = service.status(item)
        assert (now.id, now.ready, now.queued) == (str(started.id), True, False)
        assert service.find(HASH) == str(started.id)
        service.delete(now.id)
        with pytest.raises(FerrymanError) as gone:
            service.status(item)  # neither queued nor listed: deleted at TorBox
        assert gone.value.code == "torbox.not_found"
    assert torbox.calls["createtorrent"] == 1


async def test_a_queued_torrent_once_started_is_kept_under_its_torrent_id(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    """The job's kept item is the queued one until TorBox starts it; the fetch after
    keeps the torrent's own id (the reading and any restart ask mylist by it)."""
    import json

    from ferryman.sources.base import FetchPlan
    from ferryman.sources.magnet import MagnetSource

    torbox.swarm[HASH] = Torrent("Trip 2024", _photos(tmp_path))
    torbox.active_limit = 0
    source = MagnetSource()
    folder = tmp_path / "fetch"
    plan = FetchPlan(
        folder=folder,
        network=tb_settings.network,
        retry=tb_settings.retry,
        client=lambda: None,  # type: ignore[arg-type,return-value]
        settings=tb_settings,
    )
    with pytest.raises(FerrymanError) as waits:
        await source.fetch(MAGNET, plan)
    assert waits.value.code == "debrid.queued"
    (queued_id,) = torbox.queued
    assert json.loads((folder / "debrid.json").read_text())["item"] == f"queued:{queued_id}:{HASH}"
    (started,) = torbox.start_queued()
    fetched = await source.fetch(MAGNET, plan)
    assert fetched.name == "Trip 2024"
    kept = json.loads((folder / "debrid.json").read_text())
    assert (kept["item"], kept["hash"]) == (str(started.id), HASH)
    assert torbox.calls["createtorrent"] == 1


async def test_a_fetch_asked_again_while_torbox_downloads_is_not_shown_back_at_0_percent(
    tmp_path: Path, torbox: FakeTorbox, tb_settings: Settings
) -> None:
    """Each recheck of a torrent TorBox still holds is a new fetch try with nothing held:
    `ferryman run` printed "downloading 0%" again at each (every recheck, for as long as
    the torrent is queued or downloading there), a progress stuck at 0 %. The first try
    says so once; the tries after a wait say nothing until something moves."""
    from ferryman.engine.plumbing.events import Event, JobFetching, JobWaiting

    torbox.swarm[HASH] = Torrent("Trip 2024", _photos(tmp_path), cached=False)
    seen: list[Event] = []
    store = await Store.open(tb_settings.database)
    try:
        job = await intake.add_source(store, MAGNET, settings=tb_settings)
        engine = Engine(store, tb_settings)
        engine.bus.subscribe(seen.append)
        running = asyncio.create_task(engine.run())

        async def waited_thrice() -> bool:
            return sum(isinstance(e, JobWaiting) and e.job_id == job.id for e in seen) >= 3

        await eventually(waited_thrice, "three waits for TorBox", within=30)
        engine.stop()
        await asyncio.wait_for(running, 30)
    finally:
        await store.close()
    at_zero = [e for e in seen if isinstance(e, JobFetching) and e.fraction == 0.0]
    assert len(at_zero) == 1, at_zero


async def test_a_long_429_from_torbox_leaves_the_magnet_waiting_as_rate_limited(
    torbox: FakeTorbox, tb_settings: Settings
) -> None:
    """TorBox's 429 longer than ``retry.max_seconds``: the job waits as
    ``debrid.rate_limited`` (it goes on by itself), not ``source.http.status`` ("try the
    link in a browser")."""
    torbox.throttled, torbox.retry_after = 1_000, "3600"
    store = await Store.open(tb_settings.database)
    try:
        job = await intake.add_source(store, MAGNET, settings=tb_settings)
        waiting = await run_until_waiting(store, tb_settings, job.id)
    finally:
        await store.close()
    assert waiting.wait_reason == "debrid.rate_limited", waiting.wait_reason
    assert torbox.calls["createtorrent"] == 0
