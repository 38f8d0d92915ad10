"""A Google Takeout's parts arriving one by one in a watched folder (issue 81, item 3):
a part is held until no part of its set has changed for ``watch.takeout_quiet_seconds``
(Google never says how many parts there are), then every part there is taken at one
look, one job, each part read with the others beside it: a sidecar in part 1 pairs
with its photo in part 2, a photo met in both parts is kept once. The generated export
of ``tests/engine/test_takeout`` (every naming variant), the real engine, the library."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ferryman.config import Settings
from ferryman.sources.listers.folder import FolderLister
from ferryman.store import Store
from tests.engine.test_takeout import check_library, takeout
from tests.support.contract import memory_store
from tests.support.engine_helpers import run_until_idle

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

QUIET = 600.0


def _quiet(settings: Settings, seconds: float = QUIET) -> Settings:
    watch = settings.watch.model_copy(
        update={"settle_seconds": 0.0, "takeout_quiet_seconds": seconds}
    )
    media = settings.media.model_copy(update={"library_convert": False})  # originals kept
    return settings.model_copy(
        update={"watch": watch, "media": media, "library_layout": "{source}/{path}/{name}"}
    )


def _parts(tmp_path: Path, root: Path) -> tuple[list[Path], dict[str, bytes]]:
    """The export's two parts made aside (moved into ``root`` by the test)."""
    zips, content = takeout(tmp_path / "made-export")
    root.mkdir(parents=True, exist_ok=True)
    return zips, content


def _arrive(part: Path, root: Path, at: float) -> Path:
    """A part come into the watched folder, last written at ``at``."""
    into = root / part.name
    os.replace(part, into)
    os.utime(into, (at, at))
    return into


def test_a_takeouts_parts_are_held_until_none_has_changed_for_the_quiet_time(
    settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Downloads"
    zips, _ = _parts(tmp_path, root)
    settings = _quiet(settings)
    start = time.time() - 86_400
    first = _arrive(zips[0], root, start)
    photo = root / "IMG_9.jpg"  # no Takeout's: not held
    photo.write_bytes((tmp_path / "made-export" / "made" / "1.jpg").read_bytes())
    os.utime(photo, (start, start))

    def look(at: float) -> dict[str, tuple[str, float | None]]:
        listed = FolderLister(clock=lambda: at).list_now(str(root), settings)
        return {e.title: (e.id, e.ready_at) for e in listed}

    early = look(start + 10)
    assert early["IMG_9.jpg"][1] is None
    assert early[first.name][1] == start + QUIET  # held, with when to look again
    assert early[first.name][0].startswith("unsettled:")  # not recorded as seen
    second = _arrive(zips[1], root, start + 300)  # the next part, five minutes later
    later = look(start + 310)
    assert later[first.name][1] == later[second.name][1] == start + 300 + QUIET
    quiet = look(start + 300 + QUIET)
    assert quiet[first.name][1] is None and quiet[second.name][1] is None  # both at once
    assert not quiet[first.name][0].startswith("unsettled:")


async def test_parts_come_an_hour_apart_are_one_job_with_every_date_and_place_right(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Downloads"
    zips, content = _parts(tmp_path, root)
    settings = _quiet(settings, 3600.0)
    now = time.time()
    first = _arrive(zips[0], root, now)  # part 1 downloaded just now
    watch = await store.add_watch(
        kind="folder",
        source=str(root),
        dest="library:",
        every_seconds=3600.0,
        since="all",
        next_check_at=0.0,
    )
    await run_until_idle(store, settings)
    assert await store.list_jobs() == []  # held: its next part may be on its way
    assert await store.watch_seen_rows(watch.id) == []

    second = _arrive(zips[1], root, now)  # an hour on, part 2 (its sidecars pair with part 1's)
    for part in (first, second):  # and the quiet time has passed since
        os.utime(part, (now - 3601, now - 3601))
    await store.set_watch_paused(watch.id, False)  # due now
    await run_until_idle(store, settings)
    jobs = await store.list_jobs()
    assert len(jobs) == 1 and jobs[0].state.value == "done", jobs
    check_library(settings.library, content)  # 100 % of dates and places, no .json
    assert len(await store.watch_seen_rows(watch.id)) == 2
