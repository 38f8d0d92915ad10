"""One entry's fault stays that entry's at delivery too: a sink bug (an unexpected
exception, not a coded error) on one file fails, after the album's attempts, only that
file (quarantined, ``entry.internal``); its innocent neighbours are delivered once each,
in albums of one, and the job ends ``job.partly_delivered``, not ``engine.internal``.

Real photos by Pillow in a folder, the engine in-process to the library, on SQLite and
PostgreSQL (the split is the store's). The bug is injected where the library sink lays an
album out, or copies one file into it.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import Settings, load_settings
from ferryman.engine import intake, quarantine
from ferryman.model import ItemState
from ferryman.samples import make_photo
from ferryman.sinks import library as library_module
from ferryman.sinks.base import Delivery
from ferryman.store import Store

from .engine_helpers import library_files, run_until_idle

BAD = "p4.jpg"  # the file the sink's bug meets: in the second album, between two others
PHOTOS = 7  # albums of 3: p0-p2, p3-p5 (the faulty one), p6


def settings_for(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "album_size": 3,
            "retry": {"base_seconds": 0.01, "max_seconds": 0.05, "max_attempts": 2},
        },
    )


def folder_of_photos(root: Path) -> Path:
    root.mkdir(parents=True)
    for seed in range(PHOTOS):
        make_photo(root / f"p{seed}.jpg", seed, size=(64, 48))
    return root


def inject(monkeypatch: pytest.MonkeyPatch, where: str) -> list[int]:
    """Make the library sink raise a ``KeyError`` for an album holding ``BAD``: while it
    lays the album out (nothing written), or while it copies that one file (the
    half-built folder is removed). What it saw each time it was met: the album's size,
    or how many files were in the half-built folder before this one."""
    met: list[int] = []
    if where == "layout":
        real_layout = library_module.album_layout

        def layout(delivery: Delivery) -> Any:
            if any(it.source_path == BAD for it in delivery.album.items):
                met.append(len(delivery.album.items))
                raise KeyError("a bug in the sink")
            return real_layout(delivery)

        monkeypatch.setattr(library_module, "album_layout", layout)
    else:
        real_copy = library_module.link_or_copy

        def copy(src: Path, dest: Path) -> Any:
            if dest.name.startswith(Path(BAD).stem):
                met.append(len(list(dest.parent.iterdir())))  # files before it
                raise KeyError("a bug in the sink")
            return real_copy(src, dest)

        monkeypatch.setattr(library_module, "link_or_copy", copy)
    return met


@pytest.mark.parametrize("where", ["layout", "copy"])
async def test_a_sink_bug_on_one_file_fails_that_file_alone(
    tmp_path: Path,
    store: Store,
    where: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    met = inject(monkeypatch, where)
    settings = settings_for(tmp_path)
    job = await intake.add_source(store, folder_of_photos(tmp_path / "photos"))
    with caplog.at_level(logging.ERROR, logger="ferryman.engine.deliver"):
        await run_until_idle(store, settings, limit=60)

    done = await store.get_job(job.id)
    assert done.error_code == "job.partly_delivered", (done.error_code, done.error_message)
    items = {it.source_path: it for it in await store.job_items(job.id)}
    assert len(items) == PHOTOS
    faulty = items.pop(BAD)
    assert (faulty.state, faulty.error_code) == (ItemState.QUARANTINED, "entry.internal")
    assert "KeyError" in (faulty.error_message or "")
    assert {name: it.state for name, it in items.items()} == dict.fromkeys(
        items, ItemState.DELIVERED
    )
    # every other file exactly once, the faulty one nowhere
    delivered = Counter(f["source_path"] for f in library_files(settings.library))
    assert delivered == Counter(list(items))
    kept = quarantine.list_quarantine(settings.quarantine_dir)
    assert [(path.name, code) for path, code in kept] == [(BAD, "entry.internal")]
    # the album's attempts (2) were spent whole, then the file's own (2) alone
    assert met == ([3, 3, 1, 1] if where == "layout" else [1, 1, 0, 0])
    # logged as a bug, with its traceback, naming the file once it is alone
    logged = [r for r in caplog.records if r.exc_info and BAD in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert logged[0].exc_info[0] is KeyError
    assert not [p for p in settings.library.rglob("*.partial")]
