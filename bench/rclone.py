"""``python -m bench rclone``: a camera folder to an rclone remote, against a plain
``rclone copy`` of the same files to the same kind of remote, in the same run.

Both go through the same rclone binary and the same rclone.conf (a local-backend
remote), with the same bandwidth cap (``RCLONE_BWLIMIT``, which rclone reads from the
environment: ferryman's ``rclone rcd`` child inherits it), so the remote is the slow end
as a cloud drive is. ferryman's time is a whole ``ferryman add --run FOLDER --to
rclone:…`` from a fresh data folder: its start, the staging of every file, the records,
each copy read back (size and SHA-256) before it counts. Goal: ≥ 0.95× the plain copy's
speed.

A third run, ferryman to a library folder on the same disk (no rclone, no cap), is the
floor of ferryman's own pipeline (start, staging, each photo's check in the media box)
that any destination waits on: the rclone run's gap to it is the rclone sink's own cost.
A fourth, ``ferryman add --run`` handing the job to a ferryman already running (a
service's ``ferryman run``, started and idle before the clock starts), is how a phone or a
NAS with the service installed runs it: the engine's start is off the clock, the
``add`` command's own start and the daemon's are on it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bench._common import Check, Result, Table, fmt_ratio, fmt_seconds, progress, scratch

CAP = "12.5M"  # bytes a second, both ways: a 100 Mbit/s link
LIBRARY = "ferryman to a library"
RESIDENT = "ferryman, to a running one"  # `add --run` handing it to a service's engine


def _photos(folder: Path, count: int) -> list[Path]:
    """``count`` distinct camera-sized photos (~1 MB each)."""
    from bench.network import _camera_photo

    folder.mkdir(parents=True, exist_ok=True)
    base = [_camera_photo(folder / f"base{n}.jpg", n) for n in range(4)]
    for n in range(4):
        (folder / f"base{n}.jpg").unlink()
    made = []
    for n in range(count):
        path = folder / f"IMG_{n:04d}.jpg"
        path.write_bytes(base[n % len(base)] + n.to_bytes(8, "big"))
        made.append(path)
    return made


# The first album's steps, as ferryman's own ``-v`` lines say them (the rc calls are
# httpx's lines): each the first line holding one of its words, timed as it came. A
# job's first album at a remote is its first file alone (``SinkKind.albums_grow``):
# one ``operations/copyfile`` read back by ``operations/stat``; a bigger one is one
# ``sync/copy`` read back by ``operations/check``.
STEPS = (
    ("job recorded (CLI start, store open, add)", ("job 1: ",)),
    ("engine up, job started", ("job_started",)),
    ("rclone rcd answered (spawned at the job's start)", ("/rc/noop",)),
    ("remote's hashes known (operations/fsinfo)", ("/operations/fsinfo",)),
    ("first album read and sealed (its folder listed)", ("/operations/list",)),
    ("first album copied (copyfile or sync/copy returned)", ("/operations/copyfile", "/sync/copy")),
    ("first album read back (stat or check)", ("/operations/stat", "/operations/check")),
    ("first album recorded (album_delivered)", ("album_delivered",)),
)


def _timed(
    command: list[str], env: dict[str, str], into: Path
) -> tuple[float, float, float, dict[str, float]]:
    """``command`` run to its end: its time, when its first photo was whole in ``into``
    (looked for every 20 ms), the CPU seconds it and its children used, and when each
    of ``STEPS`` was said in its output (ferryman's)."""
    started, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    said: dict[str, float] = {}

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            for step, words in STEPS:
                if step not in said and any(w in line for w in words):
                    said[step] = time.perf_counter() - started

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    first = None
    while proc.poll() is None:
        if first is None and any(into.rglob("*.jpg")):
            first = time.perf_counter() - started
        time.sleep(0.02)
    reader.join(10)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, command)
    took = time.perf_counter() - started
    return took, took if first is None else first, _children_cpu() - cpu, said


