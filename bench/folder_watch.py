"""``python -m bench watch-folder``: how soon a photo written into a watched folder is
in the library, with the folder's change notices (watchfiles) and without them
(polling, as on Android's shared storage).

A running engine (``Engine.run``, SQLite) watches a folder with ``--since now``; photos
are written into it one at a time (each waits for the one before to be delivered), and
each one's time from its write to its file in the library is taken. The baseline, in
the same run, is the same photo added as a job (``ferryman add``) to the running
engine: what the pipeline alone costs. A watched photo also waits
``watch.settle_seconds`` (3 s: it must have stopped changing) and, polled, up to one
``--every`` (10 s here, the least a watch takes). Targets: notified, the median within
the settle time plus the baseline plus 2 s; polled, the worst within a period plus
the settle time plus the baseline plus 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from bench._common import Check, Result, Table, median, progress, scratch

EVERY = 10.0  # seconds: the polled watch's period (the least `watch add` accepts)


async def _delivered(library: Path, count: int) -> None:
    from tests.support.engine_helpers import library_files
    from tests.support.waiting import eventually

    async def there() -> bool:
        try:
            return len(await asyncio.to_thread(library_files, library)) >= count
        except OSError:  # a manifest read while its album is being laid out
            return False

    await eventually(there, f"{count} files in the library", within=120, every=0.05)


async def _measure(work: Path, notified: bool, shots: int) -> tuple[list[float], list[float]]:
    """(each watched photo's seconds to the library, each added photo's)."""
    from ferryman.config import load_settings
    from ferryman.engine.ops.intake import add_source
    from ferryman.engine.runner import Engine
    from ferryman.samples import make_photo
    from ferryman.store import Store
    from tests.support.waiting import eventually

    data = work / ("notified" if notified else "polled")
    settings = load_settings(None, {"data_dir": data, "watch": {"folder_events": notified}})
    root = data / "Camera"
    root.mkdir(parents=True)
    store = await Store.open(settings.database)
    engine = Engine(store, settings)
    running = asyncio.create_task(engine.run())
    watched: list[float] = []
    added: list[float] = []
    try:
        made = await store.add_watch(
            kind="folder", source=str(root), dest="library:", every_seconds=EVERY,
            since="now", next_check_at=0.0,
        )  # fmt: skip

        async def ready() -> bool:
            primed = (await store.get_watch(made.id)).primed
            return primed and (not notified or made.id in engine.folder_changes.armed)

        await eventually(ready, "the first look (and the notices on)", within=120, every=0.05)
        count = 0
        for n in range(shots):
            shot = make_photo(data / "made" / f"IMG_{n}.jpg", 1000 + n)
            started = time.perf_counter()
            await add_source(store, shot, settings=settings)  # the baseline: `ferryman add`
            count += 1
            await _delivered(settings.library, count)
            added.append(time.perf_counter() - started)
            started = time.perf_counter()
            make_photo(root / f"IMG_{n}.jpg", n)  # as a camera writes it
            count += 1
            await _delivered(settings.library, count)
            watched.append(time.perf_counter() - started)
    finally:
        engine.stop()
        await running
        await store.close()
    return watched, added


def run(args: argparse.Namespace) -> Result:
    shots = max(3, round(8 * args.scale))
    result = Result("watch-folder", f"a photo written into a watched folder, {shots} times")
    table = Table(["a photo", "median", "worst"])
    with scratch("watch-folder", args.tmp_dir, args.keep) as work:
        figures = {}
        for notified in (True, False):
            progress(f"watch-folder: {'notified' if notified else 'polled'}")
            figures[notified] = asyncio.run(_measure(work, notified, shots))
    settle = 3.0
    base = [t for _, added in figures.values() for t in added]
    table.add("added as a job (`ferryman add`: baseline)", f"{median(base):.2f} s",
              f"{max(base):.2f} s")  # fmt: skip
    for notified, label in (
        (True, "watched, change notices"),
        (False, f"watched, polled every {EVERY:g} s"),
    ):
        times = figures[notified][0]
        table.add(label, f"{median(times):.2f} s", f"{max(times):.2f} s")
    result.tables.append(("", table))
    notified_median = median(figures[True][0])
    limit = settle + median(base) + 2.0
    result.checks.append(
        Check("notified, median", f"{notified_median:.2f} s", f"<= {limit:.2f} s",
              notified_median <= limit)
    )  # fmt: skip
    polled_worst = max(figures[False][0])
    limit = EVERY + settle + median(base) + 2.0
    result.checks.append(
        Check("polled, worst", f"{polled_worst:.2f} s", f"<= {limit:.2f} s",
              polled_worst <= limit)
    )  # fmt: skip
    return result
