"""The deliver stage as one object (``engine/deliver/worker.Delivering``): it claims,
sends, chains the next album into a record's transaction, and tells the housekeeper when a
job's last album went. On each store (the memory store keeps no sink state yet)."""

from __future__ import annotations

from pathlib import Path

from ferryman.config import Settings
from ferryman.engine.context import Context
from ferryman.engine.deliver import Delivering
from ferryman.engine.plumbing.events import AlbumDelivered, Event, EventBus
from ferryman.engine.plumbing.stages import NOTHING_NEXT
from ferryman.model import AlbumClaim, ItemState, MediaKind
from ferryman.sinks.builtin import default_sinks
from ferryman.store import Store
from ferryman.store.shared.rows import NewItem
from tests.support.memsink import MemKind


async def _two_albums(
    store: Store, settings: Settings, tmp_path: Path
) -> tuple[Context, Delivering, MemKind, int, list[Event]]:
    kind = MemKind()
    ctx = Context(
        store=store,
        bus=EventBus(),
        base_settings=settings,
        owner="n1",
        sinks=default_sinks().with_kind(kind),
    )
    seen: list[Event] = []
    ctx.bus.subscribe(seen.append)
    job = await store.add_job(source="/a", name="a", dest="mem:box")
    assert await ctx.read_store.claim_job(ctx.owner, 30) is not None
    photos = []
    for n in range(4):
        path = tmp_path / f"{n}.jpg"
        path.write_bytes(bytes([n]) * 10)
        photos.append(
            NewItem(
                seq=n,
                source_path=f"{n}.jpg",
                kind=MediaKind.PHOTO,
                state=ItemState.READY,
                work_path=str(path),
                size=10,
                sha256="0" * 64,
            )
        )
    recorded = await ctx.read_store.record_entries(job.id, ctx.owner, 4, photos, album_size=2)
    assert len(recorded.sealed) == 2
    return ctx, Delivering(ctx), kind, job.id, seen


async def test_a_delivery_hands_on_the_album_its_record_claimed(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _, stage, kind, _, seen = await _two_albums(store, settings, tmp_path)
    first = await stage.claim(30)
    assert first is not None and first.album.seq == 1
    second = await stage.step(first)
    assert isinstance(second, AlbumClaim) and second.album.seq == 2  # chained
    # Nothing left: it looked in the record's transaction, so the worker waits.
    assert await stage.step(second) is NOTHING_NEXT
    assert len(kind.albums) == 2
    assert [e.album for e in seen if isinstance(e, AlbumDelivered)] == [1, 2]
    assert await stage.claim(30) is None
    await stage.close()


async def test_a_drained_node_chains_no_claim(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    ctx, stage, kind, _, _ = await _two_albums(store, settings, tmp_path)
    first = await stage.claim(30)
    assert first is not None
    ctx.run.draining = True  # heard during the delivery
    assert await stage.step(first) is None  # neither a claim nor a look
    assert len(kind.albums) == 1


async def test_the_last_album_of_a_read_job_wakes_the_housekeeper(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    ctx, stage, _, job_id, _ = await _two_albums(store, settings, tmp_path)
    first = await stage.claim(30)
    assert first is not None
    mark = ctx.wakeup.mark("last")
    second = await stage.step(first)
    assert ctx.wakeup.mark("last") == mark  # the read goes on: not the last
    ctx.run.read_ended.add(job_id)
    assert isinstance(second, AlbumClaim)
    await stage.step(second)
    assert ctx.wakeup.mark("last") == mark + 1  # told once