@contextlib.contextmanager
def _running_ferryman(ferryman: list[str], env: dict[str, str]) -> Iterator[None]:
    """A ``ferryman run`` (a service's) up and idle in its data folder for the block:
    started, then waited for until ``workers`` lists it running; stopped after."""
    proc = subprocess.Popen(
        [*ferryman, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = subprocess.run(
                [*ferryman, "--json", "workers"], env=env, capture_output=True, text=True
            )
            with contextlib.suppress(ValueError):
                if any(w.get("state") == "alive" for w in json.loads(listed.stdout or "[]")):
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("the running ferryman did not come up within 60 s")
        time.sleep(2)  # its first looks for work done: idle, as a service waits
        yield
    finally:
        proc.terminate()
        proc.wait(30)


def _children_cpu() -> float:
    """CPU seconds (user and system) of this process's children that ended, theirs
    (rclone rcd, the media box) counted in: what a run costs whatever else runs here."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _tree(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.jpg")}


Row = tuple[str, float, float, float]  # who, time, first file at, CPU seconds


def _one_size(
    tmp: Path, count: int, binary: str, *, floor: bool
) -> tuple[int, list[Row], dict[str, dict[str, float]], bool]:
    """``count`` photos in ``tmp/in``, copied by rclone copy, by ferryman to the remote
    and (``floor``) by ferryman to a library, one after the other: the bytes, each
    run's row, ferryman's steps, whether the remote holds every photo byte for byte."""
    progress(f"making {count} photos")
    made = _photos(tmp / "in" / "DCIM", count)
    total = sum(p.stat().st_size for p in made)
    conf = tmp / "rclone.conf"
    conf.write_text("[loc]\ntype = local\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env |= {"RCLONE_BWLIMIT": CAP, "FERRYMAN_RCLONE__CONFIG": str(conf)}
    rows: list[Row] = []
    steps: dict[str, dict[str, float]] = {}
    runs = ("rclone copy", "ferryman", *((LIBRARY, RESIDENT) if floor else ()))
    for who in runs:
        progress(f"{who}, {count} files")
        running: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if who == "rclone copy":
            into = tmp / "plain"
            command = [binary, "copy", str(tmp / "in"), f"loc:{into}", f"--config={conf}"]
        else:
            data = tmp / {"ferryman": "data", LIBRARY: "data-library"}.get(who, "data-running")
            into = tmp / {"ferryman": "fm", LIBRARY: "lib"}.get(who, "fm-running")
            dest = f"library:{into}" if who == LIBRARY else f"rclone:loc:{into}"
            ferryman = [sys.executable, "-m", "ferryman", "--data-dir", str(data), "-v"]
            command = [*ferryman, "add", "--run", str(tmp / "in"), "--to", dest]
            if who == RESIDENT:
                running = _running_ferryman(ferryman, env)
        with running:
            took, first, used, said = _timed(command, env, into)
        rows.append((who, took, first, used))
        steps[who] = said
    whole = _tree(tmp / "fm") == _tree(tmp / "in")
    if floor:
        whole = whole and _tree(tmp / "fm-running") == _tree(tmp / "in")
    return total, rows, steps, whole


def run(args: argparse.Namespace) -> Result:
    from ferryman.net.rclone import rclone_binary

    count = int(args.tb_files)
    big = int(getattr(args, "rclone_big_files", 0) or 0)
    sizes = [count, *((big,) if big > count else ())]
    result = Result(
        "rclone",
        f"{' and '.join(map(str, sizes))} photos to an rclone remote, against `rclone copy`",
    )
    binary = rclone_binary()
    if binary is None:
        result.notes.append("rclone is not installed: nothing measured")
        return result
    table = Table(
        [
            "files",
            "run",
            "time",
            "MB/s",
            "speed vs rclone copy",
            "first file at",
            "speed after it",
            "CPU s",
        ]
    )
    first_steps: dict[str, dict[str, float]] = {}
    first_rows: list[Row] = []
    for n, size in enumerate(sizes):
        with scratch(f"rclone-{size}", args.tmp_dir, args.keep) as tmp:
            total, rows, steps, whole = _one_size(tmp, size, binary, floor=n == 0)
        if n == 0:
            first_steps, first_rows = steps, rows
        label = f"{size} ({total / 2**20:.0f} MiB)"
        base, base_after = rows[0][1], rows[0][1] - rows[0][2]
        for who, took, first, used in rows:
            table.add(
                label,
                who,
                fmt_seconds(took),
                f"{total / took / 1e6:.1f}",
                fmt_ratio(base / took),
                fmt_seconds(first),
                fmt_ratio(base_after / max(took - first, 1e-3)),
                f"{used:.2f}",
            )
        took, first = rows[1][1], rows[1][2]
        speed, after = base / took, base_after / max(took - first, 1e-3)
        result.checks.append(
            Check(
                f"speed vs rclone copy, whole run, {size} files",
                f"{speed:.2f}",
                ">= 0.95",
                speed >= 0.95,
            )
        )
        result.notes.append(
            f"{size} files: from its first file on the remote to its end, ferryman went at"
            f" {after:.2f}x rclone copy's speed over the same span of its own (the whole"
            f" run {speed:.2f}x: the rest is the fixed start before the first file)"
        )
        if len(rows) > 3:
            speed = base / rows[3][1]
            result.checks.append(
                Check(
                    f"the same, handed to a running ferryman, {size} files",
                    f"{speed:.2f}",
                    ">= 0.95",
                    speed >= 0.95,
                )
            )
        result.checks.append(
            Check(f"every photo on the remote, {size} files", str(whole), "True", whole)
        )
    result.tables.append((f"cap {CAP}B/s; rclone copy is each size's baseline", table))
    steps_table = Table(["step", "ferryman (s)", "to a library (s)", "to a running one (s)"])
    for step, _ in STEPS:
        cells = [first_steps[w].get(step) for w in ("ferryman", LIBRARY, RESIDENT)]
        steps_table.add(step, *("-" if c is None else f"{c:.2f}" for c in cells))
    steps_table.add(
        "first photo whole on the remote", *(f"{row[2]:.2f}" for row in first_rows[1:4])
    )
    result.tables.append(
        (
            f"ferryman's first album of {count} files, from the process's start (rclone"
            f" copy's first file: {first_rows[0][2]:.2f} s)",
            steps_table,
        )
    )
    result.notes.append(
        "ferryman's time includes its process start, a staged copy of every file, each"
        " photo's check, the records and each copy read back (size and SHA-256); rclone"
        " copy only copies"
    )
    result.notes.append(
        f"ferryman to a library (no rclone, no cap) took {fmt_seconds(first_rows[2][1])} for"
        f" {count} files: the pipeline's own floor, which the rclone run cannot beat; on a"
        " busy machine each run's CPU seconds, not its time, say what it costs"
    )
    result.notes.append(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return result
