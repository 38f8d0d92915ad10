"""The whole suite several times in a row on a machine kept busy, stopping at the first
failure: issue 57's steadiness check ("three runs in a row at ``-n 4`` on a loaded
machine"), made a command (``make steady``) so the next session runs the same check.

Why a load of our own: a race shows when a worker is starved, and how loaded a shared
machine is at a given hour is luck. ``--load N`` starts N processes that spin on the CPU
(at the suite's own priority) for the whole check, so each run gets about
``cores / (cores + N)`` of the machine; they are killed when it ends, and end by
themselves should it be killed. Each run's output goes to ``--logs``/``run-K.log``; the
table at the end gives each run's wall time, its summary lines and its failures.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from pathlib import Path

from bench._load import spinning  # one spinner for the bench's --load and this check

SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|errors?).*) in [\d.]+s", re.M)
FAILED = re.compile(r"^(FAILED|ERROR) (\S+)", re.M)


def one_run(number: int, workers: int, logs: Path, extra: list[str]) -> tuple[int, str]:
    """``make pytest`` once (the suite, then its ``timing`` tests), its output kept."""
    log = logs / f"run-{number}.log"
    command = ["make", "--no-print-directory", "pytest", f"PYTEST_WORKERS={workers}", *extra]
    with log.open("w") as out:
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
    return status, log.read_text(errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.steady", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs in a row (default 3)")
    parser.add_argument("--workers", type=int, default=4, help="pytest workers (default 4)")
    parser.add_argument("--load", type=int, default=2, help="spinning processes (default 2)")
    parser.add_argument("--logs", type=Path, default=Path("steady-logs"), help="run logs")
    parser.add_argument("make_args", nargs="*", help="more make variables (PYTEST_ARGS=…)")
    args = parser.parse_args(argv)
    args.logs.mkdir(parents=True, exist_ok=True)
    rows: list[str] = []
    failed = False
    with spinning(args.load):
        for number in range(1, args.runs + 1):
            started = time.monotonic()
            status, output = one_run(number, args.workers, args.logs, args.make_args)
            wall = time.monotonic() - started
            summaries = "; ".join(m.group(1) for m in SUMMARY.finditer(output)) or "no summary"
            failures = sorted({m.group(2) for m in FAILED.finditer(output)})
            rows.append(f"| {number} | {wall:,.0f} s | {status} | {summaries} |")
            rows.extend(f"|   | | | {name} |" for name in failures)
            print(rows[-1 - len(failures)], flush=True)
            if status != 0:
                failed = True
                break
    cores = os.cpu_count() or 1
    print(f"\n{args.runs} runs asked, -n {args.workers}, {args.load} spinners on {cores} cores")
    print("| run | wall | exit | summary (the suite; its timing tests) |\n|--:|--:|--:|---|")
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
