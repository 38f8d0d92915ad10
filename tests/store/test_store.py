"""The store's contract, on SQLite, PostgreSQL and in memory (``store/memory``): claims
never collide, leases expire, backoff grows. A test that reads SQL or opens a second
store on the same database skips the memory store, saying so."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select

from ferryman.config import Retry
from ferryman.engine.plumbing.retry import backoff_seconds
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, JobState, MediaKind, Plan
from ferryman.store import Store
from ferryman.store.claimed import Claimed
from ferryman.store.memory.store import MemoryStore
from ferryman.store.schema import albums
from ferryman.store.store import NewItem
from tests.conftest import PG_DSN
from tests.support.contract import db_url, sql_only, store

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory


def _photo(seq: int, state: ItemState = ItemState.READY) -> NewItem:
    return NewItem(
        seq=seq,
        source_path=f"p{seq:03d}.jpg",
        kind=MediaKind.PHOTO,
        state=state,
        size=100,
        plan=Plan.AS_IS,
    )


async def _expanded_job(store: Store, n_items: int, album_size: int = 10) -> int:
    job = await store.add_job(source="/in.zip", name="in", dest="library:")
    claimed = await store.claim_job("reader", 30)
    assert claimed is not None and claimed.id == job.id
    for seq in range(n_items):
        await store.record_entry(job.id, "reader", seq + 1, _photo(seq))
    await store.finish_expansion(job.id, "reader")
    await store.seal_albums(job.id, album_size)
    return job.id


async def test_concurrent_workers_never_claim_the_same_album(store: Store) -> None:
    await _expanded_job(store, 200, album_size=2)  # 100 albums
    claimed: list[int] = []

    async def worker(name: str) -> None:
        while (album := await store.claim_album(name, 30)) is not None:
            claimed.append(album.id)
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(f"w{n}") for n in range(8)))
    assert len(claimed) == 100
    assert len(set(claimed)) == 100


async def test_concurrent_job_claims_in_separate_stores(store: Store, db_url: str) -> None:
    sql_only(store, "a second store on the same database (the memory store is one process's)")
    for n in range(30):
        await store.add_job(source=f"/in{n}", name=f"in{n}", dest="library:")
    others = [await Store.open(db_url) for _ in range(3)]
    try:
        got: list[int] = []

        async def worker(s: Store, name: str) -> None:
            while (job := await s.claim_job(name, 30)) is not None:
                got.append(job.id)

        await asyncio.gather(*(worker(s, f"w{i}") for i, s in enumerate([store, *others])))
    finally:
        for s in others:
            await s.close()
    assert sorted(got) == sorted(set(got))
    assert len(got) == 30


async def test_expired_lease_is_claimed_again(store: Store) -> None:
    now = [1000.0]
    store.clock = lambda: now[0]
    await _expanded_job(store, 3)
    first = await store.claim_album("crashed-worker", 10)
    assert first is not None
    assert await store.claim_album("other", 10) is None  # held
    now[0] += 11
    assert await store.reap() == 1
    again = await store.claim_album("other", 10)
    assert again is not None and again.id == first.id
    # the crashed worker's late result must not land
    assert not await store.renew(Claimed.ALBUM, first.id, "crashed-worker", 10)


async def test_heartbeat_keeps_the_lease(store: Store) -> None:
    now = [1000.0]
    store.clock = lambda: now[0]
    await _expanded_job(store, 1)
    album = await store.claim_album("w", 10)
    assert album is not None
    for _ in range(5):
        now[0] += 8
        assert await store.renew(Claimed.ALBUM, album.id, "w", 10)
        assert await store.reap() == 0
    assert await store.claim_album("other", 10) is None


async def test_release_makes_work_claimable_at_once(store: Store) -> None:
    await store.add_job(source="/a", name="a", dest="library:")
    job = await store.claim_job("stopping", 3600)
    assert job is not None
    assert await store.release("stopping") == 1
    again = await store.claim_job("next", 30)
    assert again is not None and again.id == job.id


async def test_album_retry_waits_for_not_before(store: Store) -> None:
    now = [1000.0]
    store.clock = lambda: now[0]
    await _expanded_job(store, 1)
    album = await store.claim_album("w", 30)
    assert album is not None
    await store.album_retry(album.id, "w", FerrymanError("sink.io", "disk hiccup"), 60)
    assert await store.claim_album("w", 30) is None
    now[0] += 61
    again = await store.claim_album("w", 30)
    assert again is not None and again.attempts == 1


def test_backoff_grows_and_is_capped() -> None:
    policy = Retry(max_attempts=10, base_seconds=2, max_seconds=100, jitter=0.25)
    rng = random.Random(7)
    delays = [backoff_seconds(n, policy, rng) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        nominal = min(100.0, 2.0 * 2 ** (n - 1))
        assert nominal * 0.75 <= delay <= min(100.0, nominal * 1.25)
    assert delays[0] < delays[2] < delays[4]
    assert max(delays) <= 100.0
    no_jitter = Retry(base_seconds=2, max_seconds=100, jitter=0)
    assert [backoff_seconds(n, no_jitter) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]


async def test_priority_orders_claims(store: Store) -> None:
    low = await store.add_job(source="/low", name="low", dest="library:", priority=0)
    high = await store.add_job(source="/high", name="high", dest="library:", priority=5)
    first = await store.claim_job("w", 30)
    second = await store.claim_job("w", 30)
    assert first is not None and second is not None
    assert (first.id, second.id) == (high.id, low.id)


async def test_dedupe_key_refuses_the_same_input(store: Store) -> None:
    await store.add_job(source="/a.zip", name="a", dest="library:", dedupe_key="k1")
    try:
        await store.add_job(source="/a.zip", name="a", dest="library:", dedupe_key="k1")
    except FerrymanError as exc:
        assert exc.code == "source.duplicate"
    else:
        raise AssertionError("a duplicate job was accepted")


async def test_cursor_moves_only_with_the_lease(store: Store) -> None:
    job = await store.add_job(source="/a", name="a", dest="library:")
    assert await store.claim_job("w1", 30) is not None
    await store.record_entry(job.id, "w1", 1, _photo(0))
    try:
        await store.record_entry(job.id, "intruder", 2, _photo(1))
    except FerrymanError as exc:
        assert exc.code == "engine.lease_lost"
    else:
        raise AssertionError("a worker without the lease wrote an item")
    assert (await store.get_job(job.id)).cursor == 1
    assert await store.known_seqs(job.id) == {0}


async def test_a_batch_of_entries_is_one_transaction_with_its_albums(store: Store) -> None:
    job = await store.add_job(source="/a", name="a", dest="library:")
    assert await store.claim_job("w", 30) is not None
    skipped = NewItem(seq=3, source_path="notes.txt", kind=MediaKind.OTHER, state=ItemState.SKIPPED)
    batch = [_photo(seq) for seq in (0, 1, 2)] + [skipped] + [_photo(s) for s in range(4, 25)]
    recorded = await store.record_entries(job.id, "w", 25, batch, album_size=10)
    assert [item.seq for item in recorded.items] == list(range(25))  # in entry order
    assert [item.state for item in recorded.items][3] is ItemState.SKIPPED
    assert (recorded.ready, recorded.on_disk) == (24, 24)  # the skipped file is not on disk
    assert len(recorded.sealed) == 2  # two full albums; the last 4 wait for more
    assert (await store.get_job(job.id)).cursor == 25
    first = await store.claim_album("d", 30)
    assert first is not None and [i.seq for i in first.items] == [0, 1, 2, *range(4, 11)]
    # Without the lease nothing of a batch is written, not even its first entries.
    try:
        await store.record_entries(job.id, "intruder", 27, [_photo(25), _photo(26)], 10)
    except FerrymanError as exc:
        assert exc.code == "engine.lease_lost"
    else:
        raise AssertionError("a worker without the lease wrote a batch")
    assert await store.known_seqs(job.id) == set(range(25))
    assert (await store.get_job(job.id)).cursor == 25


async def test_partial_albums_wait_while_input_is_open(store: Store) -> None:
    job = await store.add_job(source="/a", name="a", dest="library:")
    await store.claim_job("w", 30)
    for seq in range(13):
        await store.record_entry(job.id, "w", seq + 1, _photo(seq))
    assert len(await store.seal_albums(job.id, 10)) == 1  # 10 sealed, 3 wait
    await store.set_wait(job.id, "w", "backlog", blocked=True)
    assert len(await store.seal_albums(job.id, 10)) == 1  # blocked: the 3 go out too
    album = await store.claim_album("d", 30)
    assert album is not None and [i.seq for i in album.items] == list(range(10))


async def test_conversions_wait_for_deliverable_work(store: Store) -> None:
    """Albums of one here: the photo's album holds no conversion, so it is deliverable
    work, and the video's encode waits until it is delivered."""
    job = await store.add_job(source="/a", name="a", dest="library:")
    await store.claim_job("w", 30)
    await store.record_entry(job.id, "w", 1, _photo(0))
    await store.record_entry(job.id, "w", 2, _video(1))
    assert await store.claim_conversion("c", 30) is None  # input still being read
    await store.finish_expansion(job.id, "w")
    await store.seal_albums(job.id, 1)
    assert await store.claim_conversion("c", 30) is None  # the photo's album waits
    album = await store.claim_album("d", 30)
    assert album is not None
    assert await store.claim_conversion("c", 30) is None  # it is being delivered
    await store.album_delivered(album.id, "d", "ref")
    item = await store.claim_conversion("c", 30)
    assert item is not None and item.source_path == "v1.mkv"


