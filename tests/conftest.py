"""Shared fixtures: a store on each engine, settings in a temp data dir."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ferryman.config import Settings, load_settings
from ferryman.store import Store, schema
from ferryman.store.connect import normalise_url

from .s3serve import S3Server, running_s3

PG_DSN = os.environ.get("FERRYMAN_TEST_PG_DSN")


async def _reset_postgres(dsn: str) -> None:
    engine = create_async_engine(normalise_url(dsn))
    async with engine.begin() as conn:
        # Every table the schema knows (a table left behind keeps rows whose ids the
        # next test's rows would reuse), dependents first.
        names = [t.name for t in reversed(schema.metadata.sorted_tables)]
        for table in [*names, "schema_version"]:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    await engine.dispose()


def store_url(kind: str, tmp_path: Path) -> str:
    if kind == "postgres":
        if not PG_DSN:
            pytest.skip("PostgreSQL tests need FERRYMAN_TEST_PG_DSN (CI sets it)")
        return PG_DSN
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request.param, tmp_path)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    if db_url.startswith("postgres"):
        await _reset_postgres(db_url)
    opened = await Store.open(db_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "space_recheck_seconds": 0.1,
        },
    )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS for the whole run (it takes seconds to start); each test uses a
    bucket of its own."""
    with running_s3(tmp_path_factory.mktemp("s3")) as server:
        yield server
