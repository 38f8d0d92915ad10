"""Step 14 (frozen): each input of a job of several (a watch's look: ``batch:``) by its
dedupe key (``job_inputs``), so an input one job took is a duplicate for another, as a
job's own ``jobs.dedupe_key`` is; a key goes with its job (``ON DELETE CASCADE``).
Jobs made before it hold no such rows (their inputs' keys are not in the store)."""

from __future__ import annotations

from sqlalchemy import Column, Connection, ForeignKey, Index, Integer, MetaData, String, Table

_meta = MetaData()
Table("jobs", _meta, Column("id", Integer, primary_key=True))  # the key's target; not created

_job_inputs = Table(
    "job_inputs",
    _meta,
    Column("dedupe_key", String(128), primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
)
Index("job_inputs_job", _job_inputs.c.job_id)


def apply(conn: Connection) -> None:
    _job_inputs.create(conn)
