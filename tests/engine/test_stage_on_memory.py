"""A stage's step needs no database: its port (``store/ports``) is all it asks of the
store, and the memory store (``store/memory``) keeps that port. Here the fetch stage
settles its claims, the deliver stage's chained claim, a watch's check and the
notifier's notice of it, against the memory store."""

from __future__ import annotations

from pathlib import Path

from ferryman.config import Settings
from ferryman.device.conditions import Device
from ferryman.engine.context import Context
from ferryman.engine.fetch import step as fetch_step
from ferryman.engine.notify import Notifier
from ferryman.engine.ops.intake import entry_job
from ferryman.engine.plumbing.events import Event, EventBus, JobFetched, JobFinished, WatchFound
from ferryman.engine.watch.check import Checker
from ferryman.errors import FerrymanError
from ferryman.model import Batch, ItemState, JobState, MediaKind
from ferryman.sources.base import Fetched
from ferryman.sources.listers.base import ListerRegistry, WatchEntry
from ferryman.store.memory.store import MemoryStore
from ferryman.store.shared.rows import NewItem
from tests.engine.test_notify import receiving, signed_right, with_notify
from tests.watch.test_watch_batches import Listed


def _context(settings: Settings) -> tuple[Context, MemoryStore, list[Event]]:
    memory = MemoryStore()
    ctx = Context(store=memory, bus=EventBus(), base_settings=settings, owner="n1")
    seen: list[Event] = []
    ctx.bus.subscribe(seen.append)
    return ctx, memory, seen


async def test_the_fetch_stage_settles_a_download_on_the_memory_store(
    settings: Settings, tmp_path: Path
) -> None:
    ctx, memory, seen = _context(settings)
    job = await memory.add_job(source="https://h/x", name="x", dest="library:", fetch=True)
    claimed = await ctx.fetch_store.claim_fetch(ctx.owner, 30)
    assert claimed is not None
    got = Fetched(tmp_path / "Trip photos.zip", 10, "Trip photos.zip", note="as asked")
    await fetch_step.settle(ctx, claimed, got)
    named = await memory.get_job(job.id)
    assert named.name == "Trip photos"  # named as its input calls itself
    assert await memory.source_memos(job.id) == {fetch_step.FETCH_NOTE: "as asked"}
    assert [type(e) for e in seen] == [JobFetched]
    read = await ctx.read_store.claim_job(ctx.owner, 30)  # the read may start now
    assert read is not None and read.id == job.id


async def test_a_settled_fetch_wakes_no_stage_but_by_name(
    settings: Settings, tmp_path: Path
) -> None:
    """A fetch done concerns the read and the housekeeper, which its worker wakes by
    name: a broadcast woke every idle worker, the housekeeper's full round and every
    fetch's heartbeat (200 links: some 600 claims and renewals for nothing)."""
    ctx, memory, _ = _context(settings)
    await memory.add_job(source="https://h/x", name="x", dest="library:", fetch=True)
    claimed = await ctx.fetch_store.claim_fetch(ctx.owner, 30)
    assert claimed is not None
    before = ctx.wakeup.broadcasts()
    await fetch_step.settle(ctx, claimed, Fetched(tmp_path / "a.jpg", 10, "a.jpg"))
    assert ctx.wakeup.broadcasts() == before


async def test_the_fetch_stage_fails_a_job_for_good_on_the_memory_store(
    settings: Settings,
) -> None:
    ctx, memory, seen = _context(settings)
    job = await memory.add_job(source="https://h/x", name="x", dest="library:", fetch=True)
    claimed = await ctx.fetch_store.claim_fetch(ctx.owner, 30)
    assert claimed is not None
    await fetch_step.settle(ctx, claimed, FerrymanError("source.not_found", "404 at the server"))
    ended = await memory.get_job(job.id)
    assert (ended.state, ended.error_code) == (JobState.FAILED, "source.not_found")
    assert [(type(e), getattr(e, "code", None)) for e in seen] == [
        (JobFinished, "source.not_found")
    ]


async def test_a_delivery_chains_the_next_claim_on_the_memory_store(settings: Settings) -> None:
    ctx, memory, _ = _context(settings)
    job = await memory.add_job(source="/a", name="a", dest="library:")
    reader = ctx.read_store
    assert await reader.claim_job(ctx.owner, 30) is not None
    photos = [
        NewItem(seq=n, source_path=f"{n}.jpg", kind=MediaKind.PHOTO, state=ItemState.READY)
        for n in range(4)
    ]
    recorded = await reader.record_entries(job.id, ctx.owner, 4, photos, album_size=2)
    assert len(recorded.sealed) == 2
    deliver = ctx.deliver_store
    first = await deliver.claim_delivery(ctx.owner, 30)
    assert first is not None and (first.albums, first.final) == (2, False)
    second = await deliver.album_delivered(first.album.id, ctx.owner, "ref", claim_next=30)
    assert second is not None and second.album.seq == 2


async def test_a_watch_check_and_its_notice_on_the_memory_store(settings: Settings) -> None:
    """The checker asks only its port (``ports.WatchStore``): a look's new entries
    become one job and seen rows, a second look finds nothing new; the notifier
    (``ports.NoticeStore``) makes the check's event into one signed notice."""
    ctx, memory, seen = _context(with_notify(settings, urls=[]))
    listed = [WatchEntry(f"e{i}", f"http://127.0.0.1:9/f/{i}.zip", f"E{i}") for i in (2, 1)]
    with receiving() as hook:
        watch = await memory.add_watch(
            kind="feed", source="http://127.0.0.1:9/news.xml", dest="library:",
            every_seconds=3600.0, since="all", next_check_at=0.0,
            notify=f"ferryman://127.0.0.1:{hook.port}/w",
        )  # fmt: skip
        checker = Checker(
            ctx.watch_store, ctx.sources, ctx.sinks, ListerRegistry([Listed(listed)]),
            Device(env={}), ctx.owner, enter=entry_job, publish=ctx.bus.publish,
        )  # fmt: skip
        for made in (2, 0):
            claimed = await ctx.watch_store.claim_watch(ctx.owner, 30, watch.id)
            assert claimed is not None
            found = await checker.check(claimed, await ctx.settings())
            assert found.error is None and len(found.made) == made
        (job,) = await memory.list_jobs()
        assert job.name == "news" and [i.title for i in Batch.parse(job.source).items] == [
            "E2",
            "E1",
        ]
        assert await memory.watch_seen_rows(watch.id) == [("e1", job.id), ("e2", job.id)]
        assert [type(e) for e in seen] == [WatchFound]
        notifier = Notifier(ctx)
        assert await notifier.prepare_events() == 1
        sent = await notifier.send_due()
        assert sent != [] and await notifier.send_due() == []
        ((path, headers, body),) = hook.got
    assert path == "/w" and signed_right(headers, body)
    assert headers["X-Ferryman-Event"] == "watch_found"
    assert [n.state for n in await memory.list_notices()] == ["sent"]
