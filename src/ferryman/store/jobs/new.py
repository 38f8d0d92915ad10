"""One way to add a job: the rows a new job is, written in one order by every store.

The full store (``store/jobs``, SQLAlchemy on SQLite or PostgreSQL) and the light
store (``store/startup/sqlite3_store``, sqlite3 for ``ferryman add``) each hand ``insert_job`` a
``JobWriter`` over their open transaction; the dedupe check, the job's row, the summary
of a job failed at once, its ``fetches`` row and its starting memos are decided here
once. Light on purpose (no SQLAlchemy): ``ferryman add`` imports it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ferryman.errors import FerrymanError
from ferryman.model import Job
from ferryman.store.shared.rows import new_fetch_values, new_job_values, summarise_items


class JobWriter(Protocol):
    """A store's open write transaction, as adding a job needs it."""

    def holder(self, dedupe_key: str) -> int | None:
        """The job that took an input of this dedupe key, if any."""

    def insert(self, table: str, values: Mapping[str, Any]) -> int | None:
        """Insert one row; its id (None: a table keyed otherwise)."""

    def job(self, job_id: int) -> Job:
        """The job as stored."""

    def set_summary(self, job_id: int, summary: str) -> None:
        """Store the job's summary (JSON)."""


@dataclass(frozen=True, slots=True)
class NewJob:
    """What a job is added with (``Store.add_job``'s and ``Sqlite3Store.add_job``'s words)."""

    source: str
    name: str
    dest: str
    priority: int = 0
    password: str | None = None
    dedupe_key: str | None = None
    error: FerrymanError | None = None
    fetch: bool = False  # its input is downloaded first: a ``fetches`` row
    notify: str | None = None
    memos: Mapping[str, str] = field(default_factory=dict)  # source memos it starts with
    account: int | None = None  # whose job (``users.id``); None: the administrator's


def insert_job(db: JobWriter, new: NewJob, now: float) -> Job:
    """Record ``new`` in ``db``'s transaction; a job whose input is known bad is stored
    failed, with its summary. Raises ``source.duplicate`` (nothing written) when its
    dedupe key is a job's own key or an input of a look's job already."""
    if new.dedupe_key is not None:
        existing = db.holder(new.dedupe_key)
        if existing is not None:
            raise FerrymanError("source.duplicate", f"already job {existing}")
    values = new_job_values(
        source=new.source,
        name=new.name,
        dest=new.dest,
        priority=new.priority,
        password=new.password,
        dedupe_key=new.dedupe_key,
        error=new.error,
        now=now,
        notify=new.notify,
        account=new.account,
    )
    job_id = db.insert("jobs", values)
    assert job_id is not None
    job = db.job(job_id)  # as inserted: the summary below is the stored report's
    if new.error is not None:
        db.set_summary(job_id, json.dumps(summarise_items(job, [], now)))
    elif new.fetch:
        db.insert("fetches", new_fetch_values(job_id, new.priority, now))
    for key, value in new.memos.items():
        memo = {"job_id": job_id, "key": key, "value": value, "updated_at": now}
        db.insert("source_memos", memo)
    return job
