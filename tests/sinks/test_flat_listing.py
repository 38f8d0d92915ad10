"""The flat library lists a folder once, not once per album (issue 49 item 4): each
album's names were chosen against a fresh listing of the folder it goes to, so an album
into a folder of 50,000 photos cost ~170 ms of CPU and a job's cost grew with the
square of its photos. Names another program puts there are still avoided."""

from __future__ import annotations

import json
import os
import pathlib
import sys
import threading
from collections import Counter
from pathlib import Path, PurePosixPath
from types import FrameType

import pytest

from ferryman.config import load_settings
from ferryman.engine.ops import intake
from ferryman.model import (
    Album,
    AlbumGroup,
    AlbumState,
    Item,
    ItemState,
    Job,
    JobState,
    MediaKind,
    Plan,
)
from ferryman.naming import unique_name
from ferryman.samples import make_photo_set
from ferryman.sinks import flat, library
from ferryman.sinks.base import Delivery
from ferryman.sinks.library_records import owner_of
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import run_until_idle

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


@pytest.fixture(autouse=True)
def _no_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite runs older tests with the album layout (conftest); this one is flat."""
    monkeypatch.delenv("FERRYMAN_LIBRARY_LAYOUT", raising=False)


async def test_a_folder_is_listed_once_for_a_job_of_many_albums(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(
        None,
        {"data_dir": tmp_path / "data", "poll_seconds": 0.05, "space_floor": 0, "album_size": 2},
    )
    root = settings.library
    listed: Counter[str] = Counter()
    real_listdir = os.listdir

    def listdir(path: str | Path = ".") -> list[str]:
        if Path(path).is_relative_to(root):
            listed[str(path)] += 1
        return real_listdir(path)

    monkeypatch.setattr(flat.os, "listdir", listdir)
    photos = make_photo_set(tmp_path / "Trip", 8, size=(64, 48))
    await intake.add_source(store, tmp_path / "Trip", settings=settings)
    await run_until_idle(store, settings)

    job = (await store.list_jobs())[0]
    assert job.state is JobState.DONE
    folder = root / job.name
    by_the_sink = dict(listed)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in photos)
    # four albums into one folder: the first made it, the second listed it, the rest
    # knew it (before: listed by each of albums 2, 3 and 4)
    assert by_the_sink == {str(folder): 1}


def test_a_name_another_program_put_there_is_still_avoided(tmp_path: Path) -> None:
    folder = tmp_path / "Trip"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"ours")
    listings = flat.Listings()
    rel = PurePosixPath("Trip")
    assert listings.names(folder, rel) == {"trip/a.jpg"}

    # this sink's own move: known without a listing
    (folder / "b.jpg").write_bytes(b"ours")
    listings.moved_in([(folder, "trip/b.jpg")])
    stamp = os.stat(folder)
    (folder / "b.jpg").unlink()  # unseen: the folder's mtime is put back
    os.utime(folder, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert listings.names(folder, rel) == {"trip/a.jpg", "trip/b.jpg"}  # not listed again

    # another program's file: the folder's mtime moves, the folder is listed again
    (folder / "C.JPG").write_bytes(b"theirs")
    os.utime(folder, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
    assert listings.names(folder, rel) == {"trip/a.jpg", "trip/c.jpg"}
    assert unique_name("Trip/c.jpg", set(), also=listings.names(folder, rel)) == "Trip/c (2).jpg"


def test_a_folder_changed_between_listing_and_move_is_listed_again(tmp_path: Path) -> None:
    folder = tmp_path / "Trip"
    folder.mkdir()
    listings = flat.Listings()
    rel = PurePosixPath("Trip")
    assert listings.names(folder, rel) == set()
    stamp = os.stat(folder)
    (folder / "x.jpg").write_bytes(b"theirs")
    os.utime(folder, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
    listings.check({folder})  # before this sink's moves: the change is seen, forgotten
    listings.moved_in([(folder, "trip/y.jpg")])
    assert listings.names(folder, rel) == {"trip/x.jpg"}


def test_captions_made_final_fsync_a_folder_of_manifests_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A laid-out library keeps a job's manifests in one folder: made final, the
    manifests are each fsynced, the folder once (it was once per manifest)."""
    folder = tmp_path / ".ferryman" / "Trip"
    folder.mkdir(parents=True)
    job = Job(7, "x", "Trip", "library:", JobState.DONE, 0, None, None, None, 0, True, 0, None)
    paths = []
    for album in (1, 2, 3):
        path = folder / f"{album:04d}.json"
        manifest = {"job": 7, "owner": owner_of(job), "album": album, "items": [{}]}
        path.write_text(json.dumps(manifest | {"caption": "x"}))
        paths.append(path)
    synced: list[Path] = []
    real = library.fsync_dir

    def fsync_dir(path: Path) -> None:
        synced.append(path)
        real(path)

    monkeypatch.setattr(library, "fsync_dir", fsync_dir)
    assert library.final_captions_of(paths, job, lambda n, _, _said: f"{n}/3") == 3
    assert [json.loads(p.read_text())["caption"] for p in paths] == ["1/3", "2/3", "3/3"]
    assert synced == [folder]


