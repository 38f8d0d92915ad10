"""Failed-input handling: an input that cannot be read fails its job, and a broken
archive is kept in quarantine for a look.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from ferryman.engine.context import Context
from ferryman.engine.plumbing import quarantine
from ferryman.engine.plumbing.events import JobFinished
from ferryman.engine.plumbing.workarea import job_work_dir
from ferryman.errors import FerrymanError
from ferryman.model import Job

log = logging.getLogger(__name__)


async def keep_input(ctx: Context, job: Job, exc: FerrymanError) -> None:
    """Link (or copy) a broken archive into quarantine; the user's file stays where it is."""
    if not exc.code.startswith("archive."):
        return
    try:
        source = ctx.sources.for_uri(job.source).local_path(job.source)
    except FerrymanError:
        return
    if source is None:  # a fetched input: the copy in the work area
        fetched = await ctx.read_store.fetched(job.id)
        if fetched is None or fetched.path is None:
            return
        source = Path(fetched.path)
    settings = await ctx.settings()
    try:
        await asyncio.to_thread(
            quarantine.keep,
            settings.quarantine_dir,
            job.id,
            job.name,
            source,
            source.name,
            exc,
            move=False,
        )
    except OSError:
        log.warning("could not keep %s in quarantine", source, exc_info=True)


async def input_failed(ctx: Context, job: Job, exc: FerrymanError) -> None:
    """The input itself is unusable: fail the job, keep a copy of a broken archive."""
    settings = await ctx.settings()
    await keep_input(ctx, job, exc)
    await ctx.read_store.fail_job(job.id, exc, ctx.owner)
    await asyncio.to_thread(shutil.rmtree, job_work_dir(settings, job.id), True)
    ctx.bus.publish(JobFinished(job.id, state="failed", code=exc.code))
