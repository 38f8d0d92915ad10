"""Big uploads under way, kept for a run after a crash (``sink_uploads``; the sinks'
``SinkState.upload_*``): one row per (sink, account, file), rewritten as its parts are
acknowledged, in batches. Here the SQL; ``uploads_memory`` holds the same in a dict."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, bindparam, delete, insert, select

from ferryman.model import UploadRecord
from ferryman.store.schema import sink_uploads
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
        async with self._write() as conn:
            await conn.execute(self._where(delete(sink_uploads), record.account, record.key))
            if prune_before is not None:
                await conn.execute(
                    delete(sink_uploads).where(
                        sink_uploads.c.sink == self.sink,
                        sink_uploads.c.updated_at < prune_before,
                    )
                )
            await conn.execute(insert(sink_uploads), [row_of(self.sink, record, self.now())])

    async def upload_forget(self, account: str, key: str) -> None:
        async with self._write() as conn:
            await conn.execute(self._where(delete(sink_uploads), account, key))

    def _where(self, statement: Any, account: str, key: str) -> Any:
        return statement.where(
            sink_uploads.c.sink == self.sink,
            sink_uploads.c.account == account,
            sink_uploads.c.key == key,
        )


_UPLOAD = select(sink_uploads).where(
    sink_uploads.c.sink == bindparam("sink", type_=String),
    sink_uploads.c.account == bindparam("account", type_=String),
    sink_uploads.c.key == bindparam("key", type_=String),
)
