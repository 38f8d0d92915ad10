"""Two nodes sharing one store: a fixture for what must hold across nodes (an outside
call made once: ``store/fetches/calls``), and a PostgreSQL database of a test's own."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from ferryman.store import Store
from ferryman.store.memory.store import MemoryStore
from tests.conftest import _create_database, store_url
from tests.support.clock import ManualClock

Stores = Store | MemoryStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "memory"])
async def nodes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Stores, Stores, ManualClock]]:
    """Two nodes' stores on one database (each its own engine and connections; the
    memory store: one shared), on one clock; PostgreSQL's the test's own."""
    clock = ManualClock()
    if request.param == "memory":
        shared = MemoryStore(clock=clock.now)
        yield shared, shared, clock
        return
    async with own_database(request.param, tmp_path) as url:
        one = await Store.open(url, clock=clock.now)
        two = await Store.open(url, clock=clock.now)
        try:
            yield one, two, clock
        finally:
            await one.close()
            await two.close()


@asynccontextmanager
async def own_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """A store's URL: SQLite's in ``tmp_path``; on PostgreSQL a database made for the
    test alone and dropped after, so nothing another test left (a queued fetch) is
    claimed by its engines, and the worker's shared one is never emptied under it."""
    url = store_url(kind, tmp_path)
    if kind != "postgres":
        yield url
        return
    import asyncpg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_{secrets.token_hex(4)}"
    await _create_database(urlunsplit(parts._replace(path=f"/{name}")))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres", query="")))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
