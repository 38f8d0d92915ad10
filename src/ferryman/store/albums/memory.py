"""The memory store's items and albums (``store/memory``): entries recorded, albums
sealed (``rules.sealing``) and delivered, conversions, jobs ended (``rules.outcomes``)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence

from ferryman.config.sections import ALBUM_WAIT_SECONDS
from ferryman.errors import FerrymanError
from ferryman.model import (
    ENCODED_PLANS,
    ENCODING,
    Album,
    AlbumClaim,
    AlbumGroup,
    AlbumState,
    Item,
    ItemState,
    Job,
    JobState,
    MediaKind,
    Plan,
    SinkWrite,
    held,
    parts_copied,
)
from ferryman.rules.outcomes import OUTCOME_STATES, ItemFact, job_outcome
from ferryman.rules.sealing import ReadyItem, albums_to_seal, split_alone
from ferryman.store.albums.sql import ROOM_WAIT
from ferryman.store.entries.sql import read_ended
from ferryman.store.fetches.sql import DONE
from ferryman.store.jobs.ends import HousekeepingState
from ferryman.store.memory.base import MemoryBase, Row
from ferryman.store.notices.sql import JOB_ENDED, JOB_WAITING
from ferryman.store.shared.rows import (
    Ended,
    LeaseLost,
    NewItem,
    Recorded,
    RecordedBatch,
    album_from_mapping,
    ended_item,
    item_from_mapping,
    job_from_mapping,
    new_item_values,
    recorded_item,
)

log = logging.getLogger(__name__)
# Ready, or converting: not ended, and (to sealing) holding its place in its album.
_OPEN = (ItemState.READY.value, ItemState.CONVERT.value, ItemState.CONVERTING.value)


def terminal(item: Row) -> bool:
    """The item ended (delivered, skipped, quarantined, failed, cancelled)."""
    return ItemState(item["state"]).terminal


class MemoryAlbums(MemoryBase):
    """Items and albums, as ``entries``, ``albums``, ``items`` and ``job_ends`` keep them."""

    def items_of(self, job_id: int) -> list[Row]:
        found = [i for i in self.tables["items"].values() if i["job_id"] == job_id]
        return sorted(found, key=lambda item: item["seq"])

    def albums_of(self, job_id: int) -> list[Row]:
        return [a for a in self.tables["albums"].values() if a["job_id"] == job_id]

    async def known_seqs(self, job_id: int) -> set[int]:
        return {item["seq"] for item in self.items_of(job_id)}

    async def job_items(self, job_id: int) -> list[Item]:
        return [item_from_mapping(item) for item in self.items_of(job_id)]

    async def backlog(self, job_id: int) -> tuple[int, int]:
        live = [i for i in self.items_of(job_id) if not terminal(i)]
        each = [
            held(
                i["size"] or 0,
                i["source_size"],
                kept=i["original_path"] is not None,
                split=parts_copied(i["plan"], i["parts"]),
                encoding=i["state"] in ENCODING,
            )
            for i in live
        ]
        return sum(files for files, _ in each), sum(size for _, size in each)

    async def record_entry(self, job_id: int, owner: str, cursor: int, new: NewItem) -> Recorded:
        batch = await self.record_entries(job_id, owner, cursor, [new])
        return Recorded(batch.items[0], batch.ready, batch.on_disk)

    async def record_entries(
        self,
        job_id: int,
        owner: str,
        cursor: int,
        new: Sequence[NewItem],
        album_size: int | None = None,
        *,
        last: bool = False,
        wait: float = ALBUM_WAIT_SECONDS,
    ) -> RecordedBatch:
        job, now = self.tables["jobs"].get(job_id), self.clock()
        if job is None or job["owner"] != owner or job["state"] != JobState.READING.value:
            raise LeaseLost(f"job {job_id}")
        job |= {"cursor": cursor, "updated_at": now}
        ids = {
            n.seq: self.insert("items", new_item_values(job_id, n, job["priority"], now))
            for n in new
        }
        if last:
            job |= read_ended(now)
        on_disk, size = await self.backlog(job_id)
        ready = sum(i["state"] == ItemState.READY.value for i in self.items_of(job_id))
        seals = album_size and (last or ready >= album_size)
        sealed = self.seal(job_id, album_size, wait) if album_size and seals else []
        made = tuple(recorded_item(job_id, ids[n.seq], n) for n in sorted(new, key=_seq))
        return RecordedBatch(made, ready, on_disk, tuple(sealed), size)

    # ---------------------------------------------------------------- albums

    def seal(self, job_id: int, album_size: int, wait: float = ALBUM_WAIT_SECONDS) -> list[int]:
        """``albums.seal``: the facts gathered, ``rules.sealing`` decides."""
        job = self.job_row(job_id)
        if job["state"] in (JobState.CANCELLED.value, JobState.FAILED.value):
            return []
        found = [
            ReadyItem(
                i["id"],
                MediaKind(i["kind"]),
                Plan(i["plan"]) if i["plan"] else None,
                i["source_path"],
                since=float(i["updated_at"]),
                pending=i["state"] != ItemState.READY.value,
            )
            for i in self.items_of(job_id)
            if i["state"] in _OPEN
        ]
        facts = {"read_done": bool(job["read_done"]), "blocked": bool(job["blocked"])}
        chosen = albums_to_seal(found, album_size, **facts, now=self.clock(), wait=wait)
        last = max((a["seq"] for a in self.albums_of(job_id)), default=0)
        return [
            self._new_album(job, last + n + 1, group, ids) for n, (group, ids) in enumerate(chosen)
        ]

    def _new_album(self, job: Row, seq: int, group: AlbumGroup, ids: Sequence[int]) -> int:
        now = self.clock()
        album_id = self.insert(
            "albums",
            {"job_id": job["id"], "seq": seq, "grp": group.value, "priority": job["priority"]}
            | {"state": AlbumState.SEALED.value, "created_at": now, "attempts": 0}
            | {"not_before": 0.0},
        )
        for item_id in ids:
            self.tables["items"][item_id] |= {
                "album_id": album_id,
                "state": ItemState.GROUPED.value,
                "updated_at": now,
            }
        return album_id

    async def seal_albums(
        self, job_id: int, album_size: int, *, wait: float = ALBUM_WAIT_SECONDS
    ) -> list[int]:
        return self.seal(job_id, album_size, wait)

    def _album(self, row: Row) -> Album:
        members = [i for i in self.tables["items"].values() if i["album_id"] == row["id"]]
        ordered = sorted(members, key=lambda item: item["seq"])
        return album_from_mapping(row, [item_from_mapping(i) for i in ordered])

    async def claim_delivery(self, owner: str, lease_seconds: float) -> AlbumClaim | None:
        now = self.clock()

        def claimable(row: Row) -> bool:  # as ``sql._an_earlier_album_waits``
            return self.job_runs(row) and not any(
                a["seq"] < row["seq"]
                and a["state"] == "sealed"
                and a["not_before"] > now
                and a.get("error_code") != ROOM_WAIT
                for a in self.albums_of(row["job_id"])
            )

        row = self.claim("albums", "sealed", "delivering", owner, lease_seconds, claimable, now)
        if row is None:
            return None
        job = self.job_row(row["job_id"])
        still_open = any(i["state"] in _OPEN for i in self.items_of(job["id"]))
        return AlbumClaim(
            self._album(row),
            job_from_mapping(job),
            albums=len(self.albums_of(job["id"])),
            final=bool(job["read_done"]) and not still_open,
            lease_until=float(row["lease_until"]),
        )

    async def claim_album(self, owner: str, lease_seconds: float) -> Album | None:
        claim = await self.claim_delivery(owner, lease_seconds)
        return None if claim is None else claim.album

    async def album_count(self, job_id: int) -> int:
        return len(self.albums_of(job_id))

    async def albums_in_flight(self, job_id: int) -> bool:
        flying = (AlbumState.SEALED.value, AlbumState.DELIVERING.value)
        return any(a["state"] in flying for a in self.albums_of(job_id))

    async def albums_no_one_delivers(self) -> list[tuple[Job, list[int]]]:
        found: dict[int, tuple[Job, list[int]]] = {}
        for album in sorted(self.tables["albums"].values(), key=lambda a: (a["job_id"], a["seq"])):
            if album["state"] != AlbumState.DELIVERED.value and album["owner"] is None:
                job = job_from_mapping(self.job_row(album["job_id"]))
                found.setdefault(job.id, (job, []))[1].append(album["seq"])
        return list(found.values())

    async def album_delivered(
        self,
        album_id: int,
        owner: str,
        ref: str,
        *,
        ended: Mapping[int, Ended] | None = None,
        claim_next: float | None = None,
        hashes: Mapping[int, str] | None = None,
        then: Callable[[], None] | None = None,
        keep: SinkWrite | None = None,
    ) -> AlbumClaim | None:
        row, now = self.owned("albums", album_id, owner), self.clock()
        self.kept.records |= {(k.sink, k.job_id, r.key): r for k in [keep] if k for r in k.records}
        row |= {"state": AlbumState.DELIVERED.value, "ref": ref, "delivered_at": now}
        row |= {"owner": None, "lease_until": None}
        ended, hashes = ended or {}, hashes or {}
        for item in self.tables["items"].values():
            if item["album_id"] != album_id:
                continue
            if item["id"] in ended:
                state, error, path = ended[item["id"]]
                item |= ended_item(state, error, now, path)
            else:
                item |= {"state": ItemState.DELIVERED.value, "updated_at": now}
            if item["sha256"] is None and item["id"] in hashes:
                item["sha256"] = hashes[item["id"]]
        claim = None
        if claim_next is not None:
            try:
                claim = await self.claim_delivery(owner, claim_next)
            except Exception:
                log.exception("claiming the next album failed; the worker claims anew")
        if then is not None:
            await asyncio.to_thread(then)
        return claim

    async def album_retry(
        self, album_id: int, owner: str, error: FerrymanError, delay: float, *, count: bool = True
    ) -> None:
        extra = {"error_code": error.code, "error_message": error.message}
        self.retry_later("albums", album_id, owner, delay, extra, count)

    async def album_hand_back(self, album_id: int, owner: str) -> None:
        row = self.tables["albums"].get(album_id)
        if row is not None and row["owner"] == owner:
            row |= {"state": AlbumState.SEALED.value, "owner": None, "lease_until": None}

    async def album_failed(self, album_id: int, owner: str, error: FerrymanError) -> None:
        row = self.tables["albums"].get(album_id)
        if row is None or row["owner"] != owner:
            return
        said = {"error_code": error.code, "error_message": error.message}
        row |= {"state": AlbumState.FAILED.value, "owner": None, "lease_until": None} | said
        for item in self.tables["items"].values():
            if item["album_id"] == album_id:
                item |= {"state": ItemState.FAILED.value, "updated_at": self.clock()} | said

    async def album_split(
        self,
        album_id: int,
        owner: str,
        error: FerrymanError,
        ended: Mapping[int, Ended] | None = None,
    ) -> list[int]:
        row, now, ended = self.owned("albums", album_id, owner), self.clock(), ended or {}
        row |= {"state": AlbumState.FAILED.value, "owner": None, "lease_until": None}
        row |= {"attempts": row["attempts"] + 1}
        row |= {"error_code": error.code, "error_message": error.message}
        members = [i for i in self.items_of(row["job_id"]) if i["album_id"] == album_id]
        for item in members:
            if item["id"] in ended:
                state, why, path = ended[item["id"]]
                item |= ended_item(state, why, now, path)
        grouped = [i["id"] for i in members if i["state"] == ItemState.GROUPED.value]
        job, group = self.job_row(row["job_id"]), AlbumGroup(row["grp"])
        last = max(a["seq"] for a in self.albums_of(job["id"]))
        alone = split_alone(grouped, ended)
        return [self._new_album(job, last + n + 1, group, [i]) for n, i in enumerate(alone)]

    def _waiting_for(self, job_id: int, code: str) -> bool:
        undelivered = (AlbumState.SEALED.value, AlbumState.DELIVERING.value)
        return any(
            a["error_code"] == code and a["state"] in undelivered for a in self.albums_of(job_id)
        )

    async def album_waits_for_space(
        self, album_id: int, owner: str, job_id: int, error: FerrymanError, delay: float
    ) -> bool:
        before, now = self._waiting_for(job_id, error.code), self.clock()
        extra = {"not_before": now + delay, "error_code": error.code}
        self.retry_later(
            "albums", album_id, owner, delay, extra | {"error_message": error.message}, False
        )
        job = self.job_row(job_id)
        if JobState(job["state"]) not in (JobState.QUEUED, JobState.READING, JobState.ACTIVE):
            return False
        job |= {"wait_reason": error.code, "updated_at": now}
        if job["error_code"] is None:
            job["error_message"] = error.message
        if not before:
            self.event(JOB_WAITING, job_id=job_id, reason=error.code)
        return not before

    async def end_space_wait(self, job_id: int, code: str) -> bool:
        job = self.job_row(job_id)
        if self._waiting_for(job_id, code) or job["wait_reason"] != code:
            return False
        job |= {"wait_reason": None, "updated_at": self.clock()}
        if job["error_code"] is None:
            job["error_message"] = None
        return True

    # ---------------------------------------------------------------- items

    def _over_network(self, job: Row) -> bool:
        fetch = self.fetch_of(job["id"])
        return fetch is not None and (fetch["state"] != DONE or fetch["path"] is None)

    def _deliverable_work(self, now: float) -> bool:
        """``items._deliverable_work``: anything that could move before a conversion."""
        albums, jobs = self.tables["albums"].values(), self.tables["jobs"]
        if any(a["state"] == AlbumState.DELIVERING.value for a in albums):
            return True
        sealed = AlbumState.SEALED.value
        if any(
            a["state"] == sealed and a["not_before"] <= now and self.job_runs(a) for a in albums
        ):
            return True
        converting = {i["job_id"] for i in self.tables["items"].values() if i["state"] in ENCODING}
        for item in self.tables["items"].values():
            plain = item["plan"] is not None and Plan(item["plan"]) not in ENCODED_PLANS
            if item["state"] == ItemState.READY.value and plain and self.job_runs(item):
                job = jobs[item["job_id"]]
                filling = not job["read_done"] and not job["blocked"] and self._over_network(job)
                if not filling and job["id"] not in converting:
                    return True
        reading = (JobState.QUEUED.value, JobState.READING.value)
        return any(
            j["state"] in reading
            and not j["paused"]
            and not j["blocked"]
            and j["not_before"] <= now
            and not self._over_network(j)
            for j in jobs.values()
        )

    async def claim_conversion(self, owner: str, lease_seconds: float) -> Item | None:
        now = self.clock()
        if self._deliverable_work(now):
            return None
        row = self.claim("items", "convert", "converting", owner, lease_seconds, self.job_runs, now)
        return None if row is None else item_from_mapping(row)

    async def item_ready(self, item_id: int, owner: str, fixed: NewItem, action: str) -> None:
        row = self.owned("items", item_id, owner)
        actions = [*json.loads(row["actions"] or "[]"), action, *fixed.actions]
        columns = fixed.media_columns()
        columns.pop("source_size")
        row |= columns | {"work_seconds": (row["work_seconds"] or 0.0) + fixed.work_seconds}
        row |= {"state": fixed.state.value, "kind": fixed.kind.value, "reason": fixed.reason}
        row |= {"actions": json.dumps(actions), "owner": None, "lease_until": None}
        row |= {"error_code": None, "error_message": None, "updated_at": self.clock()}

    async def item_retry(
        self, item_id: int, owner: str, error: FerrymanError, delay: float
    ) -> None:
        extra = {"error_code": error.code, "error_message": error.message}
        self.retry_later("items", item_id, owner, delay, extra | {"updated_at": self.clock()})

    async def item_final(
        self,
        item_id: int,
        state: ItemState,
        error: FerrymanError,
        *,
        owner: str | None = None,
        work_path: str | None = None,
    ) -> None:
        row = self.tables["items"].get(item_id)
        if row is not None and (not owner or row["owner"] == owner):
            row |= ended_item(state, error, self.clock(), work_path)

    async def part_done(self, item_id: int, owner: str, part: int) -> None:
        self.owned("items", item_id, owner)["updated_at"] = self.clock()
        self.segments[item_id, part] = self.segments.get((item_id, part), 0) + 1

    async def forget_parts(self, item_id: int, owner: str) -> None:
        self.owned("items", item_id, owner)["updated_at"] = self.clock()
        for key in [k for k in self.segments if k[0] == item_id]:
            del self.segments[key]

    async def part_history(self, item_id: int) -> dict[int, int]:
        return {part: n for (item, part), n in self.segments.items() if item == item_id}

    # ------------------------------------------------------------ jobs' ends

    def _finishable(self) -> list[Row]:
        return [
            job
            for _, job in sorted(self.tables["jobs"].items())
            if job["state"] == JobState.ACTIVE.value
            and job["read_done"]
            and all(terminal(i) for i in self.items_of(job["id"]))
        ]

    async def finish_jobs(self) -> list[int]:
        finished = []
        for job in self._finishable():
            facts = [
                ItemFact(ItemState(i["state"]), i["error_code"], i["reason"], i["error_message"])
                for i in self.items_of(job["id"])
                if ItemState(i["state"]) in OUTCOME_STATES
            ]
            outcome = job_outcome(job["error_code"], [] if job["error_code"] else facts)
            job |= {"state": outcome.state.value, "finished_at": self.clock()}
            if outcome.error_code is not None:
                job |= {"error_code": outcome.error_code, "error_message": outcome.error_message}
            self.store_summary(job["id"])
            self.event(JOB_ENDED, job_id=job["id"], status=outcome.state.value)
            finished.append(int(job["id"]))
        return finished

    def _busy(self, job: Row) -> bool:
        """``statements.BUSY_JOBS``: a job that could still make progress."""
        if JobState(job["state"]).terminal or job["paused"]:
            return False
        if job["state"] != JobState.NEEDS_PASSWORD.value:
            return True
        return any(not terminal(i) for i in self.items_of(job["id"]))

    async def housekeeping_state(self) -> HousekeepingState:
        jobs = self.tables["jobs"].values()
        return HousekeepingState(bool(self._finishable()), not any(self._busy(j) for j in jobs))

    async def idle(self) -> bool:
        return not any(self._busy(job) for job in self.tables["jobs"].values())

    def _quiet(self, job: Row, ended_by: float) -> bool:
        """Ended by ``ended_by`` and nothing of it leased (``job_ends._quiet``)."""
        held = [*self.albums_of(job["id"]), *self.items_of(job["id"])]
        return (
            JobState(job["state"]).terminal
            and job["owner"] is None
            and job["finished_at"] <= ended_by
            and all(row["owner"] is None for row in held)
        )

    async def settle_ended(self, job_ids: Collection[int], grace: float) -> list[int]:
        ended_by, wanted = self.clock() - grace, set(job_ids)
        found = [
            job
            for job in self.tables["jobs"].values()
            if self._quiet(job, ended_by)
            and (
                job["id"] in wanted
                or (
                    job["state"] == JobState.CANCELLED.value
                    and any(not terminal(i) for i in self.items_of(job["id"]))
                )
            )
        ]
        for job in found:
            if job["state"] != JobState.CANCELLED.value:
                continue
            strays = [i for i in self.items_of(job["id"]) if not terminal(i) and i["owner"] is None]
            for item in strays:
                item |= {"state": ItemState.CANCELLED.value, "reason": "job.cancelled"}
            for album in self.albums_of(job["id"]) if strays else ():
                if album["state"] == AlbumState.SEALED.value:
                    album |= {"state": AlbumState.FAILED.value, "error_code": "job.cancelled"}
            self.store_summary(job["id"])
        return [job["id"] for job in found if job["id"] in wanted]


def _seq(new: NewItem) -> int:
    return new.seq
