"""``add --run``: its own jobs followed to their end, whoever runs them.

With no ferryman running on the store, the engine runs here (``cli.run.run_engine``
with ``only``): ``settled.stop_once_settled`` stops it once these jobs have ended or wait on a
person, and the summary counts them alone (not the queue that was there before). With
another ferryman running (the page, a service), a second engine would be refused; the
store is read until the jobs end, and if that ferryman stops first, the engine runs
here. Either way the exit code is the table's for these jobs, and the summary says where
their files went: ``add --run trip.zip && rm trip.zip`` removes the input only once it
was delivered.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer

from ferryman.engine.ops.report import run_summary
from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.args import State
from ferryman.frontdoors.cli.run import err, live_nodes, run_engine, say_summary
from ferryman.frontdoors.cli.settled import all_settled
from ferryman.frontdoors.cli.store import run_with_store
from ferryman.frontdoors.exit_codes import ExitCode, for_run

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store.ports import JobsView, Nodes

FOLLOW_POLL_SECONDS = 1.0  # at most this long between two looks at the store
# A ferryman marks itself stopped, then closes its store and ends: its lock goes last.
HANDOVER_SECONDS = 30.0


def run_own_jobs(ctx: typer.Context, job_ids: list[int], live: list[str]) -> ExitCode:
    """Follow ``job_ids`` (just added) to their end; ``live``: the ferrymen running on
    the store now. The exit code for these jobs alone."""
    state: State = ctx.obj
    if live:
        them = "them" if len(job_ids) > 1 else "it"
        if not state.quiet:
            err.print(
                f"a running ferryman ({', '.join(live)}) takes {them} now; following {them}"
                f" here to the end (Ctrl-C stops the following, not {them})",
                markup=False,
                highlight=False,
            )
        followed = _follow_elsewhere(ctx, job_ids)
        if followed is not None:
            return followed
        if not state.quiet:
            err.print(
                f"that ferryman stopped before {them} ended: running {them} here",
                markup=False,
                highlight=False,
            )
        return run_engine(state, until_idle=True, only=job_ids, lock_wait=HANDOVER_SECONDS)
    return run_engine(state, until_idle=True, only=job_ids)


def _follow_elsewhere(ctx: typer.Context, job_ids: list[int]) -> ExitCode | None:
    """Read the store until ``job_ids`` have settled, then sum them up: the exit code;
    None when no ferryman runs on the store any more (the caller runs them here)."""
    try:
        return run_with_store(
            ctx, lambda settings, store: _follow(ctx.obj, settings, store, store, job_ids)
        )
    except KeyboardInterrupt:
        err.print(
            "stopped following; the running ferryman goes on with it: `ferryman status`"
            " shows how it goes",
            markup=False,
            highlight=False,
        )
        return ExitCode.INTERRUPTED


async def _follow(
    state: State, settings: Settings, jobs: JobsView, nodes: Nodes, job_ids: list[int]
) -> ExitCode | None:
    said: dict[int, str] = {}
    poll = min(settings.poll_seconds, FOLLOW_POLL_SECONDS)
    while not await all_settled(jobs, job_ids):
        if not state.quiet and not state.json:
            await _say_changes(jobs, job_ids, said)
        if not await live_nodes(nodes, settings):
            return None
        await asyncio.sleep(poll)  # another process's progress: only the store says it
    summary = await run_summary(jobs, jobs.clock(), only=job_ids, library=str(settings.library))
    await say_summary(state, settings, jobs, summary)
    return for_run(summary)


async def _say_changes(store: JobsView, job_ids: list[int], said: dict[int, str]) -> None:
    """A line on stderr when a followed job's state changes."""
    for job_id in job_ids:
        try:
            job = await store.get_job(job_id)
        except FerrymanError:
            continue
        now = "paused" if job.paused else job.state.value
        if said.get(job_id) != now:
            said[job_id] = now
            err.print(f"job {job_id} {job.name}: {now}", markup=False, highlight=False)
