"""Watching a folder on this machine: its tree walked, each media file taken once by a
key that survives a rename or a move (size, whole-second mtime, a hash of its ends), a
file still being written left for a later look, and the running engine woken by the
folder's change notices (watchfiles) or, without them, by its period on the store's
clock. Real folders, photos made by Pillow, the real engine and the library sink."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from ferryman.config import Settings
from ferryman.engine.runner import Engine
from ferryman.samples import make_photo
from ferryman.sources.listers.folder import EDGE, FolderLister, file_key
from ferryman.store import Store
from ferryman.store.watches.sql import Watch
from tests.support.camera_raw import raw_files, sidecar_files
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256
from tests.support.waiting import eventually

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

T = TypeVar("T")
OLD = time.time() - 3600  # a file's mtime well past any settle period


def _photo(path: Path, seed: int, *, at: float | None = OLD) -> str:
    """A real JPEG at ``path``, its mtime set to ``at`` (None: as written); its sha256."""
    make_photo(path, seed)
    if at is not None:
        os.utime(path, (at, at))
    return sha256(path)


def _settled(settings: Settings, seconds: float = 0.0) -> Settings:
    return settings.model_copy(
        update={"watch": settings.watch.model_copy(update={"settle_seconds": seconds})}
    )


async def _watch_all(store: Store, root: Path) -> Watch:
    """A watch of ``root`` into the library, due now, taking what is there already."""
    return await store.add_watch(
        kind="folder",
        source=str(root),
        dest="library:",
        every_seconds=3600.0,
        since="all",
        next_check_at=0.0,
    )


def _delivered(settings: Settings) -> list[str]:
    return sorted(f["disk_sha256"] for f in library_files(settings.library))


async def until(get: Callable[[], Awaitable[T]], ok: Callable[[T], bool], what: str) -> T:
    async def check() -> tuple[T] | None:
        value = await get()
        return (value,) if ok(value) else None

    return (await eventually(check, what, within=90))[0]


def test_the_tree_is_walked_and_a_file_keeps_its_key_when_renamed_or_moved(
    settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Camera"
    _photo(root / "IMG_1.jpg", 1)
    _photo(root / "2026" / "IMG_2.jpg", 2)
    (root / "notes.txt").write_text("not media\n")
    _photo(root / ".thumbnails" / "t.jpg", 3)  # hidden: Android's thumbnails, .pending-…
    _photo(root / ".pending-1-IMG_4.jpg", 4)
    (root / "empty.jpg").write_bytes(b"")
    os.symlink(root / "IMG_1.jpg", root / "link.jpg")  # not followed
    lister = FolderLister()
    listed = {e.title: e for e in lister.list_now(str(root), settings)}
    assert sorted(listed) == ["2026/IMG_2.jpg", "IMG_1.jpg"]
    assert all(e.ready_at is None and e.input.startswith("file:///") for e in listed.values())
    key = listed["IMG_1.jpg"].id

    (root / "Trip").mkdir()
    os.rename(root / "IMG_1.jpg", root / "Trip" / "renamed.jpg")  # a move and a rename
    again = {e.title: e.id for e in lister.list_now(str(root), settings)}
    assert again["Trip/renamed.jpg"] == key
    assert again["2026/IMG_2.jpg"] == listed["2026/IMG_2.jpg"].id

    _photo(root / "Trip" / "renamed.jpg", 5)  # changed in place: new content, new key
    assert {e.id for e in lister.list_now(str(root), settings)} - set(again.values())


def test_a_camera_folders_raw_files_and_sidecars_are_taken_too(
    settings: Settings, tmp_path: Path
) -> None:
    """Issue 79: a watch of a camera's folder takes its RAW files and their sidecars
    (a library keeps them byte for byte), not only what names itself media."""
    root = tmp_path / "DCIM"
    _photo(root / "IMG_0101.JPG", 1)
    for name, data in {**raw_files(), **sidecar_files()}.items():
        (root / name).write_bytes(data)
        os.utime(root / name, (OLD, OLD))
    listed = {e.title for e in FolderLister().list_now(str(root), settings)}
    assert listed == {"IMG_0101.JPG", *raw_files(), *sidecar_files()}


def test_a_key_reads_both_ends_of_a_big_file(tmp_path: Path) -> None:
    big = tmp_path / "clip.mp4"
    big.write_bytes(b"a" * EDGE + b"b" * EDGE + b"c" * 10)
    before = file_key(big, big.stat().st_size, OLD)
    with big.open("r+b") as handle:  # the tail changes, the head and the size do not
        handle.seek(2 * EDGE + 5)
        handle.write(b"X")
    tail_changed = file_key(big, big.stat().st_size, OLD)
    assert tail_changed != before
    with big.open("r+b") as handle:  # the middle, unread, is not part of the key
        handle.seek(EDGE + 5)
        handle.write(b"Y")
    assert file_key(big, big.stat().st_size, OLD) == tail_changed


def test_a_file_still_being_written_is_left_with_when_to_look_again(
    settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Camera"
    _photo(root / "done.jpg", 1)
    written = _photo(root / "growing.mp4", 2, at=None)
    assert written
    now = time.time()
    lister = FolderLister(clock=lambda: now)
    listed = {e.title: e for e in lister.list_now(str(root), _settled(settings, 30.0))}
    growing = listed["growing.mp4"]
    assert listed["done.jpg"].ready_at is None
    mtime = (root / "growing.mp4").stat().st_mtime
    assert growing.ready_at == mtime + 30.0
    later = FolderLister(clock=lambda: mtime + 31.0)
    assert all(e.ready_at is None for e in later.list_now(str(root), _settled(settings, 30.0)))


async def test_each_file_once_across_restarts_renames_and_moves(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Camera"
    first = [_photo(root / "IMG_1.jpg", 1), _photo(root / "sub" / "IMG_2.jpg", 2)]
    watch = await _watch_all(store, root)
    await run_until_idle(store, settings)  # an engine: the first look takes both
    assert _delivered(settings) == sorted(first)

    os.rename(root / "IMG_1.jpg", root / "sub" / "moved.jpg")
    os.rename(root / "sub" / "IMG_2.jpg", root / "IMG_2 renamed.jpg")
    third = _photo(root / "IMG_3.jpg", 3)
    await store.set_watch_paused(watch.id, False)  # due now, for a new engine (a restart)
    await run_until_idle(store, settings)
    assert _delivered(settings) == sorted([*first, third])
    jobs = await store.list_jobs()
    assert sorted(j.name for j in jobs) == ["Camera", "Camera (2)"]
    assert all(j.state.value == "done" for j in jobs)

    await store.set_watch_paused(watch.id, False)
    await run_until_idle(store, settings)  # nothing new: nothing made
    assert len(await store.list_jobs()) == 2
    assert len(await store.watch_seen_rows(watch.id)) == 3


async def test_a_watched_folder_s_subfolders_are_kept_in_the_library(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Two IMG_0001.jpg of a camera roll's 2025/ and 2026/ land in their own folders, as
    `ferryman add Camera` lays them: not flattened into IMG_0001 (2).jpg."""
    settings = settings.model_copy(update={"library_layout": "{source}/{path}/{name}"})
    root = tmp_path / "Camera"
    made = {
        "2025/IMG_0001.jpg": _photo(root / "2025" / "IMG_0001.jpg", 1),
        "2026/IMG_0001.jpg": _photo(root / "2026" / "IMG_0001.jpg", 2),
        "IMG_0003.jpg": _photo(root / "IMG_0003.jpg", 3),
    }
    await _watch_all(store, root)
    await run_until_idle(store, settings)
    placed = {
        p.relative_to(settings.library / "Camera").as_posix(): sha256(p)
        for p in (settings.library / "Camera").rglob("*.jpg")
    }
    assert placed == made


