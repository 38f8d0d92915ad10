"""``python -m bench fairness``: one slow download must not hold quick links up.

Ten quick links (small JPEGs on a loopback server) are added to a running engine (in
process, SQLite, into the library), alone: the baseline, measured in the same run. Then
the same ten are added together with one slow link, a ``--slow-kb`` (600) kB picture
its server trickles at ``--slow-rate`` (50) kB/s, added first so it is claimed first.
Each job is timed from its add to its end (``JobFinished``); the table shows when the
last quick link ended, alone and beside the slow one (medians of ``--repeat`` (3)
rounds, alternating which goes first, after a warm-up round), and the ratio, with the default
``concurrency.fetch`` (several downloads at once off a phone) and with one download
at a time (a phone's default), where the slow one holds the others by design.
Target: beside the slow one, the quick links end within 1.5x of their time alone plus
half a second (a wake-up and a poll on a shared machine), and well before the slow one.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import time
from pathlib import Path

from bench._common import (
    Check,
    Result,
    Table,
    bench_settings,
    fmt_ratio,
    median,
    progress,
    scratch,
)
from tests.support.httpserve import Faults, FaultServer, serving

QUICK = 10
TARGET = 1.5
SLACK_SECONDS = 0.5


def _noise_jpeg(size: int) -> bytes:
    """A JPEG of about ``size`` bytes (noise does not compress)."""
    import random

    from PIL import Image

    side = max(64, int((size / 0.85) ** 0.5))
    rng = random.Random(7)
    image = Image.frombytes("L", (side, side), rng.randbytes(side * side)).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def _serve(server: FaultServer, work: Path, slow_bytes: int, rate: float) -> int:
    """The quick photos and the slow picture; returns the slow one's size."""
    from ferryman.samples import make_photo_set

    for n, photo in enumerate(make_photo_set(work / "photos", QUICK, size=(320, 240))):
        server.add(f"/quick/{n}.jpg", photo.read_bytes(), content_type="image/jpeg")
    data = _noise_jpeg(slow_bytes)
    server.add("/slow.jpg", data, content_type="image/jpeg", faults=Faults(trickle=rate))
    return len(data)


async def _round(
    work: Path, server: FaultServer, slow: bool, fetch: int | None
) -> dict[str, float]:
    """Seconds from add to end, per job name ('slow', 'quick0'…), on a fresh data dir."""
    from ferryman.device.conditions import Device
    from ferryman.engine.ops import intake
    from ferryman.engine.plumbing.events import Event, JobFinished
    from ferryman.engine.runner import Engine
    from ferryman.store import Store

    settings = bench_settings(work)
    if fetch is not None:
        concurrency = settings.concurrency.model_copy(update={"fetch": fetch})
        settings = settings.model_copy(update={"concurrency": concurrency})
    store = await Store.open(settings.database)
    engine = Engine(store, settings, device=Device(env={}))  # not a phone
    ended: dict[int, float] = {}
    everything = asyncio.Event()
    wanted = QUICK + (1 if slow else 0)

    def heard(event: Event) -> None:
        if isinstance(event, JobFinished):
            ended[event.job_id] = time.perf_counter()
            if len(ended) >= wanted:
                everything.set()

    engine.bus.subscribe(heard)
    running = asyncio.create_task(engine.run())
    try:
        names: dict[int, str] = {}
        started = time.perf_counter()
        if slow:
            names[(await intake.add_source(store, server.url("/slow.jpg"))).id] = "slow"
        for n in range(QUICK):
            job = await intake.add_source(store, server.url(f"/quick/{n}.jpg"))
            names[job.id] = f"quick{n}"
        await store.wake_engines()
        await asyncio.wait_for(everything.wait(), 600)
        states = {j.id: j.state.value for j in await store.list_jobs()}
        if any(state != "done" for state in states.values()):
            raise RuntimeError(f"not every job was delivered: {states}")
        return {names[job_id]: at - started for job_id, at in ended.items()}
    finally:
        engine.stop()
        await running
        await store.close()


def _measure(work: Path, server: FaultServer, fetch: int | None, rounds: int) -> dict[str, float]:
    """Medians over ``rounds`` of (alone, beside), the order alternating between rounds,
    after a warm-up round (the first engine in a process pays for its imports)."""
    asyncio.run(_round(work / f"warm-{fetch}", server, False, fetch))
    alone: list[float] = []
    beside: list[float] = []
    slow: list[float] = []
    for n in range(rounds):
        for with_slow in (n % 2 == 1, n % 2 == 0):
            ended = asyncio.run(
                _round(work / f"r{n}-{with_slow}-{fetch}", server, with_slow, fetch)
            )
            quick = max(t for name, t in ended.items() if name != "slow")
            if with_slow:
                beside.append(quick)
                slow.append(ended["slow"])
            else:
                alone.append(quick)
    return {"alone": median(alone), "beside": median(beside), "slow": median(slow)}


def run(args: argparse.Namespace) -> Result:
    slow_bytes = int(getattr(args, "slow_kb", None) or 600) * 1000
    rate = float(getattr(args, "slow_rate", None) or 50) * 1000
    rounds = max(1, int(getattr(args, "media_repeat", None) or 3))
    result = Result("fairness", f"{QUICK} quick links alone vs beside one slow download")
    table = Table(
        ["concurrency.fetch", "quick links alone (baseline)", "beside the slow one", "ratio",
         "slow one ended"]
    )  # fmt: skip
    measured: dict[str, dict[str, float]] = {}
    with scratch("fairness", args.tmp_dir, args.keep) as work, serving() as server:
        size = _serve(server, work, slow_bytes, rate)
        result.title += f" ({size / 1000:.0f} kB at {rate / 1000:g} kB/s), medians of {rounds}"
        for label, fetch in (("default (not a phone)", None), ("1 (a phone's default)", 1)):
            progress(f"fairness: {label}: {rounds} rounds of alone / beside the slow download")
            found = measured[label] = _measure(work, server, fetch, rounds)
            ratio = found["beside"] / found["alone"]
            table.add(label, f"{found['alone']:.2f} s", f"{found['beside']:.2f} s",
                      fmt_ratio(ratio), f"{found['slow']:.1f} s")  # fmt: skip
            if fetch is None:
                limit = TARGET * found["alone"] + SLACK_SECONDS
                result.checks.append(
                    Check("quick links beside a slow download (default)",
                          f"{found['beside']:.2f} s", f"<= {limit:.2f} s",
                          found["beside"] <= limit)
                )  # fmt: skip
                result.checks.append(
                    Check("... and before the slow one ends", f"{found['beside']:.2f} s",
                          f"< {found['slow']:.1f} s", found["beside"] < found["slow"])
                )  # fmt: skip
    result.tables.append(("time until the last of the quick links was delivered", table))
    result.data = measured
    result.notes.append(
        "one download at a time (a phone) keeps the quick links behind the slow one by"
        " design: the row shows what that costs"
    )
    return result
