"""The source seam: a source is one module plus its registration, nothing else."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.ops import control, intake, report
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.samples import make_photo_set, make_video
from ferryman.sources.builtin import default_sources
from ferryman.sources.file import FileSource
from ferryman.store import Store
from tests.support.engine_helpers import library_files
from tests.support.memsource import MemSource


async def test_an_in_memory_source_runs_through_the_engine(
    tmp_path: Path, settings: Settings
) -> None:
    photos = make_photo_set(tmp_path / "made", 12)
    video = make_video(tmp_path / "made" / "clip.mp4", 7, seconds=1.0)
    files = {f"trip/{p.name}": p.read_bytes() for p in photos}
    files["trip/clip.mp4"] = video.read_bytes()
    files["notes.txt"] = b"not media"
    mem = MemSource({"holiday": files})
    sources = default_sources().with_source(mem)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, "mem:holiday", sources=sources)
        assert job.source == "mem:holiday" and job.name == "holiday"
        with pytest.raises(FerrymanError) as again:
            await intake.add_source(store, "mem:holiday", sources=sources)
        assert again.value.code == "source.duplicate"
        engine = Engine(store, settings, sources=sources)
        await engine.run(until_idle=True)
        done = await store.get_job(job.id)
        data = await report.report(store, job.id, sources)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    assert data["delivered"] == 13 and data["skipped"] == {"not_media": 1}
    assert data["source"] == "mem:holiday"
    delivered = library_files(settings.library)
    by_path = {entry["source_path"]: entry["disk_sha256"] for entry in delivered}
    assert len(delivered) == 13  # each once
    for path, data_bytes in files.items():
        if path.endswith(".txt"):
            assert path not in by_path
        else:
            assert by_path[path] == hashlib.sha256(data_bytes).hexdigest()
    assert mem.opened == 1


async def test_a_source_memo_keeps_indexes_stable_across_runs(
    tmp_path: Path, settings: Settings
) -> None:
    photos = make_photo_set(tmp_path / "made", 5)
    files = {f"b/{p.name}": p.read_bytes() for p in photos[:4]}
    mem = MemSource({"share": files})
    sources = default_sources().with_source(mem)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, "mem:share", sources=sources)
        await Engine(store, settings, sources=sources).run(until_idle=True)
        assert json.loads((await store.source_memos(job.id))["listing"]) == sorted(files)
        files["a/first.jpg"] = photos[4].read_bytes()  # sorts first: would shift indexes
        await control.retry_job(store, job.id)
        await Engine(store, settings, sources=sources).run(until_idle=True)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE
    delivered = [entry["source_path"] for entry in library_files(settings.library)]
    assert sorted(delivered) == sorted(set(delivered)) == sorted(set(files) - {"a/first.jpg"})


async def test_a_missing_in_memory_input_is_recorded_failed(settings: Settings) -> None:
    sources = default_sources().with_source(MemSource({}))
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, "mem:nothing", sources=sources)
    finally:
        await store.close()
    assert job.state is JobState.FAILED and job.error_code == "source.not_found"
    assert job.name == "nothing"


def test_unknown_schemes_are_refused_with_a_code() -> None:
    registry = default_sources()
    with pytest.raises(FerrymanError) as caught:
        registry.to_uri("gopher://example/x.zip")
    assert caught.value.code == "source.unsupported"
    with pytest.raises(FerrymanError) as caught:
        registry.for_uri("mem:x")
    assert caught.value.code == "source.unsupported"
    assert registry.describe("mem:x") == "mem:x"  # shown as it is, never a crash


@pytest.mark.parametrize(
    "name", ["plain.zip", "trip [b] day.jpg", "100% sure.zip", "a#b?c.mp4", "naïve café.jpg"]
)
def test_paths_round_trip_through_file_uris(tmp_path: Path, name: str) -> None:
    registry = default_sources()
    path = tmp_path / name
    uri = registry.to_uri(str(path))
    assert uri.startswith("file:///")
    assert registry.for_uri(uri).describe(uri) == str(path)
    assert FileSource().path(uri) == path
    assert registry.to_uri(uri) == uri  # a file: URI is taken as it is


def test_relative_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    uri = default_sources().to_uri("photos/x.jpg")
    assert FileSource().path(uri) == tmp_path / "photos" / "x.jpg"


def test_a_file_on_another_host_is_refused() -> None:
    with pytest.raises(FerrymanError) as caught:
        FileSource().path("file://server/share/x.zip")
    assert caught.value.code == "source.unsupported"
