"""A job's live figures are its current run's: a download cancelled before a retry goes
on reporting until its heartbeat sees the cancel (half a second or more), and those
late reports of the earlier run never fill the retried job's card (it showed the old
run's 72 % and 50 kB/s). Each report names its run (``Job.run``, one more at each
retry); the page's tracker, the run's bars and the chat's status drop an earlier run's.
Driven by events, not by time: the old run reports when the test lets it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import cast

import pytest

from ferryman.config import Settings
from ferryman.engine.context import Context
from ferryman.engine.fetch import step as fetch_step
from ferryman.engine.ops.phases import Phases
from ferryman.engine.plumbing.events import EventBus, JobFetching, JobStarted
from ferryman.frontdoors.telegram.chat import Chat
from ferryman.frontdoors.telegram.render import Shown
from ferryman.frontdoors.telegram.status import StatusBoard
from ferryman.net.progress import DownloadProgress
from ferryman.sources.base import (
    Fetched,
    FetchPlan,
    ReadOptions,
    SourceEntry,
    SourceRegistry,
)
from ferryman.store.memory.store import MemoryStore
from ferryman.web.live import Tracker
from tests.support.fetch_source import SchemeFetchSource
from tests.support.telegram_helpers import SilentChat

TOTAL = 1_000_000


async def _no_files(_job: object) -> dict[str, object]:
    return {"files": [], "zip": {}}


def _tracker(store: MemoryStore) -> Tracker:
    return Tracker(store, lambda _view: None, _no_files, str, stuck_after=60)


def _report(done: int, speed: float) -> DownloadProgress:
    eta = (TOTAL - done) / speed if speed else None
    return DownloadProgress(done, TOTAL, speed, eta, restarts=0)


def _fetching(job_id: int, run: int, done: int, speed: float) -> JobFetching:
    report = _report(done, speed)
    return JobFetching(
        job_id,
        run=run,
        done=report.done,
        total=report.total,
        speed=report.speed,
        eta=report.eta,
        fraction=report.share,
    )


class _Held(SchemeFetchSource):
    """A fetch-first source whose download reports when the test says: once as it
    starts, then once more after ``late`` is set (as a cancelled download does before
    its heartbeat stops it)."""

    schemes: tuple[str, ...] = ("held",)
    description = "held"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.late = asyncio.Event()

    def open(self, uri: str, options: ReadOptions) -> AbstractContextManager[Iterator[SourceEntry]]:
        raise AssertionError("never read")

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        assert plan.on_progress is not None
        plan.on_progress(_report(720_000, 50_000.0))
        self.started.set()
        await self.late.wait()
        plan.on_progress(_report(750_000, 50_000.0))
        return Fetched(None, TOTAL, "slow.mp4")


async def test_a_cancelled_downloads_late_report_never_shows_on_the_retried_job(
    settings: Settings,
) -> None:
    """The browser test's race at its cause: the old run's fetch step reports after the
    retry; the retried job's view stays the new run's (queued, no speed, its own bar)."""
    store, held = MemoryStore(), _Held()
    ctx = Context(
        store=store,
        bus=EventBus(),
        base_settings=settings,
        owner="n1",
        sources=SourceRegistry((held,)),
    )
    tracker = _tracker(store)
    ctx.bus.subscribe(tracker.on_event)
    heard: list[JobFetching] = []
    ctx.bus.subscribe(lambda e: heard.append(e) if isinstance(e, JobFetching) else None)
    job = await store.add_job(source="held:slow", name="slow", dest="library:", fetch=True)
    claimed = await ctx.fetch_store.claim_fetch(ctx.owner, 30)
    assert claimed is not None
    old_run = asyncio.create_task(fetch_step.fetch(ctx, claimed))
    await held.started.wait()
    going = await tracker.view(job.id)
    await store.cancel(job.id)  # as the API does: the store, then the tracker
    tracker.touch(job.id)
    tracker.restarted(await store.retry(job.id))
    held.late.set()  # the old run reports once more before its heartbeat stops it
    await old_run
    retried = await tracker.view(job.id)
    assert going["progress"]["speed"] == 50_000.0
    assert going["progress"]["fraction"] == pytest.approx(0.9 * 0.72, abs=1e-4)
    assert (retried["status"], retried["phase"]) == ("queued", "queued")
    assert retried["progress"] == {
        "fraction": 0.0,
        "bytes": None,
        "total": None,
        "speed": None,
        "speed_unit": None,
        "eta_s": None,
    }
    assert [e.run for e in heard] == [0, 0, 0]  # its first report, then the source's two
    assert heard[-1].speed == 50_000.0  # the late report did come


async def test_the_new_runs_reports_show_and_the_old_runs_stay_out() -> None:
    """After the retry the new run's reports show (its run named), and an old report
    arriving between two of them changes nothing."""
    store = MemoryStore()
    tracker = _tracker(store)
    job = await store.add_job(source="held:slow", name="slow", dest="library:", fetch=True)
    tracker.on_event(_fetching(job.id, 0, 720_000, 50_000.0))
    await store.cancel(job.id)
    tracker.restarted(await store.retry(job.id))
    tracker.on_event(_fetching(job.id, 1, 100_000, 80_000.0))
    first = await tracker.view(job.id)
    tracker.on_event(_fetching(job.id, 0, 760_000, 50_000.0))  # the old run, late
    second = await tracker.view(job.id)
    assert first["phase"] == "downloading" and first["progress"]["speed"] == 80_000.0
    assert first["progress"]["fraction"] == pytest.approx(0.9 * 0.1, abs=1e-4)
    assert second == first


async def test_a_new_run_heard_before_the_retry_answers_keeps_its_first_report() -> None:
    """The engine may claim the retried job before the retry's answer is made: the new
    run's first report (resumed from the partial download) is its own, not wiped."""
    store = MemoryStore()
    tracker = _tracker(store)
    job = await store.add_job(source="held:slow", name="slow", dest="library:", fetch=True)
    tracker.on_event(_fetching(job.id, 0, 720_000, 50_000.0))
    await store.cancel(job.id)
    retried = await store.retry(job.id)
    tracker.on_event(_fetching(job.id, 1, 730_000, 0.0))  # the new run, at once
    tracker.restarted(retried)
    tracker.on_event(_fetching(job.id, 0, 740_000, 50_000.0))  # the old run, late
    view = await tracker.view(job.id)
    assert view["phase"] == "downloading"
    assert (view["progress"]["bytes"], view["progress"]["speed"]) == (730_000, None)