def _video(seq: int) -> NewItem:
    return NewItem(
        seq=seq,
        source_path=f"v{seq}.mkv",
        kind=MediaKind.VIDEO,
        state=ItemState.CONVERT,
        plan=Plan.TRANSCODE,
    )


async def test_finish_and_summary(store: Store) -> None:
    job_id = await _expanded_job(store, 12)
    while (album := await store.claim_album("d", 30)) is not None:
        await store.album_delivered(album.id, "d", "ref")
    # the housekeeper's look, in one connection: a job to end, so not idle yet
    assert await store.housekeeping_state() == (True, False)
    assert await store.finish_jobs() == [job_id]
    assert await store.housekeeping_state() == (False, True)
    job = await store.get_job(job_id)
    assert job.state is JobState.DONE
    assert job.summary is not None
    assert job.summary["delivered"] == 12 and job.summary["total"] == 12


async def test_a_delivery_claims_the_next_album_in_its_own_transaction(store: Store) -> None:
    job_id = await _expanded_job(store, 25)  # albums of 10, 10 and 5; reading is over
    first = await store.claim_delivery("d", 30)
    assert first is not None and first.album.seq == 1
    # What delivery needs of the job comes with the claim: no read of its own.
    assert (first.job.id, first.job.name, first.job.dest) == (job_id, "in", "library:")
    assert (first.albums, first.final) == (3, True)
    second = await store.album_delivered(first.album.id, "d", "ref-1", claim_next=30)
    assert second is not None and second.album.seq == 2
    assert [i.seq for i in second.album.items] == list(range(10, 20))
    assert await store.claim_album("other", 30) is not None  # the third, still free
    assert await store.claim_album("other", 30) is None  # the second is held by "d"
    # Nothing left to claim: the delivery is recorded all the same.
    assert await store.album_delivered(second.album.id, "d", "ref-2", claim_next=30) is None
    states = {i.seq: i.state for i in await store.job_items(job_id)}
    assert all(states[seq] is ItemState.DELIVERED for seq in range(20))
    assert not any(states[seq] is ItemState.DELIVERED for seq in range(20, 25))  # "other"'s


