"""The memory store's tables, claims and leases (``store/memory/store``): what ``store/sql/base``
does in SQL, on dicts with the schema's columns."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ferryman.clock import SYSTEM
from ferryman.errors import FerrymanError
from ferryman.model import Job, JobState
from ferryman.store.chat.sql import StatusRow
from ferryman.store.claimed import Claimed
from ferryman.store.fetches.sql import FETCHING, QUEUED, Fetch
from ferryman.store.notices.sql import EVENT_URL
from ferryman.store.notices.sql import QUEUED as NOTICE_QUEUED
from ferryman.store.schema import metadata
from ferryman.store.shared.rows import (
    Clock,
    LeaseLost,
    item_from_mapping,
    job_from_mapping,
    summarise_items,
)
from ferryman.store.sinks.memory import SinkKept

Row = dict[str, Any]
RUNNING = (JobState.QUEUED, JobState.READING, JobState.ACTIVE, JobState.NEEDS_PASSWORD)
# What a holder holds (busy) and where a hand-back puts it (ready), per table.
BUSY_TO_READY = {
    "jobs": (JobState.READING.value, JobState.QUEUED.value),
    "albums": ("delivering", "sealed"),
    "items": ("converting", "convert"),
    "fetches": (FETCHING, QUEUED),
    "watches": ("checking", "idle"),
    "notices": ("sending", "queued"),
}
TABLE_OF = {
    Claimed.JOB: "jobs",
    Claimed.FETCH: "fetches",
    Claimed.ALBUM: "albums",
    Claimed.ITEM: "items",
    Claimed.WATCH: "watches",
    Claimed.NOTICE: "notices",
}
BEHIND_FIRST = {"albums": "seq", "items": "seq", "jobs": "cursor"}  # base._BEHIND_FIRST
_MORE = ("tg_inbox",)  # the tables no one claims


class MemoryBase:
    """The tables, the claims and the leases every part of the memory store uses."""

    def __init__(self, clock: Clock = SYSTEM.now) -> None:
        self.clock = clock
        self.tables: dict[str, dict[int, Row]] = {name: {} for name in (*BUSY_TO_READY, *_MORE)}
        self.memos: dict[tuple[int, str], str] = {}
        self.segments: dict[tuple[int, int], int] = {}  # (item, part) -> reports
        self.settings: dict[str, str] = {}
        self.inputs: dict[str, int] = {}  # a look's job's inputs' dedupe keys (job_inputs)
        self.seen: dict[int, dict[str, Row]] = {}  # watch -> entry key -> seen row (in order)
        self.statuses: dict[int, StatusRow] = {}  # the chat's status message, per job
        self.chat_settings: dict[tuple[int, str], str] = {}  # (chat user, key) -> value
        self.kept = SinkKept()  # the sinks' own records (``sink_state``)
        self._ids = dict.fromkeys(self.tables, 0)

    async def close(self) -> None:
        """Nothing to let go of."""

    async def wake_engines(self) -> None:
        """Engines in other processes cannot see this store: nothing to wake."""

    # ------------------------------------------------------------ rows, leases

    def insert(self, table: str, values: Mapping[str, Any]) -> int:
        """A new row with every column of the schema's table (None where not given)."""
        self._ids[table] += 1
        row: Row = dict.fromkeys(metadata.tables[table].c.keys())
        row |= {**values, "id": self._ids[table]}
        self.tables[table][row["id"]] = row
        return int(row["id"])

    def job_row(self, job_id: int) -> Row:
        row = self.tables["jobs"].get(job_id)
        if row is None:
            raise FerrymanError("job.not_found", f"there is no job {job_id}")
        return row

    def owned(self, table: str, row_id: int, owner: str) -> Row:
        """The row, while ``owner`` holds its lease; else LeaseLost."""
        row = self.tables[table].get(row_id)
        if row is None or row["owner"] != owner:
            raise LeaseLost(f"{table} {row_id}")
        return row

    def job_runs(self, row: Row) -> bool:
        """The row's job is neither paused nor ended (``base._job_runs``)."""
        job = self.tables["jobs"][row["job_id"]]
        return not job["paused"] and JobState(job["state"]) in RUNNING

    def claim(
        self,
        table: str,
        ready: str,
        busy: str,
        owner: str,
        lease_seconds: float,
        where: Callable[[Row], bool] = lambda row: True,
        now: float | None = None,
    ) -> Row | None:
        """The first claimable row in the claims' order (priority, person, place, id), held."""
        now = self.clock() if now is None else now
        behind = BEHIND_FIRST.get(table)
        found = [
            row
            for row in self.tables[table].values()
            if row["state"] == ready and row["not_before"] <= now and where(row)
        ]
        if not found:
            return None
        running = self._persons_busy(table)  # fewest under way first (``fair_share``)

        def order(r: Row) -> tuple[Any, ...]:
            account = r["account_id"] if table == "jobs" else None
            if table == "fetches":
                account = self.tables["jobs"][r["job_id"]]["account_id"]
            return (-r["priority"], running.get(account, 0), r[behind] if behind else 0, r["id"])

        row = min(found, key=order)
        row |= {"state": busy, "owner": owner, "lease_until": now + lease_seconds}
        return row

    def _persons_busy(self, table: str) -> dict[Any, int]:
        """Per person (account): their jobs being read, or inputs being downloaded."""
        busy: dict[Any, int] = {}
        if table == "jobs":
            started = (JobState.READING.value, JobState.ACTIVE.value)
            for job in self.tables["jobs"].values():
                if job["state"] in started:
                    busy[job["account_id"]] = busy.get(job["account_id"], 0) + 1
        elif table == "fetches":
            for row in self.tables["fetches"].values():
                if row["state"] == FETCHING:
                    account = self.tables["jobs"][row["job_id"]]["account_id"]
                    busy[account] = busy.get(account, 0) + 1
        return busy

    def retry_later(
        self, table: str, row_id: int, owner: str, delay: float, extra: Row, count: bool = True
    ) -> None:
        row = self.owned(table, row_id, owner)
        row |= {"state": BUSY_TO_READY[table][1], "owner": None, "lease_until": None}
        row |= {"attempts": row["attempts"] + count, "not_before": self.clock() + delay, **extra}

    async def renew(
        self, kind: Claimed, row_id: int, owner: str, lease_seconds: float
    ) -> bool | None:
        row = self.tables[TABLE_OF[kind]].get(row_id)
        if row is None or row["owner"] is None:
            return None  # let go (a cancel), not taken by another
        if row["owner"] != owner:
            return False
        row["lease_until"] = self.clock() + lease_seconds
        return True

    def _hand_back(self, which: Callable[[Row], bool]) -> int:
        moved = 0
        for table, (busy, ready) in BUSY_TO_READY.items():
            for row in self.tables[table].values():
                if row["state"] == busy and which(row):
                    row |= {"state": ready, "owner": None, "lease_until": None}
                    moved += 1
        return moved

    async def reap(self) -> int:
        now = self.clock()
        return self._hand_back(lambda row: row["lease_until"] < now)

    async def release(self, owner: str | None, *, stopped: bool = False) -> int:
        """As the SQL store's; ``stopped`` changes nothing here (no runs are kept)."""

        def held(row: Row) -> bool:
            return row["owner"] is not None if owner is None else row["owner"] == owner

        for job in self.tables["jobs"].values():
            if held(job):
                job |= {"blocked": False, "wait_reason": None}
        return self._hand_back(held)

    def event(self, kind: str, *, job_id: int | None = None, watch_id: int | None = None,
              **facts: Any) -> None:  # fmt: skip
        """An event row (``notices.event_in``), for the notifier to make notices of."""
        now = self.clock()
        self.insert("notices", {
            "kind": kind, "url": EVENT_URL, "job_id": job_id, "watch_id": watch_id,
            "digest": 0, "payload": json.dumps({"at": now, **facts}), "state": NOTICE_QUEUED,
            "priority": 0, "created_at": now, "attempts": 0, "not_before": now})  # fmt: skip

    def others_in_place(self, dest: str, but: int | None = None) -> list[Row]:
        """Jobs whose destination is ``dest``'s place, whatever its options (``same_place``)."""
        base = dest.partition("?")[0]
        return [
            job
            for job in self.tables["jobs"].values()
            if job["id"] != but and job["dest"].partition("?")[0] == base
        ]

    def fetch_of(self, job_id: int) -> Row | None:
        return next((f for f in self.tables["fetches"].values() if f["job_id"] == job_id), None)

    def store_summary(self, job_id: int) -> None:
        """The job's stored report, from its items as they are now."""
        job = self.job_row(job_id)
        members = sorted(
            (item for item in self.tables["items"].values() if item["job_id"] == job_id),
            key=lambda item: item["seq"],
        )
        summary = summarise_items(
            job_from_mapping(job), [item_from_mapping(i) for i in members], self.clock()
        )
        job["summary"] = json.dumps(summary)


class Writer:
    """``new_job.JobWriter`` on the memory store: a job's own dedupe key and a look's
    job's inputs' (``job_inputs``) both hold an input, as ``job_writer.holders`` says."""

    def __init__(self, store: MemoryBase) -> None:
        self._store = store

    def holder(self, dedupe_key: str) -> int | None:
        jobs = self._store.tables["jobs"].values()
        own = next((j["id"] for j in jobs if j["dedupe_key"] == dedupe_key), None)
        return own if own is not None else self._store.inputs.get(dedupe_key)

    def insert(self, table: str, values: Mapping[str, Any]) -> int | None:
        if table == "source_memos":
            self._store.memos[values["job_id"], values["key"]] = values["value"]
            return None
        return self._store.insert(table, values)

    def job(self, job_id: int) -> Job:
        return job_from_mapping(self._store.job_row(job_id))

    def set_summary(self, job_id: int, summary: str) -> None:
        self._store.job_row(job_id)["summary"] = summary


def fetch_of_row(row: Row) -> Fetch:
    """A fetch's row as the stages see it."""
    return Fetch(row["id"], row["job_id"], row["state"], row["attempts"], row["path"],
                 row["size"], row["error_message"])  # fmt: skip
