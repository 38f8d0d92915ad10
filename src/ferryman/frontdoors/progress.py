"""What `ferryman run` shows: live bars in a terminal, one plain line per event otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Collection
from typing import Protocol

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from ferryman.engine.ops.phases import CONVERTING, DOWNLOADING, READING, Phases, figures_of
from ferryman.engine.ops.report import counts
from ferryman.engine.plumbing.events import (
    WAIT_LOGGED,
    AlbumDelivered,
    AlbumFailed,
    AlbumSending,
    Event,
    EventBus,
    ItemConverted,
    ItemConverting,
    ItemProgress,
    ItemQuarantined,
    JobFetched,
    JobFetching,
    JobFinished,
    JobProgress,
    JobReadDone,
    JobResumed,
    JobStarted,
    JobWaiting,
)
from ferryman.frontdoors.terminal import console
from ferryman.printable import printable
from ferryman.store.ports import JobsView


class Subscribable(Protocol):
    """What a renderer needs of a bus: a subscription that can be undone."""

    def subscribe(self, handler: Callable[[Event], None], /) -> Callable[[], None]: ...


_PLAIN = (
    JobStarted,
    JobWaiting,
    JobResumed,
    JobReadDone,
    AlbumDelivered,
    AlbumFailed,
    ItemConverting,
    ItemConverted,
    ItemQuarantined,
    JobFinished,
)


def _progress_line(event: JobFetching | ItemProgress | AlbumSending) -> str | None:
    """A phase's progress at each tenth: its name, share done and its own figures."""
    figures = figures_of(event)
    if figures is None or figures.fraction is None:
        return None
    if round(figures.fraction * 100) % 10 != 0:
        return None
    note = figures.note()
    subject = f"job {event.job_id}"
    if isinstance(event, ItemProgress):
        subject += f" item {event.item_id}"
    elif isinstance(event, AlbumSending):
        subject += f" album {event.album}"
    return f"{subject}: {figures.phase} {figures.fraction:.0%}" + (f" ({note})" if note else "")


def waiting_words(event: JobWaiting, left: float | None = None) -> str:
    """A wait as a person reads it: the code, its words, and when it looks again by
    itself (``left``: the seconds from now, where the line is drawn again later)."""
    words = f"{event.reason}: {event.message}" if event.message else event.reason
    again = event.again_in if left is None else left
    if again is None:
        return words
    seconds = max(1.0, again)
    when = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
    return f"{words} (looks again in {when})"


def plain_line(event: Event) -> str | None:
    """One log line for an event worth a line, else None."""
    if isinstance(event, JobFetching | ItemProgress | AlbumSending):
        return _progress_line(event)
    if isinstance(event, JobWaiting):
        return f"job {event.job_id}: {event.kind} {waiting_words(event)}"
    if not isinstance(event, _PLAIN):
        return None
    details = " ".join(f"{k}={v}" for k, v in event.details() if v is not None)
    subject = f"job {event.job_id}" if event.job_id is not None else "engine"
    return f"{subject}: {event.kind} {details}".rstrip()


class Renderer:
    """Live bars for ``run`` in a terminal. ``close`` draws the final state once more
    (the last frame would otherwise be up to half a second stale), then stops."""

    def __init__(
        self, bus: Subscribable, store: JobsView, only: Collection[int] | None = None
    ) -> None:
        self._store = store
        self._only = None if only is None else frozenset(only)
        # Names and paths are user text: never markup.
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}", markup=False),
            console=console(),  # escapes control characters in names (printable)
        )
        self._bars: dict[int, TaskID] = {}
        self._phases = Phases()  # each job's phase and its own figures, as the page has them
        self._converting: dict[int, TaskID] = {}
        self._fetching: dict[int, TaskID] = {}
        self._names: dict[int, str] = {}
        self._waits: dict[int, JobWaiting] = {}  # each job's last wait, for its words
        self._progress.start()
        self._unsubscribe = bus.subscribe(self._on_event)
        self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    def _on_event(self, event: Event) -> None:
        if self._phases.late(event):
            return  # a run cancelled before a retry, still reporting: not the job's
        self._phases.on_event(event)
        if isinstance(event, JobWaiting):
            self._waits[event.job_id] = event
        if isinstance(event, JobFetching | JobFetched | JobFinished | JobWaiting | JobProgress):
            self._on_job(event.job_id, event)
        item = event.item_id
        if item is None:
            return
        if isinstance(event, ItemConverting):
            self._names[item] = event.path or f"item {item}"
        elif isinstance(event, ItemProgress):
            task = self._converting.get(item)
            if task is None:
                name = self._names.get(item, f"item {item}")
                task = self._progress.add_task(f"  convert {name}", total=100, note="")
                self._converting[item] = task
            figures = self._phases.get(event.job_id)
            note = figures.note() if figures is not None else ""
            self._progress.update(task, completed=event.fraction * 100, note=note)
        elif isinstance(event, ItemConverted | ItemQuarantined) and item in self._converting:
            self._progress.remove_task(self._converting.pop(item))
            self._names.pop(item, None)

    def _on_job(
        self, job: int, event: JobFetching | JobFetched | JobFinished | JobWaiting | JobProgress
    ) -> None:
        """A download's bar (or a .tgz Takeout's index pass's, "read"): its share done,
        speed and time left; gone once fetched (its first entry read)."""
        if isinstance(event, JobFetching):
            task = self._fetching.get(job)
            if task is None:
                doing = "read" if event.phase == READING else "fetch"
                task = self._progress.add_task(f"  {doing} job {job}", total=100, note="")
                self._fetching[job] = task
            figures = self._phases.get(job)
            if figures is not None and figures.fraction is not None:  # None: the bar stays
                self._progress.update(task, completed=figures.fraction * 100)
            line = figures.line() if figures is not None else ""
            self._progress.update(task, note=line)
        elif job in self._fetching:
            self._progress.remove_task(self._fetching.pop(job))

    async def _refresh_forever(self) -> None:
        while True:
            await self._draw()
            await asyncio.sleep(0.5)

    async def _draw(self) -> None:
        status = await self._store.item_counts()
        for job in await self._store.list_jobs():
            if self._only is not None and job.id not in self._only:
                continue  # another job the same engine took: not this command's
            if job.state.terminal and job.id not in self._bars:
                continue
            c = counts(status.get(job.id, {}))
            done = c["total"] - c["pending"]
            note = job.wait_reason or ("paused" if job.paused else job.state.value)
            wait = self._waits.get(job.id)
            if wait is not None and job.wait_reason == wait.reason:  # its words, counting down
                left = None if wait.again_in is None else wait.at + wait.again_in - time.time()
                note = waiting_words(wait, left)
            self._phases.run_is(job.id, job.run)  # retried elsewhere: the last run's figures go
            figures = self._phases.get(job.id)
            if figures is not None and not (job.state.terminal or job.paused or job.wait_reason):
                # The phase under way; its figures where no bar of its own shows them.
                own_bar = figures.phase in (DOWNLOADING, CONVERTING)
                note = figures.phase if own_bar else figures.line()
            if job.error_code:
                note += f" {job.error_code}"
            if c["failed"]:
                note += f", {c['failed']} failed"
            total = c["total"] or None
            if job.id not in self._bars:
                self._bars[job.id] = self._progress.add_task(job.name, total=total, note=note)
            self._progress.update(self._bars[job.id], completed=done, total=total, note=note)

    async def close(self) -> None:
        self._unsubscribe()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        try:
            for task in [*self._converting.values(), *self._fetching.values()]:
                self._progress.remove_task(task)  # what a stop cut short is not shown
            await self._draw()
        finally:
            with contextlib.suppress(Exception):
                self._progress.stop()


