"""What the runner asks of a store beside the stages' ports (``store/engine_store``), on
SQLite, PostgreSQL and the memory store alike: leases renewed by the kind claimed, a
run's heartbeat, drain and stop, the housekeeper's look, the work area's live files,
the wake-up listener."""

from __future__ import annotations

import pytest

from ferryman.errors import FerrymanError
from ferryman.model import ItemState, JobState, MediaKind, Plan
from ferryman.store.claimed import Claimed
from ferryman.store.memory.store import MemoryStore
from ferryman.store.shared.rows import NewItem
from tests.store.test_store import _expanded_job
from tests.support.contract import ContractStore, db_url, store

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_lease_is_renewed_by_the_kind_claimed_and_only_by_its_holder(
    store: ContractStore,
) -> None:
    store.clock = clock = _Clock()
    await _expanded_job(store, 1)
    album = await store.claim_album("d", 30)
    job = await store.add_job(source="https://h/a.zip", name="a", dest="library:", fetch=True)
    fetch = await store.claim_fetch("f", 30)
    watch = await store.add_watch(
        kind="feed", source="https://h/f.xml", dest="library:", every_seconds=60.0,
        since="all", next_check_at=0.0,
    )  # fmt: skip
    checked = await store.claim_watch("w", 30)
    assert album is not None and fetch is not None and fetch.job_id == job.id
    assert checked is not None and checked.id == watch.id
    clock.now += 20
    for kind, row_id, owner in (
        (Claimed.ALBUM, album.id, "d"),
        (Claimed.FETCH, fetch.id, "f"),
        (Claimed.WATCH, watch.id, "w"),
    ):
        assert await store.renew(kind, row_id, owner, 30), kind
        assert not await store.renew(kind, row_id, "someone else", 30), kind
    clock.now += 20  # 40 s after the claims, 20 after the renewals: none expired
    assert await store.reap() == 0
    clock.now += 11
    assert await store.reap() == 3  # all three handed back once their renewal ran out
    assert not await store.renew(Claimed.ALBUM, album.id, "d", 30)  # not its holder's now


async def test_a_runs_heartbeat_drain_and_stop(store: ContractStore) -> None:
    store.clock = clock = _Clock()
    assert await store.node_beat("a:1:x", "alpha", 11, ("fetch", "read")) is False
    assert await store.node_beat("b:2:y", "beta", 22, ("deliver",)) is False
    job = await store.add_job(source="/in", name="in", dest="library:")
    assert await store.claim_job("a:1:x", 30) is not None
    clock.now += 10
    assert await store.node_beat("a:1:x", "alpha", 11, ("fetch", "read")) is False
    runs = {r.owner: r for r in await store.node_runs()}
    assert (runs["a:1:x"].held, runs["b:2:y"].held) == (1, 0)
    assert runs["a:1:x"].stages == ("fetch", "read") and runs["a:1:x"].pid == 11
    assert (runs["a:1:x"].heartbeat_at, runs["b:2:y"].heartbeat_at) == (1010.0, 1000.0)

    assert await store.set_drain("gamma", True) is False  # no run of that name
    assert await store.set_drain("alpha", True) is True
    assert await store.node_beat("a:1:x", "alpha", 11, ("fetch",)) is True
    assert await store.node_beat("a:9:z", "alpha", 99, ("fetch",)) is True  # a restart too
    assert {r.owner for r in await store.node_runs() if r.draining} == {"a:1:x", "a:9:z"}

    # A stop hands back what the run holds and records it stopped.
    assert await store.release("a:1:x", stopped=True) == 1
    assert (await store.get_job(job.id)).state is JobState.QUEUED  # claimable at once
    stopped = {r.owner: r.stopped_at for r in await store.node_runs()}
    assert stopped == {"a:1:x": 1010.0, "a:9:z": None, "b:2:y": None}
    assert await store.set_drain("alpha", False) is True
    assert await store.node_beat("a:9:z", "alpha", 99, ("fetch",)) is False


async def test_the_housekeeping_state_and_the_work_areas_live_files(store: ContractStore) -> None:
    store.clock = clock = _Clock()
    assert await store.housekeeping_state() == (False, True)  # nothing to end, all idle
    job = await store.add_job(source="/in.zip", name="in", dest="library:")
    assert await store.housekeeping_state() == (False, False)  # a queued job is work
    assert await store.active_jobs() == {}  # not read yet: nothing to seal
    assert await store.claim_job("r", 30) is not None
    kept = NewItem(seq=0, source_path="a.jpg", kind=MediaKind.PHOTO, state=ItemState.READY,
                   size=3, plan=Plan.AS_IS, work_path="/work/job-1/a.jpg")  # fmt: skip
    await store.record_entries(job.id, "r", 1, [kept])
    assert await store.active_jobs() == {job.id: True}  # a ready item to seal
    assert await store.work_paths() == {"/work/job-1/a.jpg"}
    await store.finish_expansion(job.id, "r", album_size=10)
    assert await store.active_jobs() == {job.id: False}  # sealed
    album = await store.claim_album("d", 30)
    assert album is not None
    await store.album_delivered(album.id, "d", "library:x")
    assert await store.work_paths() == set()  # delivered: its file may go
    assert await store.housekeeping_state() == (True, False)  # the job may end now
    assert await store.finish_jobs() == [job.id]
    assert await store.housekeeping_state() == (False, True)

    # A due watch is work too: the look is not idle until it is checked.
    watch = await store.add_watch(
        kind="feed", source="https://h/f.xml", dest="library:", every_seconds=60.0,
        since="all", next_check_at=clock.now + 5,
    )  # fmt: skip
    assert await store.housekeeping_state() == (False, True)
    clock.now += 5
    assert await store.housekeeping_state() == (False, False)
    await store.set_watch_paused(watch.id, True)
    assert await store.housekeeping_state() == (False, True)
    assert await store.settle_ended([job.id], 0.0) == [job.id]


async def test_a_listener_of_its_own(store: ContractStore) -> None:
    listener = store.listener(lambda: None)
    if isinstance(store, MemoryStore):
        assert listener is None  # no other process sees it: polls alone
    else:
        assert listener is not None  # started by the engine, not here


@pytest.mark.parametrize("kind", list(Claimed))
def test_every_claimed_kind_names_a_table_of_both_stores(kind: Claimed) -> None:
    from ferryman.store.memory.base import TABLE_OF
    from ferryman.store.sql.base import CLAIMED_IN

    assert CLAIMED_IN[kind].name == TABLE_OF[kind]


async def test_a_job_waiting_for_a_password_is_neither_retried_nor_removed(
    store: ContractStore,
) -> None:
    """Both stores say why alike: it waits for a password (not merely "not ended")."""
    job = await store.add_job(source="/in.zip", name="in", dest="library:")
    assert await store.claim_job("r", 30) is not None
    asked = FerrymanError("archive.password_required", "in.zip: encrypted")
    await store.need_password(job.id, "r", asked)
    for act in (store.retry, store.remove_job):
        with pytest.raises(FerrymanError) as refused:
            await act(job.id)
        assert refused.value.code == "job.waiting_for_password", act
    other = await store.add_job(source="/b.zip", name="b", dest="library:")
    with pytest.raises(FerrymanError) as queued:
        await store.retry(other.id)
    assert queued.value.code == "job.not_ended"
