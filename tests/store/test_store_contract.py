"""More of the store's contract, on SQLite, PostgreSQL and the memory store alike: a
fetch before the read, the read's waits and turns, a failed album split, a conversion
recorded part by part, a job's end decided from its items (``rules.outcomes``)."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from ferryman.errors import FerrymanError
from ferryman.model import ItemState, JobState, MediaKind, Plan, SinkRecord, SinkWrite
from ferryman.store import Store
from ferryman.store.claimed import Claimed
from ferryman.store.fetches.sql import SMALL_INPUT, InputName
from ferryman.store.shared.rows import LeaseLost, NewItem
from tests.support.contract import db_url, sql_only, store

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory


def _photo(seq: int) -> NewItem:
    return NewItem(
        seq=seq, source_path=f"p{seq}.jpg", kind=MediaKind.PHOTO, state=ItemState.READY, size=10
    )


async def test_a_fetched_job_is_read_only_once_its_fetch_is_done(store: Store) -> None:
    job = await store.add_job(source="https://h/a.zip", name="a", dest="library:", fetch=True)
    assert await store.claim_job("r", 30) is None  # its input is not here yet
    fetch = await store.claim_fetch("f", 30)
    assert fetch is not None and fetch.job_id == job.id and fetch.state == "fetching"
    assert await store.claim_fetch("other", 30) is None
    assert await store.renew(Claimed.FETCH, fetch.id, "f", 30)
    await store.fetch_done(fetch.id, "f", "/work/a.zip", 123)
    found = await store.fetched(job.id)
    assert found is not None and (found.state, found.path, found.size) == (
        "done",
        "/work/a.zip",
        123,
    )
    claimed = await store.claim_job("r", 30)
    assert claimed is not None and claimed.id == job.id and not claimed.resumed


async def test_a_claim_for_some_schemes_takes_only_their_fetches(store: Store) -> None:
    """A worker running Telegram fetches at once claims more of them only (``schemes``);
    an unrestricted claim still takes the first of any."""
    http = await store.add_job(source="https://h/a.zip", name="a", dest="library:", fetch=True)
    tg = await store.add_job(source="tg:c/1/2", name="b", dest="library:", fetch=True)
    theirs = await store.claim_fetch("f", 30, ("tg",))
    assert theirs is not None and theirs.job_id == tg.id
    assert await store.claim_fetch("f", 30, ("tg",)) is None  # the link's is not for it
    anyone = await store.claim_fetch("f", 30)
    assert anyone is not None and anyone.job_id == http.id


async def test_a_claim_of_small_inputs_takes_only_jobs_fetched_as_one_small_file(
    store: Store,
) -> None:
    """The read beside others (``small``) takes a job whose input was fetched whole as
    one file of at most ``SMALL_INPUT`` bytes: not a big one, not one read in place,
    not a local input, not one still fetched; a plain claim still takes any."""
    local = await store.add_job(source="file:///in/a.zip", name="l", dest="library:")
    sizes = {"big": SMALL_INPUT + 1, "in place": None, "small": SMALL_INPUT, "waits": 0}
    made = {}
    for name, size in sizes.items():
        made[name] = await store.add_job(
            source=f"https://h/{name}", name=name, dest="library:", fetch=True
        )
        if name == "waits":
            continue
        fetch = await store.claim_fetch("f", 30)
        assert fetch is not None and fetch.job_id == made[name].id
        path = None if size is None else f"/w/{name}"
        await store.fetch_done(fetch.id, "f", path, size if size is not None else 7)
    small = await store.claim_job("r", 30, small=True)
    assert small is not None and small.id == made["small"].id
    assert await store.claim_job("r", 30, small=True) is None
    first = await store.claim_job("r", 30)
    assert first is not None and first.id == local.id


async def test_several_fetches_are_claimed_at_once_in_the_claims_order(store: Store) -> None:
    """A worker with room for several pooled fetches takes up to that many in one claim,
    highest priority first then oldest, of its schemes only, each held once."""
    http = await store.add_job(source="https://h/a.zip", name="a", dest="library:", fetch=True)
    tg = [
        await store.add_job(source=f"tg:c/1/{n}", name=f"t{n}", dest="library:", fetch=True)
        for n in range(5)
    ]
    urgent = await store.add_job(
        source="tg:c/1/9", name="u", dest="library:", fetch=True, priority=5
    )
    first = await store.claim_fetches("f", 30, 3, ("tg",))
    assert [f.job_id for f in first] == [urgent.id, tg[0].id, tg[1].id]
    rest = await store.claim_fetches("g", 30, 10, ("tg",))
    assert [f.job_id for f in rest] == [t.id for t in tg[2:]]
    assert await store.claim_fetches("f", 30, 4, ("tg",)) == []
    anyone = await store.claim_fetches("f", 30, 4)
    assert [f.job_id for f in anyone] == [http.id]


async def test_several_small_jobs_are_claimed_at_once_for_reading(store: Store) -> None:
    """The read of small inputs beside each other takes up to its room of them in one
    claim, in the queue's order; a job still fetched or not small is left."""
    made = []
    for n, size in enumerate([10, SMALL_INPUT + 1, 20, 30, None]):
        made.append(
            await store.add_job(source=f"https://h/{n}", name=f"j{n}", dest="library:", fetch=True)
        )
        if size is None:
            continue  # still fetched
        fetch = await store.claim_fetch("f", 30)
        assert fetch is not None
        await store.fetch_done(fetch.id, "f", f"/w/{n}", size)
    two = await store.claim_jobs("r", 30, 2, small=True)
    assert [j.id for j in two] == [made[0].id, made[2].id]
    assert all(j.state == JobState.READING and not j.resumed for j in two)
    assert [j.id for j in await store.claim_jobs("r", 30, 5, small=True)] == [made[3].id]
    assert await store.claim_jobs("r", 30, 5, small=True) == []
    big = await store.claim_job("r", 30)
    assert big is not None and big.id == made[1].id


