"""The flat library's delivery of albums of small photos, alone (a tool, not a bench).

``python bench/measure_flat.py ALBUMS [--profile]``: ALBUMS albums of ten 3 KB files,
each hard-linked into a fresh work folder and delivered by ``FlatLibrarySink._deliver``
(the default template) into a library under /tmp. Prints the wall time an album and
the CPU of the delivering thread (``time.thread_time``; fsyncs on the library's own
thread are not in it); ``--profile``: Python calls a file and the top of a cProfile.
Run with ``PYTHONPATH=<tree>/src`` to measure another tree's code.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from ferryman.model import (
    Album,
    AlbumGroup,
    AlbumState,
    Item,
    ItemState,
    Job,
    JobState,
    MediaInfo,
    MediaKind,
    Plan,
)
from ferryman.sinks.base import Delivery
from ferryman.sinks.flat import FlatLibrarySink, Listings
from ferryman.sinks.layout import DEFAULT

PER_ALBUM = 10


def _album(work: Path, src: list[Path], seq: int, job: Job) -> Delivery:
    items = []
    for i, source in enumerate(src):
        n = (seq - 1) * PER_ALBUM + i
        path = work / f"{n:06d}-IMG_{n:05d}.jpg"
        os.link(source, path)
        size = source.stat().st_size
        items.append(
            Item(
                id=n + 1,
                job_id=job.id,
                seq=n,
                source_path=f"Trip/IMG_{n:05d}.jpg",
                kind=MediaKind.PHOTO,
                state=ItemState.READY,
                size=size,
                sha256="ab" * 32,
                work_path=str(path),
                plan=Plan.AS_IS,
                reason=None,
                error_code=None,
                attempts=0,
                album_id=seq,
                media=MediaInfo(container="jpeg", width=64, height=48, size=size),
            )
        )
    album = Album(seq, job.id, seq, AlbumGroup.VISUAL, AlbumState.DELIVERING, 0, items)
    return Delivery(job=job, album=album, caption="", source="Trip")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("albums", type=int)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="measure-flat-"))
    try:
        (root / "src").mkdir()
        src = []
        for i in range(PER_ALBUM):
            path = root / "src" / f"p{i}.jpg"
            path.write_bytes(b"\xff\xd8" + os.urandom(3000))
            src.append(path)
        job = Job(
            1,
            "/x/Trip",
            "Trip",
            "library:",
            JobState.ACTIVE,
            0,
            None,
            None,
            None,
            0,
            False,
            0.0,
            None,
        )
        listings = Listings()
        sink = FlatLibrarySink(root / "library", DEFAULT, listings)
        work = root / "work"
        work.mkdir()
        prof = cProfile.Profile() if args.profile else None
        cpu = wall = 0.0
        for seq in range(1, args.albums + 1):
            delivery = _album(work, src, seq, job)
            started, spent = time.perf_counter(), time.thread_time()
            if prof is not None:
                prof.enable()
            sink._deliver(delivery)
            if prof is not None:
                prof.disable()
            cpu += time.thread_time() - spent
            wall += time.perf_counter() - started
        files = len(os.listdir(root / "library" / "Trip"))
        print(
            f"{args.albums} albums, {files} files: wall {wall / args.albums * 1000:.3f} ms an"
            f" album, CPU of the delivering thread {cpu / args.albums * 1000:.3f} ms an album,"
            f" load {os.getloadavg()[0]:.1f}"
        )
        if prof is not None:
            stats = pstats.Stats(prof)
            calls = stats.total_calls  # type: ignore[attr-defined]
            print(f"Python function calls a file: {calls / files:.1f}")
            stats.sort_stats("tottime").print_stats(20)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
