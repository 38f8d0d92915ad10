"""Entry recording: the items a reader found, and its cursor moved past them, in one
transaction (with the albums they fill).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from ferryman.config.sections import ALBUM_WAIT_SECONDS
from ferryman.model import JobState
from ferryman.store.albums.sql import seal
from ferryman.store.schema import items, jobs
from ferryman.store.shared.rows import (
    LeaseLost,
    NewItem,
    Recorded,
    RecordedBatch,
    new_item_values,
    recorded_item,
)
from ferryman.store.sql import sqlite_direct, statements
from ferryman.store.sql.base import StoreBase


class EntryQueries(StoreBase):
    """What the reader records: items, the cursor, the albums they fill."""

    async def known_seqs(self, job_id: int) -> set[int]:
        found = await self._read(_SEQS, {"job_id": job_id})
        return {seq for (seq,) in found}

    async def record_entry(self, job_id: int, owner: str, cursor: int, new: NewItem) -> Recorded:
        """Insert the item and move the job's cursor past it, in one transaction."""
        batch = await self.record_entries(job_id, owner, cursor, [new])
        return Recorded(batch.items[0], batch.ready, batch.on_disk)

    async def record_entries(
        self,
        job_id: int,
        owner: str,
        cursor: int,
        new: Sequence[NewItem],
        album_size: int | None = None,
        *,
        last: bool = False,
        wait: float = ALBUM_WAIT_SECONDS,
    ) -> RecordedBatch:
        """Insert the items and move the job's cursor past them, in one transaction.

        With ``album_size``, the albums they fill are sealed in the same transaction. A
        batch of entries costs one commit (a WAL fsync on SQLite) instead of two per
        entry; a crash before it leaves the cursor before them, so they are read again.
        ``last``: the input ended with them, and its read ends in the same transaction
        (``finish_expansion`` without an error: the last, partial albums sealed, the
        lease given back), one commit instead of two for a job of one photo. ``wait``:
        how long an album waits for a conversion of its own (``rules.sealing``).
        """
        now = self.clock()
        return await self._transaction(
            _record, job_id, owner, cursor, new, album_size, now, last, wait
        )


def _record(
    conn: Connection,
    job_id: int,
    owner: str,
    cursor: int,
    new: Sequence[NewItem],
    album_size: int | None,
    now: float,
    last: bool = False,
    wait: float = ALBUM_WAIT_SECONDS,
) -> RecordedBatch:
    """``record_entries``' transaction, whole (on SQLite's thread: one hop)."""
    params = {"job_id": job_id, "holder": owner, "to": cursor, "now": now}
    job = sqlite_direct.execute(
        conn, statements.ADVANCE, params
    ).first()  # locked for sealing on PostgreSQL
    if job is None:
        raise LeaseLost(f"job {job_id}")
    ids: dict[int, int] = {}
    if new:
        found = sqlite_direct.execute(
            conn,
            statements.INSERT_ITEMS,
            [new_item_values(job_id, n, job.priority, now) for n in new],
        )
        ids = {row.seq: row.id for row in found}
    if last:  # the read ends: sealed below as a read job's (partial albums too)
        job = sqlite_direct.execute(conn, _READ_ENDED, {"job_id": job_id, "now": now}).one()
    ready, on_disk, on_disk_bytes = sqlite_direct.execute(
        conn, statements.JOB_LOAD, {"job_id": job_id}
    ).one()
    sealed: list[int] = []
    if album_size is not None and (last or ready >= album_size):
        sealed = seal(conn, job_id, album_size, now, job, wait=wait)
    return RecordedBatch(
        tuple(recorded_item(job_id, ids[n.seq], n) for n in sorted(new, key=_by_seq)),
        int(ready),
        int(on_disk),
        tuple(sealed),
        int(on_disk_bytes),
    )


def read_ended(now: float) -> dict[str, Any]:
    """A job's columns once its whole input is items (``finish_expansion``)."""
    return {
        "state": JobState.ACTIVE.value,
        "read_done": True,
        "owner": None,
        "lease_until": None,
        "blocked": False,
        "wait_reason": None,
        "updated_at": now,
    }


_SEQS = select(items.c.seq).where(items.c.job_id == statements.JOB_ID)  # a job's items' numbers
# ``read_ended``'s columns written, the job read back: built once, run through ``sqlite_direct``
# (built and run through SQLAlchemy at every read's end, it was a third of the hop).
_READ_ENDED = (
    update(jobs)
    .where(jobs.c.id == statements.JOB_ID)
    .values({**read_ended(0.0), "updated_at": statements.NOW})
    .returning(*jobs.c)
)


def _by_seq(new: NewItem) -> int:
    return new.seq
