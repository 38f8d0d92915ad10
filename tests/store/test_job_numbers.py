"""A job's number is never given to another job (issue 46, item 4): old notices,
reports and scripts name the job they meant. SQLite handed the newest job's number to
the next one once it was removed; schema step 12 keeps the highest given."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from sqlalchemy import Connection

from ferryman.engine.ops import control
from ferryman.store import Store, migrate
from tests.store.test_migrations import _database, _fill, _run
from tests.support import forked
from tests.support.contract import db_url, store

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory


async def test_a_removed_jobs_number_is_not_given_again(store: Store) -> None:
    first = await store.add_job(source="/in/a.zip", name="a", dest="library:")
    second = await store.add_job(source="/in/b.zip", name="b", dest="library:")
    await control.cancel_job(store, second.id)
    await store.remove_job(second.id)
    third = await store.add_job(source="/in/c.zip", name="c", dest="library:")
    assert third.id > second.id > first.id


def test_the_light_store_gives_no_number_twice_either(tmp_path: Path) -> None:
    """``ferryman add`` writes through the light store (its own DDL, sqlite_ddl.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return forked.run(
            ["--data-dir", str(tmp_path / "d"), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    for name in ("one", "two"):  # not there: recorded as failed jobs, so removable
        assert cli("add", str(tmp_path / name)).returncode == 1
    assert cli("remove", "2").returncode == 0
    cli("add", str(tmp_path / "three"))
    jobs = json.loads(cli("status", "--json").stdout)["jobs"]
    assert sorted(job["id"] for job in jobs) == [1, 3]


async def test_an_upgraded_sqlite_database_keeps_its_highest_number(tmp_path: Path) -> None:
    def highest(conn: Connection) -> tuple[int, int]:
        seq = conn.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'")
        top = conn.exec_driver_sql("SELECT max(id) FROM jobs")
        return int(seq.scalar_one()), int(top.scalar_one())

    async with _database("sqlite", tmp_path) as engine:
        await _run(engine, lambda c: migrate.migrate(c, 3))
        await _run(engine, _fill(3))
        await _run(engine, migrate.migrate)
        given, top = await _run(engine, highest)
    assert given == top >= 1
