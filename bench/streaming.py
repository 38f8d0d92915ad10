"""Streaming: how soon the first album arrives, as a share of the whole run.

A zip of photos (~30 KB JPEGs, 320x240 with seeded noise so they do not shrink to
nothing) goes through ferryman in-process. Times count from ``intake.add_source``:
the first ``album.delivered`` event, and the engine going idle. Target (issue 16): the
first album arrives before 2 % of the total time (5 % before it).

Baseline, in the same run: a tool that unpacks the whole archive before it delivers
anything (``zipfile.extractall``) cannot deliver its first album before that
extraction ends; its time-to-first is at least the extraction time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import time
import zipfile
from pathlib import Path

from PIL import Image

from bench._common import (
    Check,
    Result,
    Table,
    bench_settings,
    fmt_ratio,
    fmt_seconds,
    progress,
    scratch,
)
from ferryman.engine import collector, intake
from ferryman.engine.events import Event
from ferryman.engine.runner import Engine
from ferryman.model import JobState
from ferryman.samples import make_photo_set, make_zip
from ferryman.store import Store

TARGET_FRACTION = 0.02
PHOTO_SIZE = (320, 240)
NOISE = 0.2  # share of seeded noise blended in: ~30-35 KB per JPEG at quality 90


def make_photos(folder: Path, count: int) -> list[Path]:
    """``count`` distinct, decodable JPEGs of ~30-35 KB each (seeded, reproducible)."""
    paths = make_photo_set(folder, count, size=PHOTO_SIZE)
    width, height = PHOTO_SIZE
    for seed, path in enumerate(paths):
        rng = random.Random(seed)
        with Image.open(path) as img:
            base = img.convert("RGB")
        noise = Image.frombytes("RGB", PHOTO_SIZE, rng.randbytes(width * height * 3))
        Image.blend(base, noise, NOISE).save(path, format="JPEG", quality=90)
    return paths


def extract_all(archive: Path, dest: Path) -> float:
    started = time.perf_counter()
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    return time.perf_counter() - started


async def ferry(archive: Path, data_dir: Path, limit: float) -> dict[str, float | int | str]:
    """Run one archive through; returns the times (from add) of the events that matter."""
    settings = bench_settings(data_dir)
    store = await Store.open(settings.database)
    marks: dict[str, float] = {}
    albums = 0

    def on_event(event: Event) -> None:
        nonlocal albums
        now = time.perf_counter()
        if event.kind == "album.delivered":
            albums += 1
        key = {
            "item.recorded": "first_item",
            "album.delivered": "first_album",
            "job.expanded": "expanded",
            "job.finished": "finished",
        }.get(event.kind)
        if key is not None and key not in marks:
            marks[key] = now

    try:
        started = time.perf_counter()
        with collector.startup_set_aside():  # as `ferryman run` does (frontdoors.startup)
            job = await intake.add_source(store, archive)
            engine = Engine(store, settings)
            engine.bus.subscribe(on_event)
            await asyncio.wait_for(engine.run(until_idle=True), limit)
        ended = time.perf_counter()
        done = await store.get_job(job.id)
    finally:
        await store.close()
    times: dict[str, float | int | str] = {k: v - started for k, v in marks.items()}
    times["total"] = ended - started
    times["albums"] = albums
    times["state"] = done.state.value
    times["delivered"] = (done.summary or {}).get("delivered", 0)
    return times


def run(args: argparse.Namespace) -> Result:
    count: int = args.entries
    result = Result("streaming", f"time to the first album, {count}-entry zip of photos")
    with scratch("streaming", args.tmp_dir, args.keep) as root:
        progress(f"streaming: making {count} photos ({PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG)")
        photos = make_photos(root / "photos", count)
        archive = make_zip(root / "photos.zip", [(f"album/{p.name}", p) for p in photos])
        entry_sizes = [p.stat().st_size for p in photos]
        shutil.rmtree(root / "photos")

        progress("streaming: baseline (zipfile.extractall)")
        extract_s = extract_all(archive, root / "extracted")
        shutil.rmtree(root / "extracted")

        progress("streaming: ferryman")
        times = asyncio.run(ferry(archive, root / "data", args.timeout))
        archive_size = archive.stat().st_size

    total = float(times["total"])
    first = float(times.get("first_album", total))
    fraction = first / total
    table = Table(["method", "first album s", "total s", "first/total", "first vs baseline"])
    table.add(
        "extract whole zip first (baseline: zipfile.extractall)",
        fmt_seconds(extract_s),
        "-",
        "-",
        "1.00x",
    )
    table.add(
        "ferryman add -> idle (streaming)",
        fmt_seconds(first),
        fmt_seconds(total),
        f"{fraction:.1%}",
        fmt_ratio(first / extract_s),
    )
    result.tables.append(("", table))
    result.checks.append(
        Check(
            f"first album before {TARGET_FRACTION:.0%} of the total time",
            f"{fraction:.1%} ({fmt_seconds(first)} of {fmt_seconds(total)} s)",
            f"< {TARGET_FRACTION:.0%}",
            fraction < TARGET_FRACTION,
        )
    )
    ok = times["state"] == JobState.DONE.value and times["delivered"] == count
    result.checks.append(
        Check(
            "every entry delivered, job done",
            f"{times['delivered']}/{count}, job {times['state']}",
            "all",
            bool(ok),
        )
    )
    milestones = ", ".join(
        f"{k} {float(times[k]):.3f} s"
        for k in ("first_item", "first_album", "expanded", "finished")
        if k in times
    )
    result.notes += [
        f"input: {count} JPEGs of {min(entry_sizes) / 1000:.0f}-{max(entry_sizes) / 1000:.0f} KB"
        f" (mean {sum(entry_sizes) / count / 1000:.0f} KB), zip {archive_size / 1e6:.1f} MB;"
        f" {times['albums']} albums delivered",
        f"milestones from add: {milestones}, idle {total:.3f} s",
        "the ideal first/total for N albums is about 1/N"
        f" ({1 / max(1, int(times['albums'])):.1%} here): one album's worth of work",
        "first vs baseline = ferryman's first album / the time a whole-archive extraction"
        " takes before anything could be delivered (lower is better)",
        "settings: defaults with space_floor=0 (poll_seconds at its default, 0.5)",
    ]
    result.data = {"entries": count, "extract_seconds": extract_s, **times}
    return result
