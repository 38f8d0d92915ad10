"""The engine: worker pools per stage plus a housekeeper, until stopped or idle.

The stages, what each claims and what wakes it are listed in ``pipeline``. Each worker
claims one unit (a fetch, a job to read, an album to deliver, an item to convert, a due
watch) with a lease, keeps the lease alive while it works, and looks for the next. The
housekeeper re-queues expired leases, seals albums, ends finished jobs and clears
their work folders, and those of ended jobs once nothing works on them. Stopping
cancels the steps in flight (each is safe to redo) and hands every lease back, so a
restart continues at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from ferryman.clock import SYSTEM, Clock
from ferryman.config import Settings
from ferryman.device.conditions import Device
from ferryman.device.wakelock import WakeLock
from ferryman.engine import deliver
from ferryman.engine.context import Context, Stopping
from ferryman.engine.notify import Notifier
from ferryman.engine.pipeline import PIPELINE, STAGES, NothingNext, Stage, lease_seconds
from ferryman.engine.plumbing.events import (
    EngineDraining,
    EngineStarted,
    EngineStopped,
    EngineWarning,
    EventBus,
    JobFinished,
)
from ferryman.engine.plumbing.stages import Worker, named
from ferryman.engine.plumbing.switching import short_gil_switches
from ferryman.engine.plumbing.workarea import (
    job_folders,
    job_work_dir,
    kept_fetch_dir,
    remove_folder,
    set_aside,
    sweep,
)
from ferryman.engine.watch import FolderChanges
from ferryman.media.box.pool import Decoder, MediaBox
from ferryman.model import JobState
from ferryman.resources import Closeable
from ferryman.sinks.base import SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.base import SourceRegistry
from ferryman.sources.builtin import default_sources
from ferryman.sources.listers.base import ListerRegistry
from ferryman.store.engine_store import EngineStore
from ferryman.timeouts import within

log = logging.getLogger(__name__)


U = TypeVar("U")
STOP_GRACE_SECONDS = 20.0  # how long a graceful stop waits for steps to reach a checkpoint
# A housekeeping round costs transactions: a busy engine, waking it after every album,
# ran one per album. Rounds are this far apart at least (a finished job ends at most
# this late, except after its last album, which cuts the gap short), and expired leases
# are looked for once a second at most (a lease lasts far longer than that).
KEEPER_GAP_SECONDS = 0.1
REAP_GAP_SECONDS = 1.0


def new_owner() -> str:
    """Who holds a lease: readable in the store (host and pid), unique per run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Engine:
    """Runs every stage against one store until ``stop`` is set (or nothing is left)."""

    def __init__(
        self,
        store: EngineStore,
        settings: Settings,
        bus: EventBus | None = None,
        *,
        dialer: object = None,  # the network seam sinks use (None: the real network)
        sources: SourceRegistry | None = None,
        sinks: SinkRegistry | None = None,
        device: Device | None = None,
        media_box: Decoder | None = None,  # where media is decoded (None: confined workers)
        clock: Clock = SYSTEM,  # the store's ``clock`` should be its ``now``
    ) -> None:
        self.ctx = Context(
            store,
            bus or EventBus(),
            settings,
            new_owner(),
            dialer=dialer,
            sources=sources or default_sources(),
            sinks=sinks or default_sinks(),
            device=device or Device(),
            media_box=media_box or MediaBox(),
            clock=clock,
        )
        self.wake = WakeLock(self.ctx.device.env, settings.power.wake_lock)
        self._runs: list[Callable[[], Awaitable[None]]] = []  # each stage's run's close
        # A watched folder's change notices, which wake its watch early.
        self.folder_changes = FolderChanges(
            self.ctx.watch_store,
            self._listers,
            self.ctx.wakeup,
            self.ctx.stopping,
            self.ctx.settings,
        )

    def _listers(self) -> ListerRegistry:
        from ferryman.sources.listers.builtin import default_listers  # lazy: start-up

        return default_listers(self.ctx.resources)

    @property
    def bus(self) -> EventBus:
        return self.ctx.bus

    def stop(self) -> None:
        """Ask for a graceful stop (what SIGTERM and SIGINT do)."""
        self.ctx.stopping.set()
        self.ctx.wakeup.notify()

    async def run(self, *, until_idle: bool = False) -> None:
        with short_gil_switches():  # a reading thread gets the GIL back soon (its module)
            await self._run(until_idle=until_idle)

    async def _run(self, *, until_idle: bool) -> None:
        store = self.ctx.store
        settings = await self.ctx.settings()
        queued = not await store.idle()
        warming: asyncio.Task[None] | None = None
        if queued:  # first: the imports (and the sinks' logins) run beside the start's work
            _warm_reading()
            warming = asyncio.create_task(self._warm_sinks(), name="sink-warm")
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        # Before any worker: expired leases handed back, the work area swept, and the
        # heartbeat (a drained node must know before its first claim). Side by side:
        # the reap's and the heartbeat's commits need not wait for the sweep's reads
        # and folders, nor they for their fsyncs (the reap moves work only between
        # states the sweep keeps alike: busy to ready).
        await asyncio.gather(store.reap(), self._sweep_work_area(), self._beat_once(settings))
        reaped = self.ctx.clock.monotonic()
        if queued or not await store.idle():
            await self.wake.hold()
        listener = await self._listen()
        # A wake-up sent between the first beat and the listening (a drain as this engine
        # started) reached no one: the heartbeat looks once more as soon as it runs.
        self.ctx.woken.set()
        workers = [task for stage in PIPELINE for task in stage.start(self._pool, settings)]
        # Not one of the tasks a stop waits for: a remote that does not answer must not
        # hold the stop up.
        preflight = asyncio.create_task(self._preflight(settings), name="sink-preflight")
        housekeeper = asyncio.create_task(self._housekeep(until_idle, reaped), name="housekeeper")

        notifier = Notifier(self.ctx)
        unheard = self.ctx.bus.subscribe(notifier.on_event)
        notices = asyncio.create_task(notifier.run(), name="notifier")
        beat = asyncio.create_task(self._beat(), name="node-heartbeat")
        folder_changes = asyncio.create_task(self.folder_changes.run(), name="watch-notices")
        self.ctx.bus.publish(EngineStarted(owner=self.ctx.owner, node=settings.node))
        tasks = [*workers, housekeeper, beat, notices, folder_changes]
        try:
            await self.ctx.stopping.wait()
        finally:
            self.stop()
            preflight.cancel()
            if warming is not None:
                warming.cancel()
            # Steps stop at their next checkpoint; cancelling one inside a store
            # transaction could leave SQLite locked, so that is only the last resort.
            with contextlib.suppress(TimeoutError):  # the grace on the engine's clock
                await within(asyncio.wait(tasks), STOP_GRACE_SECONDS, self.ctx.clock)
            for task in (task for task in tasks if not task.done()):
                log.warning("%s did not reach a checkpoint in time; cancelling it", task.get_name())
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(close() for close in self._runs))  # the stages' runs
            for result in results:
                if isinstance(result, BaseException) and not isinstance(
                    result, asyncio.CancelledError | Stopping
                ):
                    log.error("worker ended with %r", result)
            unheard()
            # The leases handed back beside the sinks' close (a client's disconnect, its
            # session saved) and the last work files' removal: none waits for the others.
            _, released, _ = await asyncio.gather(
                self._close(listener), self._hand_back(), self.ctx.tidied()
            )
            self.ctx.bus.publish(EngineStopped(released=released))

    async def _close(self, listener: Closeable | None) -> None:
        await self.ctx.close()
        if listener is not None:
            await listener.close()
        await self.wake.let_go()

    async def _hand_back(self) -> int:
        """Every lease this run holds handed back, its node recorded as stopped: one
        commit. A stop that cannot be recorded does not keep the leases held."""
        try:
            return await self.ctx.store.release(self.ctx.owner, stopped=True)
        except Exception:
            log.warning("could not record this node's stop", exc_info=True)
        return await self.ctx.store.release(self.ctx.owner)

    async def _beat(self) -> None:
        """The node's heartbeat (``ferryman workers``, ``/readyz``), every third of a
        lease; it also learns whether the node was drained."""
        while not self.ctx.stopping.is_set():
            settings = await self.ctx.settings()
            waits: list[asyncio.Future[object]] = [
                asyncio.ensure_future(e.wait()) for e in (self.ctx.stopping, self.ctx.woken)
            ]
            waits.append(asyncio.ensure_future(self.ctx.clock.sleep(settings.lease_seconds / 3)))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            self.ctx.woken.clear()
            if not self.ctx.stopping.is_set():
                await self._beat_once(settings)

    async def _warm_sinks(self) -> None:
        """The sinks of the jobs left to do log in and open their connections now, beside
        the engine's start (a lease reap, a sweep, the first claims), not only once a
        job's reading begins: a job's first album no longer waits for its login."""
        try:
            dests = await self.ctx.store.live_dests()
        except Exception:  # only a head start: the reading stage warms the sink again
            log.debug("the sinks' head start failed", exc_info=True)
            return
        for dest in dests:
            await deliver.warm_sink(self.ctx, dest)

    async def _preflight(self, settings: Settings) -> None:
        """Each destination kind's start-up check of its remote end (the results bucket):
        what is wrong is said at once, with its next step, and work goes on (other
        destinations are not held up; the sink's own errors still fail its albums)."""
        try:
            found = await self.ctx.sinks.preflight(settings, self.ctx.resources)
        except Exception:  # a check's own bug must not stop the engine
            log.warning("a destination's start-up check failed", exc_info=True)
            return
        for error in found:
            log.warning("checked at start: %s: %s. %s", error.code, error.message, error.next_step)
            self.ctx.bus.publish(EngineWarning(code=error.code, message=error.message))

    async def _beat_once(self, settings: Settings) -> None:
        try:
            draining = await self.ctx.store.node_beat(
                self.ctx.owner, settings.node, os.getpid(), STAGES
            )
        except Exception:  # a missed beat is not fatal: the next one tells
            log.warning("node heartbeat failed", exc_info=True)
            return
        if draining != self.ctx.run.draining:
            self.ctx.run.draining = draining
            if draining:  # said where a person sees it: a drained node looks idle, not stuck
                log.warning(
                    "node %s is drained: it finishes what it holds and takes nothing new"
                    " (`ferryman drain %s --undo` lets it take work)",
                    settings.node,
                    settings.node,
                )
            else:
                log.info("node %s takes work again", settings.node)
            self.ctx.bus.publish(EngineDraining(draining=draining))
            if not draining:
                self.ctx.wakeup.notify()

    async def _listen(self) -> Closeable | None:
        """Wake-ups from other processes (``ferryman add``, a web front end, another
        machine's ``resume``): a datagram on SQLite, LISTEN on PostgreSQL. None when
        ``FERRYMAN_NO_WAKE`` is set (benchmarks measure the polling baseline) or the
        store cannot listen: polls still find the work."""

        if self.ctx.device.env.get("FERRYMAN_NO_WAKE"):
            return None

        def woken() -> None:
            self.ctx.wakeup.notify()
            self.ctx.woken.set()

        listener = self.ctx.store.listener(woken)
        return listener if listener is not None and await listener.start() else None

    # ------------------------------------------------------------ workers

    def _pool(self, stage: Stage[U], size: int) -> list[asyncio.Task[None]]:
        run = stage.open(self.ctx)  # the stage's state in this engine, its workers share
        self._runs.append(run.close)
        return [
            asyncio.create_task(self._work(stage, run, n), name=f"{stage.name}-{n}")
            for n in range(size)
        ]

    async def _work(self, stage: Stage[U], run: Worker[U], turn: int = 0) -> None:
        """Claim a unit and handle it, for as long as the engine runs.

        A step may hand over the next unit, claimed in the transaction that recorded its
        own end; or ``NOTHING_NEXT``: it looked there and found none, so the worker waits for
        a wake-up since that look instead of asking the store again at once.
        ``turn``: its place in its stage's pool. The first claims queue for the store's
        writer in turns, the first worker of every stage before the second of any: a
        job to read no longer waits at a start behind the fetch pool's claims."""
        for _ in range(turn):  # one loop pass each: every stage's worker n-1 claimed
            await asyncio.sleep(0)
        looked: int | None = None  # the wake-up mark taken before such a step
        topic = stage.name
        gap = 0.0  # the next idle wait (Wakeup.idle): one poll, growing while none comes
        while not self.ctx.stopping.is_set():
            settings = await self.ctx.settings()
            unit: U | None = None
            if looked is not None:
                mark, looked = looked, None
            else:
                mark = self.ctx.wakeup.mark(topic)
                # The lease read before the drain is checked, no wait between that check
                # and the claim: a drain heard while the settings were read let a claim
                # start after it (a drained node took a job, under load).
                lease = await lease_seconds(self.ctx)
                if self.ctx.run.draining:  # what it holds goes on; nothing new is taken
                    await self.ctx.wakeup.wait(settings.poll_seconds, since=mark, topic=topic)
                    continue
                try:
                    unit = await run.claim(lease)
                except Exception:
                    log.exception("%s: claiming failed; trying again", topic)
                    await self.ctx.clock.sleep(settings.poll_seconds)
                    continue
            if unit is None:
                gap = await self.ctx.wakeup.idle(settings.poll_seconds, gap, mark, topic)
                continue
            gap = 0.0
            while unit is not None:
                if self.ctx.stopping.is_set():
                    return  # claimed as the stop came: release() hands it back
                done, unit = unit, None
                before = self.ctx.wakeup.mark(topic)
                try:
                    after = await run.step(done)
                except Stopping:
                    return
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if self.ctx.stopping.is_set() or task is None:
                        raise
                    task.uncancel()  # our heartbeat cancelled the step, not the engine
                    log.warning("%s: lost the lease on %s; moving on", topic, named(done))
                except Exception:
                    log.exception("%s: step failed; its lease will expire and it runs again", topic)
                else:
                    if isinstance(after, NothingNext):
                        looked = before
                        self.ctx.wakeup.notify(*stage.dry_wakes)
                    else:
                        unit = after
                self.ctx.wakeup.notify(*stage.wakes)

    # -------------------------------------------------------- housekeeping

    async def _housekeep(self, until_idle: bool, reaped: float) -> None:
        """Rounds on every wake-up: end finished jobs, notice idleness. A full round
        (at most every ``poll_seconds``, or after a wake-up for everyone: a control, a
        new job) also re-queues expired leases, seals what the stages did not, and
        tidies ended jobs' folders; the stages seal their own albums as they go.
        ``reaped``: when the start re-queued expired leases (its first round does not
        again, beside a first claim)."""
        store = self.ctx.store
        full_at = float("-inf")
        broadcasts = -1
        gap = 0.0  # the next wait while the engine is idle (Wakeup.idle)
        while not self.ctx.stopping.is_set():
            settings = await self.ctx.settings()
            mark, last = self.ctx.wakeup.mark("housekeeper"), self.ctx.wakeup.mark("last")
            started = self.ctx.clock.monotonic()
            full = (
                started - full_at >= settings.poll_seconds
                or broadcasts != self.ctx.wakeup.broadcasts()
            )
            idle = False
            try:
                active: dict[int, bool] = {}  # the live jobs, each with ready items or not
                if full:
                    full_at, broadcasts = started, self.ctx.wakeup.broadcasts()
                    if started - reaped >= REAP_GAP_SECONDS:
                        reaped = started
                        if await store.reap():
                            self.ctx.wakeup.notify()
                    active = await store.active_jobs()
                    self.ctx.run.read_ended.intersection_update(active)  # kept for live jobs
                    for job_id in [job_id for job_id, ready in active.items() if ready]:
                        size = await self.ctx.album_size(job_id)
                        wait = settings.convert.album_wait_seconds  # a waiting album's bound
                        if await store.seal_albums(job_id, size, wait=wait):
                            self.ctx.wakeup.notify("deliver")
                look = await store.housekeeping_state()  # its reads in one hop
                for job_id in await store.finish_jobs() if look.finishable else ():
                    await asyncio.to_thread(shutil.rmtree, job_work_dir(settings, job_id), True)
                    job = await store.get_job(job_id)
                    try:  # before anyone hears it ended; never in the way of the end
                        await deliver.captions_at_end(self.ctx, job)
                    except Exception:
                        log.exception("job %d: captions not made final", job_id)
                    self.ctx.bus.publish(JobFinished(job_id, state=job.state.value))
                if full:
                    await self._tidy_ended(settings.work_dir, set(active), settings.lease_seconds)
                # Watches first: a check that commits its jobs between the two reads
                # then shows as jobs, never as neither (a run that ended with them queued).
                # Read again after a job's end (or a look that found one to end).
                idle = look.idle
                if look.finishable:
                    idle = await store.watches_idle() and await store.idle()
                await (self.wake.let_go() if idle else self.wake.hold())
                if until_idle and idle:
                    # No grace at the end: this run holds nothing, and what it leaves
                    # stays until the next one (a cancelled download's partial file).
                    await self._tidy_ended(settings.work_dir, set(), 0.0)
                    self.stop()
                    return
            except Exception:
                log.exception("housekeeping failed; trying again")
            if idle:  # nothing to end, reap or seal but what a wake-up brings
                gap = await self.ctx.wakeup.idle(settings.poll_seconds, gap, mark, "housekeeper")
            else:
                gap = 0.0
                await self.ctx.wakeup.wait(settings.poll_seconds, since=mark, topic="housekeeper")
            rest = KEEPER_GAP_SECONDS - (self.ctx.clock.monotonic() - started)
            if rest > 0:  # a job's last album cuts it short: that job ends without the wait
                await self.ctx.wakeup.wait(rest, since=last, topic="last")

    async def _tidy_ended(self, work: Path, active: set[int], grace: float) -> None:
        """Work folders of ended jobs go once no step works on them: a job cancelled
        mid-album, or whose late step wrote after it ended, leaves nothing behind."""
        folders = await asyncio.to_thread(job_folders, work)
        candidates = {job_id: path for job_id, path in folders.items() if job_id not in active}
        for job_id in await self.ctx.store.settle_ended(list(candidates), grace):
            if (await self.ctx.store.get_job(job_id)).state is JobState.CANCELLED:
                kept = kept_fetch_dir(await self.ctx.settings(), job_id)  # for a retry
                await asyncio.to_thread(set_aside, candidates[job_id] / "fetch", kept)
            await asyncio.to_thread(remove_folder, candidates[job_id])

    async def _sweep_work_area(self) -> None:
        """After a crash: drop half-written files and folders of jobs that have ended."""
        settings = await self.ctx.settings()
        live = await self.ctx.store.work_paths()
        running = {
            job_work_dir(settings, j.id).name
            for j in await self.ctx.store.list_jobs()
            if not j.state.terminal
        }
        await asyncio.to_thread(sweep, settings.work_dir, live, running)


def _warm_reading() -> None:
    """Work is queued: a thread imports what reading it needs (``sources.local`` and the
    archive backends it loads: 0.1-0.4 s here, more when compiled from source) while the
    engine starts, instead of after the job is claimed."""

    def load() -> None:
        with contextlib.suppress(ImportError):
            importlib.import_module("ferryman.sources.local")
        # Pillow's common formats, which its first opened image loads (3-5 ms).
        from PIL import Image

        Image.preinit()

    threading.Thread(target=load, name="warm-imports", daemon=True).start()