async def test_every_look_of_a_watched_folder_grows_one_folder_of_the_library(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A camera roll backed up look after look lands in one ``Camera/`` (not ``Camera``,
    ``Camera (2)``, … a folder per look): the looks' jobs keep names of their own (their
    records), and a name met again (a phone counting from IMG_0001 after a reset) is made
    unique beside the first, never over it."""
    settings = settings.model_copy(update={"library_layout": "{source}/{path}/{name}"})
    root = tmp_path / "Camera"
    first = _photo(root / "IMG_0001.jpg", 1)
    watch = await _watch_all(store, root)
    await run_until_idle(store, settings)
    (root / "IMG_0001.jpg").unlink()  # the phone freed its room, then counts again
    again = _photo(root / "IMG_0001.jpg", 2)
    other = _photo(root / "IMG_0002.jpg", 3)
    await store.set_watch_paused(watch.id, False)  # due now
    await run_until_idle(store, settings)

    jobs = await store.list_jobs()
    assert sorted(j.name for j in jobs) == ["Camera", "Camera (2)"]
    assert all(j.state.value == "done" for j in jobs)
    shown = sorted(p.name for p in settings.library.iterdir() if not p.name.startswith("."))
    assert shown == ["Camera"]
    placed = {p.name: sha256(p) for p in (settings.library / "Camera").iterdir()}
    assert placed == {"IMG_0001.jpg": first, "IMG_0001 (2).jpg": again, "IMG_0002.jpg": other}


async def test_a_new_photo_is_delivered_on_the_folders_change_notice(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The watch's period is an hour: only the change notice can make it look."""
    root = tmp_path / "Camera"
    root.mkdir()
    settings = _settled(settings, 0.5)
    watch = await store.add_watch(
        kind="folder",
        source=str(root),
        dest="library:",
        every_seconds=3600.0,
        since="now",
        next_check_at=0.0,
    )
    engine = Engine(store, settings)
    running = asyncio.create_task(engine.run())
    try:
        await until(lambda: store.get_watch(watch.id), lambda w: w.primed, "the first look")
        await eventually(lambda: watch.id in engine.folder_changes.armed, "notices on", within=90)
        first = await store.get_watch(watch.id)
        shot = _photo(root / "IMG_20261127_101500.jpg", 7, at=None)  # as a camera writes it
        await until(lambda: asyncio.to_thread(_delivered, settings), lambda d: d == [shot], "sent")
        looked = await store.get_watch(watch.id)
        assert (looked.last_check_at or 0) > (first.last_check_at or 0)
        assert looked.next_check_at > time.time() + 3000  # back to its period
    finally:
        engine.stop()
        await running
    assert [j.name for j in await store.list_jobs()] == ["Camera"]


