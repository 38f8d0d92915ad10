"""CPU a photo of ``bench.pipeline.ferry`` on a cached folder, by thread (a tool, not a bench).

``python bench/measure_items.py N [--threads] [--profile OUT] [--copy]``: the folder of N
photos is made once under /tmp and reused; each run gets a fresh data dir. Prints wall
and CPU (user + system of the process, ``getrusage`` around the run) a photo; with
``--threads`` the CPU of each thread by name (``time.thread_time`` as it ends); with
``--profile`` a cProfile of every thread on ``time.thread_time``, merged into OUT.
``--copy`` makes a durable copy (``copy_fsync``) just before, and prints its time.
Run with ``PYTHONPATH=<tree>/src:<tree>`` to measure another tree's code.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import os
import pstats
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

from bench.pipeline import copy_fsync, ferry
from ferryman.samples import make_photo_set

SPENT: collections.Counter[str] = collections.Counter()
PROFILES: list[cProfile.Profile] = []
LOCK = threading.Lock()


def _kind(name: str) -> str:
    """A thread's name without its number: pools' workers counted together."""
    return name.rstrip("0123456789_-").split(" (")[0] or name


def _instrument(profile: bool) -> None:
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        prof = cProfile.Profile(time.thread_time) if profile else None
        try:
            if prof is not None:
                prof.runcall(original, self)
            else:
                original(self)
        finally:
            with LOCK:
                SPENT[_kind(self.name)] += time.thread_time()
                if prof is not None:
                    PROFILES.append(prof)

    threading.Thread.run = run  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("--threads", action="store_true")
    parser.add_argument("--profile")
    parser.add_argument("--copy", action="store_true")
    parser.add_argument("--zip", action="store_true")
    args = parser.parse_args()
    cache = Path(tempfile.gettempdir()) / f"peritem2-photos-{args.count}"
    if not cache.exists():
        make_photo_set(cache.with_suffix(".tmp"), args.count)
        cache.with_suffix(".tmp").rename(cache)
    given = cache
    if args.zip:
        from ferryman.samples import make_zip

        given = cache.with_suffix(".zip")
        if not given.exists():
            make_zip(given, [(p.name, p) for p in sorted(cache.iterdir())], compress=False)
    _instrument(args.threads or (bool(args.profile) and not os.environ.get("LOOP_ONLY")))
    root = Path(tempfile.mkdtemp(prefix="peritem2-run-", dir=cache.parent))
    try:
        if args.copy:
            copied = copy_fsync(cache, root / "copy")
            print(f"durable copy {copied:.2f} s, {copied / args.count * 1000:.2f} ms a file")
        os.sync()
        before = resource.getrusage(resource.RUSAGE_SELF)
        loop_prof = cProfile.Profile(time.thread_time) if args.profile else None
        loop_cpu = time.thread_time()
        if loop_prof is not None:
            loop_prof.enable()
        seconds, counts, state = asyncio.run(ferry(given, root / "data", 3600))
        if loop_prof is not None:
            loop_prof.disable()
            PROFILES.append(loop_prof)
        SPENT["main (loop)"] += time.thread_time() - loop_cpu
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    n = args.count
    print(
        f"{n} photos: {state.value}, {counts}, wall {seconds:.2f} s ({seconds / n * 1000:.2f}"
        f" ms a photo), CPU {user:.2f} + {system:.2f} s = {(user + system) / n * 1000:.2f}"
        f" ms a photo, load {os.getloadavg()[0]:.1f}; context switches a photo:"
        f" {(after.ru_nvcsw - before.ru_nvcsw) / n:.1f} voluntary,"
        f" {(after.ru_nivcsw - before.ru_nivcsw) / n:.1f} forced"
    )
    if args.threads or args.profile:
        for name, spent in SPENT.most_common():
            print(f"  {name:30s} {spent:7.2f} s  {spent / n * 1000:.3f} ms a photo")
    if args.profile:
        stats = pstats.Stats(PROFILES[0])
        for prof in PROFILES[1:]:
            stats.add(prof)
        stats.dump_stats(args.profile)
        calls = stats.total_calls  # type: ignore[attr-defined]
        print(f"  Python function calls: {calls:,} ({calls / n:,.0f} a photo)")


if __name__ == "__main__":
    main()
