"""Honest live figures: each phase (downloading, converting, delivering) with its own
speed and time left or none, never a stale one from the phase before, and a bar that
only rises, also across a server restart (issue 35, point 9)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from ferryman.clock import SYSTEM, Clock
from ferryman.config import load_settings
from ferryman.engine.ops import intake
from ferryman.engine.ops.phases import BYTES, REALTIME, Phases, figures_of
from ferryman.engine.plumbing.events import (
    AlbumDelivered,
    AlbumSending,
    Event,
    ItemConverting,
    ItemProgress,
    JobFetched,
    JobFetching,
    JobWaiting,
)
from ferryman.engine.runner import Engine
from ferryman.media.progress import Pace
from ferryman.store import Store
from ferryman.web.kept_progress import SHOWN_MEMO
from ferryman.web.live import Tracker
from tests.media.test_media_probe_plan import write_video
from tests.support.clock import ManualClock
from tests.support.contract import memory_store
from tests.support.once import built_once
from tests.support.waiting import eventually

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


async def _no_files(_job: object) -> dict[str, object]:
    return {"files": [], "zip": {}}


def _tracker(
    store: Store, sent: list[dict[str, Any]] | None = None, clock: Clock = SYSTEM
) -> Tracker:
    return Tracker(store, (sent or []).append, _no_files, str, stuck_after=60, clock=clock)


def test_a_new_phase_drops_the_last_ones_speed_and_time_left() -> None:
    phases = Phases()
    downloading = phases.on_event(
        JobFetching(1, done=86, total=100, speed=9.2e6, eta=0.0, fraction=0.86)
    )
    converting = phases.on_event(ItemConverting(1, 5, path="clip.mkv"))
    measured = phases.on_event(
        ItemProgress(1, 5, stage="convert", fraction=0.4, speed=2.5, eta=12.0)
    )
    delivering = phases.on_event(AlbumDelivered(1, album=1, items=3, ref="x"))
    sending = phases.on_event(
        AlbumSending(1, album=2, done=3_000_000, total=6_000_000, speed=1.5e6, eta=2.0)
    )
    waiting = phases.on_event(JobWaiting(1, reason="source.network"))
    assert downloading is not None and downloading.line() == "downloading (9.2 MB/s, 0 s left)"
    assert converting is not None and converting.line() == "converting"  # nothing known yet
    assert (converting.speed, converting.eta) == (None, None)
    assert measured is not None and measured.unit == REALTIME
    assert measured.line() == "converting (2.5× real time, 12 s left)"
    assert delivering is not None and (delivering.phase, delivering.speed) == ("delivering", None)
    assert sending is not None and sending.unit == BYTES and sending.fraction == 0.5
    assert sending.line() == "delivering (1.5 MB/s, 2 s left)"
    assert waiting is not None and waiting.line() == "waiting"


def test_a_link_converters_making_has_its_own_figures_and_its_share_never_falls() -> None:
    first = figures_of(JobFetching(1, done=5, total=10, speed=9e6, eta=3.0, fraction=0.5))
    retried = figures_of(JobFetching(1, done=0, total=None, speed=0, eta=None, fraction=0.2), first)
    making = figures_of(
        JobFetching(1, done=10, total=10, speed=3.0, eta=4.0, fraction=0.9, phase="converting"),
        retried,
    )
    assert retried is not None and retried.fraction == 0.5  # not back to 20 %
    assert retried.speed is None  # no speed yet: none, not the last one's
    assert making is not None and making.line() == "converting (3.0× real time, 4 s left)"


def test_a_conversions_pace_is_media_seconds_a_second_from_where_it_resumed() -> None:
    pace = Pace(duration=60.0)
    assert pace.at(0.5, 100.0) == (None, None)  # one report: no rate yet
    speed, eta = pace.at(0.6, 102.0)  # 6 s of media in 2 s
    assert speed == pytest.approx(3.0) and eta == pytest.approx(8.0)
    unknown = Pace(duration=None)
    unknown.at(0.1, 0.0)
    assert unknown.at(0.2, 1.0) == (None, pytest.approx(8.0))  # time left, no speed


async def test_the_tracker_shows_each_phase_with_its_own_figures_and_only_rises(
    tmp_path: Path,
) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        job = await store.add_job(source="http://h/a.mkv", name="a", dest="library:", fetch=True)
        tracker = _tracker(store)
        tracker.on_event(
            JobFetching(job.id, done=86, total=100, speed=9.2e6, eta=0.0, fraction=0.86)
        )
        fetching = await tracker.view(job.id)
        tracker.on_event(ItemConverting(job.id, 1, path="a.mkv"))
        started = await tracker.view(job.id)
        tracker.on_event(ItemProgress(job.id, 1, stage="convert", fraction=0.5, speed=2.0, eta=7.0))
        converting = await tracker.view(job.id)
        tracker.on_event(
            AlbumSending(job.id, album=1, done=1_000, total=4_000, speed=2e6, eta=0.0015)
        )
        delivering = await tracker.view(job.id)
        # A late report of a fetch retried from nothing: the bar does not go back.
        tracker.on_event(JobFetching(job.id, done=0, total=100, speed=0, eta=None, fraction=0.1))
        retried = await tracker.view(job.id)
    finally:
        await store.close()
    assert fetching["phase"] == "downloading" and fetching["progress"]["speed"] == 9.2e6
    assert (started["phase"], started["progress"]["speed"], started["progress"]["eta_s"]) == (
        "converting",
        None,
        None,
    )
    progress = converting["progress"]
    assert (converting["phase"], progress["speed"], progress["speed_unit"]) == (
        "converting",
        2.0,
        "x",
    )
    assert progress["eta_s"] == 7.0
    sending = delivering["progress"]
    assert (delivering["phase"], sending["speed"], sending["speed_unit"]) == (
        "delivering",
        2e6,
        "B/s",
    )
    assert (sending["bytes"], sending["total"]) == (1_000, 4_000)
    fractions = [
        v["progress"]["fraction"] for v in (fetching, started, converting, delivering, retried)
    ]
    assert fractions == sorted(fractions) and fractions[0] == pytest.approx(0.9 * 0.86, abs=1e-3)
    assert retried["progress"]["speed"] is None


async def test_a_cancelled_jobs_bar_does_not_drop_when_the_server_starts_again(
    tmp_path: Path,
) -> None:
    """The issue's case: a link cancelled at 3 % of its download, nothing of it in the
    store's counts; the next server's tracker starts it at 3 %, not 0 %."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    store = await Store.open(url)
    try:
        job = await store.add_job(source="http://h/a.zip", name="a", dest="library:", fetch=True)
        first = _tracker(store)
        first.on_event(JobFetching(job.id, done=33, total=1000, speed=1e6, eta=9.0, fraction=0.033))
        before = await first.view(job.id)
        await store.cancel(job.id)
        first.touch(job.id)
        cancelled = await first.view(job.id)
        await first.close()  # the server stops
        memo = (await store.source_memos(job.id)).get(SHOWN_MEMO)
    finally:
        await store.close()
    store = await Store.open(url)
    try:
        second = _tracker(store)
        after = await second.view(job.id)
        listed = {v["id"]: v for v in await _tracker(store).views()}
    finally:
        await store.close()
    assert before["progress"]["fraction"] == pytest.approx(0.9 * 0.033, abs=1e-4)
    assert cancelled["status"] == "cancelled"
    assert cancelled["progress"]["fraction"] == before["progress"]["fraction"]
    assert memo is not None and float(memo) == before["progress"]["fraction"]
    assert after["progress"]["fraction"] == before["progress"]["fraction"]
    assert listed[job.id]["progress"]["fraction"] == before["progress"]["fraction"]
    assert after["progress"]["speed"] is None and after["phase"] == "cancelled"