async def test_a_claim_says_the_album_count_is_not_final_while_reading(store: Store) -> None:
    job = await store.add_job(source="/a", name="a", dest="library:")
    await store.claim_job("w", 30)
    for seq in range(13):
        await store.record_entry(job.id, "w", seq + 1, _photo(seq))
    await store.seal_albums(job.id, 10)
    claim = await store.claim_delivery("d", 30)
    assert claim is not None and (claim.albums, claim.final) == (1, False)


async def test_an_album_and_its_quarantined_items_are_recorded_together(store: Store) -> None:
    job_id = await _expanded_job(store, 3)
    album = await store.claim_album("d", 30)
    assert album is not None
    refused = album.items[1].id
    error = FerrymanError("telegram.media_rejected", "refused as media and as a document")
    lost = album.items[2].id
    io = FerrymanError("sink.io", "not kept in quarantine: disk full")
    ended = {
        refused: (ItemState.QUARANTINED, error, "/q/x.jpg"),
        lost: (ItemState.FAILED, io, None),
    }
    await store.album_delivered(album.id, "d", "ref", ended=ended)
    items = {i.id: i for i in await store.job_items(job_id)}
    assert items[refused].state is ItemState.QUARANTINED
    assert items[refused].work_path == "/q/x.jpg"
    assert items[refused].error_code == "telegram.media_rejected"
    assert items[lost].state is ItemState.FAILED and items[lost].error_code == "sink.io"
    assert items[album.items[0].id].state is ItemState.DELIVERED
    assert await store.finish_jobs() == [job_id]
    summary = (await store.get_job(job_id)).summary
    assert summary is not None and summary["delivered"] == 1


