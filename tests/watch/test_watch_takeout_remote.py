"""A Google Takeout's parts arriving at different looks of a WebDAV watch (wsgidav on
loopback; an rclone watch's: ``test_watch_takeout_rclone``): each part is held until
no part of its set has come for ``watch.takeout_quiet_seconds``
(``engine/watch/takeout_hold``), then the set is one job, every photo's date and place
right (a sidecar in part 1 pairs with its photo in part 2) and each photo stored once.
The held set lives in the store: every look here is a new engine (a restart), and the
quiet time runs on the store's injected clock. The generated export of
``tests/engine/test_takeout`` (every naming variant)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path

import pytest

from ferryman.config import Settings, WebdavLogin, WebdavSettings
from ferryman.engine.watch.takeout_hold import HELD, hold, recorded
from ferryman.sources.listers.base import WatchEntry, part_set
from ferryman.store import Store
from tests.engine.test_takeout import check_library, takeout
from tests.support.contract import memory_store
from tests.support.davserve import PASSWORD, USER, DavServer, dav_serving
from tests.support.engine_helpers import run_until_idle

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

QUIET = 600.0
OLD = time.time() - 30 * 86_400  # a part copied in keeping its time (rclone copy, cp -p)


class Later:
    """The store's clock, still but for the test's moves (a quiet time passes without a
    sleep); it starts after every file made here was written."""

    def __init__(self) -> None:
        self.now = time.time() + 10.0

    def __call__(self) -> float:
        return self.now


def _quiet(settings: Settings) -> Settings:
    watch = settings.watch.model_copy(
        update={"settle_seconds": 0.0, "takeout_quiet_seconds": QUIET}
    )
    media = settings.media.model_copy(update={"library_convert": False})  # originals kept
    return settings.model_copy(
        update={"watch": watch, "media": media, "library_layout": "{source}/{path}/{name}"}
    )


def _held(rows: list[tuple[str, int | None]]) -> dict[str, float]:
    """The held parts recorded in the watch's seen rows: name → when first listed."""
    return {h.entry.title: h.at for h in recorded(ident for ident, _ in rows).values()}


Stores = Callable[[], AbstractAsyncContextManager[Store]]


def kept(store: Store) -> Stores:
    """Each look on the same store (an engine's restart: the engine is new)."""

    @contextlib.asynccontextmanager
    async def same() -> AsyncIterator[Store]:
        yield store

    return same


def reopened(url: str, clock: Later) -> Stores:
    """Each look on the store opened anew from its database (a process's restart)."""

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[Store]:
        store = await Store.open(url, clock)
        try:
            yield store
        finally:
            await store.close()

    return opened


async def _arrive_and_take(
    stores: Stores, settings: Settings, clock: Later, watch_id: int, put: list[Path]
) -> None:
    """Part 1 put, a look (held); five minutes on, part 2 put, a look (both held, part
    1's clock kept); the quiet time on, a look: one job of both, every photo right."""
    first, second = put
    async with stores() as store:
        await run_until_idle(store, settings)
        assert await store.list_jobs() == []  # held: its next part may be on its way
        held = _held(await store.watch_seen_rows(watch_id))
        assert list(held) == [first.name]
        assert (await store.get_watch(watch_id)).next_check_at == pytest.approx(
            held[first.name] + QUIET
        )
    clock.now += 300.0
    os.replace(second.with_suffix(".waiting"), second)  # part 2 arrives, 5 minutes on
    async with stores() as store:
        await store.set_watch_paused(watch_id, False)  # due now
        await run_until_idle(store, settings)  # a new engine: the held set is the store's
        assert await store.list_jobs() == []
        again = _held(await store.watch_seen_rows(watch_id))
        assert again[first.name] == held[first.name]  # its first look kept, not redone
        assert set(again) == {first.name, second.name}
        assert (await store.get_watch(watch_id)).next_check_at == pytest.approx(
            again[second.name] + QUIET
        )
    clock.now += QUIET - 1.0
    async with stores() as store:
        await store.set_watch_paused(watch_id, False)
        await run_until_idle(store, settings)
        assert await store.list_jobs() == []  # a second short of quiet: still held
    clock.now += 1.0
    async with stores() as store:
        await store.set_watch_paused(watch_id, False)
        await run_until_idle(store, settings)
        jobs = await store.list_jobs()
        assert len(jobs) == 1 and jobs[0].state.value == "done", jobs
        rows = await store.watch_seen_rows(watch_id)
        assert [job for ident, job in rows if not ident.startswith(HELD)] == [jobs[0].id] * 2
        # The parts' held records went in the transaction that made their job: a watch
        # of years of Takeouts kept every one of them, read at every look.
        assert [ident for ident, _ in rows if ident.startswith(HELD)] == []
    async with stores() as store:
        await store.set_watch_paused(watch_id, False)
        await run_until_idle(store, settings)
        assert len(await store.list_jobs()) == 1  # taken once


