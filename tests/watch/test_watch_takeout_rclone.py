"""A Google Takeout's parts arriving at different looks of an rclone watch (real
rclone, its local backend, through ``rclone rcd``), on SQLite and PostgreSQL, the store
closed and opened anew from its database between looks (a process's restart): each
part is held until no part of its set has come for ``watch.takeout_quiet_seconds``
(``engine/watch/takeout_hold``), the held set read back from the database, then one
job, every photo's date and place right and each photo stored once. The parts keep a
month-old modification time (as ``rclone copy`` does): the quiet time runs from when
the watch first listed each. The generated export of ``tests/engine/test_takeout``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.net.rclone import rclone_binary
from ferryman.store import Store
from tests.engine.test_takeout import check_library, takeout
from tests.engine.test_takeout_tgz import tgz_parts
from tests.watch.test_watch_takeout_remote import (
    OLD,
    Later,
    _arrive_and_take,
    _quiet,
    reopened,
)

BINARY = rclone_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason="rclone is not installed here")


@pytest.mark.parametrize("kind", ["zip", "tgz"])
async def test_an_rclone_watch_makes_one_job_of_parts_come_with_old_times_across_restarts(
    store: Store, db_url: str, settings: Settings, tmp_path: Path, kind: str
) -> None:
    conf = tmp_path / "rclone.conf"
    conf.write_text("[loc]\ntype = local\n")
    rclone = settings.rclone.model_copy(update={"config": conf})
    settings = _quiet(settings).model_copy(update={"rclone": rclone})
    made = tmp_path / "made-export"
    zips, content = takeout(made) if kind == "zip" else tgz_parts(made, "tarfile")
    drive = tmp_path / "drive" / "Takeout"
    drive.mkdir(parents=True)
    put = [drive / z.name for z in zips]
    shutil.copy(zips[0], put[0])
    shutil.copy(zips[1], put[1].with_suffix(".waiting"))  # not media: not listed yet
    for path in (put[0], put[1].with_suffix(".waiting")):
        os.utime(path, (OLD, OLD))
    watch = await store.add_watch(  # the fixture's store: made afresh, then left alone
        kind="rclone",
        source=f"rclone:loc:{drive}",
        dest="library:",
        every_seconds=86_400.0,
        since="all",
        next_check_at=0.0,
    )
    clock = Later()  # the reopened stores' clock, moved by the looks
    await _arrive_and_take(reopened(db_url, clock), settings, clock, watch.id, put)
    check_library(settings.library, content)
