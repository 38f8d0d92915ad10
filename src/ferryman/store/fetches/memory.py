"""The memory store's fetches (``store/memory``): what ``store/fetches`` keeps in SQL,
a job's input downloaded first, and its memos."""

from __future__ import annotations

from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.store.fetches.calls import CLAIM, OutsideCall, decide, mine, nobodys
from ferryman.store.fetches.sql import DONE, FETCHING, QUEUED, Fetch, InputName
from ferryman.store.jobs.ends import ended_columns
from ferryman.store.jobs.memory import MemoryJobs
from ferryman.store.memory.base import Row, fetch_of_row
from ferryman.store.notices.sql import ASKS, JOB_ENDED, JOB_WAITING


class MemoryFetches(MemoryJobs):
    """Fetches claimed, done, retried or failed; a job's source memos."""

    async def claim_fetch(
        self, owner: str, lease_seconds: float, schemes: tuple[str, ...] = ()
    ) -> Fetch | None:
        claimed = await self.claim_fetches(owner, lease_seconds, 1, schemes)
        return claimed[0] if claimed else None

    async def claim_fetches(
        self, owner: str, lease_seconds: float, limit: int, schemes: tuple[str, ...] = ()
    ) -> list[Fetch]:
        claimed: list[Fetch] = []
        while len(claimed) < limit and (
            one := await self._claim_fetch(owner, lease_seconds, schemes)
        ):
            claimed.append(one)
        return claimed

    async def _claim_fetch(
        self, owner: str, lease_seconds: float, schemes: tuple[str, ...]
    ) -> Fetch | None:
        prefixes = tuple(f"{scheme}:" for scheme in schemes)

        def theirs(row: Row) -> bool:
            source = str(self.tables["jobs"][row["job_id"]]["source"])
            return self.job_runs(row) and (not prefixes or source.startswith(prefixes))

        row = self.claim("fetches", QUEUED, FETCHING, owner, lease_seconds, theirs)
        return None if row is None else fetch_of_row(row)

    async def fetched(self, job_id: int) -> Fetch | None:
        row = self.fetch_of(job_id)
        return None if row is None else fetch_of_row(row)

    async def fetch_done(
        self,
        fetch_id: int,
        owner: str,
        path: str | None,
        size: int | None,
        hold: str | None = None,
        *,
        named: InputName | None = None,
        note: tuple[str, str] | None = None,
    ) -> bool:
        row = self.owned("fetches", fetch_id, owner)
        if note is not None:
            self.memos[row["job_id"], note[0]] = note[1]
        if named is not None:
            await self.name_from_input(row["job_id"], named.base, named.variant, named.source_end)
        row |= {"state": DONE, "path": path, "size": size, "owner": None, "lease_until": None}
        row |= {"error_code": None, "error_message": None, "updated_at": self.clock()}
        job = self.tables["jobs"][row["job_id"]]
        held = hold is not None and (row["job_id"], hold) in self.memos
        job |= {"wait_reason": hold if held else None, "blocked": False, "updated_at": self.clock()}
        if held:
            job["paused"] = True
        return held

    async def fetch_retry(
        self,
        fetch_id: int,
        owner: str,
        error: FerrymanError,
        delay: float,
        *,
        count: bool = True,
    ) -> None:
        extra = {"error_code": error.code, "error_message": error.message}
        self.retry_later("fetches", fetch_id, owner, delay, extra, count)
        job = self.tables["jobs"][self.tables["fetches"][fetch_id]["job_id"]]
        job |= {"wait_reason": error.code, "updated_at": self.clock()}
        if error.code.startswith(ASKS):
            self.event(JOB_WAITING, job_id=job["id"], reason=error.code)

    async def fetch_failed(self, fetch_id: int, owner: str, error: FerrymanError) -> int:
        row = self.owned("fetches", fetch_id, owner)
        row |= {"state": "failed", "owner": None, "lease_until": None}
        row |= {"error_code": error.code, "error_message": error.message}
        job = self.tables["jobs"][row["job_id"]]
        ends = not JobState(job["state"]).terminal
        if ends:
            job |= ended_columns(JobState.FAILED, error, self.clock()) | {"read_done": True}
        self.store_summary(job["id"])
        if ends:  # not ended (cancelled) before: a notice's event
            self.event(JOB_ENDED, job_id=job["id"], status="failed")
        return int(job["id"])

    async def source_memos(self, job_id: int) -> dict[str, str]:
        return {key: value for (job, key), value in self.memos.items() if job == job_id}

    async def put_source_memo(self, job_id: int, key: str, value: str) -> None:
        self.memos[job_id, key] = value

    async def memos_named(self, key: str) -> dict[int, str]:
        return {job: value for (job, named), value in self.memos.items() if named == key}

    # ``store/fetches/calls``: an outside call made once, whichever node makes it
    async def claim_call(self, job_id: int, key: str, owner: str, hold: float) -> OutsideCall:
        memos = await self.source_memos(job_id)
        found, claim = decide(memos, key, owner, self.clock(), hold)
        if claim is not None:
            self.memos[job_id, key + CLAIM] = claim
        return found

    async def call_made(
        self, job_id: int, key: str, owner: str, value: str, *, replace: bool = False
    ) -> str:
        if (job_id, key) not in self.memos or replace:
            self.memos[job_id, key] = value
        if mine(self.memos.get((job_id, key + CLAIM)), owner):
            del self.memos[job_id, key + CLAIM]
        return self.memos[job_id, key]

    async def call_dropped(
        self, job_id: int, key: str, owner: str, *, unknown: bool = False
    ) -> None:
        claim = self.memos.get((job_id, key + CLAIM))
        if mine(claim, owner):
            del self.memos[job_id, key + CLAIM]
            if unknown:
                self.memos[job_id, key + CLAIM] = nobodys(claim)

    async def fetching_jobs(self) -> set[int]:
        return {
            row["job_id"] for row in self.tables["fetches"].values() if row["state"] == FETCHING
        }

    async def fetch_errors(self) -> dict[int, str]:
        rows = self.tables["fetches"].values()
        return {r["job_id"]: r["error_message"] for r in rows if r["error_message"] is not None}

    async def downloaded_jobs(self) -> set[int]:
        rows = self.tables["fetches"].values()
        return {r["job_id"] for r in rows if r["state"] == DONE and r["path"] is not None}