async def test_a_downloaded_jobs_bar_counts_its_download_after_a_restart(
    tmp_path: Path,
) -> None:
    """A link downloaded whole spends 90 % of its bar on the download: a restarted
    server, which saw no event of it, still counts the download as done (the store's
    fetch row says so) instead of showing its items' share alone, and writes no floor
    for what the store's counts give anyway."""
    from ferryman.model import ItemState, MediaKind, Plan
    from ferryman.store.store import NewItem

    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        job = await store.add_job(source="http://h/a.zip", name="a", dest="link:", fetch=True)
        fetch = await store.claim_fetch("fetcher", 30)
        assert fetch is not None
        await store.fetch_done(fetch.id, "fetcher", str(tmp_path / "a.zip"), 100)
        assert await store.claim_job("reader", 30) is not None
        for seq in range(4):
            state = ItemState.SKIPPED if seq == 0 else ItemState.READY
            new = NewItem(
                seq=seq, source_path=f"p{seq}.jpg", kind=MediaKind.PHOTO, state=state,
                size=100, plan=Plan.AS_IS,
            )  # fmt: skip
            await store.record_entry(job.id, "reader", seq + 1, new)
        await store.finish_expansion(job.id, "reader")
        first = _tracker(store)
        first.on_event(JobFetched(job.id, size=100, name="a.zip", note=None, in_place=False))
        before = await first.view(job.id)
        await first.close()
        restarted = {v["id"]: v for v in await _tracker(store).views()}
        memos = await store.source_memos(job.id)
    finally:
        await store.close()
    assert before["progress"]["fraction"] == pytest.approx(0.9 + 0.1 * 0.25)
    assert restarted[job.id]["progress"]["fraction"] == before["progress"]["fraction"]
    assert SHOWN_MEMO not in memos  # the store's own figures give it back


