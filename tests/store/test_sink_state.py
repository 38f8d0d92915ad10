"""What a sink keeps (``SinkState``) on SQLite, PostgreSQL and the memory store: its
records and waits, its own only, kept first-wins, and gone with their job, album or
item without anyone naming the sink (``ON DELETE CASCADE``)."""

from __future__ import annotations

from sqlalchemy import func, select

from ferryman.model import SinkRecord
from ferryman.store import Store
from ferryman.store.memory.store import MemoryStore
from ferryman.store.schema import sink_records
from tests.store.test_store import _expanded_job
from tests.support.contract import ContractStore, db_url, store

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory


async def _count(store: ContractStore) -> int:
    if isinstance(store, MemoryStore):
        return len(store.kept.records)
    async with store.reader.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(sink_records))).scalar_one()
        )


async def test_a_claim_keeps_what_was_written_first_and_a_put_replaces(store: Store) -> None:
    job_id = await _expanded_job(store, 2)
    album = await store.claim_album("deliverer", 30)
    assert album is not None and album.job_id == job_id
    albums = [album]
    item = albums[0].items[0]
    mine, other = store.sink_state("ledger"), store.sink_state("other")
    first = await mine.claim(job_id, [SinkRecord("a", {"n": 1}), SinkRecord("b", {"n": 2})])
    again = await mine.claim(
        job_id, [SinkRecord("b", {"n": 20}), SinkRecord("c", {"n": 3}, albums[0].id, item.id)]
    )
    assert [(r.key, r.value) for r in first] == [("a", {"n": 1}), ("b", {"n": 2})]
    assert [(r.key, r.value) for r in again] == [("b", {"n": 2}), ("c", {"n": 3})]
    assert (again[1].album_id, again[1].item_id) == (albums[0].id, item.id)
    assert await other.records(job_id) == []  # scoped to its sink
    await other.put(job_id, [SinkRecord("a", {"theirs": True})])

    await mine.put(job_id, [SinkRecord("a", {"n": 10, "big": -(2**63) + 1})], forget=["b"])
    assert [(r.key, r.value) for r in await mine.records(job_id)] == [
        ("a", {"n": 10, "big": -(2**63) + 1}),
        ("c", {"n": 3}),
    ]
    assert [r.key for r in await mine.records(job_id, album_id=albums[0].id)] == ["c"]
    assert [r.key for r in await mine.records(job_id, item_id=item.id)] == ["c"]
    assert await mine.records(job_id, item_id=albums[0].items[1].id) == []
    assert [r.value for r in await other.records(job_id)] == [{"theirs": True}]


async def test_waits_are_each_sinks_own(store: Store) -> None:
    mine, other = store.sink_state("ledger"), store.sink_state("other")
    await mine.set_wait("account", 50.0, "sink.wait")
    await mine.set_wait("account", 40.0, "sink.wait")  # replaced, not added
    await other.set_wait("peer:1", 90.0, "sink.wait")
    assert await mine.wait_until(["account", "peer:1"]) == 40.0
    assert await other.wait_until(["account"]) == 0.0
    assert await other.wait_until(["peer:1"]) == 90.0
    store.clock = lambda: 123.5
    assert store.sink_state("ledger").now() == 123.5  # the store's clock, waits' measure


async def test_records_go_with_their_album_item_and_job_and_no_others(store: Store) -> None:
    job_id = await _expanded_job(store, 2, album_size=1)
    # Claimed before the other job is there: claims take turns between jobs (the one
    # furthest behind first), so with both there the second claim would be the other's.
    albums = [await store.claim_album("deliverer", 30) for _ in range(2)]
    kept_id = await _expanded_job(store, 1)
    assert [a.job_id if a else None for a in albums] == [job_id, job_id]
    assert albums[0] is not None and albums[1] is not None
    state = store.sink_state("ledger")
    for album in albums:
        assert album is not None
        item = album.items[0]
        await state.put(
            job_id,
            [
                SinkRecord(f"album:{album.id}", {}, album_id=album.id),
                SinkRecord(f"item:{item.id}", {}, item_id=item.id),
            ],
        )
    await state.put(job_id, [SinkRecord("job", {"seen": 2})])
    await state.put(kept_id, [SinkRecord("job", {"seen": 1})])

    # Delivered: the first album. A retry redoes the rest: their albums and items go,
    # and with them what the sink kept of them, never the job's own record.
    await store.album_delivered(albums[0].id, "deliverer", "ledger:x#1")
    await store.cancel(job_id)
    await store.retry(job_id)
    assert sorted(r.key for r in await state.records(job_id)) == sorted(
        [f"album:{albums[0].id}", f"item:{albums[0].items[0].id}", "job"]
    )

    await store.cancel(job_id)
    await store.remove_job(job_id)  # names no sink
    assert await state.records(job_id) == []
    assert [r.value for r in await state.records(kept_id)] == [{"seen": 1}]
    assert await _count(store) == 1
