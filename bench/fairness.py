"""``python -m bench fairness``: one slow download must not hold quick links up.

Ten quick links (small JPEGs on a loopback server) are added to a running engine (in
process, SQLite, into the library), alone: the baseline, measured in the same run. Then
the same ten are added together with one slow link, a ``--slow-kb`` (600) kB picture
its server trickles at ``--slow-rate`` (50) kB/s, added first so it is claimed first.
Each job is timed from its add to its end (``JobFinished``); the table shows when the
last quick link ended, alone and beside the slow one, and the ratio, with the default
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

from bench._common import Check, Result, Table, bench_settings, fmt_ratio, progress, scratch
from tests.httpserve import Faults, FaultServer, serving

QUICK = 10
TARGET = 1.5
SLACK_SECONDS = 0.5


def _noise_jpeg(size: int) -> bytes:
    """A JPEG of about ``size`` bytes (noise does not compress)."""
    import random

    from PIL import Image

    side = max(64, int((size / 1.2) ** 0.5))
    rng = random.Random(7)
    image = Image.frombytes("L", (side, side), rng.randbytes(side * side)).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def _serve(server: FaultServer, work: Path, slow_bytes: int, rate: float) -> None:
    from ferryman.samples import make_photo_set

    for n, photo in enumerate(make_photo_set(work / "photos", QUICK, size=(320, 240))):
        server.add(f"/quick/{n}.jpg", photo.read_bytes(), content_type="image/jpeg")
    data = _noise_jpeg(slow_bytes)
    server.add("/slow.jpg", data, content_type="image/jpeg", faults=Faults(trickle=rate))


async def _round(
    work: Path, server: FaultServer, slow: bool, fetch: int | None
) -> dict[str, float]:
    """Seconds from add to end, per job name ('slow', 'quick0'…), on a fresh data dir."""
    from ferryman.device.conditions import Device
    from ferryman.engine import intake
    from ferryman.engine.events import Event, JobFinished
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
        await store.nudge()
        await asyncio.wait_for(everything.wait(), 600)
        states = {j.id: j.state.value for j in await store.list_jobs()}
        if any(state != "done" for state in states.values()):
            raise RuntimeError(f"not every job was delivered: {states}")
        return {names[job_id]: at - started for job_id, at in ended.items()}
    finally:
        engine.stop()
        await running
        await store.close()


def run(args: argparse.Namespace) -> Result:
    slow_bytes = int(getattr(args, "slow_kb", None) or 600) * 1000
    rate = float(getattr(args, "slow_rate", None) or 50) * 1000
    result = Result(
        "fairness",
        f"{QUICK} quick links alone vs beside one {slow_bytes // 1000} kB download"
        f" at {rate / 1000:g} kB/s",
    )
    table = Table(
        ["concurrency.fetch", "quick links alone (baseline)", "beside the slow one", "ratio",
         "slow one ended"]
    )  # fmt: skip
    measured: dict[str, dict[str, float]] = {}
    with scratch("fairness", args.tmp_dir, args.keep) as work, serving() as server:
        _serve(server, work, slow_bytes, rate)
        for label, fetch in (("default (not a phone)", None), ("1 (a phone's default)", 1)):
            progress(f"fairness: {label}: quick links alone")
            alone = asyncio.run(_round(work / f"alone-{fetch}", server, False, fetch))
            progress(f"fairness: {label}: beside the slow download")
            beside = asyncio.run(_round(work / f"beside-{fetch}", server, True, fetch))
            last_alone = max(alone.values())
            last_beside = max(t for name, t in beside.items() if name != "slow")
            ratio = last_beside / last_alone
            table.add(label, f"{last_alone:.2f} s", f"{last_beside:.2f} s", fmt_ratio(ratio),
                      f"{beside['slow']:.1f} s")  # fmt: skip
            measured[label] = {"alone": last_alone, "beside": last_beside, "slow": beside["slow"]}
            if fetch is None:
                limit = TARGET * last_alone + SLACK_SECONDS
                result.checks.append(
                    Check("quick links beside a slow download (default)",
                          f"{last_beside:.2f} s", f"<= {limit:.2f} s", last_beside <= limit)
                )  # fmt: skip
                result.checks.append(
                    Check("... and before the slow one ends", f"{last_beside:.2f} s",
                          f"< {beside['slow']:.1f} s", last_beside < beside["slow"])
                )  # fmt: skip
    result.tables.append(("time until the last of the quick links was delivered", table))
    result.data = measured
    result.notes.append(
        "one download at a time (a phone) keeps the quick links behind the slow one by"
        " design: the row shows what that costs"
    )
    return result
