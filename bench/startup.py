"""``python -m bench startup``: how fast the light commands answer, against bare Python.

Each command runs in a fresh process on an empty data dir, five times; the table shows
the median and its ratio to ``python -c pass`` measured in the same run (these
machines are shared and noisy: the ratio travels, the seconds do not). The targets are
absolute, as the issue gives them: ≤ 0.3 s for ``--help``, ``status`` and ``config
show``; ≤ 0.4 s for ``add FILE``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench._common import Check, Result, Table, median, scratch
from ferryman.samples import make_photo

RUNS = 5
TARGETS = {"--help": 0.3, "status": 0.3, "config show": 0.3, "add FILE": 0.4}


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> Result:
    result = Result("startup", "light commands in a fresh process, against `python -c pass`")
    with scratch("startup", args.tmp_dir, args.keep) as tmp:
        photo = make_photo(tmp / "photo.jpg", 1)
        python = [sys.executable]
        baseline = median([_timed([*python, "-c", "pass"]) for _ in range(RUNS)])
        table = Table(["command", "median", "vs python -c pass", "target"])
        table.add("python -c pass", f"{baseline:.3f} s", "1.00x", "-")
        for name, limit in TARGETS.items():
            times = []
            for n in range(RUNS):
                data = tmp / f"data-{name.replace(' ', '-')}-{n}"  # empty every time
                words = name.replace("FILE", str(photo)).split()
                argv = [*python, "-m", "ferryman", "--data-dir", str(data), *words]
                times.append(_timed(argv))
            took = median(times)
            table.add(name, f"{took:.3f} s", f"{took / baseline:.2f}x", f"≤ {limit} s")
            result.checks.append(
                Check(f"ferryman {name}", f"{took:.3f} s", f"≤ {limit} s", took <= limit)
            )
        result.tables.append((f"median of {RUNS} fresh processes each", table))
        result.notes.append(f"data dirs under {Path(tmp)}; a new, empty one for every run")
    return result
