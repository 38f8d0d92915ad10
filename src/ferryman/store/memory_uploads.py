"""The memory twin of ``sink_uploads`` (``store/sink_uploads.py``): the same three calls
on a dict, for tests that need no database and for the store's contract tests."""

from __future__ import annotations

from collections.abc import Callable

from ferryman.model import UploadRecord


class MemoryUploads:
    """``SinkState.upload_*`` for one sink, in memory; ``clock`` as the store's."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._rows: dict[tuple[str, str], tuple[UploadRecord, float]] = {}

    def now(self) -> float:
        return self._clock()

    async def upload_get(self, account: str, key: str) -> UploadRecord | None:
        found = self._rows.get((account, key))
        return None if found is None else found[0]

    async def upload_put(self, record: UploadRecord, *, prune_before: float | None = None) -> None:
        if prune_before is not None:
            for k, (_, written) in list(self._rows.items()):
                if written < prune_before:
                    del self._rows[k]
        self._rows[(record.account, record.key)] = (record, self._clock())

    async def upload_forget(self, account: str, key: str) -> None:
        self._rows.pop((account, key), None)