class PlainRenderer:
    """One line per event worth a line, for output that is not a terminal: on stderr,
    so stdout keeps the results alone (the summary, links) for a pipe.

    A wait's line says its code and words; the engine's log record of the same wait
    (``WAIT_LOGGED``), which a stream that is no terminal prints too, is kept out of
    stderr meanwhile, unless ``-v`` asked for the log. ``only``: the jobs shown."""

    def __init__(self, bus: Subscribable, only: Collection[int] | None = None) -> None:
        self._last: dict[tuple[int | None, int | None], str] = {}
        self._quiet = _SaidAlready(only)
        self._handlers = [
            h
            for h in logging.getLogger().handlers
            if isinstance(h, logging.StreamHandler) and h.stream is sys.stderr
        ]
        for handler in self._handlers:
            handler.addFilter(self._quiet)
        self._unsubscribe = bus.subscribe(self._show)

    def _show(self, event: Event) -> None:
        line = plain_line(event)
        if line is None or self._last.get((event.job_id, event.item_id)) == line:
            return
        self._last[(event.job_id, event.item_id)] = line
        print(printable(line), file=sys.stderr, flush=True)

    async def close(self) -> None:
        self._unsubscribe()
        for handler in self._handlers:
            handler.removeFilter(self._quiet)


class _SaidAlready(logging.Filter):
    """Drops a log record that tells a wait the plain lines tell (under ``-v`` none)."""

    def __init__(self, only: Collection[int] | None) -> None:
        super().__init__()
        self._only = None if only is None else frozenset(only)

    def filter(self, record: logging.LogRecord) -> bool:
        job = getattr(record, WAIT_LOGGED, None)
        if job is None or logging.getLogger().level < logging.WARNING:
            return True
        return self._only is not None and job not in self._only


class JsonRenderer:
    """``--json``: every event as one JSON object a line on stdout, for a script."""

    def __init__(self, bus: Subscribable) -> None:
        self._unsubscribe = bus.subscribe(self._show)

    def _show(self, event: Event) -> None:
        line: dict[str, object] = {"event": event.kind, "job": event.job_id, "item": event.item_id}
        line |= {k: v for k, v in event.details() if v is not None and k not in line}
        print(json.dumps(line, default=str), file=sys.stdout, flush=True)

    async def close(self) -> None:
        self._unsubscribe()


class QuietRenderer:
    """``-q``: no progress at all (the summary and errors still print)."""

    async def close(self) -> None:
        return None


def attach_renderer(
    bus: EventBus, store: JobsView, mode: str, only: Collection[int] | None = None
) -> Renderer | PlainRenderer | JsonRenderer | QuietRenderer:
    """Subscribe a renderer to ``bus`` (``mode``: bars, plain, json, quiet);
    ``await renderer.close()`` detaches it. ``only`` (`add --run`'s jobs): the events
    and bars of these jobs alone, not of others the same engine took from the queue."""
    shown = bus if only is None else _OwnEvents(bus, frozenset(only))
    if mode == "bars":
        return Renderer(shown, store, only)
    if mode == "json":
        return JsonRenderer(shown)
    return QuietRenderer() if mode == "quiet" else PlainRenderer(shown, only)


class _OwnEvents:
    """A bus's subscription narrowed to some jobs' events (and the engine's own)."""

    def __init__(self, bus: EventBus, jobs: frozenset[int]) -> None:
        self._bus = bus
        self._jobs = jobs

    def subscribe(self, handler: Callable[[Event], None]) -> Callable[[], None]:
        def own(event: Event) -> None:
            if event.job_id is None or event.job_id in self._jobs:
                handler(event)

        return self._bus.subscribe(own)