async def test_a_cancelled_job_settles_once_its_last_delivery_ends(store: Store) -> None:
    job_id = await _expanded_job(store, 3)
    album = await store.claim_album("d", 30)
    assert album is not None
    await store.cancel(job_id)
    assert await store.settle_ended([job_id], 0) == []  # its album is still being delivered
    await store.album_retry(album.id, "d", FerrymanError("sink.io", "disk full"), 1.0)
    assert await store.settle_ended([job_id], 3600) == []  # ended too recently
    assert await store.settle_ended([job_id, 999], 0) == [job_id]
    assert {i.state for i in await store.job_items(job_id)} == {ItemState.CANCELLED}
    if isinstance(store, MemoryStore):
        state = next(iter(store.tables["albums"].values()))["state"]
    else:
        async with store.reader.connect() as conn:
            state = (await conn.execute(select(albums.c.state))).scalar_one()
    assert state == "failed"
    summary = (await store.get_job(job_id)).summary
    assert summary is not None and summary["delivered"] == 0


async def test_a_cancelled_job_handed_back_by_a_stop_settles_without_a_folder(
    store: Store,
) -> None:
    """A stop hands the album back; the start-up sweep removed the folder: still settled."""
    job_id = await _expanded_job(store, 2)
    assert await store.claim_album("d", 30) is not None
    await store.cancel(job_id)
    await store.release("d")
    assert await store.settle_ended([], 0) == []  # no folder to remove
    assert {i.state for i in await store.job_items(job_id)} == {ItemState.CANCELLED}


async def test_a_retried_job_is_not_settled(store: Store) -> None:
    job_id = await _expanded_job(store, 2)
    await store.cancel(job_id)
    await store.retry(job_id)
    assert await store.settle_ended([job_id], 0) == []


async def test_cancel_and_retry(store: Store) -> None:
    job_id = await _expanded_job(store, 12)
    album = await store.claim_album("d", 30)
    assert album is not None
    await store.album_delivered(album.id, "d", "ref")
    await store.cancel(job_id)
    job = await store.get_job(job_id)
    assert job.state is JobState.CANCELLED
    states = {i.seq: i.state for i in await store.job_items(job_id)}
    assert [states[s] for s in range(10)] == [ItemState.DELIVERED] * 10
    assert states[10] is ItemState.CANCELLED
    retried = await store.retry(job_id)
    assert retried.state is JobState.QUEUED and retried.cursor == 0
    assert await store.known_seqs(job_id) == set(range(10))  # delivered ones stay


