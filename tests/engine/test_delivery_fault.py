"""One entry's fault stays that entry's at delivery too: a sink bug (an unexpected
exception, not a coded error) on one file fails, after the album's attempts, only that
file (quarantined, ``entry.internal``); its innocent neighbours are delivered once each,
in albums of one, and the job ends ``job.partly_delivered``, not ``engine.internal``.

Real photos by Pillow in a folder, the engine in-process to the library, on SQLite and
PostgreSQL (the split is the store's). The bug is injected where the library sink lays an
album out, or copies one file into it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import pytest

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing import quarantine
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import ItemState
from ferryman.samples import make_photo
from ferryman.sinks import library as library_module
from ferryman.sinks import link as link_module
from ferryman.sinks import telegram as telegram_module
from ferryman.sinks.base import Delivered, Delivery, Sink, SinkEnv
from ferryman.sinks.builtin import default_sinks
from ferryman.sinks.telegram import TelegramSink
from ferryman.sinks.telegram_state import TelegramState
from ferryman.store import Store
from ferryman.store.shared.rows import LeaseLost
from ferryman.web.results_s3 import S3Results
from tests.store.test_store import _expanded_job
from tests.support import deliverfault_child, forked
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle
from tests.support.memsink import MemKind
from tests.support.s3serve import S3Server

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

BAD = "p4.jpg"  # the file the sink's bug meets: in the second album, between two others
REPO = Path(__file__).resolve().parents[2]
PHOTOS = 7  # albums of 3: p0-p2, p3-p5 (the faulty one), p6


def settings_for(tmp_path: Path, **extra: Any) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "album_size": 3,
            "retry": {"base_seconds": 0.01, "max_seconds": 0.05, "max_attempts": 2},
            **extra,
        },
    )


def folder_of_photos(root: Path) -> Path:
    root.mkdir(parents=True)
    for seed in range(PHOTOS):
        make_photo(root / f"p{seed}.jpg", seed, size=(64, 48))
    return root


def inject(monkeypatch: pytest.MonkeyPatch, where: str) -> list[int]:
    """Make the library sink raise a ``KeyError`` for an album holding ``BAD``: while it
    lays the album out (nothing written), or while it copies that one file (the
    half-built folder is removed). What it saw each time it was met: the album's size,
    or how many files were in the half-built folder before this one."""
    met: list[int] = []
    if where == "layout":
        real_layout = library_module.album_layout

        def layout(delivery: Delivery) -> Any:
            if any(it.source_path == BAD for it in delivery.album.items):
                met.append(len(delivery.album.items))
                raise KeyError("a bug in the sink")
            return real_layout(delivery)

        monkeypatch.setattr(library_module, "album_layout", layout)
    else:
        real_copy = library_module.place_copy

        def copy(src: Path, dest: str, *rest: Any) -> Any:
            if Path(dest).name.startswith(Path(BAD).stem):
                met.append(len(list(Path(dest).parent.iterdir())))  # files before it
                raise KeyError("a bug in the sink")
            return real_copy(src, dest, *rest)

        monkeypatch.setattr(library_module, "place_copy", copy)
    return met


@pytest.mark.parametrize("where", ["layout", "copy"])
async def test_a_sink_bug_on_one_file_fails_that_file_alone(
    tmp_path: Path,
    store: Store,
    where: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    met = inject(monkeypatch, where)
    settings = settings_for(tmp_path)
    job = await intake.add_source(store, folder_of_photos(tmp_path / "photos"))
    with caplog.at_level(logging.ERROR, logger="ferryman.engine.deliver.step"):
        await run_until_idle(store, settings, limit=60)

    done = await store.get_job(job.id)
    assert done.error_code == "job.partly_delivered", (done.error_code, done.error_message)
    items = {it.source_path: it for it in await store.job_items(job.id)}
    assert len(items) == PHOTOS
    faulty = items.pop(BAD)
    assert (faulty.state, faulty.error_code) == (ItemState.QUARANTINED, "entry.internal")
    assert "KeyError" in (faulty.error_message or "")
    assert {name: it.state for name, it in items.items()} == dict.fromkeys(
        items, ItemState.DELIVERED
    )
    # every other file exactly once, the faulty one nowhere
    delivered = Counter(f["source_path"] for f in library_files(settings.library))
    assert delivered == Counter(list(items))
    kept = quarantine.list_quarantine(settings.quarantine_dir)
    assert [(path.name, code) for path, code in kept] == [(BAD, "entry.internal")]
    # the album's attempts (2) were spent whole, then the file's own (2) alone
    assert met == ([3, 3, 1, 1] if where == "layout" else [1, 1, 0, 0])
    # logged as a bug, with its traceback, naming the file once it is alone
    logged = [r for r in caplog.records if r.exc_info and BAD in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert logged[0].exc_info[0] is KeyError
    assert not [p for p in settings.library.rglob("*.partial")]


async def test_an_album_already_in_place_is_not_split(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug after the album's folder is renamed into place, on every try: the sink
    cannot vouch that nothing went, so the album fails whole as before (its items
    ``engine.internal``), and no file of it is delivered a second time."""
    sink = library_module.LibrarySink
    real_write, real_there = sink._write_album, sink._already_there

    def after(real: Any) -> Any:
        def call(self: Any, final: Path, delivery: Delivery) -> str:
            done: str = real(self, final, delivery)
            if any(it.source_path == BAD for it in delivery.album.items):
                raise KeyError("a bug after the album is in place")
            return done

        return call

    monkeypatch.setattr(sink, "_write_album", after(real_write))
    monkeypatch.setattr(sink, "_already_there", after(real_there))
    settings = settings_for(tmp_path)
    job = await intake.add_source(store, folder_of_photos(tmp_path / "photos"))
    await run_until_idle(store, settings, limit=60)

    items = {it.source_path: it for it in await store.job_items(job.id)}
    album = {"p3.jpg", "p4.jpg", "p5.jpg"}
    assert {n: (it.state, it.error_code) for n, it in items.items() if n in album} == dict.fromkeys(
        album, (ItemState.FAILED, "engine.internal")
    )
    assert {it.state for n, it in items.items() if n not in album} == {ItemState.DELIVERED}
    delivered = Counter(f["source_path"] for f in library_files(settings.library))
    assert delivered == Counter(list(items))  # the album that went, once; nothing twice
    assert quarantine.list_quarantine(settings.quarantine_dir) == []


