"""The library's writability probe at ``add`` (and at each batch of a watch's check):
each probe has a name of its own, so two checks of one destination at once never
collide ("File exists" was a 400 ``sink.unwritable``), and none leaves a folder."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ferryman.errors import FerrymanError
from ferryman.sinks.library import check_writable


def test_a_probe_in_progress_does_not_fail_another_check(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    # What another check of this process holds while it probes (the old fixed name).
    (library / f".ferryman-probe-{os.getpid()}").mkdir()
    check_writable(library)
    check_writable(library / "not yet")  # made in the nearest folder that exists
    assert sorted(p.name for p in library.iterdir()) == [f".ferryman-probe-{os.getpid()}"]


def test_concurrent_probes_of_one_destination_all_pass(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    threads, rounds = 8, 50
    start = threading.Barrier(threads)
    failed: list[FerrymanError] = []

    def probe() -> None:
        start.wait()
        for _ in range(rounds):
            try:
                check_writable(library)
            except FerrymanError as exc:
                failed.append(exc)

    workers = [threading.Thread(target=probe) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [f"{e.code}: {e.message}" for e in failed] == []
    assert list(library.iterdir()) == []  # every probe removed
