"""Live job views for the page and the API (the numbered stream they travel on is
``web.stream``).

``Tracker`` turns what happens into one view per job (state, phase, a progress that only
rises, speed, ETA, counts, the error with its next step, the files to download). It is
told by the engine's bus when the engine runs in this process, and by looking at the
store every ``poll`` seconds when workers are other processes (``--no-engine``); either
way a job that changed is looked up again at most every ``flush`` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ferryman.clock import SYSTEM, Clock
from ferryman.engine.ops.phases import READING, Figures, Runs, figures_of, phase_of
from ferryman.engine.plumbing.events import (
    AlbumSending,
    Event,
    ItemProgress,
    JobFetched,
    JobFetching,
)
from ferryman.errors import FerrymanError, page_step, with_job
from ferryman.model import TERMINAL_ITEM_STATES, ItemState, Job, JobState
from ferryman.net.rclone_path import shown_dest
from ferryman.sinks.base import SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.timeouts import within
from ferryman.web.bar import bar_fraction
from ferryman.web.file_views import NO_FILES, item_view, page_of
from ferryman.web.kept_progress import KeptProgress
from ferryman.web.plain_words import page_error

if TYPE_CHECKING:
    from ferryman.store.ports import LiveJobs

log = logging.getLogger(__name__)

DETAILS_KEPT = 256  # jobs whose view with items is kept for GET /api/v1/jobs/{id}
PLACES_SECONDS = 0.25  # a queued job's place in line, read once for the views made meanwhile
_DONE_ITEMS = frozenset(state.value for state in TERMINAL_ITEM_STATES)


@dataclass(slots=True)
class _Live:
    """What the bus said of a job's current run since this process started."""

    fetch_fraction: float | None = None
    figures: Figures | None = None  # its phase now, with that phase's own figures
    shown: float = 0.0  # the highest fraction sent: the bar never goes back
    last_progress: float = 0.0  # the tracker's clock; set as it is made


Keep = Callable[[JobState], bool] | None  # a view of the list: the states it shows
Files = Callable[[Job], Awaitable[dict[str, Any]]]  # a link job's files and zip, signed
FILES_PAGE = 60  # files a view carries (the gallery's first page); the rest: GET …/files
LISTING_SECONDS = 5.0  # a results store slower than this counts as down for a view
RETRY_LISTING = 30.0  # seconds before a store that was down is asked again


