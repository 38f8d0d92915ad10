"""How a job ends and what a person can do to it, on both store engines: failed items
show in the job's state, control commands on the wrong state get their own codes,
and `remove` forgets a job in every table."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, insert, select

from ferryman.errors import ERRORS, FerrymanError
from ferryman.model import ItemState, JobState, MediaKind, Plan, SinkRecord
from ferryman.store import Store
from ferryman.store.schema import (
    albums,
    items,
    jobs,
    segments,
    sink_records,
    tg_inbox,
    tg_status,
)
from ferryman.store.store import NewItem
from tests.conftest import _reset_postgres

NOT_CONFIGURED = FerrymanError("telegram.not_configured", "telegram.api_id is not set")


def _photo(seq: int) -> NewItem:
    return NewItem(
        seq=seq,
        source_path=f"p{seq:03d}.jpg",
        kind=MediaKind.PHOTO,
        state=ItemState.READY,
        size=100,
        plan=Plan.AS_IS,
    )


async def _expanded_job(store: Store, n_items: int, album_size: int) -> int:
    job = await store.add_job(source=f"/in{n_items}.zip", name="in", dest="library:")
    claimed = await store.claim_job("reader", 30)
    assert claimed is not None and claimed.id == job.id
    for seq in range(n_items):
        await store.record_entry(job.id, "reader", seq + 1, _photo(seq))
    await store.finish_expansion(job.id, "reader")
    await store.seal_albums(job.id, album_size)
    return job.id


async def _deliver_albums(store: Store, *outcomes: bool) -> None:
    """Claim albums in order: True delivers one, False fails it as Telegram unset does."""
    for delivered in outcomes:
        album = await store.claim_album("d", 30)
        assert album is not None
        if delivered:
            await store.album_delivered(album.id, "d", "ref")
        else:
            await store.album_failed(album.id, "d", NOT_CONFIGURED)


async def test_a_job_whose_every_item_failed_ends_failed_with_their_code(store: Store) -> None:
    job_id = await _expanded_job(store, 4, album_size=10)
    await _deliver_albums(store, False)
    assert await store.finish_jobs() == [job_id]
    job = await store.get_job(job_id)
    assert (job.state, job.error_code) == (JobState.FAILED, "telegram.not_configured")
    assert job.error_message is not None and job.error_message.startswith("4 failed, 0 delivered")
    assert job.summary is not None and job.summary["state"] == "failed"
    assert len(job.summary["failed"]) == 4


async def test_a_job_with_some_failed_items_is_done_and_says_so(store: Store) -> None:
    job_id = await _expanded_job(store, 4, album_size=2)
    await _deliver_albums(store, True, False)
    assert await store.finish_jobs() == [job_id]
    job = await store.get_job(job_id)
    assert (job.state, job.error_code) == (JobState.DONE, "telegram.not_configured")
    assert job.error_message is not None and job.error_message.startswith("2 failed, 2 delivered")


async def test_a_clean_job_is_done_without_a_code(store: Store) -> None:
    job_id = await _expanded_job(store, 2, album_size=10)
    await _deliver_albums(store, True)
    assert await store.finish_jobs() == [job_id]
    job = await store.get_job(job_id)
    assert (job.state, job.error_code) == (JobState.DONE, None)


@pytest.mark.parametrize("skipped", [0, 3])
async def test_a_job_that_delivered_nothing_is_done_and_says_so(store: Store, skipped: int) -> None:
    """An empty input, or one of files that are not media, looked like a clean run."""
    job = await store.add_job(source=f"/in{skipped}", name="in", dest="library:")
    claimed = await store.claim_job("reader", 30)
    assert claimed is not None
    for seq in range(skipped):
        other = NewItem(
            seq=seq,
            source_path=f"notes{seq}.txt",
            kind=MediaKind.DOCUMENT,
            state=ItemState.SKIPPED,
            size=10,
            reason="not_media",
        )
        await store.record_entry(job.id, "reader", seq + 1, other)
    await store.finish_expansion(job.id, "reader")
    assert await store.finish_jobs() == [job.id]
    ended = await store.get_job(job.id)
    assert (ended.state, ended.error_code) == (JobState.DONE, "source.nothing_delivered")
    expected = "3 skipped: not a photo or video" if skipped else "it holds no files"
    assert ended.error_message is not None and expected in ended.error_message


async def _job_of(store: Store, *states: ItemState) -> int:
    """A job read to its end whose items ended in ``states`` (quarantined: media.unreadable)."""
    job = await store.add_job(source=f"/mix{len(states)}", name="mix", dest="library:")
    claimed = await store.claim_job("reader", 30)
    assert claimed is not None
    for seq, state in enumerate(states):
        kept = state is ItemState.QUARANTINED
        item = NewItem(
            seq=seq,
            source_path=f"v{seq}.mp4",
            kind=MediaKind.VIDEO,
            state=state,
            size=10,
            error_code="media.unreadable" if kept else None,
            error_message=f"v{seq}.mp4: no decodable frame" if kept else None,
        )
        await store.record_entry(job.id, "reader", seq + 1, item)
    await store.finish_expansion(job.id, "reader")
    assert await store.finish_jobs() == [job.id]
    return job.id


async def test_quarantined_items_make_a_job_partly_delivered_or_failed(store: Store) -> None:
    D, Q = ItemState.DELIVERED, ItemState.QUARANTINED
    partly = await store.get_job(await _job_of(store, D, Q, D))
    assert (partly.state, partly.error_code) == (JobState.DONE, "job.partly_delivered")
    assert partly.error_message == (
        "1 file of 3 not delivered, kept in quarantine"
        " (media.unreadable: v1.mp4: no decodable frame); 2 delivered"
    )
    none = await store.get_job(await _job_of(store, Q, Q))
    assert (none.state, none.error_code) == (JobState.FAILED, "media.unreadable")
    assert none.error_message == "2 quarantined, 0 delivered: v0.mp4: no decodable frame"
    assert "job.partly_delivered" in ERRORS


async def test_control_on_an_ended_job_says_it_has_ended(store: Store) -> None:
    job_id = await _expanded_job(store, 1, album_size=10)
    await _deliver_albums(store, True)
    await store.finish_jobs()
    for action in (store.cancel(job_id), store.set_paused(job_id, True)):
        with pytest.raises(FerrymanError) as caught:
            await action
        assert caught.value.code == "job.already_ended"
    job = await store.get_job(job_id)
    assert (job.state, job.paused, job.error_code) == (JobState.DONE, False, None)


async def test_retry_of_a_job_that_has_not_ended_names_what_it_waits_for(store: Store) -> None:
    job_id = await _expanded_job(store, 1, album_size=10)
    with pytest.raises(FerrymanError) as caught:
        await store.retry(job_id)
    assert caught.value.code == "job.not_ended"

    waiting = await store.add_job(source="/locked.zip", name="locked", dest="library:")
    assert (await store.claim_job("reader", 30)) is not None
    await store.need_password(
        waiting.id, "reader", FerrymanError("archive.password_required", "x.zip: encrypted")
    )
    with pytest.raises(FerrymanError) as caught:
        await store.retry(waiting.id)
    assert caught.value.code == "job.waiting_for_password"
    assert "ferryman password JOB" in ERRORS["job.waiting_for_password"].next_step


async def test_a_password_that_did_not_open_it_is_not_taken_again(store: Store) -> None:
    job = await store.add_job(source="/locked.zip", name="locked", dest="library:")
    error = FerrymanError("archive.password_required", "x.zip: encrypted")
    assert (await store.claim_job("reader", 30)) is not None
    await store.need_password(job.id, "reader", error)
    assert (await store.add_password(job.id, "wrong")).state is JobState.QUEUED
    assert (await store.claim_job("reader", 30)) is not None
    await store.need_password(job.id, "reader", FerrymanError("archive.password_wrong", "no"))
    with pytest.raises(FerrymanError) as caught:
        await store.add_password(job.id, "wrong")
    assert caught.value.code == "archive.password_wrong"
    assert (await store.get_job(job.id)).state is JobState.NEEDS_PASSWORD


async def _rows_of(store: Store) -> dict[str, int]:
    async with store.reader.connect() as conn:
        return {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in (jobs, items, albums, segments, sink_records, tg_status, tg_inbox)
        }


async def test_remove_forgets_an_ended_job_in_every_table(store: Store) -> None:
    job_id = await _expanded_job(store, 2, album_size=10)
    kept_id = await _expanded_job(store, 3, album_size=10)
    item_ids = [i.id for i in await store.job_items(job_id)]
    async with store.engine.begin() as conn:
        found = await conn.execute(select(albums.c.id).where(albums.c.job_id == job_id))
        album_ids = list(found.scalars())
        await conn.execute(
            insert(segments).values(item_id=item_ids[0], part=0, created_at=0, updated_at=0)
        )
        await conn.execute(
            insert(tg_status).values(job_id=job_id, chat_id=1, message_id=2, edited_at=0)
        )
        await conn.execute(
            insert(tg_inbox).values(
                chat_id=1,
                message_id=3,
                sender_id=4,
                state="done",
                job_id=job_id,
                created_at=0,
                updated_at=0,
            )
        )

    # What sinks kept of both jobs: of an item, of an album, of the job alone.
    for sink in ("telegram", "other"):
        await store.sink_state(sink).put(
            job_id,
            [
                SinkRecord("media:0", {"part": 0}, item_id=item_ids[0]),
                SinkRecord("send:0", {"random_id": 7}, album_ids[0], item_ids[0]),
                SinkRecord("job", {}),
            ],
        )
    await store.sink_state("telegram").put(kept_id, [SinkRecord("job", {})])

    with pytest.raises(FerrymanError) as caught:
        await store.remove_job(job_id)  # still active: cancel it first
    assert caught.value.code == "job.not_ended"

    await store.cancel(job_id)
    before = await _rows_of(store)
    removed = await store.remove_job(job_id)
    assert removed.id == job_id
    after = await _rows_of(store)
    assert after == {
        "jobs": 1,
        "items": 3,
        "albums": 1,
        "segments": 0,
        "sink_records": 1,  # the other job's
        "tg_status": 0,
        "tg_inbox": 0,
    }, before
    assert (await store.get_job(kept_id)).state is JobState.ACTIVE
    with pytest.raises(FerrymanError) as caught:
        await store.get_job(job_id)
    assert caught.value.code == "job.not_found"


async def test_two_nodes_finishing_at_once_end_each_job_once(db_url: str) -> None:
    """Every node's housekeeper ends finished jobs; on PostgreSQL two of them read the
    same finishable jobs at once. Each job must be ended (summary, ``job.finished``)
    by one of them only: three nodes announced the same job's end three times."""
    if db_url.startswith("postgres"):
        await _reset_postgres(db_url)
    first, second = await Store.open(db_url), await Store.open(db_url)
    try:
        for _ in range(5):
            ids = [await _expanded_job(first, 2, album_size=10) for _ in range(8)]
            await _deliver_albums(first, *[True] * 8)
            ended = await asyncio.gather(*(s.finish_jobs() for s in (first, second, first)))
            assert sorted(i for found in ended for i in found) == ids
    finally:
        await first.close()
        await second.close()


