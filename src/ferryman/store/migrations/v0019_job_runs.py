"""Step 19 (frozen): ``jobs.run``, which run of the job a row is in: 0 its first, one
more at each retry. A job's progress reports name their run, so a cancelled run's late
report is told apart from the retried job's own. The jobs there already are in their
first run (the default)."""

from __future__ import annotations

from sqlalchemy import Connection, text


def apply(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE jobs ADD COLUMN run INTEGER NOT NULL DEFAULT 0"))