class Tracker:
    """Job views, kept fresh; ``publish`` gets each changed one.

    What the store said of a job (its row, its item counts, its items) is kept and read
    again only when something other than progress happened to it: a download's progress
    changes a view many times a second without touching the store, so neither sending
    the view nor answering ``GET /api/v1/jobs/{id}`` reads it then.
    """

    def __init__(
        self,
        store: LiveJobs,
        publish: Callable[[dict[str, Any]], None],
        files: Files,
        describe: Callable[[str], str],
        *,
        stuck_after: float,
        flush: float = 0.2,
        sinks: SinkRegistry | None = None,
        clock: Clock = SYSTEM,
    ) -> None:
        self.store = store
        self._clock = clock  # the views' pace, a job's quiet time (stuck), links' age
        self._sinks = sinks or default_sinks()  # which jobs have download links
        self._publish = publish
        self._files = files
        self._describe = describe
        self._stuck_after = stuck_after
        self._flush = flush
        self._live: dict[int, _Live] = {}
        self._dirty: set[int] = set()  # views to send
        self._stale: set[int] = set()  # rows to read again from the store
        self._changes: dict[int, int] = {}  # stored changes told, per job
        self._rows: dict[int, tuple[Job, dict[str, int]]] = {}
        self._items: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self._sent: dict[int, dict[str, Any]] = {}
        self._next_send: dict[int, float] = {}  # a job's next view not before (monotonic)
        self._polled = False  # the store read whole once: _sent holds every job
        # A link job's files: (state, delivered), the result, when its links go stale.
        self._results: dict[int, tuple[tuple[str, int], dict[str, Any], float]] = {}
        self._listing: dict[int, asyncio.Future[dict[str, Any]]] = {}  # listings under way
        self._wake = asyncio.Event()
        self._kept = KeptProgress(store, clock)  # each bar as shown, for the next server
        self._runs = Runs()  # each job's current run: an earlier one's late reports go
        self._downloaded: set[int] = set()  # jobs whose download the store says is done
        self._places: tuple[float, dict[int, dict[str, Any]]] = (float("-inf"), {})
        # Removed jobs (a number is never given again): a read begun before the removal
        # and ended after it brought a view back, kept and shown on every page load.
        self._removed: set[int] = set()

    # -- told by the bus (on the event loop) -------------------------------------------
    def on_event(self, event: Event) -> None:
        if event.job_id is None or self._runs.late(event.job_id, event.run):
            return  # a run cancelled before a retry, still reporting: not the job's figures
        if self._runs.moved_on(event.job_id, event.run):
            self._begin(event.job_id)  # retried elsewhere: its new run's first report
        live = self._live.setdefault(event.job_id, _Live(last_progress=self._clock.now()))
        # The phase and its own speed and time left: a new phase drops the last one's.
        live.figures = figures_of(event, live.figures) or live.figures
        live.last_progress = self._clock.now()
        if isinstance(event, JobFetching):  # a .tgz's index pass ("reading"): no download
            if event.phase != READING and live.figures and live.figures.fraction is not None:
                live.fetch_fraction = live.figures.fraction
            self.touch(event.job_id, stored=False)
            return
        if isinstance(event, ItemProgress | AlbumSending):
            self.touch(event.job_id, stored=False)
            return
        if isinstance(event, JobFetched):
            # Read where it lies (a zip by Range, a streamed tar): nothing was downloaded
            # first, so the bar is its items' alone; it sat at 90 % until the end.
            live.fetch_fraction = None if event.in_place else 1.0
            if not event.in_place:
                self._downloaded.add(event.job_id)
        self.touch(event.job_id)

    def touch(self, job_id: int, *, stored: bool = True) -> None:
        """The job's view must be sent again; ``stored``: something in the store changed."""
        self._dirty.add(job_id)
        if stored:
            self._stale.add(job_id)
            self._changes[job_id] = self._changes.get(job_id, 0) + 1
        self._wake.set()

    def restarted(self, job: Job) -> None:
        """The job was retried (``job``: as the retry left it): a new run, whose bar and
        figures start from what it reports (a retried download showed the cancelled
        one's 72 % and 50 kB/s), never from the cancelled run's late reports."""
        if self._runs.current(job.id) != job.run:  # else its reports began it already
            self._runs.moved_on(job.id, job.run)
            self._begin(job.id)
        self.touch(job.id)

    def _begin(self, job_id: int) -> None:
        """A new run of the job: its bar and figures start from nothing (after a restart too)."""
        self._live[job_id] = _Live(last_progress=self._clock.now())
        self._kept.reset(job_id)
        self._downloaded.discard(job_id)

    def forget(self, job_id: int) -> None:
        """The job was removed: drop what is kept of it and tell its person's pages."""
        self._removed.add(job_id)
        row = self._rows.get(job_id)
        account = row[0].account if row is not None else None
        for kept in (self._live, self._rows, self._items, self._sent, self._results):
            kept.pop(job_id, None)
        self._kept.forget(job_id)
        self._runs.forget(job_id)
        self._downloaded.discard(job_id)
        self._changes.pop(job_id, None)
        self._next_send.pop(job_id, None)
        self._dirty.discard(job_id)
        self._stale.discard(job_id)
        self._publish({"type": "removed", "job": {"id": job_id, "account": account}})

    def _drop_removed(self) -> None:
        for kept in (self._live, self._rows, self._items, self._sent, self._results):
            for job_id in self._removed.intersection(kept):
                del kept[job_id]

    async def close(self) -> None:
        """The server stops: what the bars showed is saved (the next server starts there)."""
        await self._kept.save(all_due=True)

    def _fresh(self, job_id: int, seen: int) -> None:
        """What was read counts as current unless the job changed while it was read."""
        if self._changes.get(job_id, 0) == seen:
            self._stale.discard(job_id)

    # -- looked up -----------------------------------------------------------------------
    async def view(self, job_id: int) -> dict[str, Any]:
        job, counts = await self._row(job_id)
        return await self._compose(job, counts)

    async def detail(self, job_id: int) -> dict[str, Any]:
        """The job's view with its items, read from the store only when it changed."""
        items = self._items.get(job_id)
        if items is None or job_id in self._stale or job_id not in self._rows:
            seen = self._changes.get(job_id, 0)
            job = await self.store.get_job(job_id)
            rows = await self.store.job_items(job_id)
            counts: dict[str, int] = {}
            for item in rows:
                counts[item.state.value] = counts.get(item.state.value, 0) + 1
            items = [item_view(item) for item in rows]
            self._rows[job_id] = (job, counts)
            self._fresh(job_id, seen)
            self._items[job_id] = items
            while len(self._items) > DETAILS_KEPT:
                self._items.popitem(last=False)
        self._items.move_to_end(job_id)
        job, counts = self._rows[job_id]
        return {**(await self._compose(job, counts)), "items": items}

    async def _row(self, job_id: int) -> tuple[Job, dict[str, int]]:
        if job_id in self._stale or job_id not in self._rows:
            seen = self._changes.get(job_id, 0)
            job = await self.store.get_job(job_id)
            counts = (await self.store.item_counts()).get(job_id, {})
            if self._changes.get(job_id, 0) != seen:
                # Changed while this was read (a link failing at once): another read may
                # have kept the newer row meanwhile, which this older one must not replace.
                return job, counts
            self._rows[job_id] = (job, counts)
            self._items.pop(job_id, None)
            self._fresh(job_id, seen)
        return self._rows[job_id]

    async def views(
        self,
        limit: int = 200,
        *,
        before: int | None = None,
        keep: Keep = None,
        sees: Callable[[int | None], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` jobs' views, newest first: with ``before``, those older
        than that job (a page's "Show older"); with ``keep``, those in a state it keeps;
        with ``sees``, those of the accounts it sees (a person's own)."""
        return (await self._listed_views(limit, before=before, keep=keep, sees=sees))[1]

    async def _listed_views(
        self,
        limit: int = 200,
        *,
        before: int | None = None,
        keep: Keep = None,
        sees: Callable[[int | None], bool] | None = None,
    ) -> tuple[set[int], list[dict[str, Any]]]:
        """``views``, and the number of every job the store listed for them."""
        seen = dict(self._changes)
        listed = await self.store.list_jobs()
        jobs = [
            job
            for job in listed
            if (before is None or job.id < before)
            and (keep is None or keep(job.state))
            and (sees is None or sees(job.account))
        ][-limit:]
        per_job = await self.store.item_counts()
        for job_id in await self.store.downloaded_jobs():  # seen by no event here
            live = self._live.get(job_id)
            if live is not None and live.fetch_fraction is None:
                live.fetch_fraction = 1.0
            self._downloaded.add(job_id)
        found = []
        for job in reversed(jobs):
            if job.id in self._removed:
                continue
            counts = per_job.get(job.id, {})
            if self._rows.get(job.id) != (job, counts):
                self._items.pop(job.id, None)  # changed elsewhere: items read again
            self._rows[job.id] = (job, counts)
            self._fresh(job.id, seen.get(job.id, 0))
            found.append(await self._compose(job, counts))
        self._drop_removed()  # removed while this read went on
        return {job.id for job in listed}, [v for v in found if v["id"] not in self._removed]

    def snapshot(self) -> list[dict[str, Any]] | None:
        """Every job's view as last sent, newest first, once the store has been read
        whole (the first poll): a thousand clients reconnecting after a restart cost no
        store reads. None before that."""
        if not self._polled:
            return None
        return sorted(self._sent.values(), key=lambda v: v["id"], reverse=True)

    async def stuck(self) -> list[dict[str, Any]]:
        """Running jobs that sent no progress for ``web.stuck_after``, with what they
        were doing (their phase)."""
        return [v for v in await self.views(limit=10_000) if v["stuck"]]

    async def run(self, poll: float | None) -> None:
        """Send the views of changed jobs: a job quiet for ``flush`` seconds at once,
        a busy one at most every ``flush`` seconds (its changes in between go out as
        one). With ``poll``, also look at the store that often for changes made by
        other processes (and for jobs that went quiet: stuck)."""
        next_poll = self._clock.monotonic()
        while True:
            try:
                next_poll = await self._round(poll, next_poll)
            except Exception:
                # Every page would stop moving until the server restarts (a job that
                # failed at once stayed "queued"): said, and the next round goes on.
                log.exception("sending live job views failed; going on")
                await self._clock.sleep(self._flush)

    async def _round(self, poll: float | None, next_poll: float) -> float:
        """Poll if due, send the views due, else save the bars as shown and wait for the
        next thing to do; returns when the store is to be polled next."""
        now = self._clock.monotonic()
        if poll is not None and now >= next_poll:
            next_poll = now + poll
            await self._poll()
        due = {j for j in self._dirty if self._next_send.get(j, 0.0) <= now}
        if due:
            self._dirty -= due
            await self._send(due)
            later = self._clock.monotonic() + self._flush
            for job_id in due:
                self._next_send[job_id] = later
            return next_poll
        await self._kept.save()
        # Jobs touched while the bars were saved may be new here: due at once.
        deadlines = [self._next_send.get(j, 0.0) for j in self._dirty]
        deadlines += self._kept.deadlines()
        if poll is not None:
            deadlines.append(next_poll)
        timeout = max(0.0, min(deadlines) - self._clock.monotonic()) if deadlines else None
        self._wake.clear()
        await self._clock.wait(self._wake, timeout)
        return next_poll

    async def _poll(self) -> None:
        sent = set(self._sent)
        try:
            listed, views = await self._listed_views()
        except Exception:
            log.exception("reading jobs for live views failed")
            return
        for view in views:
            if self._sent.get(view["id"]) != view:
                self._emit(view)
        # Sent before this read, gone from the store's list since: removed by another process
        # (``ferryman remove``, another node's page). Older jobs are listed, not read each.
        for job_id in sorted(sent - listed):
            if job_id not in self._removed:  # removed here meanwhile: told once
                self.forget(job_id)
        self._polled = True

    async def _send(self, dirty: set[int]) -> None:
        try:
            for job_id in sorted(dirty):
                try:
                    view = await self.view(job_id)
                except FerrymanError as exc:
                    if exc.code == "job.not_found":  # removed meanwhile
                        continue
                    raise
                if self._sent.get(job_id) != view:
                    self._emit(view)
        except Exception:
            log.exception("reading jobs for live views failed")
            self._dirty |= dirty

    def _emit(self, view: dict[str, Any]) -> None:
        if view["id"] in self._removed:  # read before its removal, composed after
            self._drop_removed()
            return
        self._sent[view["id"]] = view
        self._publish({"type": "job", "job": view})

    async def _compose(self, job: Job, by_state: dict[str, int]) -> dict[str, Any]:
        if self._runs.moved_on(job.id, job.run):  # retried by another process: a new run
            self._begin(job.id)
        live = self._live.get(job.id)
        if live is None:  # first seen here: the bar starts where it was shown before
            live = _Live(shown=await self._kept.before(job.id), last_progress=self._clock.now())
            if job.id in self._downloaded:
                live.fetch_fraction = 1.0
        total = sum(by_state.values())
        finished = sum(by_state.get(s, 0) for s in _DONE_ITEMS)
        fraction = bar_fraction(job, live.fetch_fraction, finished, total, by_state)
        live.shown = max(live.shown, fraction)
        self._live[job.id] = live
        # Kept only where the store's counts alone would show less (a download's share).
        durable = bar_fraction(
            job, 1.0 if job.id in self._downloaded else None, finished, total, by_state
        )
        shown_more = live.shown > durable + 1e-4
        if shown_more and self._kept.keep(job, live.shown):
            self._wake.set()
        began = live.figures is not None or job.started_at is not None  # not waiting in line
        running = began and not job.state.terminal and not job.paused and not job.wait_reason
        stuck = running and self._clock.now() - live.last_progress > self._stuck_after
        phase = phase_of(job, live.figures)
        figures = live.figures  # only for the phase under way: none waiting, paused, ended
        moving = figures if figures is not None and figures.phase == phase else None
        source = self._describe(job.source)
        error = page_error(job, source)
        summary = job.summary or {}
        return {
            "id": job.id,
            "account": job.account,  # whose: the events go to that person and administrators
            "name": job.name,
            "source": source,
            "dest": shown_dest(job.dest),
            "where": self._sinks.words(job.dest),  # the destination in a person's words
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            # From its report, once ended: what it delivered and how much was converted.
            "bytes": summary.get("bytes_delivered") if job.state.terminal else None,
            "converted": summary.get("converted", 0) if job.state.terminal else None,
            "status": job.state.value,
            "paused": job.paused,
            "phase": phase,
            "waiting": job.wait_reason,
            "waiting_next": (
                with_job(page_step(job.wait_reason), job.id) if job.wait_reason else None
            ),
            "in_line": await self._in_line(job),
            "stuck": stuck,
            "progress": {
                "fraction": round(live.shown, 4),
                "bytes": moving.done if moving is not None else None,
                "total": moving.total if moving is not None else None,
                "speed": moving.speed if moving is not None else None,
                "speed_unit": moving.unit if moving is not None else None,
                "eta_s": moving.eta if moving is not None else None,
            },
            "counts": {"total": total, "finished": finished, **by_state},
            "error": error,
            # One page of files with the totals: every live message carries the view.
            "result": (
                page_of(await self._result(job, by_state), 0, FILES_PAGE)
                if self._sinks.keeps_results(job.dest)
                else None
            ),
        }

    async def _in_line(self, job: Job) -> dict[str, Any] | None:
        """Where a queued job stands (``{"reason": "downloads", "ahead": 2}``), from one
        read of the whole line shared by the views composed within ``PLACES_SECONDS``."""
        if job.state is not JobState.QUEUED or job.paused:
            return None
        read_at, places = self._places
        if self._clock.monotonic() - read_at > PLACES_SECONDS:
            places = await self.store.queue_places()
            self._places = (self._clock.monotonic(), places)
        return places.get(job.id)

    async def _result(self, job: Job, by_state: dict[str, int]) -> dict[str, Any]:
        """The job's files, listed and signed again only when it delivered more (or
        ended), or once its links are past half their life: a listing is disk or
        network work, and views are made many times a second."""
        key = (job.state.value, by_state.get(ItemState.DELIVERED.value, 0))
        now = self._clock.now()
        kept = self._results.get(job.id)
        if kept is None or kept[0] != key or now >= kept[2]:
            try:
                found = await self._listed(job)
            except (FerrymanError, TimeoutError) as exc:  # the store is down: the rest shows
                why = exc.message if isinstance(exc, FerrymanError) else "no answer in time"
                log.warning("listing job %d's results: %s", job.id, why)
                last = kept[1] if kept is not None else {"files": [], "zip": {}, **NO_FILES}
                # Asked again after a while, not for every view meanwhile (each would wait).
                down = {k: v for k, v in last.items() if k != "unavailable"}
                self._results[job.id] = (key, {**down, "unavailable": why}, now + RETRY_LISTING)
                return self._results[job.id][1]
            expiry = min((f["expires_at"] for f in found.get("files", [])), default=math.inf)
            kept = (key, found, now + (expiry - now) / 2)
            self._results[job.id] = kept
        return kept[1]

    async def _listed(self, job: Job) -> dict[str, Any]:
        """One listing of a job's results at a time, shared: a view composed beside a page's
        request signed again, replacing the links the request had just handed out."""
        if (task := self._listing.get(job.id)) is None:
            task = self._listing[job.id] = asyncio.ensure_future(
                within(self._files(job), LISTING_SECONDS, self._clock)
            )
            task.add_done_callback(functools.partial(self._listed_done, job.id))
        return await asyncio.shield(task)

    def _listed_done(self, job_id: int, _task: object) -> None:
        self._listing.pop(job_id, None)

    async def files(self, job_id: int, offset: int, limit: int) -> dict[str, Any]:
        """A page of a link job's files, signed as its view's are (again past half life)."""
        job, counts = await self._row(job_id)
        if not self._sinks.keeps_results(job.dest):
            raise FerrymanError("request.invalid", f"job {job_id} is not delivered as links")
        return page_of(await self._result(job, counts), offset, limit)
