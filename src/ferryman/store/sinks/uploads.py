"""Big uploads under way, kept for a run after a crash (``sink_uploads``; the sinks'
``SinkState.upload_*``): one row per (sink, account, file), rewritten as its parts are
acknowledged, in batches. Here the SQL; ``uploads_memory`` holds the same in a dict."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String, bindparam, delete, insert, select
from sqlalchemy.engine import Connection

from ferryman.model import UploadRecord
from ferryman.store.schema import sink_uploads
from ferryman.store.sql import sqlite_direct
from ferryman.store.sql.access import Access


def ranges(done: frozenset[int]) -> str:
    """``{0, 1, 2, 5}`` as ``"0-2,5"``: a resumed upload's parts are mostly one run."""
    out: list[str] = []
    start = prev = None
    for n in sorted(done):
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
        start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ",".join(out)


def parts_of(text: str) -> frozenset[int]:
    """The inverse of :func:`ranges`."""
    found: set[int] = set()
    for piece in filter(None, text.split(",")):
        first, _, last = piece.partition("-")
        found.update(range(int(first), int(last or first) + 1))
    return frozenset(found)


def row_of(sink: str, record: UploadRecord, now: float) -> dict[str, Any]:
    return {
        "sink": sink,
        "account": record.account,
        "key": record.key,
        "file_id": record.file_id,
        "size": record.size,
        "part_size": record.part_size,
        "done": ranges(record.done),
        "checks": record.checks,
        "started_at": record.started_at,
        "updated_at": now,
    }


def record_of(row: Any) -> UploadRecord:
    return UploadRecord(
        row.account,
        row.key,
        row.file_id,
        row.size,
        row.part_size,
        parts_of(row.done),
        bytes(row.checks),
        row.started_at,
    )


class SinkUploads(Access):
    """The SQL half of ``StoredSinkState``'s uploads, for the sink ``sink``."""

    sink: str

    def now(self) -> float:
        raise NotImplementedError

    async def upload_get(self, account: str, key: str) -> UploadRecord | None:
        found = await self._read(_UPLOAD, {"sink": self.sink, "account": account, "key": key})
        return record_of(found[0]) if found else None

    async def upload_put(self, record: UploadRecord, *, prune_before: float | None = None) -> None:
        """Keep ``record`` (replacing the file's last one); rows of this sink not written
        since ``prune_before`` go (their parts expired on the server)."""
        row = row_of(self.sink, record, self.now())
        await self._transaction(_put, row, prune_before)

    async def upload_forget(self, account: str, key: str) -> None:
        await self._transaction(_forget, {"sink": self.sink, "account": account, "key": key})


def _put(conn: Connection, row: dict[str, Any], prune_before: float | None) -> None:
    _forget(conn, {"sink": row["sink"], "account": row["account"], "key": row["key"]})
    if prune_before is not None:
        sqlite_direct.execute(conn, _PRUNE, {"sink": row["sink"], "before": prune_before})
    sqlite_direct.execute(conn, _INSERT, row)


def _forget(conn: Connection, params: dict[str, Any]) -> None:
    sqlite_direct.execute(conn, _FORGET, params)


_UPLOAD = select(sink_uploads).where(
    sink_uploads.c.sink == bindparam("sink", type_=String),
    sink_uploads.c.account == bindparam("account", type_=String),
    sink_uploads.c.key == bindparam("key", type_=String),
)
_FORGET = delete(sink_uploads).where(
    sink_uploads.c.sink == bindparam("sink", type_=String),
    sink_uploads.c.account == bindparam("account", type_=String),
    sink_uploads.c.key == bindparam("key", type_=String),
)
_PRUNE = delete(sink_uploads).where(
    sink_uploads.c.sink == bindparam("sink", type_=String),
    sink_uploads.c.updated_at < bindparam("before", type_=Float),
)
_INSERT = insert(sink_uploads)
