"""A job limited to chosen entries (the chat's "Choose files", ``engine.plumbing.chosen``): the
list is what the job reads, the chosen ones are delivered, the others recorded skipped
without being read; on a volume set, with an archive inside, and on both stores."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ferryman.config import Settings
from ferryman.engine.ops import intake, report
from ferryman.engine.plumbing.chosen import NOT_CHOSEN, memo_of
from ferryman.frontdoors.telegram.choose import list_archive, listing_options
from ferryman.model import ItemState, JobState
from ferryman.samples import make_photo_set
from ferryman.store import Store
from tests.archive.test_archive_engine import delivered_hashes, items_by_path, needs_7zz, seven
from tests.support.contract import memory_store
from tests.support.engine_helpers import run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


@needs_7zz
async def test_a_volume_set_delivers_only_the_chosen_entries(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photos = make_photo_set(tmp_path / "src", 6, size=(320, 240))
    sets = tmp_path / "sets"
    sets.mkdir()
    seven("a", "-mx=0", "-v8k", sets / "all.7z", *[p.name for p in photos], cwd=photos[0].parent)
    first = sorted(sets.iterdir())[0]
    listed = list_archive(first, listing_options(settings))
    assert [e.path for e in listed] == sorted(p.name for p in photos)
    assert all(e.size == p.stat().st_size for e, p in zip(listed, sorted(photos), strict=True))
    chosen = [listed[1].path, listed[4].path]
    job = await intake.add_source(store, first, memos=memo_of(chosen))
    await run_until_idle(store, settings)
    assert (await store.get_job(job.id)).state is JobState.DONE
    assert delivered_hashes(settings) == sorted(sha256(p) for p in photos if p.name in chosen)
    found = await items_by_path(store, job.id)
    assert {path for path, (state, _r) in found.items() if state is ItemState.DELIVERED} == set(
        chosen
    )
    skipped = {path: reason for path, (state, reason) in found.items() if path not in chosen}
    assert set(skipped.values()) == {NOT_CHOSEN} and len(skipped) == 4
    assert (await report.report(store, job.id))["skipped"] == {NOT_CHOSEN: 4}


async def test_an_entry_of_an_archive_inside_can_be_chosen(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photos = make_photo_set(tmp_path / "src", 3)
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.write(photos[1], "x.jpg")
        zf.write(photos[2], "y.jpg")
    top = tmp_path / "top.zip"
    with zipfile.ZipFile(top, "w") as zf:
        zf.write(photos[0], "a.jpg")
        zf.write(inner, "inner.zip")
    listed = [e.path for e in list_archive(top, listing_options(settings))]
    assert listed == ["a.jpg", "inner.zip/x.jpg", "inner.zip/y.jpg"]
    job = await intake.add_source(store, top, memos=memo_of(["inner.zip/y.jpg"]))
    await run_until_idle(store, settings)
    assert delivered_hashes(settings) == [sha256(photos[2])]
    assert (await store.get_job(job.id)).state is JobState.DONE
