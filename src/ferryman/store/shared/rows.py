"""Row conversions and plain records shared by the store's query modules."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # rows are plain mappings to the light store (store/startup/sqlite3_store.py)
    from sqlalchemy import Row

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
)

Clock = Callable[[], float]
TERMINAL_STATES = [s.value for s in ItemState if s.terminal]
_UNCHANGED = frozenset({None, Plan.AS_IS, Plan.DOCUMENT})  # plans that deliver the input itself


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
    thumb_path: str | None = None
    parts: tuple[str, ...] = ()
    source_size: int | None = None
    work_seconds: float = 0.0

    def media_columns(self) -> dict[str, Any]:
        """The columns that describe the item's file and how it was made (JSON encoded)."""
        return {
            "work_path": self.work_path,
            "original_path": self.original_path,
            "size": self.size,
            "sha256": self.sha256,
            "plan": self.plan.value if self.plan else None,
            "media": json.dumps(self.media.to_json()) if self.media else None,
            "thumb_path": self.thumb_path,
            "parts": json.dumps(list(self.parts)) if self.parts else None,
            "source_size": self.source_size,
            "work_seconds": self.work_seconds,
        }


@dataclass(frozen=True, slots=True)
class Recorded:
    """A recorded item and its job's load right after: what the reader needs to pace itself."""

    item: Item
    ready: int  # the job's items ready for an album
    on_disk: int  # the job's items whose files are in the work area


@dataclass(frozen=True, slots=True)
class RecordedBatch:
    """Items recorded together, the job's load right after, and the albums they sealed."""

    items: tuple[Item, ...]  # in the order of their entries
    ready: int  # the job's items ready for an album (before sealing)
    on_disk: int  # the files the job's live items hold in the work area (``model.held``)
    sealed: tuple[int, ...]  # albums sealed in the same transaction
    on_disk_bytes: int = 0  # and their bytes


class LeaseLost(FerrymanError):
    """Another worker owns this row now: stop, and do not write its results."""

    def __init__(self, what: str) -> None:
        super().__init__("engine.lease_lost", f"lease on {what} is no longer ours")


Ended = tuple[ItemState, FerrymanError, str | None]  # an item's end: state, why, kept file


def ended_item(
    state: ItemState, error: FerrymanError, now: float, work_path: str | None
) -> dict[str, Any]:
    """The columns of an item that ends undelivered (quarantined, failed) for ``error``."""
    return {
        "state": state.value,
        "owner": None,
        "lease_until": None,
        "error_code": error.code,
        "error_message": error.message,
        "reason": error.code,
        "work_path": work_path,
        "updated_at": now,
    }


def decode_passwords(stored: str | None) -> tuple[str, ...]:
    """The job's passwords: a JSON list in the ``password`` column."""
    return tuple(json.loads(stored)) if stored else ()


def new_job_values(
    *,
    source: str,
    name: str,
    dest: str,
    priority: int,
    password: str | None,
    dedupe_key: str | None,
    error: FerrymanError | None,
    now: float,
    notify: str | None = None,
    account: int | None = None,
) -> dict[str, Any]:
    """The columns of a new job (the store and the light store write the same row);
    a job whose input is already known to be bad starts failed."""
    values: dict[str, Any] = {
        "source": source,
        "name": name,
        "dest": dest,
        "state": JobState.QUEUED.value,
        "priority": priority,
        "password": json.dumps([password]) if password else None,
        "dedupe_key": dedupe_key,
        "created_at": now,
        "updated_at": now,
        "paused": False,
        "blocked": False,
        "cursor": 0,
        "read_done": False,
        "attempts": 0,
        "not_before": 0.0,
        "notify": notify,
        "account_id": account,
        "run": 0,
        "read_claims": 0,
    }
    if error is not None:
        values |= {
            "state": JobState.FAILED.value,
            "error_code": error.code,
            "error_message": error.message,
            "read_done": True,
            "finished_at": now,
        }
    return values


def new_fetch_values(job_id: int, priority: int, now: float) -> dict[str, Any]:
    """The columns of a new job's ``fetches`` row (its input is downloaded first)."""
    return {
        "job_id": job_id,
        "state": "queued",
        "priority": priority,
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
        "not_before": 0.0,
    }


