"""SIGKILL the real `ferryman run` during watch checks (one stalled in the middle of
listing the feed, then at random moments while the feed gains entries): every entry
is in one job (a look's entries one job), delivered once; nothing is lost or made
twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from ferryman.model import Batch
from ferryman.samples import make_photo, make_zip
from ferryman.store import Store
from tests.support import forked
from tests.support.engine_helpers import library_files
from tests.support.httpserve import FaultServer, serving
from tests.support.waiting import eventually_sync
from tests.watch.test_watch_feed import rss

pytestmark = pytest.mark.slow


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    return env | {
        "FERRYMAN_DATA_DIR": str(data),
        "FERRYMAN_POLL_SECONDS": "0.05",
        "FERRYMAN_SPACE_FLOOR": "0",
    }


def _run(env: dict[str, str], *extra: str) -> forked.Process:
    return forked.popen(
        ["run", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _query(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
            return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # the schema not made yet
        return []


def _publish(server: FaultServer, tmp_path: Path, count: int) -> None:
    """The feed with entries 1..count (newest first), each a zip of one photo."""
    for n in range(1, count + 1):
        path = f"/drop{n:02}.zip"
        if path not in server.resources:
            photo = make_photo(tmp_path / "made" / f"drop{n:02}.jpg", n, size=(64, 48))
            made = make_zip(tmp_path / "made" / f"drop{n:02}.zip", [(photo.name, photo)])
            server.add(path, made.read_bytes())
    feed = rss(server, [(f"drop{n:02}", f"/drop{n:02}.zip") for n in range(count, 0, -1)])
    if "/feed.xml" in server.resources:
        server.replace("/feed.xml", feed)
    else:
        server.add("/feed.xml", feed, content_type="application/rss+xml")


def _add_watch(data: Path, source: str) -> None:
    data.mkdir(parents=True, exist_ok=True)

    async def go() -> None:
        store = await Store.open(f"sqlite+aiosqlite:///{data / 'ferryman.db'}")
        try:
            await store.add_watch(
                kind="feed",
                source=source,
                dest="library:",
                every_seconds=0.2,
                since="all",
                next_check_at=0.0,
            )
        finally:
            await store.close()

    asyncio.run(go())


def test_sigkill_during_checks_makes_each_entry_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = data / "ferryman.db"
    env = _env(data)
    rng = random.Random(37)
    total = 4
    with serving() as server:
        _publish(server, tmp_path, total)
        _add_watch(data, server.url("/feed.xml"))
        # 1. Killed in the middle of listing: the feed answers nothing for a while.
        faults = server.resources["/feed.xml"].faults
        faults.stall_at, faults.stall_seconds, faults.stall_times = 0, 30.0, 1
        proc = _run(env)
        eventually_sync(
            lambda: _query(db, "SELECT 1 FROM watches WHERE owner LIKE ?", f"%:{proc.pid}:%"),
            "the check under way",
        )
        eventually_sync(lambda: server.requests_for("/feed.xml"), "the feed asked for")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert _query(db, "SELECT count(*) FROM jobs") == [(0,)]
        # 2. Killed at random moments while the feed gains entries.
        kills = 0
        for _ in range(8):
            total += 3
            _publish(server, tmp_path, total)
            proc = _run(env)
            eventually_sync(
                lambda proc=proc: _query(  # type: ignore[misc]
                    db, "SELECT 1 FROM watches WHERE owner LIKE ?", f"%:{proc.pid}:%"
                ),
                "a check under way",
            )
            time.sleep(rng.uniform(0.0, 0.6))  # the kill's random moment: the scenario
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(30)
        assert kills >= 6
        # 3. A last run: one more look, then everything to its end.
        with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn, conn:
            conn.execute("UPDATE watches SET every_seconds = 3600, next_check_at = 0")
        final = _run(env, "--until-idle")
        assert final.wait(300) == 0, final.stderr.read() if final.stderr else ""
    sources = [str(row[0]) for row in _query(db, "SELECT source FROM jobs")]
    titles = sorted(str(i.title) for s in sources for i in Batch.parse(s).items)
    names = [f"drop{n:02}" for n in range(1, total + 1)]
    assert titles == [f"Episode {name}" for name in names]  # each entry in a job, once
    assert _query(db, "SELECT DISTINCT state FROM jobs") == [("done",)]
    seen = _query(db, "SELECT entry_id, job_id FROM watch_seen ORDER BY entry_id")
    assert [row[0] for row in seen] == names and all(row[1] is not None for row in seen)
    delivered = sorted(Path(f["file"]).name for f in library_files(data / "library"))
    assert delivered == [f"drop{n:02}.jpg" for n in range(1, total + 1)]
