"""The store: every state change is one transaction; work is claimed with leases.

Claims use one query on both engines: ``UPDATE … WHERE id = (SELECT id … LIMIT 1
FOR UPDATE SKIP LOCKED) RETURNING …``. PostgreSQL skips rows another worker holds;
SQLite runs one writer at a time (``BEGIN IMMEDIATE``), so the sub-select cannot race.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    FromClause,
    Row,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ferryman.errors import FerrymanError
from ferryman.model import (
    Album,
    AlbumGroup,
    AlbumState,
    Item,
    ItemState,
    Job,
    JobState,
    MediaInfo,
    MediaKind,
    Plan,
    album_group,
)
from ferryman.store.connect import create_engine
from ferryman.store.schema import albums, items, jobs, runtime_settings

Clock = Callable[[], float]
_TERMINAL = [s.value for s in ItemState if s.terminal]


@dataclass(frozen=True, slots=True)
class NewItem:
    """An entry that has become an item: what the unpack stage learned about it."""

    seq: int
    source_path: str
    kind: MediaKind
    state: ItemState
    size: int = 0
    sha256: str | None = None
    work_path: str | None = None
    original_path: str | None = None
    plan: Plan | None = None
    reason: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    media: MediaInfo | None = None
    actions: tuple[str, ...] = ()


class LeaseLost(FerrymanError):
    """Another worker owns this row now: stop, and do not write its results."""

    def __init__(self, what: str) -> None:
        super().__init__("engine.lease_lost", f"lease on {what} is no longer ours")


def _job(row: Row[Any]) -> Job:
    m = row._mapping
    return Job(
        id=m["id"],
        source=m["source"],
        name=m["name"],
        dest=m["dest"],
        state=JobState(m["state"]),
        priority=m["priority"],
        wait_reason=m["wait_reason"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        cursor=m["cursor"],
        expanded=bool(m["expanded"]),
        created_at=m["created_at"],
        finished_at=m["finished_at"],
        summary=json.loads(m["summary"]) if m["summary"] else None,
        has_password=m["password"] is not None,
        paused=bool(m["paused"]),
        attempts=m["attempts"],
        started_at=m["started_at"],
    )


def _item(row: Row[Any]) -> Item:
    m = row._mapping
    return Item(
        id=m["id"],
        job_id=m["job_id"],
        seq=m["seq"],
        source_path=m["source_path"],
        kind=MediaKind(m["kind"]),
        state=ItemState(m["state"]),
        size=m["size"],
        sha256=m["sha256"],
        work_path=m["work_path"],
        plan=Plan(m["plan"]) if m["plan"] else None,
        reason=m["reason"],
        error_code=m["error_code"],
        attempts=m["attempts"],
        album_id=m["album_id"],
        media=MediaInfo.from_json(json.loads(m["media"])) if m["media"] else None,
        actions=json.loads(m["actions"]) if m["actions"] else [],
        error_message=m["error_message"],
        original_path=m["original_path"],
    )


def _album(row: Row[Any], members: list[Item]) -> Album:
    m = row._mapping
    return Album(
        id=m["id"],
        job_id=m["job_id"],
        seq=m["seq"],
        group=AlbumGroup(m["grp"]),
        state=AlbumState(m["state"]),
        attempts=m["attempts"],
        items=members,
    )


class Store:
    """Async access to jobs, items, albums and runtime settings."""

    def __init__(self, engine: AsyncEngine, clock: Clock = time.time) -> None:
        self.engine = engine
        self.clock = clock

    @classmethod
    async def open(cls, url: str, clock: Clock = time.time) -> Store:
        return cls(await create_engine(url), clock)

    async def close(self) -> None:
        await self.engine.dispose()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    # ----------------------------------------------------------------- jobs

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
    ) -> Job:
        """Record a job; a job whose input is already known to be bad is stored failed."""
        now = self.clock()
        values: dict[str, Any] = {
            "source": source,
            "name": name,
            "dest": dest,
            "state": JobState.QUEUED.value,
            "priority": priority,
            "password": password,
            "dedupe_key": dedupe_key,
            "created_at": now,
            "updated_at": now,
            "paused": False,
            "blocked": False,
            "cursor": 0,
            "expanded": False,
            "attempts": 0,
            "not_before": 0.0,
        }
        if error is not None:
            values |= {
                "state": JobState.FAILED.value,
                "error_code": error.code,
                "error_message": error.message,
                "expanded": True,
                "finished_at": now,
            }
        async with self.engine.begin() as conn:
            if dedupe_key is not None:
                found = await conn.execute(select(jobs.c.id).where(jobs.c.dedupe_key == dedupe_key))
                existing = found.scalar()
                if existing is not None:
                    raise FerrymanError("source.duplicate", f"{source} is already job {existing}")
            row = (await conn.execute(insert(jobs).values(**values).returning(*jobs.c))).one()
            job = _job(row)
            if error is not None:
                await self._store_summary(conn, job.id, now)
        return job

    async def unique_name(self, base: str, dest: str) -> str:
        """A library folder name no other job with this destination uses."""
        async with self.engine.connect() as conn:
            taken = set(
                (await conn.execute(select(jobs.c.name).where(jobs.c.dest == dest))).scalars()
            )
        name, n = base, 2
        while name in taken:
            name = f"{base} ({n})"
            n += 1
        return name

    async def get_job(self, job_id: int) -> Job:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).first()
        if row is None:
            raise FerrymanError("job.not_found", f"there is no job {job_id}")
        return _job(row)

    async def job_password(self, job_id: int) -> str | None:
        async with self.engine.connect() as conn:
            found = await conn.execute(select(jobs.c.password).where(jobs.c.id == job_id))
            return found.scalar()

    async def list_jobs(self) -> list[Job]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(jobs).order_by(jobs.c.id))).all()
        return [_job(r) for r in rows]

    async def item_counts(self) -> dict[int, dict[str, int]]:
        """Per job: how many items are in each state."""
        query = select(items.c.job_id, items.c.state, func.count()).group_by(
            items.c.job_id, items.c.state
        )
        counts: dict[int, dict[str, int]] = {}
        async with self.engine.connect() as conn:
            for job_id, state, n in (await conn.execute(query)).all():
                counts.setdefault(job_id, {})[state] = n
        return counts

    async def claim_job(self, owner: str, lease_seconds: float) -> Job | None:
        """A queued job for the unpack stage, highest priority first."""
        row = await self._claim(
            jobs,
            JobState.QUEUED,
            JobState.EXPANDING,
            owner,
            lease_seconds,
            [jobs.c.paused.is_(False)],
            started=True,
        )
        return _job(row) if row is not None else None

    async def known_seqs(self, job_id: int) -> set[int]:
        async with self.engine.connect() as conn:
            found = await conn.execute(select(items.c.seq).where(items.c.job_id == job_id))
            return set(found.scalars())

    async def record_entry(self, job_id: int, owner: str, cursor: int, new: NewItem) -> Item:
        """Insert the item and move the job's cursor past it, in one transaction."""
        now = self.clock()
        async with self.engine.begin() as conn:
            await self._advance(conn, job_id, owner, cursor)
            row = (
                await conn.execute(
                    insert(items)
                    .values(
                        job_id=job_id,
                        seq=new.seq,
                        source_path=new.source_path,
                        kind=new.kind.value,
                        state=new.state.value,
                        size=new.size,
                        sha256=new.sha256,
                        work_path=new.work_path,
                        original_path=new.original_path,
                        plan=new.plan.value if new.plan else None,
                        reason=new.reason,
                        error_code=new.error_code,
                        error_message=new.error_message,
                        media=json.dumps(new.media.to_json()) if new.media else None,
                        actions=json.dumps(list(new.actions)),
                        priority=select(jobs.c.priority)
                        .where(jobs.c.id == job_id)
                        .scalar_subquery(),
                        created_at=now,
                        updated_at=now,
                        attempts=0,
                        not_before=0.0,
                    )
                    .returning(*items.c)
                )
            ).one()
        return _item(row)

    async def skip_entry(self, job_id: int, owner: str, cursor: int) -> None:
        """Move the cursor past an entry that becomes no item (a directory, junk)."""
        async with self.engine.begin() as conn:
            await self._advance(conn, job_id, owner, cursor)

    async def _advance(self, conn: AsyncConnection, job_id: int, owner: str, cursor: int) -> None:
        moved = await conn.execute(
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.owner == owner,
                jobs.c.state == JobState.EXPANDING.value,
            )
            .values(cursor=cursor, updated_at=self.clock())
        )
        if moved.rowcount != 1:
            raise LeaseLost(f"job {job_id}")

    async def finish_expansion(
        self, job_id: int, owner: str, error: FerrymanError | None = None
    ) -> None:
        """Every entry is an item now (or the input broke part-way: ``error``)."""
        values: dict[str, Any] = {
            "state": JobState.ACTIVE.value,
            "expanded": True,
            "owner": None,
            "lease_until": None,
            "blocked": False,
            "wait_reason": None,
            "updated_at": self.clock(),
        }
        if error is not None:
            values |= {"error_code": error.code, "error_message": error.message}
        async with self.engine.begin() as conn:
            await self._update_owned(conn, jobs, job_id, owner, values)

    async def fail_job(self, job_id: int, error: FerrymanError, owner: str | None = None) -> None:
        """The whole input is unusable: the job ends now with the error's code."""
        now = self.clock()
        cond = [jobs.c.id == job_id] + ([jobs.c.owner == owner] if owner else [])
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(jobs)
                .where(*cond)
                .values(
                    state=JobState.FAILED.value,
                    expanded=True,
                    owner=None,
                    lease_until=None,
                    error_code=error.code,
                    error_message=error.message,
                    finished_at=now,
                    updated_at=now,
                    blocked=False,
                    wait_reason=None,
                )
            )
            if done.rowcount != 1:
                raise LeaseLost(f"job {job_id}")
            await self._store_summary(conn, job_id, now)

    async def job_retry(
        self, job_id: int, owner: str, error: FerrymanError, delay: float, *, count: bool = True
    ) -> None:
        """Reading hit a passing problem: queue the job again after ``delay`` seconds."""
        async with self.engine.begin() as conn:
            await self._update_owned(
                conn,
                jobs,
                job_id,
                owner,
                {
                    "state": JobState.QUEUED.value,
                    "owner": None,
                    "lease_until": None,
                    "attempts": jobs.c.attempts + (1 if count else 0),
                    "not_before": self.clock() + delay,
                    "wait_reason": error.code,
                    "blocked": False,
                    "updated_at": self.clock(),
                },
            )

    async def set_wait(self, job_id: int, owner: str, reason: str | None, blocked: bool) -> None:
        """Unpack is waiting (for space, for deliveries): show why, and allow partial albums."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.owner == owner)
                .values(wait_reason=reason, blocked=blocked, updated_at=self.clock())
            )

    async def on_disk(self, job_id: int) -> int:
        """Items of this job whose files still occupy the work area."""
        live = [s.value for s in ItemState if not s.terminal]
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(func.count()).where(items.c.job_id == job_id, items.c.state.in_(live))
            )
            return int(found.scalar() or 0)

    # -------------------------------------------------------------- albums

    async def seal_albums(self, job_id: int, album_size: int) -> list[int]:
        """Group ready items, in archive order, into albums of at most ``album_size``.

        Full albums are sealed at once. A partial one waits for more items while the
        input is still being read, unless reading is blocked (it waits for these very
        items to leave the disk). Converted items wait for the other conversions of
        their group so they travel together instead of one album each.
        """
        sealed: list[int] = []
        async with self.engine.begin() as conn:
            job_row = (
                await conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update())
            ).first()
            if job_row is None or job_row.state in (
                JobState.CANCELLED.value,
                JobState.FAILED.value,
            ):
                return sealed
            ready = [
                _item(r)
                for r in (
                    await conn.execute(
                        select(items)
                        .where(items.c.job_id == job_id, items.c.state == ItemState.READY.value)
                        .order_by(items.c.seq)
                    )
                ).all()
            ]
            if not ready:
                return sealed
            pending = await conn.execute(
                select(items.c.kind).where(
                    items.c.job_id == job_id,
                    items.c.state.in_([ItemState.CONVERT.value, ItemState.CONVERTING.value]),
                )
            )
            converting = {album_group(MediaKind(k)) for k in pending.scalars()}
            next_seq = (
                await conn.execute(
                    select(func.coalesce(func.max(albums.c.seq), 0)).where(
                        albums.c.job_id == job_id
                    )
                )
            ).scalar_one() + 1
            open_input = not job_row.expanded and not job_row.blocked
            for group in AlbumGroup:
                members = [it for it in ready if album_group(it.kind) is group]
                while members:
                    chunk = members[:album_size]
                    if len(chunk) < album_size:
                        if open_input:
                            break
                        waiting = group in converting and not job_row.blocked
                        chunk = [it for it in chunk if not (waiting and it.plan is Plan.TRANSCODE)]
                        if not chunk:
                            break
                    members = [it for it in members if it not in chunk]
                    album_id = await self._insert_album(
                        conn, job_id, next_seq, group, job_row.priority, chunk
                    )
                    sealed.append(album_id)
                    next_seq += 1
        return sealed

    async def _insert_album(
        self,
        conn: AsyncConnection,
        job_id: int,
        seq: int,
        group: AlbumGroup,
        priority: int,
        chunk: Sequence[Item],
    ) -> int:
        now = self.clock()
        album_id = (
            await conn.execute(
                insert(albums)
                .values(
                    job_id=job_id,
                    seq=seq,
                    grp=group.value,
                    state=AlbumState.SEALED.value,
                    priority=priority,
                    created_at=now,
                    attempts=0,
                    not_before=0.0,
                )
                .returning(albums.c.id)
            )
        ).scalar_one()
        await conn.execute(
            update(items)
            .where(items.c.id.in_([it.id for it in chunk]))
            .values(album_id=album_id, state=ItemState.GROUPED.value, updated_at=now)
        )
        return int(album_id)

    async def claim_album(self, owner: str, lease_seconds: float) -> Album | None:
        row = await self._claim(
            albums,
            AlbumState.SEALED,
            AlbumState.DELIVERING,
            owner,
            lease_seconds,
            [self._job_runs(albums)],
        )
        if row is None:
            return None
        return await self._with_items(row)

    async def _with_items(self, row: Row[Any]) -> Album:
        async with self.engine.connect() as conn:
            members = (
                await conn.execute(
                    select(items).where(items.c.album_id == row.id).order_by(items.c.seq)
                )
            ).all()
        return _album(row, [_item(r) for r in members])

    async def album_count(self, job_id: int) -> tuple[int, bool]:
        """How many albums the job has, and whether that number is final."""
        async with self.engine.connect() as conn:
            n = (
                await conn.execute(select(func.count()).where(albums.c.job_id == job_id))
            ).scalar_one()
            open_items = (
                await conn.execute(
                    select(func.count()).where(
                        items.c.job_id == job_id,
                        items.c.state.in_(
                            [
                                ItemState.READY.value,
                                ItemState.CONVERT.value,
                                ItemState.CONVERTING.value,
                            ]
                        ),
                    )
                )
            ).scalar_one()
            expanded = (
                await conn.execute(select(jobs.c.expanded).where(jobs.c.id == job_id))
            ).scalar_one()
        return int(n), bool(expanded) and open_items == 0

    async def album_delivered(self, album_id: int, owner: str, ref: str) -> None:
        now = self.clock()
        async with self.engine.begin() as conn:
            await self._update_owned(
                conn,
                albums,
                album_id,
                owner,
                {
                    "state": AlbumState.DELIVERED.value,
                    "ref": ref,
                    "delivered_at": now,
                    "owner": None,
                    "lease_until": None,
                },
            )
            await conn.execute(
                update(items)
                .where(items.c.album_id == album_id)
                .values(state=ItemState.DELIVERED.value, updated_at=now)
            )

    async def album_retry(
        self, album_id: int, owner: str, error: FerrymanError, delay: float
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(albums)
                .where(albums.c.id == album_id, albums.c.owner == owner)
                .values(
                    state=AlbumState.SEALED.value,
                    owner=None,
                    lease_until=None,
                    attempts=albums.c.attempts + 1,
                    not_before=self.clock() + delay,
                    error_code=error.code,
                    error_message=error.message,
                )
            )

    async def album_failed(self, album_id: int, owner: str, error: FerrymanError) -> None:
        now = self.clock()
        async with self.engine.begin() as conn:
            await conn.execute(
                update(albums)
                .where(albums.c.id == album_id, albums.c.owner == owner)
                .values(
                    state=AlbumState.FAILED.value,
                    owner=None,
                    lease_until=None,
                    error_code=error.code,
                    error_message=error.message,
                )
            )
            await conn.execute(
                update(items)
                .where(items.c.album_id == album_id)
                .values(
                    state=ItemState.FAILED.value,
                    error_code=error.code,
                    error_message=error.message,
                    updated_at=now,
                )
            )

    # --------------------------------------------------------------- items

    async def claim_conversion(self, owner: str, lease_seconds: float) -> Item | None:
        """A deferred item, but only while no deliverable work waits anywhere."""
        now = self.clock()
        ready = items.alias("ready_items")
        busy = or_(
            exists().where(
                albums.c.state == AlbumState.DELIVERING.value,
            ),
            exists().where(
                albums.c.state == AlbumState.SEALED.value,
                albums.c.not_before <= now,
                self._job_runs(albums),
            ),
            # an alias, so this never correlates to the item being claimed
            exists().where(ready.c.state == ItemState.READY.value, self._job_runs(ready)),
            exists().where(
                jobs.c.state.in_([JobState.QUEUED.value, JobState.EXPANDING.value]),
                jobs.c.paused.is_(False),
                jobs.c.blocked.is_(False),
                jobs.c.not_before <= now,
            ),
        )
        row = await self._claim(
            items,
            ItemState.CONVERT,
            ItemState.CONVERTING,
            owner,
            lease_seconds,
            [self._job_runs(items), ~busy],
        )
        return _item(row) if row is not None else None

    async def item_ready(
        self,
        item_id: int,
        owner: str,
        *,
        work_path: str,
        size: int,
        sha256: str,
        media: MediaInfo | None,
        action: str,
        original_path: str | None,
    ) -> None:
        """A conversion finished: the item carries its new file from now on."""
        async with self.engine.begin() as conn:
            actions_row = await conn.execute(
                select(items.c.actions).where(items.c.id == item_id, items.c.owner == owner)
            )
            found = actions_row.first()
            if found is None:
                raise LeaseLost(f"item {item_id}")
            actions = [*json.loads(found.actions or "[]"), action]
            await conn.execute(
                update(items)
                .where(items.c.id == item_id)
                .values(
                    state=ItemState.READY.value,
                    work_path=work_path,
                    original_path=original_path,
                    size=size,
                    sha256=sha256,
                    media=json.dumps(media.to_json()) if media else None,
                    actions=json.dumps(actions),
                    owner=None,
                    lease_until=None,
                    error_code=None,
                    error_message=None,
                    updated_at=self.clock(),
                )
            )

    async def item_retry(
        self, item_id: int, owner: str, error: FerrymanError, delay: float
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(items)
                .where(items.c.id == item_id, items.c.owner == owner)
                .values(
                    state=ItemState.CONVERT.value,
                    owner=None,
                    lease_until=None,
                    attempts=items.c.attempts + 1,
                    not_before=self.clock() + delay,
                    error_code=error.code,
                    error_message=error.message,
                    updated_at=self.clock(),
                )
            )

    async def item_final(
        self,
        item_id: int,
        state: ItemState,
        error: FerrymanError,
        *,
        owner: str | None = None,
        work_path: str | None = None,
    ) -> None:
        """End an item that cannot be delivered (quarantined or failed), with its reason."""
        cond = [items.c.id == item_id] + ([items.c.owner == owner] if owner else [])
        async with self.engine.begin() as conn:
            await conn.execute(
                update(items)
                .where(*cond)
                .values(
                    state=state.value,
                    owner=None,
                    lease_until=None,
                    error_code=error.code,
                    error_message=error.message,
                    reason=error.code,
                    work_path=work_path,
                    updated_at=self.clock(),
                )
            )

    async def job_items(self, job_id: int) -> list[Item]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(items).where(items.c.job_id == job_id).order_by(items.c.seq)
                )
            ).all()
        return [_item(r) for r in rows]

    async def work_paths(self) -> set[str]:
        """Files the store still needs in the work area (any non-terminal item's)."""
        live = [s.value for s in ItemState if not s.terminal]
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(items.c.work_path).where(
                    items.c.state.in_(live), items.c.work_path.is_not(None)
                )
            )
            return {p for p in found.scalars() if p}

    # ------------------------------------------------------- leases, claims

    async def _update_owned(
        self, conn: AsyncConnection, table: Table, row_id: int, holder: str, values: dict[str, Any]
    ) -> None:
        """Write only while ``holder`` still holds the row's lease; else raise LeaseLost."""
        done = await conn.execute(
            update(table).where(table.c.id == row_id, table.c.owner == holder).values(**values)
        )
        if done.rowcount != 1:
            raise LeaseLost(f"{table.name} {row_id}")

    def _job_runs(self, table: FromClause) -> Any:
        """The row's job is neither paused nor ended."""
        return exists().where(
            jobs.c.id == table.c.job_id,
            jobs.c.paused.is_(False),
            jobs.c.state.in_(
                [JobState.QUEUED.value, JobState.EXPANDING.value, JobState.ACTIVE.value]
            ),
        )

    async def _claim(
        self,
        table: Table,
        ready: str,
        busy: str,
        owner: str,
        lease_seconds: float,
        where: Iterable[Any] = (),
        started: bool = False,
    ) -> Row[Any] | None:
        now = self.clock()
        pick = (
            select(table.c.id)
            .where(table.c.state == ready, table.c.not_before <= now, *where)
            .order_by(table.c.priority.desc(), table.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        values: dict[str, Any] = {"state": busy, "owner": owner, "lease_until": now + lease_seconds}
        if started:  # a job: remember when it first started, forget why it last waited
            values["started_at"] = func.coalesce(table.c.started_at, now)
            values["wait_reason"] = None
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(table).where(table.c.id == pick).values(**values).returning(*table.c)
                )
            ).first()
        return row

    async def renew(self, table: Table, row_id: int, owner: str, lease_seconds: float) -> bool:
        """Heartbeat: push the lease forward; False means another worker has it now."""
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(table)
                .where(table.c.id == row_id, table.c.owner == owner)
                .values(lease_until=self.clock() + lease_seconds)
            )
            return done.rowcount == 1

    async def reap(self) -> int:
        """Give expired leases' work back to the queue; returns how many rows moved."""
        now = self.clock()
        moved = 0
        async with self.engine.begin() as conn:
            for table, busy, ready in (
                (jobs, JobState.EXPANDING, JobState.QUEUED),
                (albums, AlbumState.DELIVERING, AlbumState.SEALED),
                (items, ItemState.CONVERTING, ItemState.CONVERT),
            ):
                done = await conn.execute(
                    update(table)
                    .where(table.c.state == busy.value, table.c.lease_until < now)
                    .values(state=ready.value, owner=None, lease_until=None)
                )
                moved += done.rowcount
        return moved

    async def release(self, owner: str) -> int:
        """Hand back everything ``owner`` holds (a graceful stop): claimable at once."""
        moved = 0
        async with self.engine.begin() as conn:
            for table, busy, ready in (
                (jobs, JobState.EXPANDING, JobState.QUEUED),
                (albums, AlbumState.DELIVERING, AlbumState.SEALED),
                (items, ItemState.CONVERTING, ItemState.CONVERT),
            ):
                done = await conn.execute(
                    update(table)
                    .where(table.c.state == busy.value, table.c.owner == owner)
                    .values(state=ready.value, owner=None, lease_until=None)
                )
                moved += done.rowcount
            await conn.execute(
                update(jobs).where(jobs.c.owner == owner).values(blocked=False, wait_reason=None)
            )
        return moved

    # ------------------------------------------------------- job lifecycle

    async def finish_jobs(self) -> list[int]:
        """End every expanded job whose items are all terminal; returns their ids."""
        now = self.clock()
        open_items = exists().where(items.c.job_id == jobs.c.id, items.c.state.not_in(_TERMINAL))
        finished: list[int] = []
        async with self.engine.begin() as conn:
            ready = (
                await conn.execute(
                    select(jobs.c.id, jobs.c.error_code).where(
                        jobs.c.state == JobState.ACTIVE.value,
                        jobs.c.expanded.is_(True),
                        ~open_items,
                    )
                )
            ).all()
            for job_id, error_code in ready:
                state = JobState.FAILED if error_code else JobState.DONE
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(state=state.value, finished_at=now, updated_at=now)
                )
                await self._store_summary(conn, job_id, now)
                finished.append(job_id)
        return finished

    async def _store_summary(self, conn: AsyncConnection, job_id: int, now: float) -> None:
        job = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).one()
        rows = [
            _item(r)
            for r in (
                await conn.execute(
                    select(items).where(items.c.job_id == job_id).order_by(items.c.seq)
                )
            ).all()
        ]
        summary = summarise(job, rows, now)
        await conn.execute(
            update(jobs).where(jobs.c.id == job_id).values(summary=json.dumps(summary))
        )

    async def set_paused(self, job_id: int, paused: bool) -> Job:
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(paused=paused, updated_at=self.clock())
                .returning(*jobs.c)
            )
            row = done.first()
        if row is None:
            raise FerrymanError("job.not_found", f"there is no job {job_id}")
        return _job(row)

    async def cancel(self, job_id: int) -> list[str]:
        """End the job now; returns the work files its undelivered items leave behind."""
        now = self.clock()
        error = FerrymanError("job.cancelled", "cancelled on request")
        async with self.engine.begin() as conn:
            job = (
                await conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update())
            ).first()
            if job is None:
                raise FerrymanError("job.not_found", f"there is no job {job_id}")
            if JobState(job.state).terminal:
                return []
            in_flight = select(albums.c.id).where(
                albums.c.job_id == job_id, albums.c.state == AlbumState.DELIVERING.value
            )
            leftovers = await conn.execute(
                select(items.c.work_path, items.c.original_path).where(
                    items.c.job_id == job_id,
                    items.c.state.not_in(_TERMINAL),
                    or_(items.c.album_id.is_(None), items.c.album_id.not_in(in_flight)),
                )
            )
            paths = [p for row in leftovers.all() for p in row if p]
            await conn.execute(
                update(items)
                .where(
                    items.c.job_id == job_id,
                    items.c.state.not_in(_TERMINAL),
                    or_(items.c.album_id.is_(None), items.c.album_id.not_in(in_flight)),
                )
                .values(
                    state=ItemState.CANCELLED.value,
                    reason=error.code,
                    owner=None,
                    lease_until=None,
                    updated_at=now,
                )
            )
            await conn.execute(
                update(albums)
                .where(albums.c.job_id == job_id, albums.c.state == AlbumState.SEALED.value)
                .values(state=AlbumState.FAILED.value, error_code=error.code)
            )
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    state=JobState.CANCELLED.value,
                    owner=None,
                    lease_until=None,
                    error_code=error.code,
                    error_message=error.message,
                    finished_at=now,
                    updated_at=now,
                    blocked=False,
                    wait_reason=None,
                )
            )
            await self._store_summary(conn, job_id, now)
        return paths

    async def retry(self, job_id: int) -> Job:
        """Run an ended job again: what was delivered or skipped stays; the rest is redone."""
        now = self.clock()
        keep = [ItemState.DELIVERED.value, ItemState.SKIPPED.value]
        async with self.engine.begin() as conn:
            job = (
                await conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update())
            ).first()
            if job is None:
                raise FerrymanError("job.not_found", f"there is no job {job_id}")
            if not JobState(job.state).terminal:
                raise FerrymanError(
                    "job.not_found", f"job {job_id} is {job.state}; only ended jobs can be retried"
                )
            await conn.execute(
                delete(items).where(items.c.job_id == job_id, items.c.state.not_in(keep))
            )
            await conn.execute(
                delete(albums).where(
                    albums.c.job_id == job_id, albums.c.state != AlbumState.DELIVERED.value
                )
            )
            row = (
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(
                        state=JobState.QUEUED.value,
                        cursor=0,
                        expanded=False,
                        error_code=None,
                        error_message=None,
                        finished_at=None,
                        summary=None,
                        attempts=0,
                        not_before=0.0,
                        paused=False,
                        updated_at=now,
                    )
                    .returning(*jobs.c)
                )
            ).one()
        return _job(row)

    async def set_password(self, job_id: int, password: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(password=password))

    # ---------------------------------------------------- runtime settings

    async def runtime_settings(self) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(runtime_settings))).all()
        return {k: json.loads(v) for k, v in rows}

    async def set_runtime_setting(self, key: str, value: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(runtime_settings).where(runtime_settings.c.key == key))
            await conn.execute(insert(runtime_settings).values(key=key, value=json.dumps(value)))

    async def active_jobs(self) -> list[int]:
        """Jobs that may have items to seal."""
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(jobs.c.id).where(
                    jobs.c.state.in_([JobState.EXPANDING.value, JobState.ACTIVE.value]),
                    and_(jobs.c.paused.is_(False)),
                )
            )
            return list(found.scalars())

    async def idle(self) -> bool:
        """No job is left that could still make progress (``run --until-idle``)."""
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(func.count()).where(
                    jobs.c.state.not_in(
                        [JobState.DONE.value, JobState.FAILED.value, JobState.CANCELLED.value]
                    ),
                    jobs.c.paused.is_(False),
                )
            )
            return found.scalar_one() == 0


