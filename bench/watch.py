"""``python -m bench watch``: what a watch's check costs, on a feed of ``--watch-entries``
(1,000) items served on loopback.

Three checks of one watch (``--since all``), through the engine's ``Checker`` on a
SQLite store: the first makes a job of every entry, with its seen row, in one
transaction; the second finds nothing new; the third finds the 10 entries added since.
The baseline is the feed's fetch and parse alone (what any check must pay). Targets:
the first check under 30 s (it makes every job at once), a check that finds nothing
new within 2x the baseline plus 0.5 s (it must not grow with what the watch has seen
beyond reading its keys).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from bench._common import Check, Result, Table, progress, scratch
from tests.support.httpserve import FaultServer, serving


def _feed(server: FaultServer, count: int) -> None:
    items = "".join(
        f"<item><title>Drop {n}</title><guid>drop-{n}</guid>"
        f'<enclosure url="{server.base}/files/drop{n}.zip" type="application/zip"/></item>'
        for n in range(count, 0, -1)
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
    if "/feed.xml" in server.resources:
        server.replace("/feed.xml", body.encode())
    else:
        server.add("/feed.xml", body.encode(), content_type="application/rss+xml")


async def _measure(work: Path, url: str, server: FaultServer, count: int) -> list[float]:
    from ferryman.config import load_settings
    from ferryman.device.conditions import Device
    from ferryman.engine.watch.check import Checker
    from ferryman.sinks.builtin import default_sinks
    from ferryman.sources.builtin import default_sources
    from ferryman.sources.listers.builtin import default_listers
    from ferryman.sources.listers.feed import list_feed
    from ferryman.store import Store

    settings = load_settings(None, {"data_dir": work / "data"})
    store = await Store.open(settings.database)
    try:
        started = time.perf_counter()
        await asyncio.to_thread(list_feed, url, settings)
        baseline = time.perf_counter() - started
        watch = await store.add_watch(
            kind="feed", source=url, dest="library:", every_seconds=3600.0, since="all",
            next_check_at=0.0,
        )  # fmt: skip
        checker = Checker(
            store, default_sources(), default_sinks(), default_listers(), Device(env={}), "bench"
        )
        times = [baseline]
        for step in range(3):
            if step == 2:
                _feed(server, count + 10)
            claimed = await store.claim_watch("bench", 600, watch.id)
            assert claimed is not None
            started = time.perf_counter()
            found = await checker.check(claimed, settings, now_asked=True)
            times.append(time.perf_counter() - started)
            if found.error is not None:
                raise RuntimeError(f"{found.error.code}: {found.error.message}")
            made = [count, 0, 10][step]
            if len(found.made) != made:
                raise RuntimeError(f"check {step + 1} made {len(found.made)} jobs, not {made}")
        return times
    finally:
        await store.close()


def run(args: argparse.Namespace) -> Result:
    count = int(getattr(args, "watch_entries", None) or max(50, round(1000 * args.scale)))
    result = Result("watch", f"a watch's check of a feed of {count:,} entries (SQLite)")
    table = Table(["check", "jobs made", "time"])
    with scratch("watch", args.tmp_dir, args.keep) as work, serving() as server:
        _feed(server, count)
        progress(f"watch: {count} entries")
        times = asyncio.run(_measure(work, server.url("/feed.xml"), server, count))
    baseline, first, nothing, some = times
    table.add("feed fetched and parsed (baseline)", "-", f"{baseline:.2f} s")
    table.add("first (--since all)", f"{count:,}", f"{first:.2f} s")
    table.add("nothing new", "0", f"{nothing:.2f} s")
    table.add("10 new", "10", f"{some:.2f} s")
    result.tables.append(("", table))
    result.checks.append(Check("first check", f"{first:.1f} s", "< 30 s", first < 30))
    limit = 2 * baseline + 0.5
    result.checks.append(
        Check("a check finding nothing new", f"{nothing:.2f} s", f"<= {limit:.2f} s",
              nothing <= limit)
    )  # fmt: skip
    return result


def run_big(args: argparse.Namespace) -> Result:
    """``python -m bench watch-big``: a feed of ``--watch-big-entries`` (100,000) items
    watched with ``--since all`` by a real ``ferryman web`` while ``POST /api/v1/jobs``
    is timed (``tests/support/bigfeed.py``, which ``tests/watch/test_watch_big_feed.py``
    asserts on).
    The baseline is the same call, at the same pace, before the watch is resumed."""
    from tests.support import bigfeed

    count = int(getattr(args, "watch_big_entries", None) or round(100_000 * args.scale))
    result = Result("watch-big", f"a {count:,}-item feed taken in by `ferryman web` (SQLite)")
    with scratch("watch-big", args.tmp_dir, args.keep) as work:
        progress(f"watch-big: {count} entries")
        figures = bigfeed.run(work, count)
    latency = Table(["POST /api/v1/jobs", "calls", "median", "worst"])
    for label, times in (
        ("at rest (baseline)", figures.at_rest),
        ("while the feed is taken in", figures.checking),
    ):
        median, worst = figures.median(times), figures.worst(times)
        latency.add(label, len(times), f"{median:.3f} s", f"{worst:.3f} s")
    result.tables.append(("", latency))
    taken = Table(["the watch", "figure"])
    taken.add("passes (checks that recorded part of it)", figures.passes)
    taken.add("entries made into jobs (each once; a job a batch)", f"{figures.jobs:,}")
    taken.add("resume to the last entry recorded (a restart inside)", f"{figures.took:.1f} s")
    taken.add("web stopped mid-check (SIGTERM to exit)", f"{figures.stop_checking:.2f} s")
    taken.add("web stopped at rest (baseline)", f"{figures.stop_at_rest:.2f} s")
    result.tables.append(("", taken))
    worst = figures.worst(figures.checking)
    result.checks += [
        Check(
            "each entry in a job, once", f"{figures.jobs:,}", f"= {count:,}", figures.jobs == count
        ),
        Check("passes", str(figures.passes), ">= 3", figures.passes >= 3),
        Check("POST /api/v1/jobs while checking", f"{worst:.2f} s", "< 1 s", worst < 1.0),
        Check("web stops mid-check", f"{figures.stop_checking:.2f} s", "< 2 s",
              figures.stop_checking < 2.0),
    ]  # fmt: skip
    return result
