"""What a stage is to the runner: a row of ``pipeline.PIPELINE`` and, per engine, its
run (``Worker``: claim a unit, step it, close). Here, below the stages, so a stage's
package defines its own run and ``Stage`` without importing the pipeline that lists it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

from ferryman.config import Settings
from ferryman.engine.context import Context

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


async def lease_seconds(ctx: Context) -> float:
    return (await ctx.settings()).lease_seconds