async def test_each_retry_is_the_jobs_next_run(store: Store) -> None:
    """A job's run, 0 at first, is one more at each retry: what its progress reports
    name, so a cancelled run's late one is told apart from the retried job's own."""
    job_id = await _expanded_job(store, 1)
    assert (await store.get_job(job_id)).run == 0
    await store.cancel(job_id)
    assert (await store.retry(job_id)).run == 1
    await store.cancel(job_id)
    await store.retry(job_id)
    assert [job.run for job in await store.list_jobs()] == [2]


async def test_pause_hides_work(store: Store) -> None:
    job_id = await _expanded_job(store, 1)
    await store.set_paused(job_id, True)
    assert await store.claim_album("d", 30) is None
    await store.set_paused(job_id, False)
    assert await store.claim_album("d", 30) is not None


async def test_runtime_settings_round_trip(store: Store) -> None:
    await store.set_runtime_setting("space_floor", "1GB")
    await store.set_runtime_setting("space_floor", "2GB")
    assert await store.runtime_settings() == {"space_floor": "2GB"}


async def test_renew_checks_owner(store: Store) -> None:
    job = await store.add_job(source="/a", name="a", dest="library:")
    await store.claim_job("w", 30)
    assert await store.renew(Claimed.JOB, job.id, "w", 30)
    assert not await store.renew(Claimed.JOB, job.id, "x", 30)


async def test_ready_items_of_another_job_hold_conversions_back(store: Store) -> None:
    """A ready item anywhere is deliverable work: no transcode may start before it leaves."""
    photos = await store.add_job(source="/photos", name="photos", dest="library:")
    await store.claim_job("w", 30)
    await store.record_entry(photos.id, "w", 1, _photo(0))
    await store.set_wait(photos.id, "w", "backlog", blocked=True)  # reading waits; not sealed
    videos = await store.add_job(source="/videos", name="videos", dest="library:")
    await store.claim_job("w", 30)
    video = NewItem(
        seq=0,
        source_path="v.mkv",
        kind=MediaKind.VIDEO,
        state=ItemState.CONVERT,
        plan=Plan.TRANSCODE,
    )
    await store.record_entry(videos.id, "w", 1, video)
    await store.finish_expansion(videos.id, "w")
    assert await store.claim_conversion("c", 30) is None


async def test_release_clears_the_wait_of_a_released_job(store: Store) -> None:
    job = await store.add_job(source="/a", name="a", dest="library:")
    await store.claim_job("stopping", 30)
    await store.set_wait(job.id, "stopping", "backlog", blocked=True)
    await store.release("stopping")
    released = await store.get_job(job.id)
    assert released.wait_reason is None and released.state is JobState.QUEUED
    assert await store.claim_job("next", 30) is not None


async def test_a_bad_database_url_says_which_setting_and_why() -> None:
    """Not a traceback: a code, the URL with its password masked, the cause."""
    from ferryman.store.connect import create_engine

    cases = [
        ("not a url", "config.invalid", "not a database URL"),
        ("postgresql://me:s3cret@127.0.0.1:1/db", "store.unreachable", "cannot reach"),
    ]
    if PG_DSN:
        wrong_db = PG_DSN.rsplit("/", 1)[0] + "/no_such_db_here"
        cases.append((wrong_db, "config.invalid", 'database "no_such_db_here" does not exist'))
    for url, code, said in cases:
        with pytest.raises(FerrymanError) as caught:
            await create_engine(url)
        assert caught.value.code == code and said in caught.value.message, caught.value
        assert "s3cret" not in caught.value.message
        if code == "store.unreachable":
            assert "postgresql://me:***@127.0.0.1:1/db" in caught.value.message


