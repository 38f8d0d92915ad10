"""A check with many new entries records them in short batches (``watch.batch_size``
each, other work running between them), at most ``watch.entries_per_pass`` a check,
and the next check carries on where it stopped: after a crash between batches, after
a stop, and with a first check's ``--since N`` choosing the same N newest every pass.
On SQLite, PostgreSQL and the memory store (``tests/support/contract``): the checker
asks only its port (``ports.WatchStore``) of the store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from ferryman.config import Settings
from ferryman.device.conditions import Device
from ferryman.engine.ops.intake import entry_job
from ferryman.engine.runner import new_owner
from ferryman.engine.watch.check import Checker, Found
from ferryman.model import Batch, BatchItem
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.builtin import default_sources
from ferryman.sources.listers.base import ListerRegistry, WatchEntry
from ferryman.store import Store
from ferryman.store.watches.sql import Made, Watch, WatchJob
from tests.support.clock import ManualClock
from tests.support.contract import db_url, store
from tests.support.waiting import eventually

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory


@dataclass
class Listed:
    """A feed-kind lister whose source holds ``listed`` (newest first, as feeds are)."""

    listed: list[WatchEntry]
    kind: str = "feed"
    description: str = "a list in memory"
    changes_in_place: bool = False
    read_oldest_first: bool = False

    def accepts(self, source: str) -> bool:
        return True

    def describe(self, source: str) -> str:
        return source

    async def entries(self, source: str, settings: Settings) -> list[WatchEntry]:
        return list(self.listed)

    async def matches(self, source: str, settings: Settings) -> bool:
        return True


def _entries(n: int) -> list[WatchEntry]:
    return [
        WatchEntry(f"e{i}", f"http://127.0.0.1:9/f/{i}.zip", f"E{i}", published=1_000.0 + i)
        for i in reversed(range(n))
    ]


@dataclass
class Spy:
    """Counts what each of the store's transactions of a check wrote, and what the
    event loop ran meanwhile (a task that ticks whenever it gets a turn)."""

    store: Store
    batches: list[int] = field(default_factory=list)  # entries per transaction
    ticks_at: list[int] = field(default_factory=list)  # the ticker's count at each
    ticks: int = 0
    crash_after: int | None = None  # batches, then a crash (BaseException: not caught)
    stop_after: int | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def install(self) -> None:
        recorded, checked = self.store.watch_recorded, self.store.watch_checked

        async def watch_recorded(
            watch_id: int, owner: str, new: Sequence[WatchJob], **kwargs: Any
        ) -> Made:
            if self.crash_after is not None and len(self.batches) >= self.crash_after:
                raise KeyboardInterrupt  # what a kill does to the check: it ends here
            self._saw(new)
            made = await recorded(watch_id, owner, new, **kwargs)
            if self.stop_after is not None and len(self.batches) >= self.stop_after:
                self.stopping.set()
            return made

        async def watch_checked(
            watch_id: int, owner: str, new: Sequence[WatchJob], *args: Any, **kwargs: Any
        ) -> Made:
            self._saw(new)
            return await checked(watch_id, owner, new, *args, **kwargs)

        self.store.watch_recorded = watch_recorded  # type: ignore[method-assign]
        self.store.watch_checked = watch_checked  # type: ignore[method-assign]

    def _saw(self, new: Sequence[WatchJob]) -> None:
        self.batches.append(len(new))
        self.ticks_at.append(self.ticks)

    async def tick(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0)


def _settings(settings: Settings, batch: int, per_pass: int) -> Settings:
    watch = settings.watch.model_copy(update={"batch_size": batch, "entries_per_pass": per_pass})
    return settings.model_copy(update={"watch": watch})


async def _check(store: Store, checker: Checker, watch_id: int, settings: Settings) -> Found:
    claimed = await store.claim_watch(checker.owner, 30, watch_id)
    assert claimed is not None
    return await checker.check(claimed, settings)


async def _made(store: Store) -> list[str]:
    """The inputs of the jobs made (a job per batch of a look, its entries' inputs)."""
    return sorted(item.uri for job in await store.list_jobs() for item in _items(job.source))


def _items(source: str) -> tuple[BatchItem, ...]:
    return Batch.parse(source).items


def _checker(store: Store, lister: Listed, stopping: asyncio.Event | None = None) -> Checker:
    return Checker(
        store,
        default_sources(),
        default_sinks(),
        ListerRegistry([lister]),
        Device(env={}),
        new_owner(),
        enter=entry_job,
        stopping=stopping,
    )


async def _watch(store: Store, since: str) -> Watch:
    return await store.add_watch(
        kind="feed", source="http://127.0.0.1:9/feed.xml", dest="library:",
        every_seconds=3600.0, since=since, next_check_at=0.0,
    )  # fmt: skip


async def test_a_check_records_at_most_a_batch_a_transaction_and_the_rest_next_pass(
    store: Store, settings: Settings
) -> None:
    settings = _settings(settings, batch=7, per_pass=20)
    spy = Spy(store)
    spy.install()
    checker = _checker(store, Listed(_entries(45)))
    added = await _watch(store, "all")
    ticker = asyncio.create_task(spy.tick())
    try:
        first = await _check(store, checker, added.id, settings)
        assert first.error is None and (first.listed, len(first.made), first.more) == (45, 20, 25)
        assert spy.batches == [7, 7, 6]  # two batches of their own, the last with the end
        # Other work ran between the batches: the loop was not held for the check.
        assert all(b > a for a, b in zip(spy.ticks_at, spy.ticks_at[1:], strict=False))
        # The oldest first, each a job once; the rest due at once, the first check not over.
        assert [e.title for e, _ in first.made] == [f"E{i}" for i in range(20)]
        carried = await store.get_watch(added.id)
        assert carried.next_check_at <= store.clock() and not carried.primed
        # One job a batch, its entries in the feed's order (newest first).
        jobs = await store.list_jobs()
        assert carried.found == len(jobs) == 3 and "25 more at the next look" in (
            carried.last_message or ""
        )
        assert [[i.title for i in _items(j.source)] for j in jobs] == [
            [f"E{i}" for i in reversed(range(a, b))] for a, b in ((0, 7), (7, 14), (14, 20))
        ]
        second = await _check(store, checker, added.id, settings)
        third = await _check(store, checker, added.id, settings)
    finally:
        ticker.cancel()
    assert (len(second.made), second.more, len(third.made), third.more) == (20, 5, 5, 0)
    assert spy.batches == [7, 7, 6, 7, 7, 6, 5]
    done = await store.get_watch(added.id)
    assert done.primed and done.found == 7 and done.next_check_at > store.clock() + 3000
    assert await _made(store) == sorted(f"http://127.0.0.1:9/f/{i}.zip" for i in range(45))


async def test_a_check_killed_between_batches_keeps_them_and_the_next_takes_the_rest_once(
    store: Store, settings: Settings
) -> None:
    settings = _settings(settings, batch=5, per_pass=1000)
    spy = Spy(store, crash_after=3)
    spy.install()
    checker = _checker(store, Listed(_entries(32)))
    added = await _watch(store, "all")
    with pytest.raises(KeyboardInterrupt):
        await _check(store, checker, added.id, settings)
    assert len(await _made(store)) == 15  # three batches landed, whole
    assert len(await store.list_jobs()) == 3  # a job each
    await store.release(checker.owner)  # its lease handed back (a dead one's lapses)
    spy.crash_after = None
    found = await _check(store, checker, added.id, settings)
    assert found.error is None and len(found.made) == 17 and found.more == 0
    assert await _made(store) == sorted(f"http://127.0.0.1:9/f/{i}.zip" for i in range(32))


async def test_a_stop_ends_a_check_between_batches_and_the_next_goes_on(
    store: Store, settings: Settings
) -> None:
    settings = _settings(settings, batch=4, per_pass=1000)
    spy = Spy(store, stop_after=2)
    spy.install()
    checker = _checker(store, Listed(_entries(30)), spy.stopping)
    added = await _watch(store, "all")
    stopped = await _check(store, checker, added.id, settings)
    assert (len(stopped.made), stopped.more) == (8, 22)
    assert spy.batches == [4, 4, 0]  # nothing more after the stop, then the end record
    watch = await store.get_watch(added.id)
    assert watch.owner is None and watch.next_check_at <= store.clock() and not watch.primed
    spy.stop_after = None
    spy.stopping.clear()
    rest = await _check(store, checker, added.id, settings)
    assert (len(rest.made), rest.more) == (22, 0)
    assert len(await _made(store)) == 30


async def test_a_first_check_since_n_carried_over_passes_takes_the_same_n_newest(
    store: Store, settings: Settings
) -> None:
    settings = _settings(settings, batch=3, per_pass=10)
    checker = _checker(store, Listed(_entries(40)))
    added = await _watch(store, "5")
    passes = []
    while True:
        found = await _check(store, checker, added.id, settings)
        passes.append((len(found.made), len(found.skipped), found.more))
        if not found.more:
            break
    # Those left out are recorded first, so the five newest stay the choice each pass.
    assert passes == [(0, 10, 30), (0, 10, 20), (0, 10, 10), (5, 5, 0)]
    assert await _made(store) == sorted(f"http://127.0.0.1:9/f/{i}.zip" for i in range(35, 40))
    watch = await store.get_watch(added.id)
    assert watch.primed and watch.found == len(await store.list_jobs()) == 3


async def test_a_look_cut_in_batches_names_each_batchs_job_after_the_watch(
    store: Store, settings: Settings
) -> None:
    """A look of many entries makes a job a batch, each named after the watch, numbered
    on from batch to batch past the names taken; links that end the same
    (``dl.zip?id=N``) are each one input of them."""
    settings = _settings(settings, batch=7, per_pass=1000)
    same = [
        WatchEntry(f"e{i}", f"http://127.0.0.1:9/dl.zip?id={i}", f"E{i}", published=1_000.0 + i)
        for i in reversed(range(30))
    ]
    await store.add_job(source="http://127.0.0.1:9/other/dl.zip", name="feed (3)", dest="library:")
    checker = _checker(store, Listed(same))
    added = await _watch(store, "all")
    found = await _check(store, checker, added.id, settings)
    assert len(found.made) == 30
    names = [job.name for job in await store.list_jobs() if "id=" in job.source]
    assert names == ["feed", "feed (4)", "feed (5)", "feed (6)", "feed (7)"]  # past "feed (3)"
    made = [j for j in await store.list_jobs() if "id=" in j.source]
    assert sum(len(_items(j.source)) for j in made) == 30


@dataclass
class Slow(Listed):
    """A listing that takes as long as the test says (a yt-dlp child, a big folder)."""

    go: asyncio.Event = field(default_factory=asyncio.Event)

    async def entries(self, source: str, settings: Settings) -> list[WatchEntry]:
        await self.go.wait()
        return list(self.listed)


async def test_a_long_listing_renews_its_lease_on_the_checkers_clock(
    store: Store, settings: Settings
) -> None:
    clock = ManualClock()
    lister = Slow(_entries(3))
    checker = replace(_checker(store, lister), clock=clock)
    renewed: list[float] = []
    renew = store.renew

    async def counted(*args: Any, **kwargs: Any) -> bool:
        renewed.append(clock.monotonic())
        return await renew(*args, **kwargs)

    store.renew = counted  # type: ignore[method-assign]
    added = await _watch(store, "all")
    checking = asyncio.create_task(_check(store, checker, added.id, settings))
    await clock.until_sleeping(1, "the lease's heartbeat waiting on the clock")
    start = clock.monotonic()
    await clock.advance(settings.lease_seconds / 3 - 0.1)
    assert renewed == []
    await clock.advance(0.1)
    await eventually(lambda: renewed, "a renewal a third of the lease on")
    assert renewed == [start + settings.lease_seconds / 3]
    lister.go.set()
    found = await checking
    assert found.error is None and len(found.made) == 3  # recorded under the lease kept
