"""Step 18 (frozen): the read stage's one name. A job whose input is being read is
``reading`` (it was ``expanding``), and the flag that its input was read to its end is
``read_done`` (it was ``expanded``). Rows in the old state move to the new one; the
state's CHECK constraint is made anew. PostgreSQL changes the table in place; SQLite
rebuilds it from the definition below (the columns of step 17), the values renamed as
they are copied."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from ferryman.store.migrations.sqlite_rebuild import rebuild

_STATES = ("queued", "reading", "active", "needs_password", "done", "failed", "cancelled")
_CHECK = "state IN (" + ", ".join(f"'{s}'" for s in _STATES) + ")"

_meta = MetaData()
_jobs = Table(
    "jobs",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("dest", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("password", Text),
    Column("dedupe_key", String(128), unique=True),
    Column("wait_reason", String(64)),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("cursor", Integer, nullable=False, default=0),
    Column("read_done", Boolean, nullable=False, default=False),
    Column("summary", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("owner", String(120)),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", Float, nullable=False, default=0.0),
    Column("notify", Text),
    Column("account_id", Integer),
    CheckConstraint(_CHECK, name="jobs_state_check"),
    sqlite_autoincrement=True,
)
Index("jobs_claim", _jobs.c.state, _jobs.c.priority.desc(), _jobs.c.cursor, _jobs.c.id)
Index("jobs_account", _jobs.c.state, _jobs.c.account_id)


def apply(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        state = "CASE state WHEN 'expanding' THEN 'reading' ELSE state END"
        rebuild(conn, _jobs, {"state": state, "read_done": "expanded"})
        return
    conn.execute(text("ALTER TABLE jobs DROP CONSTRAINT jobs_state_check"))
    conn.execute(text("UPDATE jobs SET state = 'reading' WHERE state = 'expanding'"))
    conn.execute(text("ALTER TABLE jobs RENAME COLUMN expanded TO read_done"))
    conn.execute(text(f"ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK ({_CHECK})"))
