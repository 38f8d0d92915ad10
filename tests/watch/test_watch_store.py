"""The watch store: claims with leases, and a check's jobs and seen rows written
together, once, only while the lease is held (SQLite, PostgreSQL and the memory store:
``tests/support/contract``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ferryman.errors import FerrymanError
from ferryman.store import Store
from ferryman.store.shared.rows import LeaseLost
from ferryman.store.watches.sql import WatchJob, entry_key
from tests.support.contract import db_url, sql_only, store

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _watch(**over: Any) -> dict[str, Any]:
    return {
        "kind": "feed",
        "source": "https://h/feed.xml",
        "dest": "library:",
        "every_seconds": 60.0,
        "since": "all",
        "next_check_at": 0.0,
    } | over


def _job(link: str, key: str | None) -> dict[str, Any]:
    return {
        "fetch": True,
        "source": link,
        "name": link.rpartition("/")[2],
        "dest": "library:",
        "priority": 0,
        "password": None,
        "dedupe_key": key,
        "error": None,
    }


async def _jobs(store: Store) -> int:
    return len(await store.list_jobs())


async def test_a_due_watch_is_claimed_by_one_checker_at_a_time(store: Store) -> None:
    store.clock = clock = Clock()
    added = await store.add_watch(**_watch(next_check_at=clock.now))
    first = await store.claim_watch("a", 30)
    assert first is not None and first.id == added.id
    assert await store.claim_watch("b", 30) is None  # held
    assert not await store.watches_idle()
    clock.now += 31  # the lease expired (a checker died): the reaper hands it back
    assert await store.reap() == 1
    second = await store.claim_watch("b", 30)
    assert second is not None and second.id == added.id
    # The dead checker's late record fails and writes nothing.
    with pytest.raises(LeaseLost):
        await store.watch_checked(
            added.id, "a", [WatchJob("e1", "E1", _job("http://h/1", "k1"))], 0
        )
    assert await _jobs(store) == 0 and await store.watch_seen_rows(added.id) == []


async def test_a_held_watch_is_its_nodes_work(store: Store) -> None:
    added = await store.add_watch(**_watch())
    await store.node_beat("a", "phone", 1, ("watch",))
    assert await store.claim_watch("a", 30) is not None
    assert [r.held for r in await store.node_runs()] == [1]  # `ferryman workers` counts it
    assert (await store.get_watch(added.id)).owner == "a"


async def test_a_check_writes_jobs_and_seen_rows_together_and_never_twice(store: Store) -> None:
    store.clock = clock = Clock()
    added = await store.add_watch(**_watch(next_check_at=clock.now))
    claimed = await store.claim_watch("a", 30)
    assert claimed is not None
    made = await store.watch_checked(
        added.id,
        "a",
        [
            WatchJob("e1", "One", _job("http://h/1.zip", "k1")),
            WatchJob("e1", "One again", _job("http://h/1.zip", "k1")),  # listed twice
            WatchJob("e2", "Two", None),  # marked seen only
        ],
        clock.now + 60,
        message="2 listed",
    )
    assert [(entry, job is not None) for entry, job in made.jobs] == [("e1", True), ("e2", False)]
    assert await _jobs(store) == 1
    job_id = made.jobs[0][1].id  # type: ignore[union-attr]
    fetch = await store.fetched(job_id)  # the batch's job downloads its inputs first
    assert fetch is not None and fetch.state == "queued"
    watch = await store.get_watch(added.id)
    assert watch.found == 1 and watch.primed and watch.next_check_at == clock.now + 60
    assert watch.owner is None and watch.last_message == "2 listed"
    assert await store.watches_idle()
    clock.now += 60
    assert await store.claim_watch("b", 30) is not None
    again = await store.watch_checked(
        added.id, "b", [WatchJob("e1", "One", _job("http://h/1.zip", "k1"))], clock.now + 60
    )
    assert again.jobs == []  # seen before: no second job
    assert await _jobs(store) == 1
    assert await store.watch_seen_rows(added.id) == [("e1", job_id), ("e2", None)]


async def test_an_input_already_a_job_is_marked_seen_with_that_job(store: Store) -> None:
    store.clock = Clock()
    existing = await store.add_job(**_job("http://h/1.zip", "k1"))
    added = await store.add_watch(**_watch())
    assert await store.claim_watch("a", 30) is not None
    made = await store.watch_checked(
        added.id, "a", [WatchJob("e1", "1", _job("http://h/1.zip", "k1"))], 0
    )
    assert made.jobs[0][1] is not None and made.jobs[0][1].id == existing.id
    assert await _jobs(store) == 1


async def test_failures_keep_the_place_and_pause_remove_work(store: Store) -> None:
    store.clock = clock = Clock()
    added = await store.add_watch(**_watch(next_check_at=clock.now))
    assert await store.claim_watch("a", 30) is not None
    await store.watch_checked(added.id, "a", [WatchJob("e1", "1", None)], clock.now)
    assert await store.claim_watch("a", 30) is not None
    await store.watch_failed(added.id, "a", FerrymanError("source.io", "down"), clock.now + 120)
    watch = await store.get_watch(added.id)
    assert (watch.failures, watch.last_code, watch.last_message) == (1, "source.io", "down")
    assert await store.watch_seen_rows(added.id) == [("e1", None)]  # its place is kept
    await store.set_watch_paused(added.id, True)
    clock.now += 500
    assert await store.claim_watch("a", 30) is None and await store.watches_idle()
    resumed = await store.set_watch_paused(added.id, False)
    assert not resumed.paused and resumed.failures == 0
    await store.remove_watch(added.id)
    assert await store.watch_seen_rows(added.id) == []
    with pytest.raises(FerrymanError) as missing:
        await store.get_watch(added.id)
    assert missing.value.code == "watch.not_found"
    with pytest.raises(FerrymanError):
        await store.remove_watch(added.id)


async def test_two_stores_claiming_at_once_get_the_watch_once(store: Store, db_url: str) -> None:
    sql_only(store, "a second store on the same database (the memory store is one process's)")
    other = await Store.open(db_url)
    try:
        for round_ in range(20):
            added = await store.add_watch(**_watch(source=f"https://h/{round_}.xml"))
            got = await asyncio.gather(store.claim_watch("a", 30), other.claim_watch("b", 30))
            assert [w.id for w in got if w is not None] == [added.id], round_
    finally:
        await other.close()


async def test_a_file_a_later_look_or_another_watch_links_again_is_not_taken_again(
    store: Store,
) -> None:
    """A look's entries are one job, yet each input's dedupe key is kept with it: a
    new entry of a later look (or of another watch to the same place) that links a file
    the job holds is marked seen with that job; only the new file makes a new job."""
    store.clock = clock = Clock()
    feed = await store.add_watch(**_watch())
    other = await store.add_watch(**_watch(source="https://other/feed.xml"))
    assert await store.claim_watch("a", 30) is not None
    first = await store.watch_checked(
        feed.id,
        "a",
        [
            WatchJob("e1", "One", _job("http://h/1.jpg", "k1")),
            WatchJob("e2", "Two", _job("http://h/2.jpg", "k2")),
        ],
        clock.now + 60,
        name="Feed",
    )
    taken = first.jobs[0][1]
    assert taken is not None
    clock.now += 60
    assert await store.claim_watch("a", 30) is not None
    second = await store.watch_checked(
        feed.id,
        "a",
        [
            WatchJob("e3", "One, linked again", _job("http://h/1.jpg", "k1")),
            WatchJob("e4", "Three", _job("http://h/3.jpg", "k3")),
        ],
        clock.now + 60,
        name="Feed",
    )
    made = {entry: job.id for entry, job in second.jobs if job is not None}
    assert made["e3"] == taken.id and made["e4"] != taken.id
    newer = await store.get_job(made["e4"])
    assert "http://h/1.jpg" not in newer.source and "http://h/3.jpg" in newer.source
    assert await store.claim_watch("a", 30) is not None
    elsewhere = await store.watch_checked(
        other.id, "a", [WatchJob("o1", "Two", _job("http://h/2.jpg", "k2"))], 0, name="Other"
    )
    assert [(e, j.id if j else None) for e, j in elsewhere.jobs] == [("o1", taken.id)]
    assert await _jobs(store) == 2
    assert await store.watch_seen_rows(other.id) == [("o1", taken.id)]


async def test_an_input_a_look_took_is_a_duplicate_until_its_job_is_removed(
    store: Store,
) -> None:
    """``add`` of an input a watch's job holds, to the same place, is refused naming
    that job; removing the job frees the input's key, as it frees a job's own."""
    store.clock = Clock()
    added = await store.add_watch(**_watch())
    assert await store.claim_watch("a", 30) is not None
    made = await store.watch_checked(
        added.id,
        "a",
        [
            WatchJob("e1", "One", _job("http://h/1.jpg", "k1")),
            WatchJob("e2", "Two", _job("http://h/2.jpg", "k2")),
        ],
        0,
    )
    job = made.jobs[0][1]
    assert job is not None
    with pytest.raises(FerrymanError) as refused:
        await store.add_job(**_job("http://h/2.jpg", "k2"))
    assert refused.value.code == "source.duplicate"
    assert refused.value.message == f"already job {job.id}"
    assert await _jobs(store) == 1
    await store.cancel(job.id)
    await store.remove_job(job.id)
    again = await store.add_job(**_job("http://h/2.jpg", "k2"))
    assert again.id != job.id and again.source == "http://h/2.jpg"


async def test_a_look_recorded_batch_by_batch_keeps_each_batch_and_needs_the_lease(
    store: Store,
) -> None:
    """``watch_recorded`` writes one batch (its job, its seen rows) while the watch
    stays held; after the lease is lost a batch writes nothing; ``watch_seen_among``
    tells which keys of a batch the watch has seen."""
    store.clock = clock = Clock()
    added = await store.add_watch(**_watch(next_check_at=clock.now))
    assert await store.claim_watch("a", 30) is not None
    first = await store.watch_recorded(
        added.id, "a", [WatchJob("e1", "One", _job("http://h/1.jpg", "k1"))], name="Feed"
    )
    job = first.jobs[0][1]
    assert job is not None and job.name == "Feed" and job.source.startswith("batch:")
    held = await store.get_watch(added.id)
    assert (held.owner, held.found, held.primed) == ("a", 1, False)  # still checked
    keys = {entry_key("e1"), entry_key("e2")}
    assert await store.watch_seen_among(added.id, keys) == {entry_key("e1")}
    assert await store.watch_seen_among(added.id, set()) == set()
    second = await store.watch_recorded(
        added.id, "a", [WatchJob("e2", "Two", _job("http://h/2.jpg", "k2"))], name="Feed"
    )
    other = second.jobs[0][1]
    assert other is not None and other.name == "Feed (2)"  # a free name at its place
    clock.now += 31
    assert await store.reap() == 1
    with pytest.raises(LeaseLost):
        await store.watch_recorded(added.id, "a", [WatchJob("e3", "Three", None)])
    assert [entry for entry, _ in await store.watch_seen_rows(added.id)] == ["e1", "e2"]


async def test_a_watch_is_checked_by_its_id_when_asked_and_moved_outside_its_window(
    store: Store,
) -> None:
    store.clock = clock = Clock()
    later = await store.add_watch(**_watch(next_check_at=clock.now + 3600, paused=True))
    assert await store.claim_watch("a", 30) is None  # not due, paused
    asked = await store.claim_watch("a", 30, watch_id=later.id)  # `watch check ID`
    assert asked is not None and asked.owner == "a"
    assert await store.claim_watch("b", 30, watch_id=later.id) is None  # held
    with pytest.raises(LeaseLost):
        await store.watch_moved(later.id, "b", clock.now + 60)
    await store.watch_moved(later.id, "a", clock.now + 60)
    moved = await store.get_watch(later.id)
    assert (moved.owner, moved.next_check_at, moved.last_check_at) == (None, clock.now + 60, None)
    with pytest.raises(FerrymanError) as missing:
        await store.claim_watch("a", 30, watch_id=later.id + 1)
    assert missing.value.code == "watch.not_found"


async def test_failures_count_in_a_row_and_a_device_wait_does_not(store: Store) -> None:
    store.clock = clock = Clock()
    added = await store.add_watch(**_watch(next_check_at=clock.now))
    down = FerrymanError("source.io", "down")
    for count, failures in ((True, 1), (False, 1), (True, 2)):
        assert await store.claim_watch("a", 30, watch_id=added.id) is not None
        await store.watch_failed(added.id, "a", down, clock.now + 60, count=count)
        watch = await store.get_watch(added.id)
        assert (watch.failures, watch.owner, watch.last_code) == (failures, None, "source.io")
    assert await store.claim_watch("a", 30, watch_id=added.id) is not None
    with pytest.raises(LeaseLost):
        await store.watch_failed(added.id, "b", down, clock.now)
    await store.watch_checked(added.id, "a", [], clock.now + 60)
    assert (await store.get_watch(added.id)).failures == 0
