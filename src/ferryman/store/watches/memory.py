"""The memory store's watches (``store/memory``): what ``store/watches`` and
``store/watches/records`` do in SQL, on dicts: a watch claimed with a lease, a check's
batch of new entries made into one job with its seen rows, the watch's notices' event
rows (``store/notices``) written with the check that tells of them.

A method runs without an ``await`` inside, so on one event loop a batch is one
transaction, as the SQL stores' is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.model import Batch, BatchItem, ItemState, Job, JobState
from ferryman.store.albums.memory import MemoryAlbums
from ferryman.store.jobs.new import NewJob, insert_job
from ferryman.store.memory.base import Row, Writer
from ferryman.store.notices.sql import WATCH_FAILING, WATCH_FOUND
from ferryman.store.shared.rows import job_from_mapping
from ferryman.store.watches.records import WatchJob, entry_key, place
from ferryman.store.watches.sql import CHECKING, IDLE, Made, Watch

_FIELDS = [f.name for f in dataclasses.fields(Watch)]


def _watch(row: Row) -> Watch:
    return Watch(**{name: row[name] for name in _FIELDS} | {
        "paused": bool(row["paused"]), "primed": bool(row["primed"])})  # fmt: skip


def _not_found(watch_id: int) -> FerrymanError:
    return FerrymanError("watch.not_found", f"there is no watch {watch_id}")


class MemoryWatches(MemoryAlbums):
    """Watches, what each has seen (watch id → entry key → seen row, in the order
    seen), and the notices' event rows the checks write."""

    def watch_row(self, watch_id: int) -> Row:
        row = self.tables["watches"].get(watch_id)
        if row is None:
            raise _not_found(watch_id)
        return row

    async def add_watch(self, **values: Any) -> Watch:
        now = self.clock()
        row_id = self.insert("watches", {
            "state": IDLE, "paused": False, "priority": 0, "primed": False, "failures": 0,
            "found": 0, "created_at": now, "updated_at": now, "attempts": 0,
            "not_before": 0.0, **values})  # fmt: skip
        return _watch(self.tables["watches"][row_id])

    async def get_watch(self, watch_id: int) -> Watch:
        return _watch(self.watch_row(watch_id))

    async def list_watches(self) -> list[Watch]:
        return [_watch(row) for _, row in sorted(self.tables["watches"].items())]

    async def set_watch_paused(self, watch_id: int, paused: bool) -> Watch:
        row, now = self.watch_row(watch_id), self.clock()
        row |= {"paused": paused, "updated_at": now}
        if not paused:
            row |= {"next_check_at": now, "failures": 0}
        return _watch(row)

    async def remove_watch(self, watch_id: int) -> None:
        self.watch_row(watch_id)
        self.seen.pop(watch_id, None)
        del self.tables["watches"][watch_id]

    async def claim_watch(
        self, owner: str, lease_seconds: float, watch_id: int | None = None
    ) -> Watch | None:
        now = self.clock()
        if watch_id is None:

            def due(w: Row) -> bool:
                return not w["paused"] and w["next_check_at"] <= now

            row = self.claim("watches", IDLE, CHECKING, owner, lease_seconds, due, now)
            return None if row is None else _watch(row)
        row = self.watch_row(watch_id)
        if row["state"] != IDLE:
            return None
        row |= {"state": CHECKING, "owner": owner, "lease_until": now + lease_seconds}
        return _watch(row)

    async def watch_seen_rows(self, watch_id: int) -> list[tuple[str, int | None]]:
        rows = sorted(self.seen.get(watch_id, {}).values(),
                      key=lambda r: (r["seen_at"], r["entry_id"]))  # fmt: skip
        return [(row["entry_id"], row["job_id"]) for row in rows]

    async def watch_seen_among(self, watch_id: int, keys: Collection[str]) -> set[str]:
        seen = self.seen.get(watch_id, {})
        return {key for key in keys if key in seen}

    async def watch_delivered(self, watch_id: int, keys: Collection[str]) -> dict[str, int]:
        seen = self.seen.get(watch_id, {})
        found: dict[str, int] = {}
        for key in keys:
            job_id = seen[key]["job_id"] if key in seen else None
            job = self.tables["jobs"].get(job_id) if job_id is not None else None
            if job is None or job["state"] != JobState.DONE.value:
                continue
            made = [i for i in self.tables["items"].values() if i["job_id"] == job_id]
            if job_id is not None and all(i["state"] == ItemState.DELIVERED.value for i in made):
                found[key] = int(job_id)
        return found

    async def watch_recorded(
        self,
        watch_id: int,
        owner: str,
        new: Sequence[WatchJob],
        *,
        name: str = "watch",
        peers: Sequence[int] = (),
    ) -> Made:
        self.owned("watches", watch_id, owner)["updated_at"] = self.clock()
        made, _ = self.seen_in(watch_id, new, name, peers)
        return Made(made)

    async def watch_checked(
        self,
        watch_id: int,
        owner: str,
        new: Sequence[WatchJob],
        next_at: float,
        *,
        message: str | None = None,
        primed: bool = True,
        in_notice: Sequence[tuple[int, str]] = (),
        name: str = "watch",
        peers: Sequence[int] = (),
    ) -> Made:
        row, now = self.owned("watches", watch_id, owner), self.clock()
        row |= {"state": IDLE, "owner": None, "lease_until": None, "primed": primed,
                "next_check_at": next_at, "last_check_at": now, "last_ok_at": now,
                "last_code": None, "last_message": message, "failures": 0, "attempts": 0,
                "updated_at": now}  # fmt: skip
        made, in_notice_now = self.seen_in(watch_id, new, name, peers)
        in_notice = [*in_notice, *in_notice_now]
        if in_notice:  # one notice for the check: its job(s), its entries' titles
            jobs = list(dict.fromkeys(job for job, _ in in_notice))
            titles = [title for _, title in in_notice]
            self.event(WATCH_FOUND, watch_id=watch_id, jobs=jobs, titles=titles)
        return Made(made)

    async def watch_failed(
        self,
        watch_id: int,
        owner: str,
        error: FerrymanError,
        next_at: float,
        *,
        count: bool = True,
    ) -> None:
        row, now = self.owned("watches", watch_id, owner), self.clock()
        fine_until_now = row["failures"] == 0
        row |= {"state": IDLE, "owner": None, "lease_until": None, "next_check_at": next_at,
                "last_check_at": now, "last_code": error.code, "last_message": error.message,
                "updated_at": now, "failures": row["failures"] + count}  # fmt: skip
        if count and fine_until_now:  # said once, when a watch that was fine fails
            self.event(WATCH_FAILING, watch_id=watch_id, code=error.code,
                       message=error.message, next_at=next_at)  # fmt: skip

    async def watch_moved(self, watch_id: int, owner: str, next_at: float) -> None:
        row = self.owned("watches", watch_id, owner)
        row |= {"state": IDLE, "owner": None, "lease_until": None, "next_check_at": next_at}

    async def watch_due(self, watch_id: int, at: float) -> bool:
        row = self.tables["watches"].get(watch_id)
        if row is None or row["state"] != IDLE or row["paused"] or row["next_check_at"] <= at:
            return False
        row["next_check_at"] = at
        return True

    async def watches_idle(self) -> bool:
        now = self.clock()
        return not any(
            not w["paused"] and (w["state"] == CHECKING or w["next_check_at"] <= now)
            for w in self.tables["watches"].values()
        )

    def seen_in(
        self, watch_id: int, new: Sequence[WatchJob], name: str, peers: Sequence[int]
    ) -> tuple[list[tuple[str, Job | None]], list[tuple[int, str]]]:
        """``watch_records.seen_in`` on dicts: the batch's new entries to make into jobs
        become one job named ``name``; an entry whose input a job to the same place took
        (its dedupe key), or a watch of ``peers`` made part of a job, is marked seen with
        that job. Returns (entry id, job) of each entry, and (job, title) of each entry
        made part of a job."""
        seen = self.seen.setdefault(watch_id, {})
        placed, batched = place(
            new, set(seen), Writer(self).holder, lambda key: self.peer_job(peers, key)
        )
        account = self.tables["watches"][watch_id]["account_id"] if batched else None
        made_job = self.batch_job(batched, name, account) if batched else None
        now = self.clock()
        made: list[tuple[str, Job | None]] = []
        in_notice: list[tuple[int, str]] = []
        for entry, key, job_id in placed:
            job = None
            if entry.job is not None:
                job = made_job if job_id is None else self.existing(job_id)
            if job is not None:
                in_notice.append((job.id, entry.title or entry.entry_id))
            seen[key] = {"entry_id": entry.entry_id, "title": entry.title,
                         "job_id": None if job is None else job.id, "seen_at": now}  # fmt: skip
            made.append((entry.entry_id, job))
        for entry in new:  # a held Takeout part's record goes as the part is seen
            if entry.replaces is not None:
                seen.pop(entry_key(entry.replaces), None)
        if made_job is not None:
            self.watch_row(watch_id)["found"] += 1
        return made, in_notice

    def peer_job(self, peers: Sequence[int], key: str) -> int | None:
        """The job a watch of ``peers`` made the entry part of, if any."""
        for peer in peers:
            row = self.seen.get(peer, {}).get(key)
            if row is not None and row["job_id"] is not None:
                return int(row["job_id"])
        return None

    def existing(self, job_id: int) -> Job | None:
        row = self.tables["jobs"].get(job_id)
        return None if row is None else job_from_mapping(row)

    def free_name(self, dest: str, base: str) -> str:
        """``base``, else ``base (N)`` counted on from the numbered names the place has
        (``watch_records._Names``: not always the smallest free number)."""
        taken = {job["name"] for job in self.others_in_place(dest)}
        if base not in taken:
            return base
        n = 2 + sum(1 for name in taken if name.startswith(f"{base} ("))
        while f"{base} ({n})" in taken:
            n += 1
        return f"{base} ({n})"

    def batch_job(self, batched: Sequence[WatchJob], name: str, account: int | None = None) -> Job:
        """One job of ``batched``'s inputs, in their order (``watch_records._batch_job``)."""
        first = batched[0].job
        assert first is not None
        items = tuple(BatchItem(str(n.job["source"]), n.title) for n in batched if n.job)
        free = self.free_name(first["dest"], name)
        new = NewJob(str(Batch(free, items, folder=name)), free, first["dest"], first["priority"],
                     fetch=True, notify=first.get("notify"), account=account)  # fmt: skip
        job = insert_job(Writer(self), new, self.clock())
        for entry in batched:
            if entry.job is not None and entry.job["dedupe_key"] is not None:
                self.inputs[entry.job["dedupe_key"]] = job.id
        return job