async def test_without_notices_a_folder_is_looked_at_when_its_period_comes(
    db_url: str, settings: Settings, tmp_path: Path
) -> None:
    """Polling (Android's shared storage gives no notices): the store's clock is moved a
    period on, and the running engine's poll finds the watch due and the photo."""
    root = tmp_path / "Camera"
    root.mkdir()
    offset = [0.0]
    store = await Store.open(db_url, clock=lambda: time.time() + offset[0])
    settings = settings.model_copy(
        update={"watch": settings.watch.model_copy(update={"folder_events": False})}
    )
    try:
        watch = await store.add_watch(
            kind="folder",
            source=str(root),
            dest="library:",
            every_seconds=60.0,
            since="now",
            next_check_at=0.0,
        )
        engine = Engine(store, settings)
        running = asyncio.create_task(engine.run())
        try:
            primed = await until(lambda: store.get_watch(watch.id), lambda w: w.primed, "look")
            shot = _photo(root / "Screenshot_1.jpg", 8)
            assert not engine.folder_changes.followed  # folder_events = false: no notices
            assert (await store.get_watch(watch.id)).next_check_at > store.clock() + 30
            assert primed.last_check_at is not None
            offset[0] += 60.0  # a period later
            await until(
                lambda: asyncio.to_thread(_delivered, settings), lambda d: d == [shot], "sent"
            )
        finally:
            engine.stop()
            await running
    finally:
        await store.close()
