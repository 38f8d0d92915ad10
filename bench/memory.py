"""Memory and disk: peak RSS and peak extra disk while ferryman delivers a big zip.

ferryman runs as the CLI would (``python -m ferryman --data-dir D add ZIP``, then
``run --until-idle``) in a subprocess; this process samples, every ``--interval``
seconds, the memory of that process tree and the bytes in its work area. The tree's
memory checked is its PSS (each shared page counted once): libarchive reads in a child
forked from the engine (``archive.box.reader``), whose RSS counts the engine's pages a second
time. Summed RSS and the kernel's high-water marks (VmHWM in ``/proc/<pid>/status``) are
shown beside it.

Delivered albums are the output, so "extra disk" is what exists besides input and
output: the work area (``D/work``) plus albums being assembled
(``D/library/<job>/.NNNN.partial``), each inode counted once (the library sink
hard-links work files, so a file in both places costs its bytes once).

The archive is made by ``make_bulk_zip``: stored entries of ``--entry-mb`` each,
JPEG magic then random bytes. It runs at two sizes so that RSS growth with the
archive's size shows. Baseline, same run and same archive: full extraction with
``zipfile.extractall`` in a subprocess (extra disk = the whole archive).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench import memory_link, memory_pictures, memory_trip, memory_worst
from bench._common import (
    MB,
    Check,
    Measured,
    MiB,
    Result,
    Table,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    progress,
    run_measured,
    scratch,
    tail,
    tree_bytes,
)
from ferryman.config import Settings
from ferryman.samples import make_bulk_zip

RSS_LIMIT = 150 * MB  # the tree's PSS
ALBUMS_LIMIT = 2.0
RSS_GROWTH_LIMIT = 1.10  # peak PSS at the big size / at the small size
EXTRACT = "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])"
ALBUM_SIZE: int = Settings.model_fields["album_size"].default
BACKLOG_ITEMS: int = Settings.model_fields["backlog_items"].default


@dataclass
class SizeRun:
    size_mb: int
    entries: int
    entry_bytes: int
    archive_bytes: int
    baseline: Measured
    baseline_disk: int
    add: Measured
    run: Measured
    library_bytes: int
    library_files: int
    leftovers: int

    @property
    def album_bytes(self) -> int:
        return ALBUM_SIZE * self.entry_bytes

    @property
    def extra_peak(self) -> int:
        return self.run.peaks["extra"]

    @property
    def albums_worth(self) -> float:
        return self.extra_peak / self.album_bytes

    @property
    def rss_peak(self) -> int:
        """The tree's RSS, summed: a forked child's shared pages counted in each."""
        return max(self.run.peaks["hwm"], self.run.peaks["rss"])

    @property
    def pss_peak(self) -> int:
        """The tree's memory at its peak, each shared page once (the module docstring)."""
        return self.run.peaks["pss"]

    @property
    def ferry_seconds(self) -> float:
        return self.add.seconds + self.run.seconds

    @property
    def ok(self) -> bool:
        return (
            self.add.returncode == 0
            and self.run.returncode == 0
            and self.library_files == self.entries
            and self.leftovers == 0
        )


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["FERRYMAN_SPACE_FLOOR"] = "0"
    return env


def partial_albums(library: Path) -> list[Path]:
    """Albums being assembled: ``<library>/<job>/.NNNN.partial``, or in a laid-out
    library ``<library>/.ferryman/<job>/.NNNN.partial``."""
    found: list[Path] = []
    jobs: list[Path] = []
    for folder in (library, library / ".ferryman"):
        try:
            jobs += [Path(e.path) for e in os.scandir(folder) if e.is_dir()]
        except FileNotFoundError:
            continue
    for job in jobs:
        try:
            found += [
                Path(e.path)
                for e in os.scandir(job)
                if e.name.startswith(".") and e.name.endswith(".partial")
            ]
        except FileNotFoundError:
            continue
    return found