def recorded_item(job_id: int, item_id: int, new: NewItem) -> Item:
    """The item as its row now reads, built from what was written rather than read back
    (reading back meant parsing each row's JSON again: a tenth of the recording's time)."""
    return Item(
        id=item_id,
        job_id=job_id,
        seq=new.seq,
        source_path=new.source_path,
        kind=new.kind,
        state=new.state,
        size=new.size,
        sha256=new.sha256,
        work_path=new.work_path,
        plan=new.plan,
        reason=new.reason,
        error_code=new.error_code,
        attempts=0,
        album_id=None,
        media=new.media,
        actions=list(new.actions),
        error_message=new.error_message,
        original_path=new.original_path,
        thumb_path=new.thumb_path,
        parts=list(new.parts),
        source_size=new.source_size,
        work_seconds=new.work_seconds,
    )


def new_item_values(job_id: int, new: NewItem, priority: int, now: float) -> dict[str, Any]:
    """An ``items`` row for an entry just read."""
    return {
        "job_id": job_id,
        "seq": new.seq,
        "source_path": new.source_path,
        "kind": new.kind.value,
        "state": new.state.value,
        "reason": new.reason,
        "error_code": new.error_code,
        "error_message": new.error_message,
        "actions": json.dumps(list(new.actions)),
        **new.media_columns(),
        "priority": priority,
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
        "not_before": 0.0,
    }


def job_from_row(row: Row[Any]) -> Job:
    return job_from_mapping(row._mapping)


class Columns(Protocol):
    """A row's columns by name: SQLAlchemy's ``RowMapping`` or ``sqlite3.Row``."""

    def __getitem__(self, key: str, /) -> Any: ...


def job_from_mapping(m: Columns) -> Job:
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
        read_done=bool(m["read_done"]),
        created_at=m["created_at"],
        finished_at=m["finished_at"],
        summary=json.loads(m["summary"]) if m["summary"] else None,
        passwords=decode_passwords(m["password"]),
        paused=bool(m["paused"]),
        attempts=m["attempts"],
        started_at=m["started_at"],
        account=m["account_id"],
        run=m["run"],
    )


def item_from_row(row: Row[Any]) -> Item:
    return item_from_mapping(row._mapping)


def item_from_mapping(m: Columns) -> Item:
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
        thumb_path=m["thumb_path"],
        parts=json.loads(m["parts"]) if m["parts"] else [],
        source_size=m["source_size"],
        work_seconds=m["work_seconds"] or 0.0,
    )


def album_from_row(row: Row[Any], members: list[Item]) -> Album:
    return album_from_mapping(row._mapping, members)


def album_from_mapping(m: Columns, members: list[Item]) -> Album:
    return Album(
        id=m["id"],
        job_id=m["job_id"],
        seq=m["seq"],
        group=AlbumGroup(m["grp"]),
        state=AlbumState(m["state"]),
        attempts=m["attempts"],
        items=members,
    )


def summarise(job: Row[Any], rows: Sequence[Item], now: float) -> dict[str, Any]:
    """The stored report of a job: counts, reasons, bytes and time."""
    return summarise_items(job_from_row(job), rows, now)


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
            if it.plan not in _UNCHANGED:
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


def same_place(column: Any, dest: str) -> Any:
    """Where ``column`` names the destination ``dest`` names, whatever delivery options
    either carries (``library:/x?caption=…`` is ``library:/x``): a job's name is unique
    in its place, as a library's folders are."""
    from sqlalchemy import or_  # lazy: start-up (the light store reads rows)

    place = place_values(dest)
    return or_(column == place["base"], column.like(place["prefix"], escape="/"))


def same_place_bound(column: Any) -> Any:
    """``same_place`` with its values as the parameters ``base`` and ``prefix``
    (``place_values``), for a statement built once."""
    from sqlalchemy import String, bindparam, or_  # lazy: start-up

    return or_(
        column == bindparam("base", type_=String),
        column.like(bindparam("prefix", type_=String), escape="/"),
    )


def place_values(dest: str) -> dict[str, str]:
    """``dest``'s place: itself without options (``base``), and a LIKE pattern with ``/``
    as its escape for the same place with any options (``prefix``)."""
    base = dest.partition("?")[0]
    literal = (base + "?").replace("/", "//").replace("%", "/%").replace("_", "/_")
    return {"base": base, "prefix": literal + "%"}
