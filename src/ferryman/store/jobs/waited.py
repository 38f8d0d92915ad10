"""How long a job waited on its person (a password, disk space), kept apart from the
time it worked, so ``report`` does not count an evening's wait for a password as work.

Two of the job's memos (``source_memos``), written in the transaction of the state
change that starts or ends a wait: ``wait.since`` (when the current wait began) and
``wait.seconds`` (the waits that ended, summed)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, insert, select

from ferryman.store.schema import source_memos
from ferryman.store.sqla_async import AsyncConnection

SINCE, SECONDS = "wait.since", "wait.seconds"


async def _memo(conn: AsyncConnection, job_id: int, key: str) -> str | None:
    found = await conn.execute(
        select(source_memos.c.value).where(
            source_memos.c.job_id == job_id, source_memos.c.key == key
        )
    )
    return found.scalar_one_or_none()


async def _put(conn: AsyncConnection, job_id: int, key: str, value: str | None, now: float) -> None:
    where = (source_memos.c.job_id == job_id, source_memos.c.key == key)
    await conn.execute(delete(source_memos).where(*where))
    if value is not None:
        await conn.execute(
            insert(source_memos).values(job_id=job_id, key=key, value=value, updated_at=now)
        )


async def wait_began(conn: AsyncConnection, job_id: int, now: float) -> None:
    """The job waits on its person from ``now`` (a wait under way goes on)."""
    if await _memo(conn, job_id, SINCE) is None:
        await _put(conn, job_id, SINCE, repr(now), now)


async def wait_ended(conn: AsyncConnection, job_id: int, now: float) -> None:
    """The job's wait (if any) ended at ``now``: its length joins the sum."""
    since = await _memo(conn, job_id, SINCE)
    if since is None:
        return
    total = float(await _memo(conn, job_id, SECONDS) or 0.0) + max(0.0, now - float(since))
    await _put(conn, job_id, SECONDS, repr(total), now)
    await _put(conn, job_id, SINCE, None, now)


def waited(memos: Mapping[str, str], until: float) -> float:
    """Seconds the job waited on its person, up to ``until`` for a wait under way."""
    total = float(memos.get(SECONDS) or 0.0)
    since = memos.get(SINCE)
    return total + (max(0.0, until - float(since)) if since is not None else 0.0)