def measure_size(
    root: Path, size_mb: int, entry_bytes: int, interval: float, timeout: float
) -> SizeRun:
    archive = root / f"bulk-{size_mb}MiB.zip"
    progress(f"memory: making a {size_mb} MiB zip ({fmt_bytes(entry_bytes)} entries)")
    make_bulk_zip(archive, total_bytes=size_mb * MiB, entry_bytes=entry_bytes)
    with zipfile.ZipFile(archive) as zf:
        entries = len([i for i in zf.infolist() if not i.is_dir()])
    env = child_env()

    progress(f"memory: {size_mb} MiB baseline (zipfile.extractall)")
    out = root / "extracted"
    baseline = run_measured(
        [sys.executable, "-c", EXTRACT, str(archive), str(out)],
        env=env,
        log=root / f"extract-{size_mb}.log",
        interval=interval,
        probes={"disk": lambda: tree_bytes(out)},
        timeout=timeout,
    )
    baseline_disk = max(baseline.peaks["disk"], tree_bytes(out))
    shutil.rmtree(out, ignore_errors=True)
    os.sync()  # leave no dirty pages from the baseline to be written during ferryman's run

    data = root / f"data-{size_mb}"
    work, library = data / "work", data / "library"
    ferryman = [sys.executable, "-m", "ferryman", "--data-dir", str(data)]

    def extra() -> int:
        seen: set[tuple[int, int]] = set()
        return tree_bytes(work, seen) + sum(tree_bytes(p, seen) for p in partial_albums(library))

    progress(f"memory: {size_mb} MiB ferryman add + run --until-idle")
    add = run_measured(
        [*ferryman, "add", str(archive)],
        env=env,
        log=root / f"add-{size_mb}.log",
        interval=interval,
        probes={},
        timeout=timeout,
    )
    run = run_measured(
        [*ferryman, "run", "--until-idle"],
        env=env,
        log=root / f"run-{size_mb}.log",
        interval=interval,
        probes={
            "work": lambda: tree_bytes(work),
            "partial": lambda: sum(tree_bytes(p) for p in partial_albums(library)),
            "extra": extra,
            "db": lambda: sum(p.stat().st_size for p in data.glob("ferryman.db*")),
        },
        timeout=timeout,
        pss=True,  # libarchive's child is forked from the engine: RSS counts its pages twice
    )
    media = [  # either layout: albums' manifest.json, or the hidden .ferryman/ records
        p
        for p in library.rglob("*")
        if p.is_file()
        and p.name != "manifest.json"
        and ".ferryman" not in p.relative_to(library).parts
    ]
    result = SizeRun(
        size_mb=size_mb,
        entries=entries,
        entry_bytes=entry_bytes,
        archive_bytes=archive.stat().st_size,
        baseline=baseline,
        baseline_disk=baseline_disk,
        add=add,
        run=run,
        library_bytes=tree_bytes(library),
        library_files=len(media),
        leftovers=len([p for p in work.rglob("*") if p.is_file()]) if work.exists() else 0,
    )
    for measured in (baseline, add, run):
        if measured.returncode != 0:
            progress(f"memory: {measured.log.name} exited {measured.returncode}:")
            print(tail(measured.log), file=sys.stderr)
    shutil.rmtree(data, ignore_errors=True)
    archive.unlink()
    return result


