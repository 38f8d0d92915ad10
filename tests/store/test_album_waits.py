"""An album waits for a conversion in its place, up to a bound, on SQLite, PostgreSQL
and the memory store alike (``rules.sealing``): 12 files, the third a video to convert,
go as 10 and 2 in archive order once it is converted, and past the wait (counted in the
store's clock from when the album's other files were ready) without it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ferryman.errors import FerrymanError
from ferryman.model import ItemState, MediaKind, Plan
from ferryman.store import Store
from ferryman.store.memory.store import MemoryStore
from ferryman.store.shared.rows import NewItem
from tests.conftest import _reset_postgres
from tests.support.clock import ManualClock
from tests.support.contract import MEMORY, ContractStore, db_url

__all__ = ["db_url"]  # the contract's databases: SQLite, PostgreSQL, memory

WAIT = 600.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def store(db_url: str, clock: ManualClock) -> AsyncIterator[ContractStore]:
    """The contract's store on a clock the test moves."""
    if db_url == MEMORY:
        yield MemoryStore(clock=clock.now)
        return
    if db_url.startswith("postgres"):
        await _reset_postgres(db_url)
    opened = await Store.open(db_url, clock=clock.now)
    try:
        yield opened
    finally:
        await opened.close()


def _photo(seq: int) -> NewItem:
    return NewItem(
        seq=seq,
        source_path=f"p{seq:02d}.jpg",
        kind=MediaKind.PHOTO,
        state=ItemState.READY,
        size=10,
        plan=Plan.AS_IS,
    )


def _video(seq: int, state: ItemState = ItemState.CONVERT) -> NewItem:
    return NewItem(
        seq=seq,
        source_path=f"v{seq:02d}.mkv",
        kind=MediaKind.VIDEO,
        state=state,
        size=10,
        plan=Plan.TRANSCODE,
        work_path=f"/w/v{seq:02d}.mp4" if state is ItemState.READY else None,
    )


async def _read(store: ContractStore) -> int:
    """Twelve files read whole, the third to convert; the albums they seal: none."""
    job = await store.add_job(source="/a", name="a", dest="library:")
    assert await store.claim_job("w", 30) is not None
    new = [_photo(0), _photo(1), _video(2), *[_photo(s) for s in range(3, 12)]]
    recorded = await store.record_entries(job.id, "w", 12, new, 10, last=True, wait=WAIT)
    assert recorded.sealed == ()  # files 0-9 wait for the video, 10-11 behind them
    return job.id


async def _delivered(store: ContractStore) -> list[list[int]]:
    albums = []
    while (album := await store.claim_album("d", 30)) is not None:
        albums.append([i.seq for i in album.items])
        await store.album_delivered(album.id, "d", "ref")
    return albums


async def test_an_album_waits_for_a_conversion_in_its_place(
    store: ContractStore, clock: ManualClock
) -> None:
    """Its ready files, waiting for the video, do not hold the video's encode back:
    counted as work that could move, the album and the encode waited for each other."""
    job_id = await _read(store)
    assert await store.claim_album("d", 30) is None
    await clock.advance(WAIT - 1)
    assert await store.seal_albums(job_id, 10, wait=WAIT) == []  # not yet past the wait
    item = await store.claim_conversion("c", 30)
    assert item is not None and item.seq == 2
    await store.item_ready(item.id, "c", _video(2, ItemState.READY), "transcoded")
    assert len(await store.seal_albums(job_id, 10, wait=WAIT)) == 2
    assert await _delivered(store) == [list(range(10)), [10, 11]]


async def test_past_the_wait_an_album_goes_without_its_conversion(
    store: ContractStore, clock: ManualClock
) -> None:
    """The video still converting after the wait: the album goes without it, filled up
    from the next file in order; the video, converted later, goes in an album of its
    own (the input is read, nothing follows it)."""
    job_id = await _read(store)
    item = await store.claim_conversion("c", 30)
    assert item is not None
    await clock.advance(WAIT)
    assert len(await store.seal_albums(job_id, 10, wait=WAIT)) == 2
    assert await _delivered(store) == [[0, 1, *range(3, 11)], [11]]
    await store.item_ready(item.id, "c", _video(2, ItemState.READY), "transcoded")
    assert len(await store.seal_albums(job_id, 10, wait=WAIT)) == 1
    assert await _delivered(store) == [[2]]


async def test_a_conversion_that_fails_leaves_its_album_at_once(store: ContractStore) -> None:
    """A quarantined item is no longer one the album waits for: it goes on without it."""
    job_id = await _read(store)
    item = await store.claim_conversion("c", 30)
    assert item is not None
    broken = FerrymanError("media.convert_failed", "the encoder gave up")
    await store.item_final(item.id, ItemState.QUARANTINED, broken, owner="c")
    assert len(await store.seal_albums(job_id, 10, wait=WAIT)) == 2
    assert await _delivered(store) == [[0, 1, *range(3, 11)], [11]]
