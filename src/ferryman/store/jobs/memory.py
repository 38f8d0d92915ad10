"""The memory store's jobs (``store/memory``): what ``jobs``, ``job_actions`` and
``new_job`` keep in SQL, on plain dicts.
"""

from __future__ import annotations

import json
from typing import Any

from ferryman.config.sections import ALBUM_WAIT_SECONDS
from ferryman.errors import FerrymanError
from ferryman.model import AlbumState, ItemState, Job, JobState
from ferryman.naming import free_job_name
from ferryman.store.albums.memory import terminal
from ferryman.store.entries.sql import read_ended
from ferryman.store.fetches.sql import DONE, FETCHING, QUEUED, is_small
from ferryman.store.jobs.actions import not_ended
from ferryman.store.jobs.ends import ended_columns
from ferryman.store.jobs.figures import figures_of
from ferryman.store.jobs.new import NewJob, insert_job
from ferryman.store.jobs.queue_sql import places_of
from ferryman.store.memory.base import Row, Writer, fetch_of_row
from ferryman.store.nodes.memory import MemoryRuns
from ferryman.store.notices.sql import ASKS, JOB_ENDED, JOB_WAITING
from ferryman.store.shared.rows import decode_passwords, item_from_mapping, job_from_mapping

_CANCELLED = FerrymanError("job.cancelled", "cancelled on request")