def run(args: argparse.Namespace) -> Result:
    entry_bytes = int(args.entry_mb * MiB)
    sizes = [args.size_mb] if not args.small_mb else [args.small_mb, args.size_mb]
    title = f"peak extra disk and memory, {' and '.join(f'{s} MiB' for s in sizes)} zips"
    result = Result("memory", title)
    needed = 2.2 * max(sizes) * MiB
    with scratch("memory", args.tmp_dir, args.keep) as root:
        free = shutil.disk_usage(root).free
        if free < needed:
            raise SystemExit(
                f"memory benchmark needs ~{fmt_bytes(needed)} free in {root.parent},"
                f" only {fmt_bytes(free)} is; use --size-mb or --tmp-dir"
            )
        runs = [
            measure_size(root, size, entry_bytes, args.interval, args.timeout) for size in sizes
        ]
        pictures, picture_checks, fitted = memory_pictures.measure(root)
        trip_mib = min(memory_trip.TRIP_MIB, args.size_mb)
        trip = memory_trip.measure_trip(root, trip_mib, args.interval, args.timeout)
        phone, phone_checks = memory_trip.phone_budget(fitted, trip)
        link, link_checks = memory_link.measure(root)
        worst, worst_checks = memory_worst.measure(root, args.timeout)

    table = Table(
        [
            "archive",
            "method",
            "seconds",
            "ratio",
            "peak extra disk",
            "albums' worth",
            "peak PSS (RSS summed)",
            "output",
        ]
    )
    for r in runs:
        label = f"{r.size_mb} MiB"
        table.add(
            label,
            "extract all (baseline: zipfile.extractall)",
            fmt_seconds(r.baseline.seconds),
            "1.00x",
            fmt_bytes(r.baseline_disk),
            f"{r.baseline_disk / r.album_bytes:.1f}",
            fmt_bytes(max(r.baseline.peaks["hwm"], r.baseline.peaks["rss"])),
            fmt_bytes(r.baseline_disk),
        )
        table.add(
            label,
            "ferryman add + run --until-idle",
            fmt_seconds(r.ferry_seconds),
            fmt_ratio(r.ferry_seconds / r.baseline.seconds),
            fmt_bytes(r.extra_peak),
            f"{r.albums_worth:.2f}",
            f"{fmt_bytes(r.pss_peak)} ({fmt_bytes(r.rss_peak)})",
            fmt_bytes(r.library_bytes) + " library",
        )
    result.tables.append(("", table))

    detail = Table(
        [
            "archive",
            "entries",
            "add s",
            "run s",
            "work peak",
            "partial-album peak",
            "db peak",
            "RSS sampled",
            "RSS VmHWM",
            "add RSS",
            "samples",
        ]
    )
    for r in runs:
        detail.add(
            f"{r.size_mb} MiB",
            r.entries,
            fmt_seconds(r.add.seconds),
            fmt_seconds(r.run.seconds),
            fmt_bytes(r.run.peaks["work"]),
            fmt_bytes(r.run.peaks["partial"]),
            fmt_bytes(r.run.peaks["db"]),
            fmt_bytes(r.run.peaks["rss"]),
            fmt_bytes(r.run.peaks["hwm"]),
            fmt_bytes(max(r.add.peaks["hwm"], r.add.peaks["rss"])),
            r.run.samples,
        )
    result.tables.append(("ferryman in detail:", detail))
    result.tables.append(("memory per picture (fitted for Telegram, one process each):", pictures))
    result.checks += picture_checks
    result.tables.append(("on a phone: peak RSS against a 3 GB phone's budget:", phone))
    result.checks += phone_checks
    result.tables.append(("on a phone: a link's transcode (one process each):", link))
    result.checks += link_checks
    result.tables.append(("on a phone: the engine's own peak on the worst media:", worst))
    result.checks += worst_checks

    for r in runs:
        result.checks.append(
            Check(
                f"work-area peak <= {ALBUMS_LIMIT:g} albums' worth ({r.size_mb} MiB)",
                f"{r.albums_worth:.2f} ({fmt_bytes(r.extra_peak)})",
                f"<= {ALBUMS_LIMIT:g} ({fmt_bytes(ALBUMS_LIMIT * r.album_bytes)})",
                r.albums_worth <= ALBUMS_LIMIT,
            )
        )
    for r in runs:
        result.checks.append(
            Check(
                f"peak PSS < 150 MB ({r.size_mb} MiB)",
                f"{r.pss_peak / MB:.1f} MB (RSS summed {r.rss_peak / MB:.1f} MB)",
                f"< {RSS_LIMIT / MB:.0f} MB",
                r.pss_peak < RSS_LIMIT,
            )
        )
    if len(runs) == 2:
        small, large = runs
        growth = large.pss_peak / small.pss_peak
        result.checks.append(
            Check(
                f"peak PSS does not grow: {large.size_mb} vs {small.size_mb} MiB",
                fmt_ratio(growth),
                f"<= {RSS_GROWTH_LIMIT:.2f}x",
                growth <= RSS_GROWTH_LIMIT,
            )
        )
    for r in runs:
        result.checks.append(
            Check(
                f"everything delivered, work area empty ({r.size_mb} MiB)",
                f"{r.library_files}/{r.entries} files, {r.leftovers} left in work,"
                f" exit {r.add.returncode}/{r.run.returncode}"
                + (" (timed out)" if r.run.timed_out else ""),
                "all, 0, 0/0",
                r.ok,
            )
        )
    result.notes += [
        "on a phone: a picture's peak is its own process fitting it (fit_photo, VmHWM); the"
        " trip's is ferryman's process tree (bench._trip_child, ffmpeg included) sending"
        f" bench trip's input of {trip_mib} MiB over a paced link (uplink the slower one) to"
        " the fake Telegram in this process: its tree's PSS, sampled (the conversion children fork"
        " from a template process and share its pages, which a sum of RSS counts in each)",
        "the ferryman subprocess runs with FERRYMAN_SPACE_FLOOR=0 (its 256 MiB free-space floor"
        " would otherwise make reading wait on a full disk); every other setting is the default"
        f" (backlog_items {BACKLOG_ITEMS}, album_size {ALBUM_SIZE}, poll_seconds 0.5)",
        f"an album's worth = {ALBUM_SIZE} entries x {fmt_bytes(entry_bytes)}"
        f" = {fmt_bytes(ALBUM_SIZE * entry_bytes)}; peak extra disk = work area + partial albums,"
        " each inode once (the library sink hard-links work files)",
        "ratio = wall seconds / the baseline's (both include interpreter start-up; ferryman"
        " also fsyncs every file and its database, the baseline writes to the page cache only)",
        f"memory: the process tree sampled every {args.interval * 1000:.0f} ms: its PSS is"
        " checked (libarchive's child is forked from the engine, archive.box.reader: a sum of RSS"
        " counts the engine's pages in both); RSS summed, or the kernel's high-water marks"
        " (VmHWM) summed if larger, beside it. Disk is sampled at the same rate, so a disk"
        " peak shorter than that can be missed",
    ]
    result.data = {
        "runs": [
            {
                "size_mb": r.size_mb,
                "entries": r.entries,
                "archive_bytes": r.archive_bytes,
                "baseline_seconds": r.baseline.seconds,
                "baseline_disk": r.baseline_disk,
                "baseline_rss": max(r.baseline.peaks["hwm"], r.baseline.peaks["rss"]),
                "add_seconds": r.add.seconds,
                "run_seconds": r.run.seconds,
                "extra_peak": r.extra_peak,
                "work_peak": r.run.peaks["work"],
                "partial_peak": r.run.peaks["partial"],
                "albums_worth": r.albums_worth,
                "rss_sampled": r.run.peaks["rss"],
                "pss_sampled": r.run.peaks["pss"],
                "rss_hwm": r.run.peaks["hwm"],
                "library_bytes": r.library_bytes,
            }
            for r in runs
        ]
    }
    return result
