"""Big uploads under way (``SinkState.upload_*``, table ``sink_uploads``) on SQLite,
PostgreSQL and the memory twin alike: kept per sink, account and file, replaced whole,
forgotten, and pruned once older than their parts' time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ferryman.model import UploadRecord
from ferryman.store import Store
from ferryman.store.memory_uploads import MemoryUploads
from ferryman.store.sink_uploads import parts_of, ranges
from tests.conftest import _reset_postgres, store_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "memory"])
async def states(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A factory of one sink's uploads, and the clock they write with."""
    now = [100.0]

    def clock() -> float:
        return now[0]

    if request.param == "memory":
        twins: dict[str, MemoryUploads] = {}
        yield (lambda sink: twins.setdefault(sink, MemoryUploads(clock))), now
        return
    url = store_url(request.param, tmp_path)
    if url.startswith("postgres"):
        await _reset_postgres(url)
    store = await Store.open(url, clock)
    try:
        yield store.sink_state, now
    finally:
        await store.close()


def _record(key: str = "/work/a.mp4", *, done: frozenset[int] = frozenset({0, 1, 2, 7})) -> Any:
    checks = b"".join(n.to_bytes(4, "little") for n in range(10))
    return UploadRecord("acc1", key, 2**62 + 5, 10 * 512 * 1024 - 3, 512 * 1024, done, checks, 99.5)


async def test_an_upload_is_kept_replaced_and_forgotten(states: Any) -> None:
    make, _now = states
    mine, other = make("telegram"), make("other")
    assert await mine.upload_get("acc1", "/work/a.mp4") is None
    first = _record()
    await mine.upload_put(first)
    assert await mine.upload_get("acc1", "/work/a.mp4") == first
    assert await other.upload_get("acc1", "/work/a.mp4") is None  # its own sink only
    assert await mine.upload_get("acc2", "/work/a.mp4") is None  # and account
    more = _record(done=frozenset(range(9)))
    await mine.upload_put(more)
    assert await mine.upload_get("acc1", "/work/a.mp4") == more
    await mine.upload_forget("acc1", "/work/a.mp4")
    assert await mine.upload_get("acc1", "/work/a.mp4") is None


async def test_records_older_than_the_parts_time_are_pruned(states: Any) -> None:
    make, now = states
    mine: Any = make("telegram")
    await mine.upload_put(_record("/old"))
    now[0] = 200.0
    await mine.upload_put(_record("/new"), prune_before=150.0)
    assert await mine.upload_get("acc1", "/old") is None
    assert await mine.upload_get("acc1", "/new") is not None


@pytest.mark.parametrize(
    ("done", "text"),
    [(set(), ""), ({0}, "0"), ({0, 1, 2, 5}, "0-2,5"), ({3, 4, 9, 10, 11, 20}, "3-4,9-11,20")],
)
def test_acknowledged_parts_are_kept_as_ranges(done: set[int], text: str) -> None:
    assert ranges(frozenset(done)) == text
    assert parts_of(text) == done
