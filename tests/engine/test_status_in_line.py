"""``ferryman status`` says where a queued job stands in line, as the web's job view
does (``in_line``): on SQLite through the light store, on PostgreSQL through the full
store, from the one query in ``store/jobs/queue_sql.py``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from ferryman.frontdoors.cli.root import app
from ferryman.store import Store
from ferryman.store.startup.sqlite3_store import open_sqlite3


async def _line_up(store: Store) -> list[int]:
    """Three links (the first downloading), then three folders (the first being read,
    the third paused): ids in that order."""
    ids = [
        (await store.add_job(source=f"https://h/{n}", name=f"l{n}", dest="library:", fetch=True)).id
        for n in range(3)
    ]
    assert (await store.claim_fetch("f", 30)) is not None
    ids += [
        (await store.add_job(source=f"/r{n}", name=f"r{n}", dest="library:")).id for n in range(3)
    ]
    claimed = await store.claim_job("r", 30)
    assert claimed is not None and claimed.id == ids[3]
    await store.set_paused(ids[5], True)
    return ids


async def test_status_says_how_many_are_ahead(store: Store, db_url: str, tmp_path: Path) -> None:
    ids = await _line_up(store)
    env = {"FERRYMAN_DATABASE_URL": db_url, "FERRYMAN_CONFIG": None, "COLUMNS": "200"}
    cli = ["--data-dir", str(tmp_path / "data"), "status"]
    done = await asyncio.to_thread(CliRunner().invoke, app, [*cli, "--json"], env=env)
    assert done.exit_code == 0, done.output
    shown = {job["id"]: job["in_line"] for job in json.loads(done.stdout)["jobs"]}
    assert shown == {
        ids[0]: None,  # downloading: not in line
        ids[1]: {"reason": "downloads", "ahead": 1},
        ids[2]: {"reason": "downloads", "ahead": 2},
        ids[3]: None,  # being read
        ids[4]: {"reason": "reading", "ahead": 1},
        ids[5]: None,  # paused: out of line
    }
    assert {k: v for k, v in shown.items() if v} == await store.queue_places()
    table = await asyncio.to_thread(CliRunner().invoke, app, cli, env=env)  # its own loop
    assert table.exit_code == 0, table.output
    lines = {line.split()[1]: line for line in table.stdout.splitlines() if "│" in line}
    assert "waiting: 2 downloads ahead" in lines[str(ids[2])]
    assert "waiting: 1 job to read ahead" in lines[str(ids[4])]


async def test_the_light_store_places_jobs_as_the_store_does(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'both.db'}"
    full = await Store.open(url)
    light_store = None
    try:
        await _line_up(full)
        light_store = open_sqlite3(url, create=False)
        assert light_store is not None
        places = light_store.queue_places()
        assert places == await full.queue_places() and len(places) == 3
    finally:
        if light_store is not None:
            light_store.close()
        await full.close()