async def test_a_moving_jobs_bar_is_saved_while_it_moves_and_at_the_stop(tmp_path: Path) -> None:
    """The tracker's loop keeps the bar in the store at most every second while the job
    runs; what rose after the last save is saved when the server stops."""
    clock = ManualClock()
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", clock=clock.now)
    try:
        job = await store.add_job(source="http://h/a.zip", name="a", dest="library:", fetch=True)
        tracker = _tracker(store, clock=clock)
        loop = asyncio.create_task(tracker.run(None))
        tracker.on_event(JobFetching(job.id, done=10, total=100, speed=1e6, eta=9.0, fraction=0.1))

        async def first_saved() -> bool:  # the first rise is saved at once (none yet)
            return SHOWN_MEMO in await store.source_memos(job.id)

        await eventually(first_saved, "the first rise saved")
        saved = float((await store.source_memos(job.id))[SHOWN_MEMO])
        tracker.on_event(JobFetching(job.id, done=20, total=100, speed=1e6, eta=8.0, fraction=0.2))
        await clock.advance(0.3)  # sent, not yet saved: within the second
        assert float((await store.source_memos(job.id))[SHOWN_MEMO]) == saved
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await tracker.close()
        stopped = float((await store.source_memos(job.id))[SHOWN_MEMO])
    finally:
        await store.close()
    assert saved == pytest.approx(0.09)
    assert stopped == pytest.approx(0.18)


# ------------------------------------------------------------ a real conversion


def _hevc(folder: Path) -> Path:
    return write_video(
        folder / "clip.mkv",
        vcodec="libx265",
        size=(640, 360),
        seconds=8.0,
        video_options={"x265-params": "log-level=error", "preset": "ultrafast"},
    )


