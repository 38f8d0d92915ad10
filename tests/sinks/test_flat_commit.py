"""An album's commit in the flat library waits for its stage's fsync and its manifest's
together, not one after the other (issue 49 item 4: four fsyncs in turn an album on the
delivery's path), and still never renames the manifest into place before the stage's
links are durable (docs/engine.md, durability rule 3)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from ferryman import fsutil
from ferryman.config import load_settings
from ferryman.engine.ops import intake
from ferryman.model import JobState
from ferryman.samples import make_photo_set
from ferryman.sinks import flat
from ferryman.store import Store
from tests.support.engine_helpers import run_until_idle


@pytest.fixture(autouse=True)
def _no_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite runs older tests with the album layout (conftest); this one is flat."""
    monkeypatch.delenv("FERRYMAN_LIBRARY_LAYOUT", raising=False)


async def test_the_stage_and_the_manifest_are_fsynced_together_before_the_commit(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(
        None,
        {"data_dir": tmp_path / "data", "poll_seconds": 0.05, "space_floor": 0, "album_size": 2},
    )
    manifest_begun = threading.Event()
    events: list[str] = []
    overlapped: list[bool] = []
    real_fsync_file, real_write, real_replace = fsutil.fsync_file, flat._write_json, os.replace

    def fsync_file(path: Path) -> None:
        if path.name.endswith(".partial"):  # the album's stage
            # before: the stage was fsynced before the manifest was begun (this waited
            # in vain); now the manifest is written while this fsync is under way
            overlapped.append(manifest_begun.wait(timeout=10))
            real_fsync_file(path)
            events.append("stage durable")
            return
        real_fsync_file(path)

    def write_json(path: Path, data: dict[str, Any], *, sync: bool = True) -> None:
        manifest_begun.set()
        real_write(path, data, sync=sync)

    def replace(src: Any, dst: Any) -> None:
        if str(dst).endswith(".json") and flat.HIDDEN in str(dst):
            events.append("manifest committed")
        real_replace(src, dst)

    monkeypatch.setattr(fsutil, "fsync_file", fsync_file)
    monkeypatch.setattr(flat, "_write_json", write_json)
    monkeypatch.setattr(flat.os, "replace", replace)
    photos = make_photo_set(tmp_path / "Trip", 2, size=(64, 48))
    await intake.add_source(store, tmp_path / "Trip", settings=settings)
    await run_until_idle(store, settings)

    job = (await store.list_jobs())[0]
    assert job.state is JobState.DONE
    folder = settings.library / job.name
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in photos)
    assert overlapped == [True]
    # (then the caption made final at the job's end replaces the manifest once more)
    assert events[:2] == ["stage durable", "manifest committed"]