@pytest.fixture
def dav(tmp_path: Path) -> Iterator[DavServer]:
    root = tmp_path / "dav"
    (root / "Takeout").mkdir(parents=True)
    with dav_serving(root) as server:
        yield server


async def test_a_webdav_watch_makes_one_job_of_parts_come_at_different_looks(
    store: Store, settings: Settings, dav: DavServer, tmp_path: Path
) -> None:
    login = WebdavLogin(username=USER, password=PASSWORD)
    settings = _quiet(settings).model_copy(
        update={"webdav": WebdavSettings(hosts={f"127.0.0.1:{dav.port}": login})}
    )
    store.clock = clock = Later()
    zips, content = takeout(tmp_path / "made-export")
    put = [dav.root / "Takeout" / z.name for z in zips]
    shutil.copy(zips[0], put[0])
    shutil.copy(zips[1], put[1].with_suffix(".waiting"))  # not media: not listed yet
    watch = await store.add_watch(
        kind="dav",
        source=dav.uri("Takeout/"),
        dest="library:",
        every_seconds=86_400.0,
        since="all",
        next_check_at=0.0,
    )
    await _arrive_and_take(kept(store), settings, clock, watch.id, put)
    check_library(settings.library, content)  # 100 % of dates and places, each once


def _part(name: str, at: float, n: int = 0) -> WatchEntry:
    return WatchEntry(id=f"id-{name}-{n}", input=f"dav://h/{name}", title=name, published=at)


def test_every_form_of_part_name_is_held_and_others_are_not() -> None:
    for name in (
        "takeout-20261129T101010Z-001.zip",
        "Takeout/takeout-20261129T101010Z-3-001.zip",
        "TAKEOUT-20261129T101010Z-0002.ZIP",
    ):
        assert part_set(_part(name, 0.0)) is not None, name
    # a .tgz is held in a folder on this machine only, where its set is indexed together
    for name in ("takeout-20261129T101010Z-001.tgz", "takeout.zip", "IMG_1.jpg", "x-001.zip"):
        assert part_set(_part(name, 0.0)) is None, name
    caption = WatchEntry(
        id="c/5", input="tg:c/1/5", title="my export", name="takeout-20261129T101010Z-001.zip"
    )
    assert part_set(caption) == ("", "takeout-20261129t101010z.zip")  # a post: its file's name
    local = WatchEntry(id="f", input="file:///d/t-001.tgz?below=1", title="takeout/x", name=None)
    for suffix in ("zip", "tgz"):
        named = replace(local, title=f"Takeout/takeout-20261129T101010Z-001.{suffix}")
        assert part_set(named) == ("Takeout", f"takeout-20261129t101010z.{suffix}")


def test_a_part_come_after_its_set_was_taken_is_held_and_taken_on_its_own() -> None:
    """Parts 1 and 2 taken (seen); part 3 comes later: a set of its own, held from its
    first look for the quiet time, then taken alone. Another set's and a chat's held
    part put back (not listed again) follow the same clock."""
    now = 1_000_000.0
    one, two, three = (
        _part(f"takeout-20261129T101010Z-00{n}.zip", now - 99_999) for n in (1, 2, 3)
    )
    listed, rows = hold([one, two, three], {}, {one.id, two.id}, now, QUIET, resuming=False)
    assert [e.ready_at for e in listed] == [None, None, now + QUIET]
    assert [json.loads(r.entry_id[len(HELD) :])["id"] for r in rows] == [three.id]
    kept = recorded(r.entry_id for r in rows)
    later, again = hold(
        [one, two, three], kept, {one.id, two.id}, now + QUIET, QUIET, resuming=False
    )
    assert [e.ready_at for e in later] == [None, None, None] and again == []
    # A chat: the held part is not listed again (the reading moved past it); put back.
    gone, _ = hold([], kept, set(), now + 10, QUIET, resuming=True)
    assert [(e.id, e.ready_at) for e in gone] == [(three.id, now + QUIET)]
    back, _ = hold([], kept, set(), now + QUIET, QUIET, resuming=True)
    assert [(e.input, e.ready_at) for e in back] == [(three.input, None)]
    # A part written on since (a new version, listed with its new time): held anew.
    moved = _part(three.title, now + 50, 1)
    held, rows = hold([moved], kept, set(), now + 60, QUIET, resuming=False)
    assert held[0].ready_at == now + 60 + QUIET and len(rows) == 1
    future = _part(three.title, now + 99_999, 2)  # a time ahead of the clock counts as now
    ahead, _ = hold([future], {}, set(), now, QUIET, resuming=False)
    assert ahead[0].ready_at == now + QUIET