def _album(work: Path, files: int) -> Delivery:
    """An album of ``files`` one-byte photos staged in ``work``."""
    work.mkdir()
    items = []
    for i in range(files):
        path = work / f"{i:06d}-p{i}.jpg"
        path.write_bytes(f"{work.name}-{i}".encode())  # no album's bytes another's
        items.append(
            Item(
                id=i + 1,
                job_id=1,
                seq=i,
                source_path=f"Trip/p{i}.jpg",
                kind=MediaKind.PHOTO,
                state=ItemState.READY,
                size=1,
                sha256=None,
                work_path=str(path),
                plan=Plan.AS_IS,
                reason=None,
                error_code=None,
                attempts=0,
                album_id=files,
            )
        )
    job = Job(1, "x", "Trip", "library:", JobState.ACTIVE, 0, None, None, None, 0, False, 0, None)
    album = Album(files, 1, files, AlbumGroup.VISUAL, AlbumState.DELIVERING, 0, items)
    return Delivery(job=job, album=album, caption="")


def test_an_albums_files_are_placed_without_pathlib_work_for_each(tmp_path: Path) -> None:
    """Issue 49 item 4: joining, splitting and comparing ``Path`` objects for each file
    (its stage, its target, their folders) was a third of the delivery thread's Python:
    some 116 of pathlib's functions ran for each file of an album, now under 40."""
    sink = flat.FlatLibrarySink(tmp_path / "lib", "{source}/{name}", flat.Listings())
    counted: list[int] = []
    for files in (2, 22):
        delivery = _album(tmp_path / f"work-{files}", files)
        calls = 0

        def count(frame: FrameType, event: str, arg: object) -> None:
            nonlocal calls
            if event == "call" and frame.f_code.co_filename == pathlib.__file__:
                calls += 1

        sys.setprofile(count)
        try:
            sink._deliver(delivery)
        finally:
            sys.setprofile(None)
        counted.append(calls)
    per_file = (counted[1] - counted[0]) / 20
    assert per_file < 40, counted
    assert sorted(p.name for p in (tmp_path / "lib" / "Trip").iterdir()) == sorted(
        [f"p{i}.jpg" for i in range(22)] + ["p0 (2).jpg", "p1 (2).jpg"]
    )


def test_the_stage_is_fsynced_while_the_manifest_is_written_and_before_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 49 item 4: the stage's fsync (its links made durable) and the manifest's own
    fsync were waited for one after the other, four journal commits an album in a row;
    now the stage's runs beside the naming and the manifest's write, and the commit's
    rename still waits for it (a committed manifest never names an unsynced link)."""
    sink = flat.FlatLibrarySink(tmp_path / "lib", "{source}/{name}", flat.Listings())
    delivery = _album(tmp_path / "work", 3)
    written = threading.Event()
    events: list[str] = []
    real_write, real_fsync, real_replace = flat.write_json, flat.fsync_dir, os.replace

    def write_json(path: Path, data: dict[str, object], *, sync: bool = True) -> None:
        real_write(path, data, sync=sync)
        events.append("manifest written")
        written.set()

    def fsync_dir(path: Path) -> None:
        if path.name.endswith(".partial"):
            # old code: called before the manifest is written, so this waits in vain
            events.append("manifest first" if written.wait(5) else "stage alone")
        real_fsync(path)
        events.append(f"synced {path.name}")

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append("commit")
        real_replace(src, dst)

    monkeypatch.setattr(flat, "write_json", write_json)
    monkeypatch.setattr(flat, "fsync_dir", fsync_dir)
    monkeypatch.setattr(flat.os, "replace", replace)
    sink._deliver(delivery)

    stage = f"synced .0003.{owner_of(delivery.job)}.partial"
    assert events[:4] == ["manifest written", "manifest first", stage, "commit"]
    assert len(list((tmp_path / "lib" / "Trip").iterdir())) == 3