async def test_idle_claims_of_conversions_and_watches_take_no_write(store: Store) -> None:
    """With no item deferred and no watch, the convert and watch stages' claims (made
    after every read's end, and at every poll) only read: they used to queue a write
    transaction on SQLite's one writer behind the busy stages' commits. With one
    deferred item or due watch, they still claim it."""
    sql_only(store, "counts the writer's transactions")
    if store.reader is store.engine:
        pytest.skip("SQLite's: PostgreSQL has no one writer to queue on")
    from sqlalchemy import event

    writes: list[object] = []

    def began(conn: object) -> None:
        writes.append(conn)

    job = await store.add_job(source="file:///in/a.zip", name="a", dest="library:")
    event.listen(store.engine.sync_engine, "begin", began)
    try:
        assert await store.claim_conversion("c", 30) is None
        assert await store.claim_watch("w", 30) is None
        assert writes == []
    finally:
        event.remove(store.engine.sync_engine, "begin", began)
    await store.add_watch(
        kind="telegram",
        source="telegram:-1001",
        dest="library:",
        every_seconds=60.0,
        since="all",
        next_check_at=0.0,
    )
    watch = await store.claim_watch("w", 30)
    assert watch is not None
    claimed = await store.claim_job("r", 30)
    assert claimed is not None and claimed.id == job.id


async def test_an_idle_notifiers_claim_takes_no_write(store: Store) -> None:
    """With no notice queued (an event row, made at a job's end, is not one), the
    notifier's claim (a round after every job's end) only reads on SQLite: it used to
    queue a write on the one writer behind the stages' commits. A queued notice is
    still claimed, once."""
    sql_only(store, "counts the writer's transactions")
    if store.reader is store.engine:
        pytest.skip("SQLite's: PostgreSQL has no one writer to queue on")
    from sqlalchemy import event

    writes: list[object] = []

    def began(conn: object) -> None:
        writes.append(conn)

    from ferryman.store.notices.sql import JOB_ENDED, event_in

    job = await store.add_job(source="file:///in/a.zip", name="a", dest="library:")
    async with store.engine.begin() as conn:
        await event_in(conn, JOB_ENDED, 0.0, job_id=job.id)
    assert len(await store.notice_events()) == 1
    event.listen(store.engine.sync_engine, "begin", began)
    try:
        assert await store.claim_notices("n", 30, 0.0) == []
        assert writes == []
    finally:
        event.remove(store.engine.sync_engine, "begin", began)
    made = await store.add_notices(JOB_ENDED, ["json://x"], {"job": job.id}, job_id=job.id)
    claimed = await store.claim_notices("n", 30, 0.0)
    assert [n.id for n in claimed] == made
    assert await store.claim_notices("n", 30, 0.0) == []


