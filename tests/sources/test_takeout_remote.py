"""A Google Takeout read over the network (issue 81, item 3): its zips read in place by
Range, each photo paired with its sidecar as a local export's are. The generated
export of ``tests/engine/test_takeout`` (every naming variant, a sidecar in the other
part than its photo, a photo in its year folder and in an album) served by a real
WebDAV server (wsgidav: the two parts in a folder, one job) and by a real HTTP server
(one link to a one-part export), delivered to a library by the engine: every date and
place right, no JSON delivered, nothing stored (read where it lies), and the bytes
that crossed the network about the zips' own (the sidecars asked for alone first)."""

from __future__ import annotations

import asyncio
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.config import Settings, WebdavLogin, WebdavSettings
from ferryman.engine.ops import intake, report
from ferryman.engine.runner import Engine
from ferryman.model import Batch, BatchItem, JobState
from ferryman.sources.takeout import DUPLICATE, SIDECAR
from ferryman.store import Store
from tests.engine.test_takeout import PHOTOS, check_library, photos, takeout
from tests.support.davserve import PASSWORD, USER, DavServer, dav_serving
from tests.support.httpserve import serving

BIG = 4 << 20  # a file no index reads, however near the sidecars it lies


@pytest.fixture
def dav(tmp_path: Path) -> Iterator[DavServer]:
    root = tmp_path / "dav"
    root.mkdir()
    with dav_serving(root) as server:
        yield server


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A library as a person's: originals kept (no HEIC made a JPEG), Takeout's folders."""
    media = settings.media.model_copy(update={"library_convert": False})
    return settings.model_copy(update={"media": media, "library_layout": "{source}/{path}/{name}"})


def _with_dav(settings: Settings, dav: DavServer) -> Settings:
    login = WebdavLogin(username=USER, password=PASSWORD)
    return settings.model_copy(
        update={"webdav": WebdavSettings(hosts={f"127.0.0.1:{dav.port}": login})}
    )


async def _run(settings: Settings, uri: str) -> tuple[JobState, dict[str, object], bool]:
    """The job's end state, its report, and whether it was read where it lies."""
    store = await Store.open(settings.database)
    try:
        if uri.startswith("batch:"):  # a watch's look: no input a person types
            job = await store.add_job(source=uri, name="Export", dest="library:", fetch=True)
        else:
            job = await intake.add_source(store, uri, settings=settings)
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 120)
        done = await store.get_job(job.id)
        summary = await report.report(store, job.id)
        fetched = await store.fetched(job.id)
    finally:
        await store.close()
    return done.state, summary, fetched is not None and fetched.path is None


def _export(tmp_path: Path, into: Path, parts_of: int) -> tuple[list[Path], dict[str, bytes]]:
    zips, content = takeout(tmp_path / "made-export", parts_of=parts_of)
    into.mkdir(parents=True, exist_ok=True)
    moved = []
    for part in zips:
        moved.append(into / part.name)
        part.rename(moved[-1])
    return moved, content


async def test_a_takeouts_parts_in_a_webdav_folder_are_one_export(
    tmp_path: Path, dav: DavServer, settings: Settings
) -> None:
    zips, content = _export(tmp_path, dav.root / "Export", 2)
    for part in zips:  # among the sidecars: what the index must not read
        with zipfile.ZipFile(part, "a") as zf:
            zf.writestr(f"{PHOTOS}/Photos from 2019/notes.bin", os.urandom(BIG))
    state, summary, in_place = await _run(_with_dav(settings, dav), dav.uri("Export/"))
    assert state is JobState.DONE, summary
    assert in_place  # nothing stored
    check_library(settings.library, content)  # 100 % of dates and places, no .json
    items = summary["items"]
    assert isinstance(items, list)
    skipped = {it["path"]: it["reason"] for it in items if it["state"] == "skipped"}
    assert skipped[zips[1].name] == f"part of {zips[0].name}"
    sidecars = [p for p in skipped if p.endswith(".json")]
    assert sidecars and all(skipped[p] == SIDECAR for p in sidecars), skipped
    copies = sum(len(photo.albums) for photo in photos())
    assert list(skipped.values()).count(DUPLICATE) == copies == 3  # the albums' copies
    for part in zips:  # the sidecars asked for alone (read through the 1 MiB read-ahead
        # they cost 2.1 MB a part here, told their extents 1.06 MB), the rest as before
        assert dav.sent[f"/Export/{part.name}"] <= part.stat().st_size - BIG + (3 << 19)


async def test_a_gap_in_a_remote_sets_numbering_is_named(
    tmp_path: Path, dav: DavServer, settings: Settings
) -> None:
    zips, _ = _export(tmp_path, dav.root / "Export", 2)
    zips[1].rename(zips[1].with_name(zips[1].name.replace("-002.zip", "-003.zip")))
    state, summary, _ = await _run(_with_dav(settings, dav), dav.uri("Export/"))
    items = summary["items"]
    assert isinstance(items, list)
    failed = [it for it in items if it["state"] == "failed"]
    assert failed and all(it["error"]["code"] == "archive.volume_missing" for it in failed)
    assert "takeout-20240115T101112Z-002.zip" in str(failed[0]["error"])
    assert "add it again" not in str(failed[0]["error"])  # its next step: retry
    assert state is not JobState.DONE or failed


async def test_a_link_to_a_takeout_is_read_in_place_with_its_sidecars(
    tmp_path: Path, settings: Settings
) -> None:
    zips, content = takeout(tmp_path / "made-export", parts_of=1)
    with zipfile.ZipFile(zips[0], "a") as zf:
        zf.writestr(f"{PHOTOS}/Photos from 2019/notes.bin", os.urandom(BIG))
    data = zips[0].read_bytes()
    with serving() as server:
        server.add(f"/{zips[0].name}", data, content_type="application/zip")
        state, summary, in_place = await _run(settings, server.url(f"/{zips[0].name}"))
        sent = server.served[f"/{zips[0].name}"]
    assert state is JobState.DONE, summary
    assert in_place
    check_library(settings.library, content)
    # The sidecars told their extents: 0.19 MB sent here, 1.06 MB through the read-ahead.
    assert sent <= len(data) - BIG + (1 << 19), sent


async def test_links_to_a_takeouts_parts_in_one_job_are_one_export(
    tmp_path: Path, settings: Settings
) -> None:
    """A watch's look that found the parts' links (a feed's, a chat's) makes one
    ``batch:`` job of them: each part read in place by Range, the set indexed together
    first (a sidecar in part 1 pairs with its photo in part 2, a copy kept once)."""
    zips, content = takeout(tmp_path / "made-export")
    with serving() as server:
        for part in zips:
            server.add(f"/{part.name}", part.read_bytes(), content_type="application/zip")
        items = tuple(BatchItem(server.url(f"/{part.name}"), part.name) for part in zips)
        state, summary, _ = await _run(settings, str(Batch("Export", items)))
        sent = {part.name: server.served[f"/{part.name}"] for part in zips}
    assert state is JobState.DONE, summary
    check_library(settings.library, content)  # 100 % of dates and places, no .json
    items_seen = summary["items"]
    assert isinstance(items_seen, list)
    skipped = [it["reason"] for it in items_seen if it["state"] == "skipped"]
    assert skipped.count(DUPLICATE) == sum(len(photo.albums) for photo in photos())
    for part in zips:  # read where it lies: no part downloaded twice
        assert sent[part.name] <= part.stat().st_size * 2, sent
