"""What a stage is to the runner: a row of ``pipeline.PIPELINE`` and, per engine, its
run (``Worker``: claim a unit, step it, close). Here, below the stages, so a stage's
package defines its own run and ``Stage`` without importing the pipeline that lists it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

from ferryman.config import Settings
from ferryman.engine.context import Context, Stopping
from ferryman.net import abort

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")


class NothingNext(Enum):
    NOTHING_NEXT = "nothing next"


NOTHING_NEXT = NothingNext.NOTHING_NEXT  # a step looked for the next unit itself and found none


class Worker(Protocol[T]):
    """One engine's run of a stage, shared by its pool of workers."""

    async def claim(self, lease: float) -> T | None:
        """A unit claimed with a lease of ``lease`` seconds, or None."""
        ...

    async def step(self, unit: T) -> T | NothingNext | None:
        """Handle ``unit``; the next unit, claimed in the transaction that recorded its
        own end (a delivery's chained claim); ``NOTHING_NEXT``, when it looked for one and
        found none (the worker then waits for a wake-up since before the step); or None."""
        ...

    async def close(self) -> None:
        """The engine stops: what the run started beside its steps ends."""
        ...


@dataclass(frozen=True)  # no slots: ``Stage[Job](...)`` sets __orig_class__
class Stage(Generic[U]):
    """One stage: its pool of workers claims a ``U`` and steps it, through the run
    ``open`` makes for an engine."""

    name: str  # its workers' names, its wake-up topic, a node's listed stage
    claims: str  # the unit, and when one is claimable (for people: see the store call)
    woken_by: str  # what wakes its idle workers before their poll (for people)
    wakes: tuple[str, ...]  # the topics a finished step notifies
    workers: Callable[[Settings], int]
    open: Callable[[Context], Worker[U]]
    # the topics a step notifies that looked for its next unit and found none: the
    # stage's queue ran dry (the quiet moment conversions wait for)
    dry_wakes: tuple[str, ...] = ()

    def start(self, pool: Pool, settings: Settings) -> list[asyncio.Task[None]]:
        """Its workers, started by the runner's ``pool``."""
        return pool(self, self.workers(settings))


class Pool(Protocol):
    """The runner's way to start a stage's workers, whatever unit the stage claims."""

    def __call__(self, stage: Stage[T], size: int) -> list[asyncio.Task[None]]: ...


@dataclass(frozen=True)
class Steps(Generic[U]):
    """The run of a stage that keeps nothing between its steps: two functions of the
    engine's context."""

    ctx: Context
    claims: Callable[[Context, float], Awaitable[U | None]]  # (context, lease seconds)
    steps: Callable[[Context, U], Awaitable[U | NothingNext | None]]

    async def claim(self, lease: float) -> U | None:
        return await self.claims(self.ctx, lease)

    async def step(self, unit: U) -> U | NothingNext | None:
        return await self.steps(self.ctx, unit)

    async def close(self) -> None:
        return None


def steps(
    claim: Callable[[Context, float], Awaitable[U | None]],
    step: Callable[[Context, U], Awaitable[U | NothingNext | None]],
) -> Callable[[Context], Worker[U]]:
    """A ``Stage.open`` of a stage without state of its own."""

    def open_(ctx: Context) -> Worker[U]:
        return Steps(ctx, claim, step)

    return open_


def named(unit: object) -> str:
    """A unit as a log names it: its kind and id (a job's source may hold a token)."""
    inner = getattr(unit, "album", unit)
    return f"{type(inner).__name__.lower()} {getattr(inner, 'id', '?')}"


async def lease_seconds(ctx: Context) -> float:
    return (await ctx.settings()).lease_seconds


async def until_stopped(ctx: Context, step: Awaitable[T]) -> T:
    """A step that may be cut anywhere (a download keeps its part and record), so a
    stop need not wait for a checkpoint: a stalled server held a stop up for
    ``runner.STOP_GRACE_SECONDS``. What it runs on threads (a zip's directory read in
    place) is cut too (``net.abort``). Raises ``Stopping`` when the stop came first."""
    cut = abort.Abort()

    async def within() -> T:
        abort.current.set(cut)  # this task's context, which its threads copy
        return await step

    work = asyncio.ensure_future(within())
    stop = asyncio.ensure_future(ctx.stopping.wait())
    try:
        await asyncio.wait((work, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not work.done():
            cut.trigger()
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
    if work.cancelled() and ctx.stopping.is_set():
        raise Stopping
    return work.result()


# ------------------------------------------------------------------ the steps


async def grouped(
    ctx: Context,
    name: str,
    first: Awaitable[None],
    *,
    at_once: int,
    claim: Callable[[int], Awaitable[list[T]]],
    one: Callable[[T], Awaitable[None]],
) -> None:
    """``first``, and beside it more units claimed by ``claim`` (up to the room it is
    given, in one transaction) while fewer than ``at_once`` run (none once the engine
    stops or drains), each run by ``one`` and ended on its own; returns when all have
    ended. With room for more, a wake-up of
    the stage (its ``name``) or its poll looks again before any unit ends: a read
    held long must not keep the jobs fetched meanwhile waiting."""
    running = {asyncio.ensure_future(first)}
    stopped = False
    looking: asyncio.Future[None] | None = None
    try:
        while running:
            mark = ctx.wakeup.mark(name)
            while len(running) < at_once and not (ctx.stopping.is_set() or ctx.run.draining):
                more = await claim(at_once - len(running))
                running.update(asyncio.ensure_future(one(unit)) for unit in more)
                if not more:
                    poll = (await ctx.settings()).poll_seconds
                    looking = asyncio.ensure_future(ctx.wakeup.wait(poll, since=mark, topic=name))
                    break
            waits = running if looking is None else {*running, looking}
            ended, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            running -= ended
            for task in ended - {looking}:
                stopped |= _ended(task, name)
            if looking is not None:
                looking.cancel()
                looking = None
    finally:
        if looking is not None:
            looking.cancel()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    if stopped:
        raise Stopping


def _ended(task: asyncio.Future[None], name: str) -> bool:
    """Whether a unit of a group ended by the engine's stop; its other ends are told
    as the worker tells a step's (``runner._work``)."""
    if task.cancelled():
        log.warning("%s: lost the lease on a unit of a group; moving on", name)
        return False
    exc = task.exception()
    if isinstance(exc, Stopping):
        return True
    if exc is not None:
        log.error("%s: step failed; its lease will expire and it runs again", name, exc_info=exc)
    return False
