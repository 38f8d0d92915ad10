"""Two nodes sharing one store: a fixture for what must hold across nodes (an outside
call made once: ``store/fetches/calls``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ferryman.store import Store
from ferryman.store.memory.store import MemoryStore
from tests.conftest import store_url
from tests.support.clock import ManualClock

Stores = Store | MemoryStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "memory"])
async def nodes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Stores, Stores, ManualClock]]:
    """Two nodes' stores on one database (each its own engine and connections; the
    memory store: one shared), on one clock. PostgreSQL's is not emptied: each test's
    job is its own (a fresh source)."""
    clock = ManualClock()
    if request.param == "memory":
        shared = MemoryStore(clock=clock.now)
        yield shared, shared, clock
        return
    url = store_url(request.param, tmp_path)
    one = await Store.open(url, clock=clock.now)
    two = await Store.open(url, clock=clock.now)
    try:
        yield one, two, clock
    finally:
        await one.close()
        await two.close()
