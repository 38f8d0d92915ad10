"""A watch of a very long feed checked by a real ``ferryman web`` (its engine inside)
while the API is used: what ``tests/watch/test_watch_big_feed.py`` asserts and ``python -m
bench watch`` prints.

The feed (``entries`` items, served on loopback) links one slow file by as many links
(``/slow.zip?drop=N``): the engine's downloads trickle, as a real feed's would, and
the API is timed against the watch's check, not against a storm of failing jobs. The
watch is added paused and ``POST /api/v1/jobs`` timed at rest (the baseline, paced as
later); then the watch is resumed and the same call timed while the check runs;
``web`` is stopped mid-check (SIGTERM to exit) and started again; the rest of the feed
is taken over the next passes; ``web`` is stopped once more, at rest. Passes are
counted from the watch's ``last_check_at`` as the API shows it.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.httpserve import Faults, FaultServer, serving
from tests.support.waiting import eventually_sync
from tests.support.webserve import WebServer, running_web

PACE = 0.25  # seconds between timed API calls while the check runs (a person's clicks)


@dataclass
class Figures:
    entries: int
    at_rest: list[float] = field(default_factory=list)  # POST /api/v1/jobs, seconds
    checking: list[float] = field(default_factory=list)  # the same while the feed is taken
    passes: int = 0  # checks that recorded part of the feed
    took: float = 0.0  # seconds from the resume to the last entry recorded (both runs)
    stop_checking: float = 0.0  # SIGTERM to exit while the watch was being checked
    stop_at_rest: float = 0.0  # the same once it was all taken
    jobs: int = 0  # entries the watch made into jobs (a job a batch), as the store has them
    seen: int = 0  # its seen rows

    @staticmethod
    def worst(times: list[float]) -> float:
        return max(times) if times else 0.0

    @staticmethod
    def median(times: list[float]) -> float:
        return statistics.median(times) if times else 0.0


def _feed(server: FaultServer, count: int) -> None:
    items = "".join(
        f"<item><title>Drop {n}</title><guid>drop-{n}</guid>"
        f'<enclosure url="{server.base}/slow.zip?drop={n}" type="application/zip"/></item>'
        for n in range(count, 0, -1)
    )
    server.add("/slow.zip", bytes(1 << 20), faults=Faults(trickle=64.0))  # never done
    body = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
    server.add("/feed.xml", body.encode(), content_type="application/rss+xml")


async def _add_paused_watch(data: Path, url: str) -> int:
    from ferryman.config import load_settings
    from ferryman.store import Store

    store = await Store.open(load_settings(None, {"data_dir": data}).database)
    try:
        watch = await store.add_watch(
            kind="feed", source=url, dest="library:", every_seconds=86400.0, since="all",
            next_check_at=0.0, paused=True,
        )  # fmt: skip
        return watch.id
    finally:
        await store.close()


async def _counts(data: Path, watch_id: int) -> tuple[int, int]:
    from sqlalchemy import func, select

    from ferryman.config import load_settings
    from ferryman.model import Batch
    from ferryman.store import Store
    from ferryman.store.schema import jobs, watch_seen

    store = await Store.open(load_settings(None, {"data_dir": data}).database)
    try:
        async with store.reader.connect() as conn:
            seen = select(func.count()).where(watch_seen.c.watch_id == watch_id)
            n_seen = (await conn.execute(seen)).scalar_one()
            made = select(jobs.c.source).where(jobs.c.source.like("batch:%"))
            inputs = [  # a look's batch of entries is one job: its inputs
                item.uri
                for source in (await conn.execute(made)).scalars()
                for item in Batch.parse(source).items
                if "/slow.zip?drop=" in item.uri
            ]
            assert len(set(inputs)) == len(inputs)  # none twice
            n_jobs = len(inputs)
        return int(n_jobs), int(n_seen)
    finally:
        await store.close()


class _Api:
    def __init__(self, web: WebServer, server: FaultServer, watch_id: int, n: Iterator[int]):
        self.client = web.client()
        self.server = server
        self.watch_id = watch_id
        self.n = n  # links added so far, across runs of web

    def timed_add(self) -> float:
        link = self.server.url(f"/slow.zip?added={next(self.n)}")
        started = time.perf_counter()
        answer = self.client.post("/api/v1/jobs", json={"source": link})
        took = time.perf_counter() - started
        assert answer.status_code < 300, answer.text
        return took

    def watch(self) -> dict[str, Any]:
        answer = self.client.get("/api/v1/watches")
        assert answer.status_code == 200, answer.text
        views = answer.json()["watches"]
        view: dict[str, Any] = next(v for v in views if v["id"] == self.watch_id)
        return view


def _stop(web: WebServer) -> float:
    started = time.perf_counter()
    web.process.send_signal(signal.SIGTERM)
    web.process.wait(60)
    return time.perf_counter() - started


def run(tmp: Path, entries: int, **env: str) -> Figures:
    """The whole scenario; ``env``: settings for ``web`` (``FERRYMAN_WATCH__…``)."""
    figures = Figures(entries)
    data = tmp / "data"
    env = {
        "FERRYMAN_NETWORK__PRIVATE_ALLOWED": '["127.0.0.1"]',
        "FERRYMAN_WEB__RATE_LIMIT": "1000000",  # the API's own limit is not what is timed
        **env,
    }
    with serving() as server:
        _feed(server, entries)
        watch_id = asyncio.run(_add_paused_watch(data, server.url("/feed.xml")))
        seen_checks: set[float] = set()
        added = itertools.count()
        with running_web(data, **env) as web:
            api = _Api(web, server, watch_id, added)
            for _ in range(30):
                figures.at_rest.append(api.timed_add())
                time.sleep(PACE)  # the same pace as below, not a wait for anything
            assert api.client.post(f"/api/v1/watches/{watch_id}/resume").status_code == 200
            started = time.perf_counter()

            def taking() -> dict[str, Any] | None:
                figures.checking.append(api.timed_add())
                time.sleep(PACE)  # a person's pace between calls, not a wait for a state
                view = api.watch()
                return view if view["jobs_made"] > 0 and view["state"] == "checking" else None

            view = eventually_sync(taking, "the watch's first batches", within=600, every=0)
            seen_checks.update([view["last_check_at"]] if view["last_check_at"] else [])
            figures.stop_checking = _stop(web)
        with running_web(data, **env) as web:
            api = _Api(web, server, watch_id, added)

            def taken() -> dict[str, Any] | None:
                figures.checking.append(api.timed_add())
                time.sleep(PACE)  # a person's pace between calls, not a wait for a state
                view = api.watch()
                if view["last_check_at"]:
                    seen_checks.add(view["last_check_at"])
                done = view["jobs_made"] > 0 and view["state"] == "waiting"  # a job a batch
                return view if done and "more" not in (view["note"] or "") else None

            eventually_sync(taken, f"all {entries} entries made jobs", within=3600, every=0)
            figures.took = time.perf_counter() - started
            figures.passes = len(seen_checks)
            figures.stop_at_rest = _stop(web)
        figures.jobs, figures.seen = asyncio.run(_counts(data, watch_id))
    return figures
