"""Timeline of ``bench telegram --download``'s links row alone (issue 49 item 2): the 200
photo links through ``engine_download`` with ``add_links``, as the bench runs them, and
where each job waited (add, fetch, read claim, read, delivery, end) with every ``Store``
call's count and time. The tree measured is the one on ``PYTHONPATH``; for A/B pairs,
run it alternately with each tree's ``src`` first::

    PYTHONPATH=<tree>/src:<tree> python -m bench.links_timeline [COUNT] [--timeline]

Without ``--timeline`` nothing is wrapped: one line, the row's figures.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

STEPS = [
    ("JobFetching", "JobFetched"),
    ("JobFetched", "JobStarted"),
    ("JobStarted", "JobReadDone"),
    ("JobReadDone", "AlbumDelivered"),
    ("AlbumDelivered", "JobFinished"),
]


def _timed(fn: Callable[..., Any], name: str, calls: dict[str, list[float]]) -> Any:
    @functools.wraps(fn)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            calls[name].append(time.perf_counter() - started)

    return timed


def _wrap_store(calls: dict[str, list[float]]) -> None:
    from ferryman.store import Store

    for name in dir(Store):
        fn = getattr(Store, name)
        if not name.startswith("_") and inspect.iscoroutinefunction(fn):
            setattr(Store, name, _timed(fn, name, calls))


def _record_events(events: list[tuple[float, str, int | None]]) -> None:
    from ferryman.engine.plumbing import events as ev

    publish = ev.EventBus.publish

    def recorded(self: Any, event: Any) -> None:
        events.append((time.perf_counter(), type(event).__name__, event.job_id))
        publish(self, event)

    ev.EventBus.publish = recorded  # type: ignore[method-assign]


def _report(
    start: float, events: list[tuple[float, str, int | None]], calls: dict[str, list[float]]
) -> None:
    per: dict[int, dict[str, float]] = defaultdict(dict)
    for at, kind, job in events:
        if job is not None:
            per[job].setdefault(kind, at - start)
    kinds: dict[str, list[float]] = defaultdict(list)
    for seen in per.values():
        for kind, at in seen.items():
            kinds[kind].append(at)
    for kind, ats in sorted(kinds.items(), key=lambda kv: statistics.median(kv[1])):
        ats.sort()
        print(
            f"  {kind:16s} n={len(ats):4d} first {ats[0]:6.2f}"
            f" median {statistics.median(ats):6.2f} last {ats[-1]:6.2f}"
        )
    for a, b in STEPS:
        gaps = [seen[b] - seen[a] for seen in per.values() if a in seen and b in seen]
        if gaps:
            print(f"  {a} -> {b}: median {statistics.median(gaps):.3f} max {max(gaps):.3f}")
    print("  store calls: count, total s, median ms, max ms")
    for name, took in sorted(calls.items(), key=lambda kv: -sum(kv[1]))[:20]:
        median, most = statistics.median(took) * 1e3, max(took) * 1e3
        print(f"    {name:20s} {len(took):5d} {sum(took):7.2f} {median:7.1f} {most:7.1f}")


def main() -> None:
    from bench import telegram_download as td
    from bench.telegram import make_photos

    count = int(next((a for a in sys.argv[1:] if a.isdigit()), "200"))
    timeline = "--timeline" in sys.argv
    root = Path(tempfile.mkdtemp(prefix="links-timeline-"))
    photos = [p.read_bytes() for p in make_photos(root / "photos", count)]
    w = td.make_world(b"", 0, photos)
    calls: dict[str, list[float]] = defaultdict(list)
    events: list[tuple[float, str, int | None]] = []
    if timeline:
        _wrap_store(calls)
        _record_events(events)
    marks: list[float] = []

    async def add(store: Any, _settings: Any) -> int:
        marks.append(time.perf_counter())
        made = await td.add_links(store, w.photo_ids, w.photo_channel)
        marks.append(time.perf_counter())
        return made

    load = os.getloadavg()[0]
    run = asyncio.run(td.engine_download(w, root / "data", 600, add, w.photo_shas))
    fetched = f"{run.fetch_seconds:.2f}" if run.fetch_seconds else "-"
    print(
        f"load {load:.1f}: whole {run.seconds:.2f} s, all fetched at {fetched} s,"
        f" the adds {marks[1] - marks[0]:.2f} s; problems: {run.problems[:3] or 'none'}"
    )
    if timeline:
        _report(marks[0], events, calls)


if __name__ == "__main__":
    main()