async def test_a_fetch_names_its_job_and_keeps_its_note_in_the_write_that_ends_it(
    store: Store,
) -> None:
    """The job's name after its input, the fetch's note and the fetch's end are one
    write: a fetch whose lease went elsewhere changes none of them (before, the name
    and the note were written first, each on its own, and stayed)."""
    job = await store.add_job(source="tg:c/1/2", name="c1-2", dest="library:", fetch=True)
    await store.add_job(source="tg:c/1/3", name="trip", dest="library:", fetch=True)
    fetch = await store.claim_fetch("f", 30)
    assert fetch is not None and fetch.job_id == job.id
    named, note = InputName("trip"), ("fetch.note", "as asked")
    with pytest.raises(FerrymanError) as lost:
        await store.fetch_done(fetch.id, "intruder", "/w/trip.jpg", 5, named=named, note=note)
    assert lost.value.code == "engine.lease_lost"
    assert (await store.get_job(job.id)).name == "c1-2"
    assert await store.source_memos(job.id) == {}
    found = await store.fetched(job.id)
    assert found is not None and found.state == "fetching"
    await store.fetch_done(fetch.id, "f", "/w/trip.jpg", 5, named=named, note=note)
    assert (await store.get_job(job.id)).name == "trip (2)"  # unique among the place's
    assert await store.source_memos(job.id) == {"fetch.note": "as asked"}
    found = await store.fetched(job.id)
    assert found is not None and found.state == "done"


async def test_a_job_to_be_chosen_is_held_paused_when_its_fetch_ends(store: Store) -> None:
    """A chat file whose entries are to be chosen (its ``job.choosing`` memo) is paused
    by the same write that ends its fetch; one without the memo goes on to the read."""
    held = await store.add_job(
        source="tg:u/1/2", name="a", dest="library:", fetch=True, memos={"job.choosing": ""}
    )
    free = await store.add_job(source="tg:u/1/3", name="b", dest="library:", fetch=True)
    for job, asked in ((held, True), (free, False)):
        fetch = await store.claim_fetch("f", 30)
        assert fetch is not None and fetch.job_id == job.id
        assert await store.fetch_done(fetch.id, "f", "/w/x", 1, hold="job.choosing") is asked
        after = await store.get_job(job.id)
        assert (after.paused, after.wait_reason) == (
            (True, "job.choosing") if asked else (False, None)
        )
    claimed = await store.claim_job("r", 30)
    assert claimed is not None and claimed.id == free.id  # the held one is not read
    assert await store.claim_job("r", 30) is None


async def test_a_fetch_retried_waits_and_one_failed_ends_its_job(store: Store) -> None:
    now = [1000.0]
    store.clock = lambda: now[0]
    job = await store.add_job(source="https://h/a.zip", name="a", dest="library:", fetch=True)
    fetch = await store.claim_fetch("f", 30)
    assert fetch is not None
    await store.fetch_retry(fetch.id, "f", FerrymanError("source.network", "no route"), 60)
    assert (await store.get_job(job.id)).wait_reason == "source.network"
    assert await store.claim_fetch("f", 30) is None  # not before its backoff
    now[0] += 61
    again = await store.claim_fetch("f", 30)
    assert again is not None and again.attempts == 1 and again.error_message == "no route"
    with pytest.raises(FerrymanError) as lost:
        await store.fetch_done(again.id, "intruder", None, None)
    assert lost.value.code == "engine.lease_lost"
    gone = FerrymanError("source.not_found", "404")
    assert await store.fetch_failed(again.id, "f", gone) == job.id
    ended = await store.get_job(job.id)
    assert (ended.state, ended.error_code) == (JobState.FAILED, "source.not_found")
    assert ended.summary is not None and ended.summary["error"]["code"] == "source.not_found"


async def test_a_paused_jobs_fetch_is_not_claimed(store: Store) -> None:
    job = await store.add_job(source="https://h/a", name="a", dest="library:", fetch=True)
    await store.set_paused(job.id, True)
    assert await store.claim_fetch("f", 30) is None
    await store.set_paused(job.id, False)
    assert await store.claim_fetch("f", 30) is not None


