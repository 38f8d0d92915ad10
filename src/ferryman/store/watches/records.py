"""A batch of a watch check's new entries written: each entry's job (with its fetch
row) and its seen row, in the caller's transaction, whole on SQLite's connection thread
(``sqlite_thread.run_sync``): a batch is one hop, not four statements' hops per entry.
``store/watches`` calls it from a batch's own transaction and from the check's last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from ferryman.model import Batch, BatchItem, Job
from ferryman.store.jobs.new import NewJob, insert_job
from ferryman.store.jobs.writer import SqlJobWriter, holders
from ferryman.store.schema import job_inputs, jobs, watch_seen, watches
from ferryman.store.shared.rows import job_from_row, same_place


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
    # The seen row this entry's own replaces (a Google Takeout part's ``takeout-held:``
    # record): removed in the transaction that records the entry.
    replaces: str | None = None


Placed = tuple[WatchJob, str, int | None]  # (entry, seen key, job; None: the batch's new one)


def place(
    new: Sequence[WatchJob],
    seen: set[str],
    holder: Callable[[str], int | None],
    peer_job: Callable[[str], int | None],
) -> tuple[list[Placed], list[WatchJob]]:
    """Where each of a batch's new entries goes, the rule both stores keep: an entry
    already ``seen`` (or twice in the batch) is left out; one with no job is only
    marked seen; one whose input a job to the same place took (``holder`` of its
    dedupe key), or that a peer watch made part of a job (``peer_job`` of its key), is
    seen with that job; the rest go into the batch's job, an input once. Returns the
    placed entries and the batch's entries in order; ``seen`` gains their keys."""
    placed: list[Placed] = []
    batched: list[WatchJob] = []
    in_batch: set[str] = set()
    for entry in new:
        key = entry_key(entry.entry_id)
        if key in seen:
            continue
        seen.add(key)
        if entry.job is None:
            placed.append((entry, key, None))
            continue
        dedupe_key = entry.job["dedupe_key"]
        held = holder(dedupe_key) if dedupe_key is not None else None
        held = held if held is not None else peer_job(key)
        placed.append((entry, key, held))
        if held is None:
            if dedupe_key is None or dedupe_key not in in_batch:
                batched.append(entry)
            if dedupe_key is not None:
                in_batch.add(dedupe_key)
    return placed, batched