@pytest.mark.postgres
async def test_a_providers_connection_string_works_as_given() -> None:
    """Hosted PostgreSQL hands out libpq URLs (``?sslmode=…&connect_timeout=…``); asyncpg
    names those differently. The store, and the engine's LISTEN for new work, take them."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from ferryman.store.connect import create_engine, normalise_url
    from ferryman.store.wakeup import listener_for

    if not PG_DSN:
        pytest.skip("PostgreSQL tests need FERRYMAN_TEST_PG_DSN (CI sets it)")
    url = f"{PG_DSN}?sslmode=prefer&connect_timeout=5&application_name=ferryman-test"
    engine = await create_engine(url)
    try:
        async with engine.connect() as conn:
            named = await conn.scalar(
                text("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            )
            idle_bound = await conn.scalar(text("SHOW idle_in_transaction_session_timeout"))
        assert named == "ferryman-test" and idle_bound == "1min"
    finally:
        await engine.dispose()
    listener = listener_for(make_url(normalise_url(url)), lambda: None)
    try:
        assert await listener.start()
    finally:
        await listener.close()

    with pytest.raises(FerrymanError) as caught:
        await create_engine(f"{PG_DSN}?connect_timeout=soon")
    assert caught.value.code == "config.invalid" and "connect_timeout" in caught.value.message
    try:
        refused = await create_engine(f"{PG_DSN}?sslmode=require")
    except FerrymanError as exc:  # this server takes no SSL: say so, not "unreachable"
        assert exc.code == "config.invalid" and "SSL failed" in exc.message, exc
        assert "sslmode=disable" in exc.message
    else:
        await refused.dispose()  # a server with SSL: the URL works as given


async def test_live_dests_name_each_destination_of_jobs_left_to_do_once(store: Store) -> None:
    a = await store.add_job(source="/a", name="a", dest="telegram:me")
    await store.add_job(source="/b", name="b", dest="telegram:me")
    c = await store.add_job(source="/c", name="c", dest="library:")
    d = await store.add_job(source="/d", name="d", dest="telegram:@chan")
    assert sorted(await store.live_dests()) == ["library:", "telegram:@chan", "telegram:me"]
    await store.set_paused(c.id, True)
    await store.cancel(d.id)
    await store.cancel(a.id)
    assert await store.live_dests() == ["telegram:me"]  # job b's


async def test_a_jobs_backlog_counts_every_file_its_items_hold(store: Store) -> None:
    """The backlog that bounds reading counts the files an item holds until delivered,
    not one an item: an original kept beside its remux, a split video's parts beside the
    whole, the copy a transcode still to come will make (as large as its original); a
    document's pieces cut by bytes are windows of its file, nothing more."""
    job = await store.add_job(source="/in.zip", name="in", dest="library:")
    assert await store.claim_job("reader", 30) is not None
    video, ready = MediaKind.VIDEO, ItemState.READY
    new = [
        _photo(0),  # one file: 100
        NewItem(
            seq=1, source_path="a.mkv", size=300, plan=Plan.REMUX, work_path="a.remux.mp4",
            original_path="a.mkv", source_size=400, kind=video, state=ready,
        ),  # two: 300 + 400
        NewItem(
            seq=2, source_path="b.mp4", size=500, plan=Plan.SPLIT, work_path="b.mp4",
            parts=("b.part1.mp4", "b.part2.mp4"), source_size=500, kind=video, state=ready,
        ),  # the whole and its parts: 500 + 500
        NewItem(
            seq=3, source_path="c.webm", kind=video, state=ItemState.CONVERT,
            size=200, plan=Plan.TRANSCODE, work_path="c.webm", source_size=200,
        ),  # the original and the copy to come: 200 + 200
        NewItem(seq=4, source_path="d.txt", kind=MediaKind.OTHER, state=ItemState.SKIPPED),
        NewItem(
            seq=5, source_path="e.bin", kind=MediaKind.OTHER, state=ready, size=250,
            plan=Plan.DOCUMENT, work_path="e.bin", source_size=250,
            parts=("e.bin.piece1@0+200", "e.bin.piece2@200+50"),
        ),  # cut by bytes: windows of its one file, no copy: 250
    ]  # fmt: skip
    recorded = await store.record_entries(job.id, "reader", 6, new)
    assert (recorded.on_disk, recorded.on_disk_bytes) == (8, 2450)
    assert await store.backlog(job.id) == (8, 2450)