def summarise(job: Row[Any], rows: Sequence[Item], now: float) -> dict[str, Any]:
    """The stored report of a job: counts, reasons, bytes and time."""
    return summarise_items(_job(job), rows, now)


def summarise_items(job: Job, rows: Sequence[Item], now: float) -> dict[str, Any]:
    """Counts, reasons, bytes and time for a job and its items."""
    by_state: dict[str, int] = {}
    skipped: dict[str, int] = {}
    quarantined: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    delivered_bytes = 0
    converted = 0
    for it in rows:
        by_state[it.state.value] = by_state.get(it.state.value, 0) + 1
        if it.state is ItemState.DELIVERED:
            delivered_bytes += it.size
            if any(a in ("remux", "transcode") for a in it.actions):
                converted += 1
        elif it.state is ItemState.SKIPPED:
            key = it.reason or "unknown"
            skipped[key] = skipped.get(key, 0) + 1
        elif it.state is ItemState.QUARANTINED:
            quarantined.append(
                {"path": it.source_path, "code": it.error_code, "message": it.error_message}
            )
        elif it.state in (ItemState.FAILED, ItemState.CANCELLED):
            failed.append(
                {
                    "path": it.source_path,
                    "code": it.error_code or it.reason,
                    "message": it.error_message,
                }
            )
    started = job.started_at or job.created_at
    ended = job.finished_at or now
    return {
        "job": job.id,
        "name": job.name,
        "source": job.source,
        "state": job.state.value,
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "total": len(rows),
        "delivered": by_state.get(ItemState.DELIVERED.value, 0),
        "converted": converted,
        "skipped": skipped,
        "quarantined": quarantined,
        "failed": failed,
        "bytes_delivered": delivered_bytes,
        "seconds": round(max(0.0, ended - started), 3),
    }
