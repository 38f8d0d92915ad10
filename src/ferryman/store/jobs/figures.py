"""Dashboard figures: what ``/metrics`` and the job list count from the store."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    func,
    select,
)

from ferryman.model import (
    ItemState,
)
from ferryman.store.schema import (
    fetches,
    items,
    jobs,
)
from ferryman.store.sql.base import StoreBase


class FigureQueries(StoreBase):
    """Counts over items, fetches and jobs, read without a write lock."""

    async def item_counts(self) -> dict[int, dict[str, int]]:
        """Per job: how many items are in each state."""
        counts: dict[int, dict[str, int]] = {}
        for job_id, state, n in await self._read(_ITEM_COUNTS):
            counts.setdefault(job_id, {})[state] = n
        return counts

    async def figures(self) -> dict[str, Any]:
        """What ``/metrics`` reports from the store: items by state and failure code,
        bytes fetched, read from inputs and delivered, jobs by source scheme and state."""
        item_rows, fetched, job_rows = await self._snapshot(
            (_BY_ITEM, {}), (_FETCHED, {}), (_BY_JOB, {})
        )
        return figures_of(item_rows, int(fetched[0][0]), job_rows)


_ITEM_COUNTS = select(items.c.job_id, items.c.state, func.count()).group_by(
    items.c.job_id, items.c.state
)
_BY_ITEM = select(
    items.c.state,
    items.c.error_code,
    func.count(),
    func.coalesce(func.sum(items.c.source_size), 0),
    func.coalesce(func.sum(items.c.size), 0),
).group_by(items.c.state, items.c.error_code)
_FETCHED = select(func.coalesce(func.sum(fetches.c.size), 0)).where(fetches.c.state == "done")
_BY_JOB = select(jobs.c.source, jobs.c.state)


def figures_of(
    item_rows: Iterable[tuple[str, str | None, int, int, int]],
    fetched_bytes: int,
    job_rows: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """``figures`` from its reads: items grouped by (state, error code) with their count,
    input bytes and bytes; the bytes fetched; each job's (source, state). Both stores
    hand theirs here, so ``/metrics`` counts alike on each."""
    failed: dict[str, int] = {}
    states: dict[str, int] = {}
    read = delivered = 0
    for state, code, n, source_size, size in item_rows:
        states[state] = states.get(state, 0) + n
        read += int(source_size)
        if state == ItemState.DELIVERED.value:
            delivered += int(size)
        if state in (ItemState.FAILED.value, ItemState.QUARANTINED.value) and code:
            failed[code] = failed.get(code, 0) + n
    sources: dict[tuple[str, str], int] = {}
    for source, state in job_rows:
        scheme = source.split(":", 1)[0] if ":" in source else "file"
        sources[(scheme, state)] = sources.get((scheme, state), 0) + 1
    return {
        "items": states,
        "failed_by_code": failed,
        "bytes_fetched": fetched_bytes,
        "bytes_read": read,
        "bytes_delivered": delivered,
        "jobs_by_source": sources,
    }
