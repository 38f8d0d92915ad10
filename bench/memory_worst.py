"""The engine's own peak on the worst media we can make, against a phone's budget.

Each file goes alone through ``ferryman add`` and ``ferryman run --until-idle`` (a
fresh data dir, Telegram's policy, so the picture is fitted), the CLI in a process of
its own: its own high-water mark (``VmHWM``, read as it exits) is the engine's; the
tree's (sampled, and each process's ``VmHWM``) adds the media workers that decoded the
file (``media.box.pool``). Files: MP4s written by PyAV whose tables are patched
(``tests/support/media_bombs``): 88 million samples in 2 KB, thirty such tracks, and
one whose declared samples its bytes can hold (96 MiB of padding, so it passes the
up-front check) but whose index FFmpeg builds at ~13 bytes a sample; and the worst
picture of ``memory_pictures``, the 8-bit RGB PNG at the decoding budget.

Budgets (bench/results/memory.md): the engine, which runs for hours, within the
trip's 300 MB (its whole ferryman on a 3 GB phone); one file's worker a moment, within
the single picture's 768 MB. Part of ``python -m bench memory``; alone:
``python -m bench.memory_worst``.
"""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench._common import MB, Check, MiB, Table, fmt_bytes, progress, run_measured
from ferryman.media.budget import DEFAULT_MAX_IMAGE_BYTES
from tests.support.image_corpus import deep_png
from tests.support.media_bombs import sample_count_bomb

ENGINE_BUDGET = 300 * MB  # the trip's: all of ferryman on a 3 GB phone
FILE_BUDGET = 768 * MB  # one picture's moment (memory_pictures.PEAK_LIMIT)
PADDING_MIB = 96

# The CLI, writing its own VmHWM (bytes) where BENCH_PEAK_FILE says as it exits.
_CLI = """
import atexit, os, runpy
def peak():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(str(int(kib) * 1024))
atexit.register(peak)
runpy.run_module("ferryman", run_name="__main__")
"""


@dataclass(frozen=True, slots=True)
class Worst:
    label: str
    engine_peak: int  # the engine process's own VmHWM
    tree_peak: int  # the tree's, its workers included
    outcome: str  # the item's state and code
    seconds: float


def _padded_bomb(path: Path) -> Path:
    """An MP4 declaring as many one-byte samples as it has bytes: the check passes it."""
    size = PADDING_MIB * MiB
    sample_count_bomb(path, samples=size)
    with path.open("ab") as out:  # a free box: bytes the samples could be
        out.write((size).to_bytes(4, "big") + b"free")
        out.write(bytes(size - 8))
    return path


def make_files(root: Path) -> list[tuple[str, Path]]:
    side = math.isqrt(DEFAULT_MAX_IMAGE_BYTES // 3)
    return [
        ("MP4 declaring 88M samples (2 KB)", sample_count_bomb(root / "bomb.mp4")),
        (
            "MP4, 30 tracks of 88M samples (20 KB)",
            sample_count_bomb(root / "tracks.mp4", tracks=30),
        ),
        (
            f"MP4 declaring {PADDING_MIB}M samples in {PADDING_MIB} MiB (passes the check)",
            _padded_bomb(root / "padded.mp4"),
        ),
        (
            f"8-bit RGB PNG at the decoding budget ({side} x {side}), fitted for Telegram",
            deep_png(root / "budget.png", side, side, depth=8, samples=3),
        ),
    ]


def measure_one(root: Path, label: str, path: Path, timeout: float) -> Worst:
    data = root / f"data-{path.stem}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env |= {
        "FERRYMAN_DATA_DIR": str(data),
        "FERRYMAN_SPACE_FLOOR": "0",
        "FERRYMAN_MEDIA__POLICY": "telegram",
        "BENCH_PEAK_FILE": str(root / f"{path.stem}.peak"),
    }
    cli = [sys.executable, "-c", _CLI]
    subprocess.run([*cli, "add", str(path)], env=env, check=True, capture_output=True)
    run = run_measured(
        [*cli, "run", "--until-idle"],
        env=env,
        log=root / f"{path.stem}.log",
        interval=0.05,
        probes={},
        timeout=timeout,
    )
    with sqlite3.connect(data / "ferryman.db") as db:
        state, code = db.execute("SELECT state, error_code FROM items").fetchone()
    engine = int((root / f"{path.stem}.peak").read_text())
    tree = max(run.peaks["hwm"], run.peaks["rss"])
    return Worst(label, engine, tree, f"{state} {code or ''}".strip(), run.seconds)


def measure(root: Path, timeout: float = 900) -> tuple[Table, list[Check]]:
    progress("memory: the worst media through a whole run")
    worst = []
    for label, path in make_files(root):
        progress(f"memory: {label}")
        worst.append(measure_one(root, label, path, timeout))
    table = Table(
        ["file", "the engine's own peak", "with its workers", "outcome", "seconds", "within"]
    )
    for w in worst:
        within = w.engine_peak <= ENGINE_BUDGET and w.tree_peak <= FILE_BUDGET
        table.add(
            w.label,
            f"{fmt_bytes(w.engine_peak)} (budget {fmt_bytes(ENGINE_BUDGET)})",
            f"{fmt_bytes(w.tree_peak)} (budget {fmt_bytes(FILE_BUDGET)})",
            w.outcome,
            f"{w.seconds:.1f}",
            "yes" if within else "NO",
        )
    checks = [
        Check(
            f"phone: the engine's own peak on {w.label}",
            fmt_bytes(w.engine_peak),
            f"<= {fmt_bytes(ENGINE_BUDGET)}",
            w.engine_peak <= ENGINE_BUDGET,
        )
        for w in worst
    ]
    return table, checks


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ferryman-bench-worst-") as folder:
        table_, checks_ = measure(Path(folder))
    print(table_.render())
    for check in checks_:
        print(
            f"{'ok' if check.passed else 'FAILED'}: {check.target}: {check.value} ({check.limit})"
        )
