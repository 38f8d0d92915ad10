"""``python -m bench startup``: how fast the light commands answer, against bare Python.

Each command runs in a fresh process on an empty data dir, five times; the table shows
the median and its ratio to ``python -c pass`` measured in the same run (these
machines are shared and noisy: the ratio travels, the seconds do not), and to
``python -c "import typer"`` (the least a Typer command line costs); beside it the CPU
time each took (user and system), which a loaded machine's waits do not swell. ferryman's modules
are compiled first, as an install compiles them (``compile_like_an_install``): where
PYTHONDONTWRITEBYTECODE is set, each process compiled them from source. The targets are
absolute, as the issues give them: ≤ 0.3 s for ``--version``, ``--help``, ``add
--help``, ``status`` and ``config show``; ≤ 0.4 s for ``add FILE``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench._common import Check, Result, Table, compile_like_an_install, median, scratch
from ferryman.samples import make_photo

RUNS = 5
TARGETS = {
    "--version": 0.3,
    "--help": 0.3,
    "add --help": 0.3,
    "status": 0.3,
    "config show": 0.3,
    "add FILE": 0.4,
}
BASELINES = {"python -c pass": "pass", 'python -c "import typer"': "import typer"}


def _timed(argv: list[str]) -> tuple[float, float]:
    """The command's wall time and its CPU time (user and system): on a loaded machine
    the first waits for the CPU, the second much less."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, (after.ru_utime - used.ru_utime) + (after.ru_stime - used.ru_stime)


def run(args: argparse.Namespace) -> Result:
    result = Result("startup", "light commands in a fresh process, against `python -c pass`")
    with scratch("startup", args.tmp_dir, args.keep) as tmp:
        compile_like_an_install()
        photo = make_photo(tmp / "photo.jpg", 1)
        python = [sys.executable]
        heads = ["command", "median", "vs python -c pass", "vs import typer", "CPU", "CPU vs pass"]
        table = Table([*heads, "target"])
        # The baselines and the commands taken in turns, so a burst of load on this
        # shared machine falls on all of them alike.
        times: dict[str, list[tuple[float, float]]] = {n: [] for n in (*BASELINES, *TARGETS)}
        for n in range(RUNS):
            for name, code in BASELINES.items():
                times[name].append(_timed([*python, "-c", code]))
            for name in TARGETS:
                data = tmp / f"data-{name.replace(' ', '-')}-{n}"  # empty every time
                words = name.replace("FILE", str(photo)).split()
                if name != "--version":  # the entry point's own fast path: argv alone
                    words = ["--data-dir", str(data), *words]
                times[name].append(_timed([*python, "-m", "ferryman", *words]))
        took = {name: median([wall for wall, _ in values]) for name, values in times.items()}
        cpu = {name: median([used for _, used in values]) for name, values in times.items()}
        bare, typer = took["python -c pass"], took['python -c "import typer"']

        def row(name: str) -> list[str]:
            wall = (
                f"{took[name]:.3f} s",
                f"{took[name] / bare:.2f}x",
                f"{took[name] / typer:.2f}x",
            )
            return [*wall, f"{cpu[name]:.3f} s", f"{cpu[name] / cpu['python -c pass']:.2f}x"]

        for name in BASELINES:
            table.add(name, *row(name), "-")
        for name, limit in TARGETS.items():
            table.add(f"ferryman {name}", *row(name), f"≤ {limit} s")
            result.checks.append(
                Check(
                    f"ferryman {name}", f"{took[name]:.3f} s", f"≤ {limit} s", took[name] <= limit
                )
            )
        result.tables.append((f"median of {RUNS} fresh processes each", table))
        result.notes.append(f"data dirs under {Path(tmp)}; a new, empty one for every run")
    return result