class MemoryJobs(MemoryRuns):
    """Jobs: added, claimed for reading, waits, what a person does to them."""

    # -------------------------------------------------------------------- jobs

    async def add_job(
        self,
        *,
        source: str,
        name: str,
        dest: str,
        priority: int = 0,
        password: str | None = None,
        dedupe_key: str | None = None,
        error: FerrymanError | None = None,
        fetch: bool = False,
        notify: str | None = None,
        memos: dict[str, str] | None = None,
        account: int | None = None,
    ) -> Job:
        new = NewJob(
            source,
            name,
            dest,
            priority,
            password,
            dedupe_key,
            error,
            fetch,
            notify,
            memos or {},
            account,
        )
        return insert_job(Writer(self), new, self.clock())

    async def get_job(self, job_id: int) -> Job:
        return job_from_mapping(self.job_row(job_id))

    async def list_jobs(self) -> list[Job]:
        return [job_from_mapping(row) for _, row in sorted(self.tables["jobs"].items())]

    # ------------------------------------------------- what the doors read

    async def item_counts(self) -> dict[int, dict[str, int]]:
        counts: dict[int, dict[str, int]] = {}
        for row in self.tables["items"].values():
            states = counts.setdefault(row["job_id"], {})
            states[row["state"]] = states.get(row["state"], 0) + 1
        return counts

    async def figures(self) -> dict[str, Any]:
        grouped: dict[tuple[str, str | None], list[int]] = {}
        for row in self.tables["items"].values():
            n_read_size = grouped.setdefault((row["state"], row["error_code"]), [0, 0, 0])
            n_read_size[0] += 1
            n_read_size[1] += row["source_size"] or 0
            n_read_size[2] += row["size"] or 0
        item_rows = [
            (state, code, n, read, size) for (state, code), (n, read, size) in grouped.items()
        ]
        fetches = self.tables["fetches"].values()
        fetched = sum(row["size"] or 0 for row in fetches if row["state"] == DONE)
        jobs = [(row["source"], row["state"]) for row in self.tables["jobs"].values()]
        return figures_of(item_rows, fetched, jobs)

    async def queue_places(self) -> dict[int, dict[str, Any]]:
        """``queue_sql``'s three reads on the tables, handed to its ``places_of``."""
        now, jobs = self.clock(), self.tables["jobs"]
        in_fetch = [
            (row["job_id"], row["state"])
            for row in sorted(
                self.tables["fetches"].values(), key=lambda r: (-r["priority"], r["id"])
            )
            if jobs[row["job_id"]]["state"] == JobState.QUEUED.value
            and not jobs[row["job_id"]]["paused"]
            and (row["state"] == FETCHING or (row["state"] == QUEUED and row["not_before"] <= now))
        ]
        reading = sum(1 for job in jobs.values() if job["state"] == JobState.READING.value)
        line = sorted(
            (job for job in jobs.values() if self.readable(job, now)),
            key=lambda job: (-job["priority"], job["cursor"], job["id"]),
        )
        return places_of(in_fetch, reading, [job["id"] for job in line])

    def readable(self, job: Row, now: float) -> bool:
        """A queued job the read stage could claim now (``claim_job``'s conditions)."""
        fetch = self.fetch_of(job["id"])
        waits = fetch is not None and fetch["state"] != DONE
        return (
            job["state"] == JobState.QUEUED.value
            and not job["paused"]
            and not waits
            and (job["not_before"] <= now)
        )

    async def claim_job(self, owner: str, lease_seconds: float, small: bool = False) -> Job | None:
        claimed = await self.claim_jobs(owner, lease_seconds, 1, small=small)
        return claimed[0] if claimed else None

    async def claim_jobs(
        self, owner: str, lease_seconds: float, limit: int, small: bool = False
    ) -> list[Job]:
        claimed: list[Job] = []
        while len(claimed) < limit and (one := await self._claim_job(owner, lease_seconds, small)):
            claimed.append(one)
        return claimed

    async def _claim_job(self, owner: str, lease_seconds: float, small: bool) -> Job | None:
        now = self.clock()

        def ready(job: Row) -> bool:
            return self.readable(job, now) and (not small or _small(self.fetch_of(job["id"])))

        row = self.claim("jobs", "queued", "reading", owner, lease_seconds, now=now, where=ready)
        if row is None:
            return None
        if row["started_at"] is None:
            row["started_at"] = now
        row |= {"wait_reason": None, "blocked": False, "read_claims": row["read_claims"] + 1}
        job = job_from_mapping(row)
        job.resumed = row["read_claims"] > 1
        return job

    async def finish_expansion(
        self,
        job_id: int,
        owner: str,
        error: FerrymanError | None = None,
        album_size: int | None = None,
        *,
        wait: float = ALBUM_WAIT_SECONDS,
    ) -> list[int]:
        row = self.owned("jobs", job_id, owner)
        row |= read_ended(self.clock())
        if error is not None:
            row |= {"error_code": error.code, "error_message": error.message}
        return [] if album_size is None else self.seal(job_id, album_size, wait)

    async def fail_job(self, job_id: int, error: FerrymanError, owner: str) -> None:
        row = self.owned("jobs", job_id, owner)
        row |= ended_columns(JobState.FAILED, error, self.clock()) | {"read_done": True}
        self.store_summary(job_id)
        self.event(JOB_ENDED, job_id=job_id, status=JobState.FAILED.value)

    async def job_retry(
        self, job_id: int, owner: str, error: FerrymanError, delay: float, *, count: bool = True
    ) -> None:
        extra = {"wait_reason": error.code, "blocked": False, "updated_at": self.clock()}
        self.retry_later("jobs", job_id, owner, delay, extra, count)
        if error.code.startswith(ASKS):
            self.event(JOB_WAITING, job_id=job_id, reason=error.code)

    async def need_password(
        self,
        job_id: int,
        owner: str,
        error: FerrymanError,
        album_size: int | None = None,
        *,
        wait: float = ALBUM_WAIT_SECONDS,
    ) -> list[int]:
        row = self.owned("jobs", job_id, owner)
        row |= {"state": JobState.NEEDS_PASSWORD.value, "owner": None, "lease_until": None}
        row |= {"wait_reason": error.code, "error_message": error.message, "blocked": True}
        self.event(JOB_WAITING, job_id=job_id, reason=error.code)
        return [] if album_size is None else self.seal(job_id, album_size, wait)

    async def give_way(self, job_id: int, owner: str) -> None:
        row = self.owned("jobs", job_id, owner)
        row |= {"state": JobState.QUEUED.value, "owner": None, "lease_until": None}
        row |= {"wait_reason": None, "blocked": False, "updated_at": self.clock()}

    async def set_wait(self, job_id: int, owner: str, reason: str | None, blocked: bool) -> None:
        row = self.tables["jobs"].get(job_id)
        if row is not None and row["owner"] == owner:
            row |= {"wait_reason": reason, "blocked": blocked, "updated_at": self.clock()}
            if reason is not None and reason.startswith(ASKS):
                self.event(JOB_WAITING, job_id=job_id, reason=reason)

    async def read_waits_behind(self, job_id: int) -> bool:
        me, now = self.job_row(job_id), self.clock()
        return any(
            self.readable(job, now)
            and job["id"] != job_id
            and (job["priority"], -job["cursor"]) > (me["priority"], -me["cursor"])
            for job in self.tables["jobs"].values()
        )

    async def live_dests(self) -> list[str]:
        return list(
            dict.fromkeys(
                job["dest"]
                for job in self.tables["jobs"].values()
                if not JobState(job["state"]).terminal and not job["paused"]
            )
        )

    async def unique_name(self, base: str, dest: str) -> str:
        return free_job_name(base, {job["name"] for job in self.others_in_place(dest)})

    async def name_from_input(
        self, job_id: int, base: str, variant: str = "", source_end: str = ""
    ) -> str | None:
        row = self.tables["jobs"].get(job_id)
        if row is None or row["name"] == base:
            return None
        if any(a["job_id"] == job_id for a in self.tables["albums"].values()):
            return None
        others = self.others_in_place(row["dest"], but=job_id)
        siblings = [o["name"] for o in others if source_end and o["source"].endswith(source_end)]
        name = free_job_name(base, [o["name"] for o in others], variant, siblings=siblings)
        if name == row["name"]:
            return None
        row |= {"name": name, "updated_at": self.clock()}
        return name

    # ---------------------------------------------------- what a person does

    async def set_paused(self, job_id: int, paused: bool) -> Job:
        row = self.job_row(job_id)
        if JobState(row["state"]).terminal:
            raise _already_ended(job_id, row["state"], "paused" if paused else "resumed")
        row |= {"paused": paused, "updated_at": self.clock()}
        return job_from_mapping(row)

    async def add_password(self, job_id: int, password: str) -> Job:
        row = self.job_row(job_id)
        known = list(decode_passwords(row["password"]))
        waits = row["state"] == JobState.NEEDS_PASSWORD.value
        if password in known and waits:
            raise FerrymanError(
                "archive.password_wrong",
                "this job was given this password before, and it did not open it",
            )
        if password not in known:
            known.append(password)
        row |= {"password": json.dumps(known), "updated_at": self.clock()}
        if waits:
            row |= {"state": JobState.QUEUED.value, "wait_reason": None, "blocked": False}
            row |= {"error_message": None, "not_before": 0.0}
        return job_from_mapping(row)

    async def cancel(self, job_id: int) -> list[str]:
        job, now = self.job_row(job_id), self.clock()
        if JobState(job["state"]).terminal:
            raise FerrymanError(
                "job.already_ended",
                f"job {job_id} has ended ({job['state']}); it cannot be cancelled",
            )
        flying = {a["id"] for a in self.albums_of(job_id) if a["state"] == "delivering"}
        paths = []
        for item in self.items_of(job_id):
            if not terminal(item) and item["album_id"] not in flying:
                paths += item_from_mapping(item).work_files
                item |= {"state": ItemState.CANCELLED.value, "reason": _CANCELLED.code}
                item |= {"owner": None, "lease_until": None, "updated_at": now}
        for album in self.albums_of(job_id):
            if album["state"] == AlbumState.SEALED.value:
                album |= {"state": AlbumState.FAILED.value, "error_code": _CANCELLED.code}
        fetch = self.fetch_of(job_id)
        if fetch is not None and fetch["state"] in ("queued", "fetching"):
            fetch |= {"state": "cancelled", "owner": None, "lease_until": None}
        job |= ended_columns(JobState.CANCELLED, _CANCELLED, now)
        self.store_summary(job_id)
        return paths

    async def retry(self, job_id: int) -> Job:
        job = self.job_row(job_id)
        if not JobState(job["state"]).terminal:
            raise not_ended(job_id, job["state"], "retried")
        keep = (ItemState.DELIVERED.value, ItemState.SKIPPED.value)
        for item in self.items_of(job_id):
            if item["state"] not in keep:
                del self.tables["items"][item["id"]]
                self.segments = {k: n for k, n in self.segments.items() if k[0] != item["id"]}
        for album in self.albums_of(job_id):
            if album["state"] != AlbumState.DELIVERED.value:
                del self.tables["albums"][album["id"]]
        items, albums = self.tables["items"], self.tables["albums"]
        self.kept.forget(
            lambda job, r: (
                job == job_id
                and (
                    (r.album_id is not None and r.album_id not in albums)
                    or (r.item_id is not None and r.item_id not in items)
                )
            )
        )
        fetch = self.fetch_of(job_id)
        if fetch is not None:
            fetch |= {"state": "queued", "path": None, "size": None, "attempts": 0}
            fetch |= {"not_before": 0.0, "error_code": None, "error_message": None}
            fetch |= {"owner": None, "lease_until": None}
        job |= {"state": JobState.QUEUED.value, "cursor": 0, "read_done": False}
        job |= {"error_code": None, "error_message": None, "finished_at": None}
        job |= {"summary": None, "attempts": 0, "not_before": 0.0, "paused": False}
        job |= {"started_at": None, "updated_at": self.clock(), "run": job["run"] + 1}
        job["read_claims"] = 0  # a new run: its first claim starts it (JobStarted) again
        return job_from_mapping(job)

    async def remove_job(self, job_id: int) -> Job:
        job = self.job_row(job_id)
        if not JobState(job["state"]).terminal:
            raise not_ended(job_id, job["state"], "removed; cancel it first")
        self.statuses.pop(job_id, None)
        for table in ("items", "albums", "fetches", "tg_inbox"):
            for row in [r for r in self.tables[table].values() if r["job_id"] == job_id]:
                del self.tables[table][row["id"]]
        self.memos = {k: v for k, v in self.memos.items() if k[0] != job_id}
        self.inputs = {k: v for k, v in self.inputs.items() if v != job_id}
        del self.tables["jobs"][job_id]
        self.kept.forget(lambda job, _: job == job_id)
        return job_from_mapping(job)


def _already_ended(job_id: int, state: str, verb: str) -> FerrymanError:
    return FerrymanError(
        "job.already_ended", f"job {job_id} has ended ({state}); it cannot be {verb}"
    )


def _small(row: Row | None) -> bool:
    return row is not None and is_small(fetch_of_row(row))