async def test_the_last_entries_recorded_end_the_read_in_their_transaction(store: Store) -> None:
    """``last``: the read ends with its last entries (one commit, not two): the job is
    active and read to its end, its lease given back, its last partial album sealed; the
    reader can write nothing more of it."""
    job = await store.add_job(source="/a", name="a", dest="library:")
    assert await store.claim_job("r", 30) is not None
    recorded = await store.record_entries(
        job.id, "r", 3, [_photo(n) for n in range(3)], 10, last=True
    )
    assert len(recorded.sealed) == 1  # three of ten: sealed, as the input ended
    ended = await store.get_job(job.id)
    assert (ended.state, ended.read_done, ended.cursor) == (JobState.ACTIVE, True, 3)
    with pytest.raises(FerrymanError) as lost:
        await store.record_entries(job.id, "r", 4, [_photo(3)])
    assert lost.value.code == "engine.lease_lost"


async def test_a_read_gives_way_to_a_job_further_behind(store: Store) -> None:
    ahead = await store.add_job(source="/a", name="a", dest="library:")
    assert await store.claim_job("r", 30) is not None
    await store.record_entries(ahead.id, "r", 5, [_photo(n) for n in range(5)])
    assert not await store.read_waits_behind(ahead.id)  # no one else to read
    behind = await store.add_job(source="/b", name="b", dest="library:")
    assert await store.read_waits_behind(ahead.id)  # b has read nothing yet
    await store.give_way(ahead.id, "r")
    first = await store.claim_job("r", 30)
    assert first is not None and first.id == behind.id  # the one furthest behind
    second = await store.claim_job("r", 30)
    assert second is not None and second.id == ahead.id and second.cursor == 5
    assert second.resumed


async def test_a_claim_tells_a_job_started_before_on_a_clock_standing_still(
    store: Store,
) -> None:
    """ "Resumed" is whether the job was claimed before in this run, not two clock
    readings compared: on a clock standing still a second claim read as a first start
    (a second ``JobStarted``)."""
    store.clock = lambda: 1_000.0
    job = await store.add_job(source="/a", name="a", dest="library:")
    first = await store.claim_job("r", 30)
    assert first is not None and first.id == job.id and not first.resumed
    await store.give_way(job.id, "r")
    again = await store.claim_job("r", 30)
    assert again is not None and again.id == job.id and again.resumed
    assert again.started_at == 1_000.0
    await store.release("r")
    after_a_stop = await store.claim_job("r2", 30)
    assert after_a_stop is not None and after_a_stop.resumed
    await store.cancel(job.id)
    retried = await store.retry(job.id)
    assert retried.started_at is None
    anew = await store.claim_job("r", 30)
    assert anew is not None and anew.id == job.id and not anew.resumed  # a new run starts


async def test_a_password_wait_sends_what_was_read_and_a_password_queues_it(store: Store) -> None:
    job = await store.add_job(source="/a.zip", name="a", dest="library:")
    await store.claim_job("r", 30)
    await store.record_entries(job.id, "r", 3, [_photo(n) for n in range(3)])
    error = FerrymanError("archive.password_required", "entry 4 is encrypted")
    sealed = await store.need_password(job.id, "r", error, album_size=10)
    assert len(sealed) == 1  # blocked: the partial album goes
    waiting = await store.get_job(job.id)
    assert (waiting.state, waiting.wait_reason) == (JobState.NEEDS_PASSWORD, error.code)
    album = await store.claim_album("d", 30)
    assert album is not None and [i.seq for i in album.items] == [0, 1, 2]
    again = await store.add_password(job.id, "secret")
    assert again.state is JobState.QUEUED and again.passwords == ("secret",)
    with pytest.raises(FerrymanError) as ended:
        await store.add_password(999, "x")
    assert ended.value.code == "job.not_found"


async def test_a_failed_album_splits_into_one_album_per_innocent_item(store: Store) -> None:
    job = await store.add_job(source="/a", name="a", dest="library:")
    await store.claim_job("r", 30)
    await store.record_entries(job.id, "r", 3, [_photo(n) for n in range(3)])
    await store.finish_expansion(job.id, "r", album_size=10)
    album = await store.claim_album("d", 30)
    assert album is not None and album.seq == 1
    faulty = album.items[1].id
    bug = FerrymanError("engine.internal", "the sink broke")
    made = await store.album_split(album.id, "d", bug, {faulty: (ItemState.FAILED, bug, None)})
    assert len(made) == 2
    seqs = []
    while (alone := await store.claim_album("d", 30)) is not None:
        seqs.append((alone.seq, [i.seq for i in alone.items]))
        await store.album_delivered(alone.id, "d", "ref")
    assert seqs == [(2, [0]), (3, [2])]
    assert await store.finish_jobs() == [job.id]
    done = await store.get_job(job.id)
    assert (done.state, done.error_code) == (JobState.DONE, "engine.internal")
    assert done.error_message == "1 failed, 2 delivered: the sink broke"