async def test_a_retry_made_by_another_process_starts_the_views_new_run() -> None:
    """A retry the tracker was not told of (``ferryman retry``, another node's page): the
    store's row names the new run, so the old run's figures go and its late reports too."""
    store = MemoryStore()
    tracker = _tracker(store)
    job = await store.add_job(source="held:slow", name="slow", dest="library:", fetch=True)
    tracker.on_event(_fetching(job.id, 0, 720_000, 50_000.0))
    before = await tracker.view(job.id)
    await store.cancel(job.id)  # elsewhere: this tracker hears of neither
    await store.retry(job.id)
    tracker.touch(job.id)  # its next look at the store (a poll) finds the job changed
    retried = await tracker.view(job.id)
    tracker.on_event(_fetching(job.id, 0, 760_000, 50_000.0))  # the old run, late
    late = await tracker.view(job.id)
    tracker.on_event(JobStarted(job.id, source="held:slow"))  # untold run: taken as it is
    assert before["progress"]["speed"] == 50_000.0
    assert (retried["phase"], retried["progress"]["speed"]) == ("queued", None)
    assert retried["progress"]["fraction"] == 0.0
    assert late == retried
    assert (await tracker.view(job.id))["phase"] == "reading"


def test_the_cli_and_the_chat_keep_the_current_runs_figures() -> None:
    """The run's bars and the chat's status (``Phases``) drop an earlier run's reports
    once they know of the next run: from its own reports, or from the store's row."""
    phases = Phases()
    phases.on_event(_fetching(7, 0, 720_000, 50_000.0))
    phases.on_event(_fetching(7, 1, 100_000, 80_000.0))  # the retry's run reports
    late = _fetching(7, 0, 760_000, 50_000.0)
    assert phases.late(late)
    after = phases.on_event(late)
    assert after is not None and after.speed == 80_000.0
    other = Phases()
    other.on_event(_fetching(7, 0, 720_000, 50_000.0))
    other.run_is(7, 1)  # the store says: retried (nothing of the new run heard yet)
    assert other.get(7) is None and other.late(late)
    other.run_is(7, 1)  # told again: what the new run reported stays
    other.on_event(_fetching(7, 1, 100_000, 80_000.0))
    other.run_is(7, 1)
    figures = other.get(7)
    assert figures is not None and figures.speed == 80_000.0
    assert not other.late(JobStarted(7, source="x"))  # a report naming no run is never late


async def test_the_chat_status_drops_the_old_runs_download() -> None:
    """The job's status message after a retry says queued, not the cancelled run's
    "downloading 76% (50 kB/s)", whether the late report came before the board read
    the retried row or after."""
    store = MemoryStore()
    board = StatusBoard(store, cast(Chat, SilentChat()), every=0.0)
    job = await store.add_job(source="held:slow", name="slow", dest="library:", fetch=True)
    message = await board.open(42, None, Shown(0, "queued", "queued"))
    await board.attach(message, job.id)
    board.on_event(_fetching(job.id, 0, 720_000, 50_000.0))
    await board._compute({job.id})
    going = message.wanted
    await store.cancel(job.id)
    await store.retry(job.id)
    board.touch(job.id)  # as /retry does
    board.on_event(_fetching(job.id, 0, 760_000, 50_000.0))  # late, before the read
    await board._compute({job.id})
    retried = message.wanted
    board.on_event(_fetching(job.id, 0, 770_000, 50_000.0))  # late, after it
    await board._compute({job.id})
    assert going is not None and going.text.startswith("job 1 slow: downloading 72% (50 kB/s")
    assert retried is not None and retried.text == "job 1 slow: queued"
    assert message.wanted == retried
