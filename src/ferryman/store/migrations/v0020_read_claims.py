"""Step 20 (frozen): ``jobs.read_claims``, how often the read of the job's current run
was claimed. A claim past the first resumes the read (``JobResumed``); it was told by
``started_at`` differing from the claim's time, which a clock standing still (a test's,
a coarse one) made equal, so a re-claim read as a first start. A job that has started
has been claimed once."""

from __future__ import annotations

from sqlalchemy import Connection, text


def apply(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE jobs ADD COLUMN read_claims INTEGER NOT NULL DEFAULT 0"))
    conn.execute(text("UPDATE jobs SET read_claims = 1 WHERE started_at IS NOT NULL"))
