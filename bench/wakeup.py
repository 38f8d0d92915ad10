"""``python -m bench wakeup``: from ``ferryman add`` in another process to the job claimed
by a running engine, on SQLite and on PostgreSQL, with and without wake-ups.

A ``ferryman run`` runs in a child process (plain output: one line per event, read as
it arrives). ``--rounds`` (20) times, ``ferryman add PHOTO`` runs in another process,
the engine idle; the latency is from the job row's ``created_at`` (stamped in the add's
transaction) to its ``started_at`` (stamped when the engine claims it), both by the
store's clock on this machine. The baseline is the same engine with
``FERRYMAN_NO_WAKE=1`` (it finds work only by polling, every ``poll_seconds``, 0.5 s by
default). Target: p95 ≤ 100 ms on both stores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench._common import Check, Result, Table, progress, scratch

TARGET = 0.100
PG_DSN = os.environ.get("FERRYMAN_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _measure(work: Path, database: str | None, wake: bool, rounds: int) -> list[float]:
    from ferryman.samples import make_photo

    data = work / f"data-{'pg' if database else 'sqlite'}-{'wake' if wake else 'poll'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env |= {"FERRYMAN_DATA_DIR": str(data), "FERRYMAN_POLL_SECONDS": "0.5"}
    if database:
        env["FERRYMAN_DATABASE_URL"] = database
    if not wake:
        env["FERRYMAN_NO_WAKE"] = "1"
    photos = [make_photo(work / f"p{n}-{data.name}.jpg", n) for n in range(rounds + 1)]
    engine = subprocess.Popen(
        [sys.executable, "-m", "ferryman", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # the run's events ("job 1: job_finished …") go there
        text=True,
    )
    lines: queue.Queue[tuple[float, str]] = queue.Queue()

    def read() -> None:
        assert engine.stderr is not None
        for line in engine.stderr:
            lines.put((time.perf_counter(), line))

    threading.Thread(target=read, daemon=True).start()
    try:
        add = [sys.executable, "-m", "ferryman", "add"]
        subprocess.run([*add, str(photos[0])], env=env, check=True, stdout=subprocess.DEVNULL)
        _wait_for(lines, "job_finished", 60)  # the engine is up and idle
        for photo in photos[1:]:
            time.sleep(0.2)  # the engine idle, as a person's add finds it
            subprocess.run([*add, str(photo)], env=env, check=True, stdout=subprocess.DEVNULL)
            _wait_for(lines, "job_finished", 30)
        latencies = asyncio.run(_claim_delays(database or f"sqlite:///{data / 'ferryman.db'}"))
        return latencies
    finally:
        engine.terminate()
        engine.wait(30)


async def _claim_delays(url: str) -> list[float]:
    """For every job but the warm-up: from its row's creation (the add's transaction) to
    its claim (``started_at``), both stamped by the store's clock."""
    from ferryman.store import Store

    store = await Store.open(url)
    try:
        jobs = sorted(await store.list_jobs(), key=lambda j: j.id)[1:]
    finally:
        await store.close()
    return [j.started_at - j.created_at for j in jobs if j.started_at is not None]


def _wait_for(lines: queue.Queue[tuple[float, str]], word: str, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while True:
        at, line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        if word in line:
            return at


async def _fresh_database(dsn: str, name: str) -> str:
    """A new, empty PostgreSQL database beside ``dsn``'s (dropped first if it exists)."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return dsn.rsplit("/", 1)[0] + f"/{name}"


def run(args: argparse.Namespace) -> Result:
    rounds = int(getattr(args, "rounds", None) or max(5, round(20 * args.scale)))
    result = Result("wakeup", "from `ferryman add` in another process to the job claimed")
    table = Table(["store", "wake-ups", "median", "p95", "max"])
    with scratch("ferryman-bench-wakeup-", args.tmp_dir, args.keep) as work:
        for name, pg in (("SQLite", False), ("PostgreSQL", True)):
            for wake in (False, True):
                database: str | None = PG_DSN if pg else None
                progress(f"wakeup: {name}, {'wake-ups' if wake else 'polling only'}")
                try:
                    if database is not None:
                        fresh = f"ferryman_bench_wakeup_{'on' if wake else 'off'}"
                        database = asyncio.run(_fresh_database(PG_DSN, fresh))
                    found = _measure(work, database, wake, rounds)
                except (subprocess.CalledProcessError, queue.Empty, OSError) as exc:
                    result.checks.append(Check(f"{name}: measured", repr(exc), "a run", False))
                    continue
                p95 = _percentile(found, 0.95)
                table.add(
                    name,
                    "on" if wake else "off (baseline)",
                    f"{sorted(found)[len(found) // 2] * 1000:.0f} ms",
                    f"{p95 * 1000:.0f} ms",
                    f"{max(found) * 1000:.0f} ms",
                )
                if wake:
                    result.checks.append(
                        Check(f"{name}: p95 add → claimed", f"{p95 * 1000:.0f} ms", "<= 100 ms",
                              p95 <= TARGET)
                    )  # fmt: skip
    result.tables.append(("", table))
    result.notes.append(
        f"{rounds} adds each, the engine idle; latency from the job row's created_at (the"
        " add's transaction) to its started_at (the claim); poll_seconds 0.5"
    )
    return result
