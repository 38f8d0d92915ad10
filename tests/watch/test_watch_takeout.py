"""A Google Takeout's parts arriving one by one in a watched folder (issue 81, item 3):
a part is held until no part of its set has come or changed for
``watch.takeout_quiet_seconds`` (Google never says how many parts there are), then every
part there is taken at one look, one job (the rule of every watch kind:
``engine/watch/takeout_hold``), each part read with the others beside it: a sidecar in
part 1 pairs with its photo in part 2, a photo met in both parts is kept once. The generated export
of ``tests/engine/test_takeout`` (every naming variant), the real engine, the library."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.watch.takeout_hold import Held, hold, recorded
from ferryman.sources.listers.folder import FolderLister
from ferryman.store import Store
from tests.engine.test_takeout import check_library, takeout
from tests.engine.test_takeout_tgz import tgz_parts
from tests.support.contract import memory_store
from tests.support.engine_helpers import run_until_idle

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

QUIET = 600.0


class Still:
    """The store's clock, still but for the test's moves: an hour passes without a
    sleep. It starts after every file made here was written."""

    def __init__(self) -> None:
        self.now = time.time() + 10.0

    def __call__(self) -> float:
        return self.now


def _quiet(settings: Settings, seconds: float = QUIET) -> Settings:
    watch = settings.watch.model_copy(
        update={"settle_seconds": 0.0, "takeout_quiet_seconds": seconds}
    )
    media = settings.media.model_copy(update={"library_convert": False})  # originals kept
    return settings.model_copy(
        update={"watch": watch, "media": media, "library_layout": "{source}/{path}/{name}"}
    )


def _parts(tmp_path: Path, root: Path, kind: str = "zip") -> tuple[list[Path], dict[str, bytes]]:
    """The export's two parts (``zip`` or ``tgz``) made aside (moved into ``root`` by
    the test)."""
    made = tmp_path / "made-export"
    zips, content = takeout(made) if kind == "zip" else tgz_parts(made, "gnu")
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
    kept: dict[str, Held] = {}

    def look(at: float) -> dict[str, tuple[str, float | None]]:
        """A look at ``at``: the folder listed, its Takeout's parts held as a watch's
        look holds them (``engine/watch/takeout_hold``), the parts first seen recorded."""
        listed = FolderLister(clock=lambda: at).list_now(str(root), settings)
        entries, rows = hold(listed, kept, set(), at, QUIET, resuming=False)
        kept.update(recorded(row.entry_id for row in rows))
        return {e.title: (e.id, e.ready_at) for e in entries}

    early = look(start + 10)
    assert early["IMG_9.jpg"][1] is None
    assert early[first.name][1] == start + 10 + QUIET  # held, with when to look again
    second = _arrive(zips[1], root, start + 300)  # the next part, five minutes later
    later = look(start + 310)
    assert later[first.name][1] == later[second.name][1] == start + 310 + QUIET
    assert look(start + 309 + QUIET)[first.name][1] is not None  # a second short: held
    quiet = look(start + 310 + QUIET)
    assert quiet[first.name][1] is None and quiet[second.name][1] is None  # both at once
    assert quiet[first.name][0] == early[first.name][0]  # the part, as first listed


@pytest.mark.parametrize("kind", ["zip", "tgz"])
async def test_parts_come_an_hour_apart_are_one_job_with_every_date_and_place_right(
    store: Store, settings: Settings, tmp_path: Path, kind: str
) -> None:
    root = tmp_path / "Downloads"
    zips, content = _parts(tmp_path, root, kind)
    settings = _quiet(settings, 3600.0)
    store.clock = clock = Still()
    first = _arrive(zips[0], root, clock.now - 60)  # part 1 downloaded a minute ago
    watch = await store.add_watch(
        kind="folder",
        source=str(root),
        dest="library:",
        every_seconds=86_400.0,
        since="all",
        next_check_at=0.0,
    )
    await run_until_idle(store, settings)
    assert await store.list_jobs() == []  # held: its next part may be on its way
    assert [job for _, job in await store.watch_seen_rows(watch.id)] == [None]  # its record

    clock.now += 3600.0  # an hour on, part 2 (its sidecars pair with part 1's), its
    _arrive(zips[1], root, time.time() - 60)  # time kept (the folder's settle is real time)
    await store.set_watch_paused(watch.id, False)  # due now
    await run_until_idle(store, settings)
    assert await store.list_jobs() == []  # part 2 just come: the set is not quiet
    clock.now += 3600.0  # and the quiet time has passed since
    await store.set_watch_paused(watch.id, False)
    await run_until_idle(store, settings)
    jobs = await store.list_jobs()
    assert len(jobs) == 1 and jobs[0].state.value == "done", jobs
    check_library(settings.library, content)  # 100 % of dates and places, no .json
    rows = await store.watch_seen_rows(watch.id)
    assert [job for _, job in rows] == [jobs[0].id] * 2 and first.exists()  # held records gone