async def test_a_runs_summary_counts_the_ended_jobs_it_worked_on(store: Store) -> None:
    """With several nodes on one store, a run's summary is its own: another node's
    finished jobs are not counted (two workers printed the same store-wide totals)."""
    from ferryman.engine.ops.report import run_summary

    mine = await _expanded_job(store, 2, album_size=10)
    theirs = await _expanded_job(store, 3, album_size=10)
    await _deliver_albums(store, True, True)
    assert sorted(await store.finish_jobs()) == [mine, theirs]
    waiting = await store.add_job(source="/in.zip", name="in", dest="library:")
    everything = await run_summary(store, 0.0)
    assert everything["jobs"] == {"done": 2, "running": 1}
    own = await run_summary(store, 0.0, touched={mine})
    assert own["jobs"] == {"done": 1, "running": 1}  # a job not ended still counts
    assert own["items"]["delivered"] == 2 and waiting.id not in (mine, theirs)


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [("source.io", "unfinished"), ("space.low", "waiting"), ("sink.space_low", "waiting")],
)
async def test_a_retrys_pause_left_by_a_stopped_run_is_unfinished_not_waiting(
    store: Store, reason: str, outcome: str
) -> None:
    """Ctrl-C during a download's pause between tries: nothing retries it until the next
    run, so its summary says so (it said "waiting … retried automatically", exit 3's
    word); a wait on the person (disk room) stays waiting."""
    from sqlalchemy import update

    from ferryman.engine.ops.report import run_summary

    job = await store.add_job(source="http://host/x.zip", name="x", dest="library:")
    async with store.engine.begin() as conn:
        await conn.execute(update(jobs).where(jobs.c.id == job.id).values(wait_reason=reason))
    summary = await run_summary(store, 0.0, stopped=True)
    assert summary["jobs"] == {outcome: 1}
    if outcome == "waiting":
        assert summary["needs"][0]["code"] == reason
        assert summary["needs"][0]["was_waiting"] is None
    else:
        assert summary["needs"][0]["code"] is None  # the outcome's own words say what next
        assert summary["needs"][0]["was_waiting"] == reason  # and what it waited for
        from io import StringIO

        from rich.console import Console

        from ferryman.frontdoors.terminal import print_run_summary

        shown = StringIO()
        print_run_summary(Console(file=shown, width=200), summary)
        lines = shown.getvalue().splitlines()
        assert lines[1] == f"  job {job.id} x: unfinished (it was waiting: {reason})", lines
        assert lines[2] == "    next: the next `ferryman run` goes on with it where it stopped"
