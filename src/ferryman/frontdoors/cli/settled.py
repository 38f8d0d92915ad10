"""Whether a run's own jobs (``add --run``'s) have settled: ended, paused, or waiting on
a person with nothing in flight. Apart from ``follow`` (which reads the store until
then) and ``run`` (whose engine stops then), which both ask it."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import TYPE_CHECKING

from ferryman.engine.ops.report import counts
from ferryman.engine.plumbing.events import AlbumDelivered, Event, JobFinished, JobWaiting
from ferryman.errors import FerrymanError
from ferryman.model import Job, JobState

if TYPE_CHECKING:
    from ferryman.frontdoors.startup import Running
    from ferryman.store.ports import JobsView


def stop_once_settled(started: Running, only: Collection[int]) -> asyncio.Task[None]:
    """A task that stops the engine once every job of ``only`` has settled; it listens
    from now (a job that ends before the task first runs is heard)."""
    heard = asyncio.Event()
    wanted = set(only)

    def on_event(event: Event) -> None:
        if isinstance(event, _SETTLING) and event.job_id in wanted:
            heard.set()  # the job may have settled: the store says

    unheard = started.engine.bus.subscribe(on_event)

    async def watch() -> None:
        try:
            while True:
                await heard.wait()
                heard.clear()
                if await all_settled(started.store, wanted):
                    started.engine.stop()
                    return
        finally:
            unheard()

    return asyncio.create_task(watch(), name="own-jobs")


# After these a job may have settled (a job waiting on its password has once its last
# album read before the wait went out).
_SETTLING = (JobFinished, JobWaiting, AlbumDelivered)


async def all_settled(store: JobsView, job_ids: Collection[int]) -> bool:
    """Whether every job has ended, is paused, or waits on a person with nothing of it
    in flight (as `run --until-idle` tells an idle store; a job removed meanwhile
    counts as ended)."""
    per_job = await store.item_counts()
    for job_id in job_ids:
        try:
            job = await store.get_job(job_id)
        except FerrymanError:
            continue
        if not settled(job, counts(per_job.get(job_id, {}))["pending"]):
            return False
    return True


def settled(job: Job, pending: int) -> bool:
    if job.state.terminal or job.paused:
        return True
    return job.state is JobState.NEEDS_PASSWORD and pending == 0