async def test_a_sinks_records_kept_with_an_albums_delivery_are_written_with_it(
    store: Store,
) -> None:
    """``album_delivered(keep=…)``: the sink's records of its last request are written in
    the album's record (its messages' ids, one commit for both), replacing those of the
    same keys; an album no longer held writes neither."""
    job = await store.add_job(source="/a", name="a", dest="telegram:me")
    await store.claim_job("r", 30)
    await store.record_entries(job.id, "r", 1, [_photo(0)])
    await store.finish_expansion(job.id, "r", album_size=1)
    state = store.sink_state("telegram")
    first = await store.claim_album("d", 30)
    assert first is not None
    await state.put(job.id, [SinkRecord("send:1", {"state": "pending"}, first.id)])
    sent = SinkRecord("send:1", {"state": "sent", "message_id": 7}, first.id)
    keep = SinkWrite("telegram", job.id, (sent, SinkRecord("caption:1", {"seq": 1}, first.id)))
    await store.album_delivered(first.id, "d", "telegram:me#7", keep=keep)
    assert await state.records(job.id) == sorted(keep.records, key=lambda r: r.key)
    assert (await store.job_items(job.id))[0].state is ItemState.DELIVERED
    late = SinkWrite("telegram", job.id, (SinkRecord("send:2", {"state": "sent"}, first.id),))
    with pytest.raises(LeaseLost):  # recorded already: no longer held
        await store.album_delivered(first.id, "d", "telegram:me#8", keep=late)
    assert [r.key for r in await state.records(job.id)] == ["caption:1", "send:1"]


async def test_a_full_destination_is_a_wait_shown_once_until_an_album_goes(store: Store) -> None:
    job = await store.add_job(source="/a", name="a", dest="library:")
    await store.claim_job("r", 30)
    await store.record_entries(job.id, "r", 2, [_photo(0), _photo(1)])
    await store.finish_expansion(job.id, "r", album_size=1)
    first = await store.claim_album("d", 30)
    assert first is not None
    full = FerrymanError("sink.space_low", "the destination is full")
    assert await store.album_waits_for_space(first.id, "d", job.id, full, 0)
    second = await store.claim_album("d", 30)
    assert second is not None
    assert not await store.album_waits_for_space(second.id, "d", job.id, full, 0)  # not new
    assert (await store.get_job(job.id)).wait_reason == "sink.space_low"
    assert not await store.end_space_wait(job.id, "sink.space_low")  # its albums still wait
    again = await store.claim_album("d", 30)
    assert again is not None and again.attempts == 0  # a wait is not an attempt
    await store.album_delivered(again.id, "d", "ref")
    last = await store.claim_album("d", 30)
    assert last is not None
    await store.album_delivered(last.id, "d", "ref")
    assert await store.end_space_wait(job.id, "sink.space_low")
    assert (await store.get_job(job.id)).wait_reason is None


async def test_a_conversion_records_its_parts_then_its_item_goes_in_an_album(store: Store) -> None:
    job = await store.add_job(source="/v", name="v", dest="library:")
    await store.claim_job("r", 30)
    video = NewItem(
        seq=0, source_path="v.mkv", kind=MediaKind.VIDEO, state=ItemState.CONVERT,
        plan=Plan.TRANSCODE, actions=("probed",),
    )  # fmt: skip
    await store.record_entries(job.id, "r", 1, [video])
    await store.finish_expansion(job.id, "r", album_size=10)
    item = await store.claim_conversion("c", 30)
    assert item is not None and item.state is ItemState.CONVERTING
    assert await store.renew(Claimed.ITEM, item.id, "c", 30)
    await store.part_done(item.id, "c", 0)
    await store.part_done(item.id, "c", 1)
    await store.part_done(item.id, "c", 1)  # redone: counted again
    assert await store.part_history(item.id) == {0: 1, 1: 2}
    await store.forget_parts(item.id, "c")
    assert await store.part_history(item.id) == {}
    fixed = NewItem(
        seq=0, source_path="v.mkv", kind=MediaKind.VIDEO, state=ItemState.READY,
        plan=Plan.TRANSCODE, work_path="/w/v.mp4", size=50, work_seconds=2.0,
    )  # fmt: skip
    await store.item_ready(item.id, "c", fixed, "transcoded")
    assert len(await store.seal_albums(job.id, 10)) == 1
    album = await store.claim_album("d", 30)
    assert album is not None
    (ready,) = album.items
    assert (ready.work_path, ready.size, ready.actions) == (
        "/w/v.mp4",
        50,
        ["probed", "transcoded"],
    )


