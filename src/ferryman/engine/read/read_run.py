"""A run of reading: the reading thread reads on and stages small entries, in one hop.

One hop to the reading thread and back per entry (and one more to get the next entry)
was most of what a small photo cost the event loop: two wake-ups of each thread, a GIL
hand-over each way, and the loop's own bookkeeping around them. A run reads entries and
stages those that are plainly fine to stage until it has done a few, spent a few
hundredths of a second, or met an entry that the loop must look at first:

- one of unknown size, or large (``large``): what came before it is recorded first;
- one that needs more room than there is (the disk's free bytes over ``floor``, looked
  at before each entry: a nested archive copied out, or another job, may have taken
  some) or than the backlog allows (``files``, ``bytes``), a copy that may be made of it
  (a remux, a fitted photo: as large as the entry) counted: the loop waits for room the
  careful way, and for the copy's once it knows one is made (``prepare.WaitToWrite``);
- one that failed, or that must be converted or was quarantined: the loop deals with it
  at once.

A run also ends as soon as its ready entries fill an album (``album``, given until the
first batch of a read is recorded): the first album is recorded and sealed, and can go
out, while the next run reads.

Entries the loop records without staging (skipped ones, unsupported types, a nested
archive that could not be read) ride along. The run never waits for anything but the
source: the loop's rules on room and backlog are kept by the limits it was given.

With a pool of sync threads (``RunLimits.syncer``), a staged file's fsync goes to the
pool and the reading thread writes the next: fsyncs waiting together are committed
together by the filesystem's journal (about twice as many a second here as
one after another). The run waits for all of them before it returns, so nothing it
staged is recorded before it is on disk; a file that could not be made durable fails
its entry, and the entries after it are read again.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from pathlib import Path

from ferryman.engine.plumbing.media_options import MediaOptions
from ferryman.engine.plumbing.space import fits_above_floor
from ferryman.engine.read.prepare import Prepared
from ferryman.engine.read.stage import Sync, write_failed
from ferryman.engine.read.staging import (
    Stager,
    StageRequest,
    stage_and_prepare,
    stages_here,
)
from ferryman.errors import FerrymanError
from ferryman.model import ItemState
from ferryman.sources.base import SourceEntry

RUN_ENTRIES = 16
RUN_SECONDS = 0.05


@dataclasses.dataclass(slots=True)
class Read:
    """One step of the input, as the run left it.

    ``entry`` None: the entries ended (or ``error`` says why they stopped). An entry with
    neither ``prepared`` nor ``failure`` is the loop's to stage."""

    entry: SourceEntry | None
    prepared: Prepared | None = None
    failure: FerrymanError | None = None  # staging this entry raised it
    error: FerrymanError | None = None  # reading the next entry raised it


@dataclasses.dataclass(slots=True)
class Run:
    """A run's steps; ``more``: it ended for its length or time alone, so the next run
    may start before the loop has looked at these (nothing here waits for it)."""

    steps: list[Read]
    more: bool = False
    files: int = 0  # files staged that count towards the backlog
    bytes: int = 0  # and their sizes
    ready: int = 0  # entries staged ready to deliver
    read: int = 0  # the staged entries' own sizes (what was read for them)


@dataclasses.dataclass(frozen=True, slots=True)
class RunLimits:
    """What the loop allows one run, taken just before it."""

    work: Path
    cursor: int  # entries before it were recorded before a restart
    known: frozenset[int] | set[int]  # entries recorded out of order
    files: int  # files the backlog still allows on disk
    floor: int  # free bytes to leave on the work area's disk
    large: int  # an entry this size or larger is left to the loop
    send_documents: bool
    options: MediaOptions
    syncer: Executor | None = None  # fsyncs staged files, several at once
    album: int = 0  # ready entries that fill the batch's album: the run ends there (0: no)
    bytes: int | None = None  # bytes the backlog still allows on disk (None: no bound)
    # Entries' bytes after which the run ends, so the loop records them (an input read
    # where it lies on a server: what a kill would have it sent again; None: no bound).
    at_risk: int | None = None


def read_run(
    entries: Iterator[SourceEntry], limits: RunLimits, stage: Stager = stage_and_prepare
) -> Run:
    """On the reading thread: the next steps of the input, small entries staged and on
    disk (``stage``: how one is, given as a test's stand-in)."""
    syncs = _Syncs(limits.syncer)
    try:
        run = _read(entries, limits, stage, syncs)
    finally:
        failed = syncs.wait()
    if failed is not None:
        index, error = failed
        run.steps[index].prepared = None
        run.steps[index].failure = error
        del run.steps[index + 1 :]  # read again: the cursor stops before them
        run.more = False
    return run


class _Syncs:
    """The fsyncs a run handed to the pool, by the step they belong to."""

    def __init__(self, pool: Executor | None) -> None:
        self.pool = pool
        self.pending: list[tuple[int, Path, Future[None]]] = []

    def taker(self, step: int) -> Sync | None:
        if self.pool is None:
            return None
        pool = self.pool

        def take(fd: int, path: Path) -> None:
            try:
                future = pool.submit(fsync_close, fd)
            except RuntimeError:  # the pool is shut down (a read cancelled): sync here
                fsync_close(fd)
                return
            self.pending.append((step, path, future))

        return take

    def wait(self) -> tuple[int, FerrymanError] | None:
        """Every fsync done; the first step whose file is not durable, and why."""
        failed: tuple[int, FerrymanError] | None = None
        for step, path, future in self.pending:
            try:
                future.result()
            except OSError as exc:
                if failed is None or step < failed[0]:
                    failed = (step, write_failed(path, exc))
        return failed


def fsync_close(fd: int) -> None:
    """A pool's work: ``fd`` made durable, then closed (either way)."""
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(entries: Iterator[SourceEntry], limits: RunLimits, stage: Stager, syncs: _Syncs) -> Run:
    run = Run([])
    out = run.steps
    deadline = time.monotonic() + RUN_SECONDS
    while True:
        try:
            entry = next(entries, None)
        except FerrymanError as exc:
            out.append(Read(None, error=exc))
            return run
        if entry is None:
            out.append(Read(None))
            return run
        info = entry.info
        if info.index < limits.cursor or info.index in limits.known:
            continue  # handled before a restart: read past it without writing
        step = Read(entry)
        out.append(step)
        if stages_here(entry):
            size = info.size
            if (
                size is None
                or size >= limits.large
                or run.files + 2 > limits.files  # the entry, and a copy made of it
                or (limits.bytes is not None and run.bytes + 2 * size > limits.bytes)
                or not fits_above_floor(limits.work, 2 * size, limits.floor)
            ):
                return run  # the loop records what came before and looks at this one
            request = StageRequest.of(
                entry,
                limits.work,
                send_documents=limits.send_documents,
                options=limits.options,
                sync=syncs.taker(len(out) - 1),
            )
            try:
                step.prepared = stage(request)
            except FerrymanError as exc:
                step.failure = exc
                return run
            run.read += size
            files, size = step.prepared.held()  # as the backlog counts them
            run.files += files
            run.bytes += size
            if step.prepared.state in (ItemState.CONVERT, ItemState.QUARANTINED):
                return run
            if step.prepared.state is ItemState.READY:
                run.ready += 1
        if (
            len(out) >= RUN_ENTRIES
            or time.monotonic() >= deadline
            or (limits.album and run.ready == limits.album)  # an album can go now
            or (limits.at_risk is not None and run.read >= limits.at_risk)
        ):
            run.more = True
            return run
