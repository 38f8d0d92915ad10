"""A batch of a watch check's new entries written: each entry's job (with its fetch
row) and its seen row, in the caller's transaction, whole on SQLite's connection thread
(``sqlite_thread.run_sync``): a batch is one hop, not four statements' hops per entry.
``store/watches`` calls it from a batch's own transaction and from the check's last.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.engine import Connection

from ferryman.model import Job
from ferryman.store.rows import job_from_row, new_fetch_values, new_job_values, summarise
from ferryman.store.schema import fetches, jobs, watch_seen, watches


def entry_key(entry_id: str) -> str:
    """The seen table's key for a source's stable id (ids can be long links)."""
    return hashlib.sha256(entry_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class WatchJob:
    """A new entry made into a job: the ``add_job`` arguments (``NewInput.job``) and
    the entry it came from."""

    entry_id: str
    title: str | None
    job: dict[str, Any] | None  # None: only marked seen (--since now, filtered out)


# Built once: a statement made per entry with its values inline cost SQLAlchemy more
# (coercing each value, keying the cache) than SQLite's own work, 5 ms an entry.
_INSERT_JOB = insert(jobs).returning(*jobs.c)


def seen_in(
    conn: Connection, watch_id: int, new: Sequence[WatchJob], now: float
) -> tuple[list[tuple[str, Job | None]], list[tuple[int, str]]]:
    """Each new entry's job and seen row, in ``conn``'s transaction (whole on SQLite's
    thread: a batch is one hop, not four per entry): what was made (entry id, job),
    and (job, title) of each entry made a job."""
    made: list[tuple[str, Job | None]] = []
    keys = {entry_key(n.entry_id) for n in new}
    seen = set(
        conn.execute(
            select(watch_seen.c.entry_key).where(
                watch_seen.c.watch_id == watch_id, watch_seen.c.entry_key.in_(keys)
            )
        ).scalars()
    )
    dedupe = {n.job["dedupe_key"] for n in new if n.job and n.job["dedupe_key"] is not None}
    known: dict[str, Row[Any]] = {
        row.dedupe_key: row
        for row in conn.execute(select(jobs).where(jobs.c.dedupe_key.in_(dedupe))).all()
    }
    told: list[tuple[int, str]] = []  # (job, title) of each entry made a job
    names = _Names(conn, [n.job for n in new if n.job is not None])
    seen_rows: list[dict[str, Any]] = []
    fetch_rows: list[dict[str, Any]] = []
    for entry in new:
        key = entry_key(entry.entry_id)
        if key in seen:
            continue
        seen.add(key)
        job = None
        if entry.job is not None:
            job = _watch_job(conn, entry.job, now, names, known, fetch_rows)
            told.append((job.id, entry.title or entry.entry_id))
        seen_rows.append(
            {
                "watch_id": watch_id,
                "entry_key": key,
                "entry_id": entry.entry_id,
                "title": entry.title,
                "job_id": job.id if job is not None else None,
                "seen_at": now,
            }
        )
        made.append((entry.entry_id, job))
    if seen_rows:
        conn.execute(insert(watch_seen), seen_rows)
    if fetch_rows:
        conn.execute(insert(fetches), fetch_rows)
    if told:
        conn.execute(
            update(watches)
            .where(watches.c.id == watch_id)
            .values(found=watches.c.found + len(told))
        )
    return made, told


def _watch_job(
    conn: Connection,
    job: dict[str, Any],
    now: float,
    names: _Names,
    known: dict[str, Row[Any]],
    fetch_rows: list[dict[str, Any]],
) -> Job:
    """``add_job`` inside the check's transaction, with a name unique to its
    destination (``names``); an input already a job to the same place (``known``, by
    dedupe key, kept up to date) is that job. A new job's fetch row is added to
    ``fetch_rows``."""
    key = job["dedupe_key"]
    if key is not None and key in known:
        return job_from_row(known[key])
    name = names.free(job["dest"], job["name"])
    values = new_job_values(
        source=job["source"],
        name=name,
        dest=job["dest"],
        priority=job["priority"],
        password=job["password"],
        dedupe_key=key,
        error=job["error"],
        now=now,
        notify=job.get("notify"),
    )
    row = conn.execute(_INSERT_JOB, values).one()
    if key is not None:
        known[key] = row
    if job["error"] is not None:  # ended as it is made: its summary (no items) with it
        summary = json.dumps(summarise(row, [], now))
        conn.execute(update(jobs).where(jobs.c.id == row.id).values(summary=summary))
    elif job["fetch"]:
        fetch_rows.append(new_fetch_values(row.id, 0, now))
    return job_from_row(row)


class _Names:
    """Free job names per destination for one batch, asked of the store a batch at a
    time, not a name at a time nor every name of the destination (a watch that made
    100,000 jobs read them all at every batch; a feed whose links all end ``dl.php``
    counted up from ``dl.php (2)`` through every name taken, for each job)."""

    def __init__(self, conn: Connection, made: Sequence[dict[str, Any]]) -> None:
        self.conn = conn
        self.wanted: dict[str, list[str]] = {}  # names per destination, in order
        for job in made:
            self.wanted.setdefault(job["dest"], []).append(job["name"])
        self.taken: dict[str, set[str]] = {}
        for dest, names in self.wanted.items():
            found = conn.execute(
                select(jobs.c.name).where(jobs.c.dest == dest, jobs.c.name.in_(set(names)))
            )
            self.taken[dest] = set(found.scalars())
        self.next: dict[tuple[str, str], tuple[int, int]] = {}  # per name: (next, asked)

    def free(self, dest: str, base: str) -> str:
        """``base``, else ``base (N)`` for an N no job of ``dest`` has (not always the
        smallest: numbering goes on from the numbered names already there)."""
        taken = self.taken[dest]
        if base not in taken:
            taken.add(base)
            return base
        n, asked = self.next.get((dest, base), (0, 0))  # asked: the store told up to here
        if not n:  # go on after the numbered names there are (one count, in SQL)
            numbered = jobs.c.name.startswith(f"{base} (", autoescape=True)
            count = select(func.count()).where(jobs.c.dest == dest, numbered)
            n = asked = 2 + int(self.conn.execute(count).scalar_one())
        while True:
            if n >= asked:  # the next numbers, enough for the batch, in one question
                window = [f"{base} ({k})" for k in range(n, n + len(self.wanted[dest]) + 8)]
                used = select(jobs.c.name).where(jobs.c.dest == dest, jobs.c.name.in_(window))
                taken.update(self.conn.execute(used).scalars())
                asked = n + len(window)
            name = f"{base} ({n})"
            n += 1
            if name not in taken:
                self.next[(dest, base)] = (n, asked)
                taken.add(name)
                return name
