"""What a sink keeps, on the memory store (``store/memory``): ``sink_state``'s records
and waits on dicts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ferryman.model import SinkRecord, UploadRecord
from ferryman.store.shared.rows import Clock
from ferryman.store.sinks.uploads_memory import MemoryUploads


@dataclass
class SinkKept:
    """Every sink's records and waits (``sink_records``, ``sink_waits``)."""

    records: dict[tuple[str, int, str], SinkRecord] = field(default_factory=dict)
    waits: dict[tuple[str, str], float] = field(default_factory=dict)
    # Each sink's big uploads under way (``sink_uploads``): by (account, file key).
    uploads: dict[str, dict[tuple[str, str], tuple[UploadRecord, float]]] = field(
        default_factory=dict
    )

    def forget(self, gone: Callable[[int, SinkRecord], bool]) -> None:
        """Drop the records ``gone`` says went with their job, album or item (the SQL
        store's ``ON DELETE CASCADE``)."""
        self.records = {k: r for k, r in self.records.items() if not gone(k[1], r)}


class MemorySinkState(MemoryUploads):
    """``sinks.base.SinkState`` on the memory store for the sink ``sink`` (its big
    uploads under way in ``MemoryUploads``)."""

    def __init__(self, kept: SinkKept, clock: Clock, sink: str) -> None:
        super().__init__(clock, kept.uploads.setdefault(sink, {}))
        self._kept = kept
        self._clock = clock
        self.sink = sink

    def now(self) -> float:
        return self._clock()

    async def records(
        self, job_id: int, *, album_id: int | None = None, item_id: int | None = None
    ) -> list[SinkRecord]:
        return sorted(
            (
                record
                for (sink, job, _), record in self._kept.records.items()
                if (sink, job) == (self.sink, job_id)
                and (album_id is None or record.album_id == album_id)
                and (item_id is None or record.item_id == item_id)
            ),
            key=lambda record: record.key,
        )

    async def claim(self, job_id: int, records: Sequence[SinkRecord]) -> list[SinkRecord]:
        for record in records:
            self._kept.records.setdefault((self.sink, job_id, record.key), record)
        return [self._kept.records[self.sink, job_id, record.key] for record in records]

    async def put(
        self, job_id: int, records: Sequence[SinkRecord] = (), *, forget: Sequence[str] = ()
    ) -> None:
        for key in forget:
            self._kept.records.pop((self.sink, job_id, key), None)
        for record in records:
            self._kept.records[self.sink, job_id, record.key] = record

    async def wait_until(self, scopes: Sequence[str]) -> float:
        return max((self._kept.waits.get((self.sink, s), 0.0) for s in scopes), default=0.0)

    async def set_wait(self, scope: str, not_before: float, reason: str) -> None:
        self._kept.waits[self.sink, scope] = not_before
