"""Albums leave in the job's order (docs/engine.md, docs/telegram.md), a retried one
too: the albums after an album whose delivery failed and waits for its retry wait with
it, rather than go first (a chat read top to bottom would show the trip shuffled)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.events import Event, JobFinished
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.samples import make_photo_set
from ferryman.sinks.builtin import default_sinks
from ferryman.store import Store
from ferryman.store.albums.sql import ROOM_WAIT
from ferryman.store.schema import albums
from tests.store.test_store import _expanded_job
from tests.support.clock import ManualClock, driven
from tests.support.memsink import MemKind


async def _order(tmp_path: Path, settings: Settings, mem: MemKind, *, lost: int = 0) -> list[int]:
    """The album numbers in the order ``mem`` kept them, for a 16-photo job (4 albums)
    that ends; every photo delivered once but ``lost`` of them."""
    photos = make_photo_set(tmp_path / "trip", 16)
    sinks = default_sinks().with_kind(mem)
    clock = ManualClock(start=time.time())  # the engine's and the store's
    mem.clock = clock
    store = await Store.open(settings.database, clock=clock.now)
    engine = Engine(store, settings, sinks=sinks, clock=clock)
    ended: dict[int, str] = {}

    def heard(event: Event) -> None:
        if isinstance(event, JobFinished):
            ended[event.job_id] = event.state

    engine.bus.subscribe(heard)
    running = asyncio.create_task(engine.run())
    try:
        job = await intake.add_source(store, tmp_path / "trip", dest="mem:box", sinks=sinks)
        await driven(clock, settings, lambda: job.id in ended, "the job ended", step=1.0)
        assert ended[job.id] == "done"
        names = sorted(f.source_path for a in mem.albums.values() for f in a.files)
        assert len(names) == len(set(names)) == len(photos) - lost  # none twice
        assert set(names) <= {p.name for p in photos}
    finally:
        engine.stop()
        await asyncio.wait_for(running, 60)
        await store.close()
    return mem.order


# A sink that does not prepare; one that does (the next albums claimed ahead while one
# is sent: ``lookahead``); one that prepares more at once (a pool: claimed as sealed).
PREPARES = pytest.mark.parametrize("prepares", [None, 0, 8], ids=["plain", "ahead", "pool"])


@PREPARES
async def test_albums_after_a_retried_one_wait_for_it(
    tmp_path: Path, settings: Settings, prepares: int | None
) -> None:
    mem = MemKind(album_max=4, fail_once={1}, prepares_at_once=prepares)
    assert await _order(tmp_path, settings, mem) == [1, 2, 3, 4]


@PREPARES
async def test_a_later_album_retried_keeps_its_place_too(
    tmp_path: Path, settings: Settings, prepares: int | None
) -> None:
    mem = MemKind(album_max=4, fail_once={2, 3}, prepares_at_once=prepares)
    assert await _order(tmp_path, settings, mem) == [1, 2, 3, 4]


@pytest.mark.parametrize("prepares", [0, 8], ids=["ahead", "pool"])
async def test_albums_ahead_of_one_failed_for_good_go_on_prepared_once(
    tmp_path: Path, settings: Settings, prepares: int
) -> None:
    """Album 1 fails for good (it will not go again): the albums claimed and prepared
    ahead of it go on in order, none handed back to be claimed and prepared again."""
    mem = MemKind(album_max=4, fail_for_good=frozenset({1}), prepares_at_once=prepares)
    assert await _order(tmp_path, settings, mem, lost=4) == [2, 3, 4]
    ahead = [seq for seq in mem.prepared if seq > 1]  # those sealed in time were ahead
    assert len(ahead) == len(set(ahead))  # none prepared twice


async def test_albums_prepared_ahead_hold_their_claims_while_one_goes_slowly(
    tmp_path: Path, settings: Settings
) -> None:
    """Album 1 takes three leases to go (a send on a starved engine): the albums claimed
    and prepared ahead of it wait their turn still held, none lapsing to be reaped and
    claimed again (each prepared once), and they leave in order."""
    settings = settings.model_copy(update={"lease_seconds": 4.0})
    mem = MemKind(album_max=4, prepares_at_once=8, slow={1: 12.0})
    assert await _order(tmp_path, settings, mem) == [1, 2, 3, 4]
    ahead = [seq for seq in mem.prepared if seq > 1]
    assert sorted(ahead) == [2, 3, 4]  # all ahead while album 1 went, each once


async def test_the_claim_holds_a_jobs_albums_behind_one_back_in_line(store: Store) -> None:
    """Both stores: album 2 is not claimed while album 1 waits for its retry (nor while
    handed back untried), is once album 1 is claimed again; a wait for room holds none
    back (a later, smaller album may fit); an album handed back is claimable, untried."""
    job_id = await _expanded_job(store, 6, album_size=2)  # three albums
    first = await store.claim_delivery("d", 30)
    assert first is not None and first.album.seq == 1
    await store.album_retry(first.album.id, "d", FerrymanError("sink.io", "lost"), 60.0)
    assert await store.claim_delivery("d", 30) is None  # 2 and 3 wait behind it
    async with store.engine.begin() as conn:  # album 1's retry is due
        await conn.execute(update(albums).values(not_before=0.0))
    again = await store.claim_delivery("d", 30)
    assert again is not None and again.album.seq == 1
    second = await store.claim_delivery("d", 30)  # ahead, while 1 is under way
    assert second is not None and second.album.seq == 2
    await store.album_hand_back(second.album.id, "d")
    room = FerrymanError(ROOM_WAIT, "the disk is full")
    await store.album_waits_for_space(again.album.id, "d", job_id, room, 60.0)
    back = await store.claim_delivery("d", 30)
    assert back is not None and back.album.seq == 2 and back.album.attempts == 0
