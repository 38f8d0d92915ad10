"""``new_job.JobWriter`` on SQLAlchemy: how the full store adds a job (``Store.add_job``,
a watch's batch job) through the one insert the light store shares."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Select, String, bindparam, insert, select, union_all, update
from sqlalchemy.engine import Connection

from ferryman.model import Job
from ferryman.store.jobs.new import NewJob, insert_job
from ferryman.store.schema import job_inputs, jobs, metadata
from ferryman.store.shared.rows import job_from_row
from ferryman.store.sql import sqlite_direct, statements


def holders(keys: Collection[Any]) -> Select[tuple[str, int]]:
    """The jobs that took inputs of these dedupe keys, as (dedupe_key, job_id): a job's
    own key (``jobs.dedupe_key``) or one of its inputs' (``job_inputs``, a look's job)."""
    own = select(jobs.c.dedupe_key, jobs.c.id.label("job_id")).where(jobs.c.dedupe_key.in_(keys))
    inputs = select(job_inputs.c.dedupe_key, job_inputs.c.job_id).where(
        job_inputs.c.dedupe_key.in_(keys)
    )
    return select(union_all(own, inputs).subquery())


def add_job_in(conn: Connection, new: NewJob, now: float) -> Job:
    """``Store.add_job``'s body, in ``conn``'s transaction (on SQLite's thread: one hop)."""
    return insert_job(SqlJobWriter(conn), new, now)


class SqlJobWriter:
    """``new_job.JobWriter`` on an open SQLAlchemy transaction: its statements built
    once (``sql/statements``), each run through ``sql/sqlite_direct`` (on SQLite's thread, without
    SQLAlchemy's execution: building and compiling a statement per add were most of an
    add's cost, 200 links' adds before the engine starts)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def holder(self, dedupe_key: str) -> int | None:
        found = sqlite_direct.execute(self._conn, _HOLDER, {"dedupe_key": dedupe_key}).first()
        return None if found is None else int(found.job_id)

    def insert(self, table: str, values: Mapping[str, Any]) -> int | None:
        made = sqlite_direct.execute(self._conn, _INSERTS[table], values)
        return int(made.scalar_one()) if "id" in metadata.tables[table].c else None

    def job(self, job_id: int) -> Job:
        return job_from_row(
            sqlite_direct.execute(self._conn, statements.GET_JOB, {"job_id": job_id}).one()
        )

    def set_summary(self, job_id: int, summary: str) -> None:
        sqlite_direct.execute(self._conn, _SUMMARY, {"job_id": job_id, "to": summary})


_HOLDER = holders([bindparam("dedupe_key", type_=String)])
# One insert per table (with its id back where it has one), for any table's values.
_INSERTS = {
    t.name: insert(t).returning(t.c.id) if "id" in t.c else insert(t)
    for t in metadata.tables.values()
}
_SUMMARY = (
    update(jobs).where(jobs.c.id == statements.JOB_ID).values(summary=bindparam("to", type_=String))
)