@pytest.mark.slow
async def test_a_real_conversion_reports_converting_with_its_speed_then_delivering(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An HEVC clip (PyAV-made) is transcoded in the engine's child process: the job is
    ``converting`` with its own speed (media seconds a second) and time left from the
    encoder's position, then ``delivering`` its album with the bytes that went."""
    clip = built_once(tmp_path_factory, "phases-hevc-8s", _hevc)
    settings = load_settings(
        None,
        {"data_dir": tmp_path / "data", "poll_seconds": 0.05, "space_floor": 0},
    )
    store = await Store.open(settings.database)
    seen: list[Event] = []
    try:
        job = await intake.add_source(store, clip)
        engine = Engine(store, settings)
        phases = Phases()
        lines: list[tuple[str, float | None, str]] = []

        def heard(event: Event) -> None:
            seen.append(event)
            figures = phases.on_event(event)
            if figures is not None and event.job_id == job.id:
                lines.append((figures.phase, figures.speed, figures.unit))

        engine.bus.subscribe(heard)
        await asyncio.wait_for(engine.run(until_idle=True), 120)
        state = (await store.get_job(job.id)).state.value
    finally:
        await store.close()
    assert state == "done"
    measured = [e for e in seen if isinstance(e, ItemProgress) and e.speed is not None]
    assert measured, "no conversion report carried a speed"
    assert all(e.speed is not None and e.speed > 0 for e in measured)
    assert any(e.eta is not None and e.eta > 0 for e in measured)
    assert measured[-1].fraction >= measured[0].fraction
    sends = [e for e in seen if isinstance(e, AlbumSending)]
    assert sends and sends[-1].done == sends[-1].total > 0
    assert sends[-1].eta is None  # an album sent says no "0 s left" for the whole job
    last_convert = max(i for i, e in enumerate(seen) if isinstance(e, ItemProgress))
    first_send = min(i for i, e in enumerate(seen) if isinstance(e, AlbumSending))
    assert last_convert < first_send  # the album goes once its video is made
    phase_order = [p for p, _, _ in lines]
    converting = [(s, u) for p, s, u in lines if p == "converting" and s is not None]
    assert converting and all(u == REALTIME for _, u in converting)
    last_converting = max(i for i, p in enumerate(phase_order) if p == "converting")
    assert "delivering" in phase_order[last_converting:]


def test_the_cli_and_the_chat_say_the_same_phase_figures_as_the_page() -> None:
    """One place (``engine.ops.phases``) words a phase for every front door: the run's
    plain lines, the chat's status message and the page's server-drawn card."""
    from ferryman.frontdoors.progress import plain_line
    from ferryman.frontdoors.telegram.render import fetching_shown, job_shown
    from ferryman.model import Job, JobState
    from ferryman.web.page import detail_text

    converting = ItemProgress(3, 9, stage="convert", fraction=0.5, speed=2.5, eta=12.0)
    assert plain_line(converting) == "job 3 item 9: converting 50% (2.5× real time, 12 s left)"
    sending = AlbumSending(3, album=2, done=7_000_000, total=10_000_000, speed=2e6, eta=1.5)
    assert plain_line(sending) == "job 3 album 2: delivering 70% (2.0 MB/s, 2 s left)"
    job = Job(
        id=7, source="media:mp4:https://youtu.be/x", name="x", dest="library:",
        state=JobState.QUEUED, priority=0, wait_reason=None, error_code=None,
        error_message=None, cursor=0, read_done=False, created_at=0.0, finished_at=None,
    )  # fmt: skip
    making = JobFetching(
        7, done=10, total=10, speed=1.5, eta=3.0, fraction=0.86, phase="converting"
    )
    assert fetching_shown(job, making).text == (
        "job 7 x: converting 86% (1.5× real time, 3 s left)\n▰▰▰▰▰▰▰▰▱▱"
    )
    running = dataclasses.replace(job, state=JobState.ACTIVE, read_done=True)
    figures = figures_of(converting)
    assert job_shown(running, {"delivered": 1, "ready": 1}, figures).text == (
        "job 7 x: 50% (1 of 2 files), converting (2.5× real time, 12 s left)\n▰▰▰▰▰▱▱▱▱▱"
    )
    view = {
        "status": "active",
        "phase": "converting",
        "progress": {"fraction": 0.5, "speed": 2.5, "speed_unit": "x", "eta_s": 12.0},
        "counts": {},
    }
    assert detail_text(view) == "50% · 2.5× real time · 12 s left"


def test_a_download_of_unknown_size_says_its_bytes_so_far_in_the_cli_and_the_chat() -> None:
    """No Content-Length: the share stays unknown (or at its first 0) until the end, so
    the figures say the bytes so far, where the CLI's bar and the chat's status said
    "downloading (200 kB/s)" at 0 % the whole time. A known size says none: its share does."""
    unknown = JobFetching(1, done=1_100_000, total=None, speed=200_000.0, eta=None, fraction=0.0)
    figures = figures_of(unknown)
    assert figures is not None
    assert figures.line() == "downloading (1.1 MB so far, 200 kB/s)"
    known = dataclasses.replace(unknown, total=4_000_000, fraction=0.275)
    assert "so far" not in (figures_of(known) or figures).line()
    converting = dataclasses.replace(unknown, phase="converting", speed=2.0)
    assert "so far" not in (figures_of(converting) or figures).line()
