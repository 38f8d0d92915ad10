"""What each test costs, when asked (``FERRYMAN_TEST_COSTS=folder``): its wall time, its
CPU (this process's, and its children's once reaped) and the child processes it started.

Why: under others' load a run's wall time says little; the CPU-seconds, the children
started and their ratios are what to compare between two runs (docs/testing.md, "How
long"). Each process (a pytest-xdist worker) appends a line of JSON per test to
``folder/<worker>.jsonl``; ``python -m tests.support.cost folder`` sums them by file and
lists the costliest tests. Off (no hook does anything) when the variable is unset.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FOLDER = os.environ.get("FERRYMAN_TEST_COSTS")
_started: list[str] = []  # the children the running test started (argv's first words)


def _counting_popen() -> None:
    """Every ``subprocess.Popen`` (asyncio's children and ``subprocess.run`` go through it)
    noted for the running test."""
    original = subprocess.Popen.__init__

    def noted(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        words = args if isinstance(args, list | tuple) else [args]
        _started.append(" ".join(str(w) for w in words[:4])[:160])
        original(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = noted  # type: ignore[method-assign]

    from tests.support import forked

    forked_original = forked.Forked.__init__

    def forked_noted(self: forked.Forked, args: Any, *rest: Any, **kwargs: Any) -> None:
        _started.append(" ".join(["forked", "ferryman", *map(str, args[:2])])[:160])
        forked_original(self, args, *rest, **kwargs)

    forked.Forked.__init__ = forked_noted  # type: ignore[method-assign]


if FOLDER:
    _counting_popen()


def _cpu() -> tuple[float, float]:
    """This process's CPU and its children's, the forked commands' among them (the fork
    server reaps those: tests/support/forked.py counts them)."""
    from tests.support import forked

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime + forked.spent()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if not FOLDER:
        yield
        return
    _started.clear()
    began, (own, children) = time.monotonic(), _cpu()
    yield
    ended, (own_after, children_after) = time.monotonic(), _cpu()
    folder = Path(FOLDER)
    folder.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    line = {
        "id": item.nodeid,
        "began": time.time() - (ended - began),  # when, to draw a worker's timeline
        "wall": ended - began,
        "cpu": own_after - own,
        "children_cpu": children_after - children,
        "started": list(_started),
    }
    with open(folder / f"{worker}.jsonl", "a") as out:
        out.write(json.dumps(line) + "\n")


def summary(folder: Path, top: int = 30) -> str:
    rows = [json.loads(line) for path in folder.glob("*.jsonl") for line in path.open()]
    lines = [
        f"{len(rows)} tests: {sum(r['cpu'] for r in rows):.1f} CPU-s in pytest,"
        f" {sum(r['children_cpu'] for r in rows):.1f} in children,"
        f" {sum(len(r['started']) for r in rows)} children started,"
        f" {sum(r['wall'] for r in rows):.0f} s of wall summed",
        "CPU-s   wall-s  tests children  file",
    ]
    files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0])
    for r in rows:
        f = files[r["id"].split("::")[0]]
        f[0] += r["cpu"] + r["children_cpu"]
        f[1] += r["wall"]
        f[2] += 1
        f[3] += len(r["started"])
    for name, (cpu, wall, n, started) in sorted(files.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"{cpu:6.1f} {wall:8.1f} {n:6d} {started:8d}  {name}")
    lines.append("CPU-s  (children)  wall-s  children  test")
    rows.sort(key=lambda r: -(r["cpu"] + r["children_cpu"]))
    for r in rows[:top]:
        cpu, children, started = r["cpu"] + r["children_cpu"], r["children_cpu"], len(r["started"])
        lines.append(f"{cpu:6.1f} ({children:6.1f}) {r['wall']:7.1f} {started:6d}  {r['id']}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 30))