def seen_in(
    conn: Connection,
    watch_id: int,
    new: Sequence[WatchJob],
    now: float,
    name: str = "watch",
    peers: Sequence[int] = (),
) -> tuple[list[tuple[str, Job | None]], list[tuple[int, str]]]:
    """The batch's new entries recorded in ``conn``'s transaction (whole on SQLite's
    thread: a batch is one hop): those to make into jobs become **one** job named
    ``name`` (the feed's, channel's or folder's), its source the list of their inputs in
    the batch's order (``sources.batch``), and each entry's seen row names it. An entry
    whose input a job to the same place already took (its dedupe key: a job's own or one
    of its inputs', ``holders``), or that a watch of ``peers`` (the same source spelled
    another way, to the same place) made part of a job, is marked seen with that job.
    Returns what was made (entry id, job), and (job, title) of each entry made part of
    a job."""
    keys = {entry_key(n.entry_id) for n in new}
    seen = set(
        conn.execute(
            select(watch_seen.c.entry_key).where(
                watch_seen.c.watch_id == watch_id, watch_seen.c.entry_key.in_(keys)
            )
        ).scalars()
    )
    dedupe = {n.job["dedupe_key"] for n in new if n.job and n.job["dedupe_key"] is not None}
    known: dict[str, int] = {}
    if dedupe:
        known = {row.dedupe_key: row.job_id for row in conn.execute(holders(dedupe)).all()}
    taken: dict[str, int] = {}  # entry key → a peer watch's job that holds it
    if peers:
        found = conn.execute(
            select(watch_seen.c.entry_key, watch_seen.c.job_id).where(
                watch_seen.c.watch_id.in_(list(peers)),
                watch_seen.c.entry_key.in_(keys),
                watch_seen.c.job_id.is_not(None),
            )
        )
        taken = {row.entry_key: row.job_id for row in found.all()}
    placed, batched = place(new, seen, known.get, taken.get)
    account = None  # the watch's person's, its jobs too (schema step 16)
    if batched:
        mine = select(watches.c.account_id).where(watches.c.id == watch_id)
        account = conn.execute(mine).scalar()
    made_job = _batch_job(conn, batched, name, now, account) if batched else None
    by_id: dict[int, Job] = {}
    wanted = {job_id for _, _, job_id in placed if job_id is not None}
    if wanted:
        rows = conn.execute(select(jobs).where(jobs.c.id.in_(wanted))).all()
        by_id = {row.id: job_from_row(row) for row in rows}
    made: list[tuple[str, Job | None]] = []
    in_notice: list[tuple[int, str]] = []  # (job, title) of each entry made part of a job
    seen_rows: list[dict[str, Any]] = []
    for entry, key, job_id in placed:
        job = None
        if entry.job is not None:
            job = by_id.get(job_id) if job_id is not None else made_job
        if job is not None:
            in_notice.append((job.id, entry.title or entry.entry_id))
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
    gone = {entry_key(n.replaces) for n in new if n.replaces is not None}
    if gone:
        ours = watch_seen.c.watch_id == watch_id
        conn.execute(delete(watch_seen).where(ours, watch_seen.c.entry_key.in_(gone)))
    if made_job is not None:
        conn.execute(
            update(watches).where(watches.c.id == watch_id).values(found=watches.c.found + 1)
        )
    return made, in_notice


def _batch_job(
    conn: Connection,
    batched: Sequence[WatchJob],
    name: str,
    now: float,
    account: int | None = None,
) -> Job:
    """One job of ``batched``'s inputs, in their order, named ``name`` (unique to its
    destination), with its fetch row and its inputs' dedupe keys (``job_inputs``): the
    batch source fetches each input in turn."""
    first = batched[0].job
    assert first is not None
    items = tuple(BatchItem(str(n.job["source"]), n.title) for n in batched if n.job is not None)
    free = _Names(conn, [{"dest": first["dest"], "name": name}]).free(first["dest"], name)
    new = NewJob(
        source=str(Batch(free, items, folder=name)),
        name=free,
        dest=first["dest"],
        priority=first["priority"],
        fetch=True,
        notify=first.get("notify"),
        account=account,
    )
    job = insert_job(SqlJobWriter(conn), new, now)
    keys = [n.job["dedupe_key"] for n in batched if n.job and n.job["dedupe_key"] is not None]
    if keys:  # each input's key, as a job of its own would hold it (distinct: seen_in)
        conn.execute(insert(job_inputs), [{"dedupe_key": k, "job_id": job.id} for k in keys])
    return job


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
                select(jobs.c.name).where(
                    same_place(jobs.c.dest, dest), jobs.c.name.in_(set(names))
                )
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
        n, asked = self.next.get((dest, base), (0, 0))  # asked: the store in_notice up to here
        if not n:  # go on after the numbered names there are (one count, in SQL)
            numbered = jobs.c.name.startswith(f"{base} (", autoescape=True)
            count = select(func.count()).where(same_place(jobs.c.dest, dest), numbered)
            n = asked = 2 + int(self.conn.execute(count).scalar_one())
        while True:
            if n >= asked:  # the next numbers, enough for the batch, in one question
                window = [f"{base} ({k})" for k in range(n, n + len(self.wanted[dest]) + 8)]
                same = same_place(jobs.c.dest, dest)
                used = select(jobs.c.name).where(same, jobs.c.name.in_(window))
                taken.update(self.conn.execute(used).scalars())
                asked = n + len(window)
            name = f"{base} ({n})"
            n += 1
            if name not in taken:
                self.next[(dest, base)] = (n, asked)
                taken.add(name)
                return name
