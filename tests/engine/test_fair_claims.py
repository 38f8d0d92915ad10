"""Fair turns on both stores: a big job added first does not hold a small one behind it
(deliveries, conversions, reads), and a queued job knows where it stands in line."""

from __future__ import annotations

from ferryman.errors import FerrymanError
from ferryman.model import ItemState, MediaKind, Plan
from ferryman.store import Store
from ferryman.store.store import NewItem


def _item(seq: int, state: ItemState = ItemState.READY) -> NewItem:
    video = state is ItemState.CONVERT
    return NewItem(
        seq=seq,
        source_path=f"f{seq:03d}.{'mkv' if video else 'jpg'}",
        kind=MediaKind.VIDEO if video else MediaKind.PHOTO,
        state=state,
        size=100,
        plan=Plan.TRANSCODE if video else Plan.AS_IS,
    )


async def _read_job(
    store: Store, name: str, count: int, state: ItemState = ItemState.READY, album_size: int = 2
) -> int:
    """A job read whole (claimed, its entries recorded, its albums sealed)."""
    job = await store.add_job(source=f"/{name}", name=name, dest="library:")
    claimed = await store.claim_job(name, 30)
    assert claimed is not None and claimed.id == job.id
    for seq in range(count):
        await store.record_entry(job.id, name, seq + 1, _item(seq, state))
    await store.finish_expansion(job.id, name)
    await store.seal_albums(job.id, album_size)
    return job.id


async def test_a_one_album_job_is_delivered_between_the_albums_of_a_big_one(
    store: Store,
) -> None:
    big = await _read_job(store, "big", 40)  # 20 albums of 2, sealed first
    small = await _read_job(store, "small", 1)
    order = []
    claim = await store.claim_delivery("d", 30)
    while claim is not None:
        order.append((claim.album.job_id, claim.album.seq))
        claim = await store.album_delivered(claim.album.id, "d", "ref", claim_next=30)
    # Before: every album of the big job first, the small one's 21st.
    assert order[:3] == [(big, 1), (small, 1), (big, 2)]
    assert [seq for job, seq in order if job == big] == list(range(1, 21))  # its own order


async def test_two_jobs_level_with_each_other_take_turns(store: Store) -> None:
    first = await _read_job(store, "first", 6)
    second = await _read_job(store, "second", 6)
    taken = []
    while (album := await store.claim_album("d", 30)) is not None:
        taken.append(album.job_id)
    assert taken == [first, second] * 3


async def test_a_conversion_of_a_small_job_is_not_held_behind_a_big_one(store: Store) -> None:
    big = await _read_job(store, "big", 30, ItemState.CONVERT)
    small = await _read_job(store, "small", 1, ItemState.CONVERT)
    taken = []
    for _ in range(3):
        item = await store.claim_conversion("c", 30)
        assert item is not None
        taken.append((item.job_id, item.seq))
    assert taken == [(big, 0), (small, 0), (big, 1)]


async def test_a_read_waiting_for_space_gives_way_to_a_job_further_behind(
    store: Store,
) -> None:
    big = await store.add_job(source="/big", name="big", dest="library:")
    assert (await store.claim_job("r", 30)) is not None
    await store.record_entries(big.id, "r", 5, [_item(s) for s in range(5)], album_size=10)
    assert not await store.read_waits_behind(big.id)  # nobody else waits
    small = await store.add_job(source="/small", name="small", dest="library:")
    assert await store.read_waits_behind(big.id)
    await store.give_way(big.id, "r")
    # The small job (nothing read yet) goes first; the big one resumes at its cursor.
    claimed = await store.claim_job("r", 30)
    assert claimed is not None and claimed.id == small.id
    assert not await store.read_waits_behind(small.id)  # the big one is further ahead
    again = await store.claim_job("r", 30)
    assert again is not None and again.id == big.id and again.cursor == 5
    assert again.resumed and not claimed.resumed  # started once: JobStarted once


async def test_a_job_retried_by_hand_starts_again(store: Store) -> None:
    """A retry (a job that ended, run again) is a new run: its claim is a start; a
    claim after a passing problem resumes the same run."""
    job = await store.add_job(source="/a", name="a", dest="library:")
    first = await store.claim_job("r", 30)
    assert first is not None and not first.resumed and first.started_at is not None
    await store.job_retry(job.id, "r", FerrymanError("source.io", "a read failed"), 0.0)
    again = await store.claim_job("r", 30)
    assert again is not None and again.resumed
    await store.fail_job(job.id, FerrymanError("archive.unreadable", "broken"), "r")
    retried = await store.retry(job.id)
    assert retried.started_at is None  # in line again, not under way
    anew = await store.claim_job("r", 30)
    assert anew is not None and anew.id == job.id and not anew.resumed


async def test_a_queued_job_knows_how_many_downloads_are_ahead(store: Store) -> None:
    jobs = [
        await store.add_job(source=f"https://h/{n}", name=f"l{n}", dest="library:", fetch=True)
        for n in range(4)
    ]
    assert (await store.claim_fetch("f", 30)) is not None  # the first downloads
    places = await store.queue_places()
    assert jobs[0].id not in places  # under way, not in line
    assert [places[j.id] for j in jobs[1:]] == [
        {"reason": "downloads", "ahead": 1},
        {"reason": "downloads", "ahead": 2},
        {"reason": "downloads", "ahead": 3},
    ]
    await store.set_paused(jobs[1].id, True)  # a paused job leaves the line
    places = await store.queue_places()
    assert jobs[1].id not in places and places[jobs[2].id]["ahead"] == 1


async def test_a_queued_job_knows_how_many_reads_are_ahead(store: Store) -> None:
    reading = await store.add_job(source="/a", name="a", dest="library:")
    assert (await store.claim_job("r", 30)) is not None
    waiting = [
        await store.add_job(source=f"/w{n}", name=f"w{n}", dest="library:") for n in range(2)
    ]
    places = await store.queue_places()
    assert reading.id not in places
    assert [places[j.id] for j in waiting] == [
        {"reason": "reading", "ahead": 1},
        {"reason": "reading", "ahead": 2},
    ]