class _Buggy(Sink):
    """The in-memory sink with a bug on ``BAD``'s album, and no ``nothing_delivered``."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner

    async def deliver(self, delivery: Delivery) -> Delivered:
        if any(it.source_path == BAD for it in delivery.album.items):
            raise KeyError("a bug in the sink")
        return await self.inner.deliver(delivery)


class _BuggyMemKind(MemKind):
    def open(self, target: str, env: SinkEnv) -> Sink:
        return _Buggy(super().open(target, env))


async def test_a_sink_that_cannot_vouch_keeps_its_album_whole(tmp_path: Path, store: Store) -> None:
    """A sink without ``nothing_delivered`` is never split: an album its bug fails
    fails whole, as before, and nothing is sent twice."""
    kind = _BuggyMemKind(album_max=3)
    sinks = default_sinks().with_kind(kind)
    settings = settings_for(tmp_path)
    job = await intake.add_source(
        store, folder_of_photos(tmp_path / "photos"), dest="mem:box", sinks=sinks
    )
    await asyncio.wait_for(Engine(store, settings, sinks=sinks).run(until_idle=True), 60)

    items = {it.source_path: it for it in await store.job_items(job.id)}
    failed = {n for n, it in items.items() if it.state is ItemState.FAILED}
    assert failed == {"p3.jpg", "p4.jpg", "p5.jpg"}
    assert {items[n].error_code for n in failed} == {"engine.internal"}
    sent = Counter(f.source_path for a in kind.albums.values() for f in a.files)
    assert sent == Counter(set(items) - failed)


async def test_a_split_is_one_record_of_albums_of_one(store: Store) -> None:
    """The store's half: the album fails, each item is sealed alone under a new number
    (a new key), the old album keeps the sink's records (its planned random_ids); an
    album of one ends its item as told and seals nothing. Only the lease holder splits."""
    job_id = await _expanded_job(store, 3)
    album = await store.claim_album("d", 30)
    assert album is not None and album.seq == 1
    telegram = TelegramState(store.sink_state("telegram"))
    await telegram.plan_sends(job_id, album.id, [(it.id, 0) for it in album.items])
    bug = FerrymanError.internal(KeyError("x"))
    with pytest.raises(LeaseLost):
        await store.album_split(album.id, "someone else", bug)
    assert len(await store.album_split(album.id, "d", bug)) == 3

    alone = [await store.claim_album("d", 30) for _ in range(3)]
    assert await store.claim_album("d", 30) is None
    assert [(a.seq, [it.id for it in a.items]) for a in alone if a] == [
        (2 + n, [it.id]) for n, it in enumerate(album.items)
    ]
    assert len(await telegram.sends(job_id, album.id)) == 3  # the intents stay with it
    one = alone[0]
    assert one is not None
    fault = FerrymanError("entry.internal", "KeyError: 'x'")
    ended = {one.items[0].id: (ItemState.QUARANTINED, fault, "/q/p000.jpg")}
    assert await store.album_split(one.id, "d", bug, ended) == []
    items = {it.id: it for it in await store.job_items(job_id)}
    kept = items[one.items[0].id]
    assert (kept.state, kept.error_code, kept.work_path) == (
        ItemState.QUARANTINED,
        "entry.internal",
        "/q/p000.jpg",
    )
    assert [items[it.id].state for it in album.items[1:]] == [ItemState.GROUPED] * 2


async def test_telegram_vouches_only_before_a_random_id_is_planned(store: Store) -> None:
    """Planned before any upload or send: once one is, a send may have gone unanswered,
    so the album is not split (Telegram's exactly-once is its random_ids)."""
    job_id = await _expanded_job(store, 2)
    album = await store.claim_album("d", 30)
    assert album is not None
    state = TelegramState(store.sink_state("telegram"))
    sink = TelegramSink(
        cast(Any, None), state, cast(Any, None), caption_limit=1024, clock=time.time
    )
    delivery = Delivery(await store.get_job(job_id), album, "caption")
    assert await sink.nothing_delivered(delivery)
    await state.plan_sends(job_id, album.id, [(it.id, 0) for it in album.items])
    assert not await sink.nothing_delivered(delivery)


def _telegram_world(tmp_path: Path) -> Any:
    from tests.telegram.test_telegram_sink import World

    fast = {"base_seconds": 0.01, "max_seconds": 0.05, "max_attempts": 2}
    return World.logged_in(tmp_path, retry=fast)


async def test_a_telegram_bug_before_any_send_is_planned_fails_its_file_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At Telegram, through the real client and the fake server: a bug while the album's
    files are listed (before a ``random_id`` is planned) splits the album; the two
    innocent photos arrive once each, the faulty one is kept as ``entry.internal``."""
    real = telegram_module.outgoing_files

    def listed(album: Any) -> Any:
        if any(it.source_path == "p01.jpg" for it in album.items):
            raise KeyError("a bug in the sink")
        return real(album)

    monkeypatch.setattr(telegram_module, "outgoing_files", listed)
    w = await _telegram_world(tmp_path)
    store = await w.store()
    try:
        job = await intake.add_source(store, w.photo_zip(3), dest="telegram:me")
        await w.run(store, limit=60)
        done = await store.get_job(job.id)
        items = {it.source_path: it for it in await store.job_items(job.id)}
    finally:
        await store.close()
    assert done.error_code == "job.partly_delivered", (done.error_code, done.error_message)
    assert {n: (it.state, it.error_code) for n, it in items.items()} == {
        "p00.jpg": (ItemState.DELIVERED, None),
        "p01.jpg": (ItemState.QUARANTINED, "entry.internal"),
        "p02.jpg": (ItemState.DELIVERED, None),
    }
    chat = w.server.chat(w.me)
    assert sorted(m.media.file.name for m in chat) == ["p00.jpg", "p02.jpg"]  # once each
    kept = quarantine.list_quarantine(w.settings.quarantine_dir)
    assert [(path.name, code) for path, code in kept] == [("p01.jpg", "entry.internal")]


async def test_a_telegram_bug_after_its_random_ids_are_planned_keeps_the_album_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once planned, a send may have reached Telegram unanswered: the album is not split
    (a split's new random_ids could send a photo twice); it fails whole, as before."""
    real = TelegramSink._ready

    async def ready(self: Any, client: Any, peer: Any, f: Any, *args: Any, **kw: Any) -> Any:
        if f.item.source_path == "p01.jpg":
            raise KeyError("a bug in the sink")
        return await real(self, client, peer, f, *args, **kw)

    monkeypatch.setattr(TelegramSink, "_ready", ready)
    w = await _telegram_world(tmp_path)
    store = await w.store()
    try:
        job = await intake.add_source(store, w.photo_zip(3), dest="telegram:me")
        await w.run(store, limit=60)
        items = await store.job_items(job.id)
    finally:
        await store.close()
    assert {(it.state, it.error_code) for it in items} == {(ItemState.FAILED, "engine.internal")}
    assert w.server.chat(w.me) == []


async def test_a_bug_after_some_files_went_to_the_bucket_fails_its_file_alone(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``link:`` results in S3: the album's files are uploaded, then a bug (here, its
    previews) keeps its manifest from going; the album is not there, so it is split.
    The web lists each innocent file once (the first try's uploads, without a manifest,
    are not an album) and the faulty one is kept as ``entry.internal``."""
    real = link_module.album_previews

    def previews(delivery: Delivery, files: Any) -> Any:
        if any(it.source_path == BAD for it in delivery.album.items):
            raise KeyError("a bug in the sink")
        return real(delivery, files)

    monkeypatch.setattr(link_module, "album_previews", previews)
    settings = settings_for(
        tmp_path, results={"s3": s3_server.settings()}, network={"block_private": False}
    )
    client = link_module.s3_client(settings.results.s3)  # type: ignore[arg-type]
    await client.make_bucket()
    store = await Store.open(settings.database)
    results = S3Results(settings.results.s3)  # type: ignore[arg-type]
    try:
        job = await intake.add_source(
            store, folder_of_photos(tmp_path / "photos"), dest="link:", settings=settings
        )
        await run_until_idle(store, settings, limit=60)
        done = await store.get_job(job.id)
        items = {it.source_path: it for it in await store.job_items(job.id)}
        listed = Counter(f.name for f in await results.files(job.id))
        orphans = [o.key for o in await client.list(f"job-{job.id}/0002/")]
    finally:
        await store.close()
        await results.close()
        await client.close()
    assert done.error_code == "job.partly_delivered", (done.error_code, done.error_message)
    assert (items[BAD].state, items[BAD].error_code) == (ItemState.QUARANTINED, "entry.internal")
    assert listed == Counter(name for name in items if name != BAD)
    assert orphans and not [k for k in orphans if k.endswith("manifest.json")]


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_kill_at_the_split_loses_and_duplicates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """A ``ferryman run``-like child SIGKILLed at the split (before its transaction, or
    right after it commits); the next run finishes the job: each innocent file once,
    the faulty one kept as ``entry.internal``."""
    settings = deliverfault_child.fault_settings(tmp_path / "data")
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, folder_of_photos(tmp_path / "photos"))
    finally:
        await store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    log = tmp_path / "child.log"
    with log.open("wb") as err:
        child = await forked.start_module(
            "tests.support.deliverfault_child",
            [str(settings.data_dir), when],
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=err,
        )
        code = await asyncio.wait_for(child.wait(), 90)
    assert code == -signal.SIGKILL, log.read_text()

    inject(monkeypatch, "layout")
    store = await Store.open(settings.database)
    try:
        # before: the album is whole, its last failure unrecorded; after: split in three
        assert await store.album_count(job.id) == (3 if when == "before" else 6)
        await run_until_idle(store, settings, limit=60)
        done = await store.get_job(job.id)
        items = {it.source_path: it for it in await store.job_items(job.id)}
        albums = await store.album_count(job.id)
    finally:
        await store.close()
    assert done.error_code == "job.partly_delivered", (done.error_code, done.error_message)
    assert albums == 6  # split once, not again
    faulty = items.pop(BAD)
    assert (faulty.state, faulty.error_code) == (ItemState.QUARANTINED, "entry.internal")
    assert {it.state for it in items.values()} == {ItemState.DELIVERED}
    delivered = Counter(f["source_path"] for f in library_files(settings.library))
    assert delivered == Counter(list(items))
