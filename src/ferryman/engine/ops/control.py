"""What a person can do to a job from any front door: pause, resume, cancel, retry,
remove. A command that would change nothing (cancel an ended job, retry a running
one) raises its own code rather than answering as if it had worked. ``who`` asks
(``ops/who``; the machine's own user by default, the CLI's): a person acts on their
own jobs only, and a retry is theirs to start within their limits (``ops/limits``)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from ferryman.config import Settings
from ferryman.engine.ops import limits
from ferryman.engine.ops.who import MACHINE, Who, own_job, own_source
from ferryman.engine.plumbing.quarantine import job_folder
from ferryman.engine.plumbing.workarea import job_work_dir, kept_fetch_dir
from ferryman.errors import FerrymanError
from ferryman.fsutil import remove_files
from ferryman.model import Job
from ferryman.sinks.base import SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.store.ports import Control


async def cancel_job(store: Control, job_id: int, *, who: Who = MACHINE) -> list[str]:
    """Cancel the job and delete the work files of everything it had not delivered.

    The wake-up reaches running engines, in this process or another (`ferryman cancel`
    from a second shell): their leases' heartbeats renew at once, find the job's
    leases taken, and stop its steps (a download went on for a third of a lease)."""
    await _own(store, who, job_id)
    paths = await store.cancel(job_id)
    await asyncio.to_thread(remove_files, paths)
    await store.wake_engines()
    return paths


async def _own(store: Control, who: Who, job_id: int) -> None:
    """Another's job is ``job.not_found`` (an administrator's: every job is theirs)."""
    if not who.admin:
        await own_job(store, who, job_id)


async def pause_job(store: Control, job_id: int, *, who: Who = MACHINE) -> Job:
    await _own(store, who, job_id)
    return await store.set_paused(job_id, True)


async def resume_job(store: Control, job_id: int, *, who: Who = MACHINE) -> Job:
    await _own(store, who, job_id)
    job = await store.set_paused(job_id, False)
    await store.wake_engines()  # a running engine (maybe another process) takes it up now
    return job


async def retry_job(store: Control, job_id: int, *, who: Who = MACHINE) -> Job:
    """Queue an ended job again: a person's own, within their limits (a bulk retry
    passes here job by job, so it stops at the limit as adding does), of an input
    theirs to name (``ops/who.own_source``: one added before that rule is not read
    again through the server's own accounts)."""
    if not who.admin:
        mine = await own_job(store, who, job_id)
        own_source(who, mine.source)
        if mine.state.terminal:  # else the store says why it cannot be retried
            await limits.check(store, who, new=False)
    job = await store.retry(job_id)
    await store.wake_engines()
    return job


async def give_password(store: Control, job_id: int, password: str, *, who: Who = MACHINE) -> Job:
    """Add a password to the job; a job waiting for one reads on from where it stopped."""
    await _own(store, who, job_id)
    if not password:
        await store.get_job(job_id)  # no such job: say that first (job.not_found)
        raise FerrymanError("job.password_empty", f"job {job_id}: the password given is empty")
    job = await store.add_password(job_id, password)
    await store.wake_engines()
    return job


@dataclass(frozen=True, slots=True)
class Removed:
    """What ``remove_job`` took away, for the person who asked."""

    job: Job
    folders: tuple[Path, ...]  # the folders deleted with it (work area, quarantine)


async def remove_job(
    store: Control,
    settings: Settings,
    job_id: int,
    *,
    quarantine: bool = False,
    sinks: SinkRegistry | None = None,
    who: Who = MACHINE,
) -> Removed:
    """Forget an ended job: its rows, its work folder, what its destination kind keeps
    of it here (``SinkKind.forget``: a link job's results in a folder), and with
    ``quarantine`` its quarantine folder (kept by default: it may be the only copy of a
    broken file). ``sinks``: the destination kinds (the defaults when None).

    Raises ``job.not_ended`` / ``job.waiting_for_password`` for a job not ended yet.
    """
    await _own(store, who, job_id)
    job = await store.remove_job(job_id)
    folders = [job_work_dir(settings, job_id), kept_fetch_dir(settings, job_id)]
    with contextlib.suppress(FerrymanError):  # a kind not known here: nothing to forget
        folders.extend((sinks or default_sinks()).kind(job.dest).forget(settings, job))
    if quarantine:
        folders.append(job_folder(settings.quarantine_dir, job_id, job.name))
    gone = await asyncio.to_thread(_remove_folders, folders)
    return Removed(job, gone)


def _remove_folders(folders: list[Path]) -> tuple[Path, ...]:
    gone = tuple(folder for folder in folders if folder.exists())
    for folder in gone:
        shutil.rmtree(folder, ignore_errors=True)
    return gone
