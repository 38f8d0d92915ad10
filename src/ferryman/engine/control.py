"""What a person can do to a job from any front door: pause, resume, cancel, retry."""

from __future__ import annotations

import asyncio

from ferryman.errors import FerrymanError
from ferryman.fsutil import remove_files
from ferryman.model import Job
from ferryman.store import Store


async def cancel_job(store: Store, job_id: int) -> list[str]:
    """Cancel the job and delete the work files of everything it had not delivered."""
    paths = await store.cancel(job_id)
    await asyncio.to_thread(remove_files, paths)
    return paths


async def pause_job(store: Store, job_id: int) -> Job:
    return await store.set_paused(job_id, True)


async def resume_job(store: Store, job_id: int) -> Job:
    return await store.set_paused(job_id, False)


async def retry_job(store: Store, job_id: int) -> Job:
    return await store.retry(job_id)


async def give_password(store: Store, job_id: int, password: str) -> Job:
    """Add a password to the job; a job waiting for one reads on from where it stopped."""
    if not password:
        raise FerrymanError("config.invalid", "the password is empty")
    return await store.add_password(job_id, password)
