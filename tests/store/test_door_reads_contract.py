"""What the front doors read (the web's page and API, ``ferryman status``, the chat),
on SQLite, PostgreSQL and the memory store alike: item counts, places in line, the
fetches under way, failing or done, memos by name, ``/metrics``' figures. The memory
store keeps them so web and CLI tests that are not about the database run on it."""

from __future__ import annotations

from collections import Counter

from ferryman.errors import FerrymanError
from ferryman.model import ItemState, MediaKind
from ferryman.store.shared.rows import NewItem
from tests.support.contract import ContractStore, db_url, store

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory


def _photo(seq: int, state: ItemState = ItemState.READY) -> NewItem:
    return NewItem(
        seq=seq, source_path=f"p{seq}.jpg", kind=MediaKind.PHOTO, state=state, size=10 + seq
    )


async def test_item_counts_are_each_jobs_items_by_state(store: ContractStore) -> None:
    read = await store.add_job(source="/a", name="a", dest="library:")
    idle = await store.add_job(source="/b", name="b", dest="library:")
    assert await store.claim_job("r", 30) is not None
    entries = [_photo(0), _photo(1), _photo(2, ItemState.SKIPPED), _photo(3, ItemState.CONVERT)]
    await store.record_entries(read.id, "r", 4, entries)
    states = Counter(item.state.value for item in await store.job_items(read.id))
    assert await store.item_counts() == {read.id: dict(states)}
    assert sum(states.values()) == 4 and states[ItemState.SKIPPED.value] == 1
    assert idle.id not in await store.item_counts()  # no items: no entry


async def test_queue_places_count_downloads_and_reads_ahead(store: ContractStore) -> None:
    links = [
        await store.add_job(source=f"https://h/{n}", name=f"l{n}", dest="library:", fetch=True)
        for n in range(3)
    ]
    assert await store.claim_fetch("f", 30) is not None  # the first downloads
    reading = await store.add_job(source="/r", name="r", dest="library:")
    assert await store.claim_job("r", 30) is not None
    low = await store.add_job(source="/low", name="low", dest="library:")
    high = await store.add_job(source="/high", name="high", dest="library:", priority=5)
    paused = await store.add_job(source="/p", name="p", dest="library:")
    await store.set_paused(paused.id, True)
    assert await store.queue_places() == {
        links[1].id: {"reason": "downloads", "ahead": 1},
        links[2].id: {"reason": "downloads", "ahead": 2},
        high.id: {"reason": "reading", "ahead": 1},  # its priority puts it first in line
        low.id: {"reason": "reading", "ahead": 2},
    }
    assert reading.id not in await store.queue_places()


async def test_fetches_under_way_failing_and_downloaded(store: ContractStore) -> None:
    jobs = [
        await store.add_job(source=f"https://h/{n}", name=f"l{n}", dest="library:", fetch=True)
        for n in range(4)
    ]
    fetches = [await store.claim_fetch("f", 30) for _ in jobs]
    assert all(f is not None for f in fetches)
    under_way, failing, downloaded, in_place = (f for f in fetches if f is not None)
    await store.fetch_retry(failing.id, "f", FerrymanError("source.network", "no route"), 60)
    await store.fetch_done(downloaded.id, "f", "/w/l2", 5)
    await store.fetch_done(in_place.id, "f", None, 7)
    assert await store.fetching_jobs() == {under_way.job_id}
    assert await store.fetch_errors() == {failing.job_id: "no route"}
    assert await store.downloaded_jobs() == {downloaded.job_id}  # not the one read in place


async def test_memos_named_are_every_jobs_memo_of_that_name(store: ContractStore) -> None:
    a = await store.add_job(source="/a", name="a", dest="library:")
    b = await store.add_job(source="/b", name="b", dest="library:", memos={"shown": "0.5"})
    await store.put_source_memo(a.id, "shown", "0.25")
    await store.put_source_memo(a.id, "other", "x")
    assert await store.memos_named("shown") == {a.id: "0.25", b.id: "0.5"}
    assert await store.memos_named("none") == {}


async def test_figures_count_items_bytes_and_jobs_by_source(store: ContractStore) -> None:
    read = await store.add_job(source="/a", name="a", dest="library:")
    link = await store.add_job(source="https://h/b", name="b", dest="library:", fetch=True)
    assert await store.claim_job("r", 30) is not None
    await store.record_entries(read.id, "r", 3, [_photo(0), _photo(1), _photo(2)])
    fetch = await store.claim_fetch("f", 30)
    assert fetch is not None and fetch.job_id == link.id
    await store.fetch_done(fetch.id, "f", "/w/b", 1000)
    figures = await store.figures()
    states = Counter(item.state.value for item in await store.job_items(read.id))
    assert figures["items"] == dict(states) and sum(states.values()) == 3
    assert figures["bytes_fetched"] == 1000
    assert figures["failed_by_code"] == {}
    assert figures["jobs_by_source"] == {
        ("file", "reading"): 1,  # a path has no scheme: a file
        ("https", "queued"): 1,
    }
