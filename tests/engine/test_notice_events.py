"""A notice's event is written in the transaction of the change it tells of (SQLite,
PostgreSQL and the memory store: ``tests/support/contract``): each store call that ends
a job, makes it wait on the person, or records a watch's check leaves its event row with
no notifier running; a change refused (its lease lost) leaves none; an event left by a
process that died before preparing it is made into its notice once, by the next engine.
The outbox the notifier asks of (``ports.NoticeStore``) keeps the same contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferryman.config import Settings
from ferryman.engine.notify import Notifier
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, MediaKind, Plan
from ferryman.store import Store
from ferryman.store.shared.rows import LeaseLost
from ferryman.store.store import NewItem
from ferryman.store.watches.sql import WatchJob
from tests.engine.test_notify import receiving, run_until, signed_right, with_notify
from tests.support.contract import db_url, store

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory


async def _events(store: Store) -> list[tuple[str, int | None, int | None, dict[str, Any]]]:
    found = await store.notice_events()
    return [(e.kind, e.job_id, e.watch_id, e.payload) for e in found]


async def _expanded(store: Store, name: str, items: int = 1) -> int:
    job = await store.add_job(source=f"/{name}.zip", name=name, dest="library:")
    claimed = await store.claim_job("reader", 30)
    assert claimed is not None and claimed.id == job.id
    for seq in range(items):
        photo = NewItem(
            seq=seq,
            source_path=f"p{seq}.jpg",
            kind=MediaKind.PHOTO,
            state=ItemState.READY,
            size=10,
            plan=Plan.AS_IS,
        )
        await store.record_entry(job.id, "reader", seq + 1, photo)
    await store.finish_expansion(job.id, "reader")
    await store.seal_albums(job.id, 10)
    return job.id


async def test_a_job_that_ends_leaves_its_event_with_the_end(store: Store) -> None:
    job_id = await _expanded(store, "trip", items=2)
    assert await _events(store) == []
    while (album := await store.claim_album("d", 30)) is not None:
        await store.album_delivered(album.id, "d", "ref")
    assert await _events(store) == []  # delivered, not ended yet
    assert await store.finish_jobs() == [job_id]
    ((kind, job, watch, facts),) = await _events(store)
    assert (kind, job, watch, facts["status"]) == ("job_ended", job_id, None, "done")
    assert await store.list_notices() == []  # an event, not yet a notice


async def test_a_failed_input_a_failed_fetch_and_a_password_wait_leave_events(
    store: Store,
) -> None:
    broken = await store.add_job(source="/broken.zip", name="broken", dest="library:")
    assert (claimed := await store.claim_job("r", 30)) is not None and claimed.id == broken.id
    await store.fail_job(broken.id, FerrymanError("archive.unreadable", "not a zip"), "r")
    locked = await store.add_job(source="/locked.zip", name="locked", dest="library:")
    assert (claimed := await store.claim_job("r", 30)) is not None and claimed.id == locked.id
    error = FerrymanError("archive.password_required", "entry 2 is encrypted")
    await store.need_password(locked.id, "r", error)
    far = await store.add_job(source="https://h/a.zip", name="far", dest="library:", fetch=True)
    fetch = await store.claim_fetch("f", 30)
    assert fetch is not None and fetch.job_id == far.id
    await store.fetch_retry(fetch.id, "f", FerrymanError("source.io", "reset"), 0.0)
    with pytest.raises(LeaseLost):  # handed back already: a late write tells of nothing
        await store.fetch_retry(fetch.id, "f", FerrymanError("space.low", "no room"), 0.0)
    again = await store.claim_fetch("f", 30)
    assert again is not None
    await store.fetch_retry(again.id, "f", FerrymanError("space.low", "no room"), 0.0)
    last = await store.claim_fetch("f", 30)
    assert last is not None
    await store.fetch_failed(last.id, "f", FerrymanError("source.not_found", "404"))
    assert [(k, j, f.get("status") or f.get("reason")) for k, j, _, f in await _events(store)] == [
        ("job_ended", broken.id, "failed"),
        ("job_waiting", locked.id, "archive.password_required"),
        ("job_waiting", far.id, "space.low"),  # a network error is no wait on the person
        ("job_ended", far.id, "failed"),
    ]


async def test_a_space_wait_leaves_an_event_and_a_backlog_wait_none(store: Store) -> None:
    job = await store.add_job(source="/big.zip", name="big", dest="library:")
    assert await store.claim_job("r", 30) is not None
    await store.set_wait(job.id, "r", "backlog", blocked=True)
    await store.set_wait(job.id, "someone else", "space.low", blocked=True)  # not its holder
    assert await _events(store) == []
    await store.set_wait(job.id, "r", "space.low", blocked=True)
    assert [(k, f["reason"]) for k, _, _, f in await _events(store)] == [
        ("job_waiting", "space.low")
    ]


def _new_job(link: str) -> dict[str, Any]:
    return {
        "fetch": True,
        "source": link,
        "name": link.rpartition("/")[2],
        "dest": "library:",
        "priority": 0,
        "password": None,
        "dedupe_key": link,
        "error": None,
    }


async def test_a_watch_check_leaves_one_event_and_a_late_one_none(store: Store) -> None:
    watch = await store.add_watch(
        kind="feed",
        source="https://h/feed.xml",
        dest="library:",
        every_seconds=60.0,
        since="all",
        next_check_at=0.0,
    )
    assert await store.claim_watch("a", 30) is not None
    entries = [
        WatchJob("e1", "One", _new_job("https://h/1.zip")),
        WatchJob("e2", "Two", _new_job("https://h/2.zip")),
        WatchJob("e3", "Three", None),  # marked seen only: not told of
    ]
    made = await store.watch_checked(watch.id, "a", entries, 0.0)
    jobs = [job.id for _, job in made.jobs if job is not None]
    ((kind, job, watch_id, facts),) = await _events(store)
    assert (kind, job, watch_id) == ("watch_found", None, watch.id)
    assert jobs[0] == jobs[1]  # one check's entries: one job, told once
    assert (facts["jobs"], facts["titles"]) == (jobs[:1], ["One", "Two"])
    # A checker that lost its lease writes nothing: no jobs, and no event either.
    with pytest.raises(LeaseLost):
        await store.watch_checked(watch.id, "a", [WatchJob("e4", "Four", None)], 0.0)
    assert len(await _events(store)) == 1
    # Failing: said once, when a watch that was fine fails, not at every retry.
    for _ in range(3):
        assert await store.claim_watch("a", 30) is not None
        await store.watch_failed(watch.id, "a", FerrymanError("source.io", "down"), 0.0)
    failing = [f for k, _, _, f in await _events(store) if k == "watch_failing"]
    assert [(f["code"], f["message"]) for f in failing] == [("source.io", "down")]


async def test_a_lost_lease_ends_nothing_and_tells_of_nothing(store: Store) -> None:
    job = await store.add_job(source="/x.zip", name="x", dest="library:")
    assert await store.claim_job("r", 30) is not None
    with pytest.raises(LeaseLost):
        await store.fail_job(job.id, FerrymanError("archive.unreadable", "bad"), "not-r")
    with pytest.raises(LeaseLost):
        await store.need_password(job.id, "not-r", FerrymanError("archive.password_required", "x"))
    assert await _events(store) == []
    assert (await store.get_job(job.id)).state.value == "reading"


async def test_an_event_whose_writer_died_is_sent_once_by_the_next_engine(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The job ended in a process that died before any notifier saw it: the event row
    is in the store, and the next engine makes it into one signed notice."""
    job_id = await _expanded(store, "late")
    while (album := await store.claim_album("d", 30)) is not None:
        await store.album_delivered(album.id, "d", "ref")
    assert await store.finish_jobs() == [job_id]  # ... and the process died here
    with receiving() as hook:
        settings = with_notify(settings, urls=[f"ferryman://127.0.0.1:{hook.port}/late"])
        await run_until(Engine(store, settings), "the late notice", lambda: hook.got)
        ((_, headers, body),) = hook.got
    assert signed_right(headers, body)
    assert headers["X-Ferryman-Event"] == "job_done"
    (notice,) = await store.list_notices()
    assert headers["X-Ferryman-Notice"] == str(notice.id)
    assert (notice.job_id, notice.state) == (job_id, "sent")
    assert await _events(store) == []


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_events_that_make_no_notice_go_together_in_one_write(
    store: Store, settings: Settings
) -> None:
    """Jobs ended with no notice target (the usual run): the notifier drops their
    event rows together (``drop_events``: one commit), not one ``prepare_event`` each;
    a row another notifier took first is left alone."""
    for name in ("a", "b", "c"):
        await _expanded(store, name)
        while (album := await store.claim_album("d", 30)) is not None:
            await store.album_delivered(album.id, "d", "ref")
    assert len(await store.finish_jobs()) == 3
    events = [e.id for e in await store.notice_events()]
    calls: list[str] = []
    for name in ("prepare_event", "drop_events"):
        real = getattr(store, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        setattr(store, name, counted)
    engine = Engine(store, settings)
    assert await Notifier(engine.ctx).prepare_events() == 3
    assert calls == ["drop_events"] and await store.notice_events() == []
    assert await store.drop_events(events) == 0  # gone already: nothing touched


async def test_the_outbox_prepares_an_event_once_and_claims_a_digest_with_a_lease(
    store: Store,
) -> None:
    """What the notifier asks of the store (``ports.NoticeStore``): an event becomes its
    notices once; a job's end claims the others to its URL within the digest's window;
    a failed delivery is due again after its wait, then given up; a sent one is
    forgotten after a while; a stop makes the digest's waiting ends due now."""
    store.clock = clock = _Clock()
    ended = await store.add_job(source="/a.zip", name="a", dest="library:")
    assert await store.claim_job("r", 30) is not None
    await store.fail_job(ended.id, FerrymanError("archive.unreadable", "not a zip"), "r")
    (event,) = await store.notice_events()
    made = await store.prepare_event(event.id, "job_failed", ["ferryman://h/1"], {"n": 1},
                                     digest=True, delay=30.0)  # fmt: skip
    assert made is not None and len(made) == 1
    assert await store.prepare_event(event.id, "job_failed", ["ferryman://h/1"], {}) is None
    assert await store.notice_events() == []
    other = await store.add_notices("job_done", ["ferryman://h/1"], {}, digest=True, delay=50)
    alone = await store.add_notices("job_done", ["ferryman://h/2"], {}, digest=True, delay=50)
    assert await store.claim_notices("n", 30, 60.0) == []  # none due yet
    clock.now += 30
    claimed = await store.claim_notices("n", 30, 60.0)
    assert [n.id for n in claimed] == [*made, *other]  # the same URL's, within the window
    assert (claimed[0].payload, claimed[0].job_id, claimed[0].state) == ({"n": 1}, ended.id,
                                                                           "sending")  # fmt: skip
    await store.notices_failed([n.id for n in claimed], "someone else", "x", 0.0, give_up=True)
    assert await store.claim_notices("m", 30, 0.0) == []  # still held: not theirs to settle
    await store.notices_failed(made, "n", "refused", 10.0, give_up=False)
    await store.notices_failed(other, "n", "refused", 10.0, give_up=True)
    clock.now += 10
    assert await store.notices_due_now(100.0) == 1  # the untried one to h/2
    retried = await store.claim_notices("n", 30, 0.0)
    assert [(n.id, n.attempts, n.error_message) for n in retried] == [(made[0], 1, "refused")]
    await store.notices_sent(made, "n")
    (last,) = await store.claim_notices("n", 30, 0.0)
    assert last.id == alone[0]
    await store.notices_sent(alone, "n")
    states = {n.id: n.state for n in await store.list_notices()}
    assert states == {made[0]: "sent", other[0]: "failed", alone[0]: "sent"}
    assert [n.id for n in await store.list_notices("failed")] == other
    clock.now += 5
    assert await store.forget_sent_notices(clock.now - 1) == 2
    assert [n.id for n in await store.list_notices()] == other