async def test_an_input_of_no_media_ends_done_saying_nothing_was_delivered(store: Store) -> None:
    job = await store.add_job(source="/notes.zip", name="n", dest="library:")
    await store.claim_job("r", 30)
    text = NewItem(seq=0, source_path="a.txt", kind=MediaKind.OTHER, state=ItemState.SKIPPED,
                   reason="not media")  # fmt: skip
    await store.record_entries(job.id, "r", 1, [text])
    await store.finish_expansion(job.id, "r", album_size=10)
    assert await store.housekeeping_state() == (True, False)
    assert await store.finish_jobs() == [job.id]
    ended = await store.get_job(job.id)
    assert (ended.state, ended.error_code) == (JobState.DONE, "source.nothing_delivered")
    assert await store.finish_jobs() == []  # ended once
    assert await store.idle()


async def test_a_removed_job_is_gone_and_its_input_may_be_added_again(store: Store) -> None:
    job = await store.add_job(source="/a", name="a", dest="library:", dedupe_key="k")
    with pytest.raises(FerrymanError) as live:
        await store.remove_job(job.id)
    assert live.value.code == "job.not_ended"
    await store.cancel(job.id)
    removed = await store.remove_job(job.id)
    assert removed.id == job.id and await store.list_jobs() == []
    again = await store.add_job(source="/a", name="a", dest="library:", dedupe_key="k")
    assert again.id != job.id


async def test_what_follows_a_deliverys_record_runs_once_it_is_committed(
    store: Store, db_url: str
) -> None:
    """``album_delivered(then=…)``: ``then`` (the album's work files removed) runs once,
    after the record's commit (on SQLite another connection already sees the album
    delivered: in the same hop, right after the commit), and never when the record
    fails (a lease lost: the files stay for whoever delivers the album)."""
    job = await store.add_job(source="/a", name="a", dest="library:")
    assert await store.claim_job("r", 30) is not None
    await store.record_entries(job.id, "r", 10, [_photo(s) for s in range(10)], 10)
    album = await store.claim_album("d", 30)
    assert album is not None
    seen: list[str | None] = []

    def then() -> None:
        seen.append(_state_elsewhere(db_url, album.id))

    await store.album_delivered(album.id, "d", "ref", then=then)
    assert seen == ["delivered" if db_url.startswith("sqlite") else None]
    with pytest.raises(LeaseLost):
        await store.album_delivered(album.id, "d", "ref", then=lambda: seen.append("again"))
    assert len(seen) == 1


def _state_elsewhere(db_url: str, album_id: int) -> str | None:
    """The album's state as another connection sees it (SQLite only; else None)."""
    if not db_url.startswith("sqlite"):
        return None
    with contextlib.closing(sqlite3.connect(db_url.split("///", 1)[1])) as db:
        row = db.execute("SELECT state FROM albums WHERE id = ?", (album_id,)).fetchone()
    return str(row[0])


async def test_a_renewal_tells_a_lease_let_go_from_one_another_holds(store: Store) -> None:
    """A step's heartbeat: True while the claim is its own; False when another worker
    holds it (its lease ran out and was taken): a fault worth a warning; None when none
    does, a cancel having taken it back: asked for, no fault."""
    job = await store.add_job(source="https://h/a.zip", name="a", dest="library:", fetch=True)
    fetch = await store.claim_fetch("f", 30)
    assert fetch is not None
    assert await store.renew(Claimed.FETCH, fetch.id, "f", 30) is True
    assert await store.renew(Claimed.FETCH, fetch.id, "g", 30) is False  # f holds it
    await store.cancel(job.id)
    assert await store.renew(Claimed.FETCH, fetch.id, "f", 30) is None
