"""``--then delete`` with the library inside the watched folder (``watch add ~/Pictures
--to library:~/Pictures/Library``): the watch lists the library's copies too, with the
keys of the photos they copy (their bytes, size and time are the photo's). A copy listed
as "the delivered file" vouched for itself (the library's file holds its own bytes), and
the watch deleted the library's copies: the backup emptied while its job said delivered,
and at the next look's order the last copy of a photo. A file never vouches for itself:
every photo stays in the folder or the library. And a library (its ``.ferryman``
records, or an album's ``manifest.json``) is not walked: its copies are not new
photos, and the camera's folder is let go of as any. Real photos, the real engine."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.samples import make_photo
from ferryman.sources.listers.folder import FolderLister
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

OLD = time.time() - 3600


@pytest.mark.parametrize("layout", ["{source}/{path}/{name}", "albums"])
async def test_a_library_inside_the_watched_folder_keeps_its_copies(
    store: Store, settings: Settings, tmp_path: Path, layout: str
) -> None:
    root = tmp_path / "Pictures"
    library = root / "ALibrary"  # listed before the camera's folder
    settings = settings.model_copy(
        update={
            "library_dir": library,
            "library_layout": layout,
            "watch": settings.watch.model_copy(update={"folder_events": False}),
        }
    )
    shots = {}
    for n in range(3):
        path = make_photo(root / "ZCamera" / f"IMG_{n:04d}.jpg", n)
        os.utime(path, (OLD, OLD))
        shots[path.name] = sha256(path)
    watch = await store.add_watch(
        kind="folder", source=str(root), dest="library:", every_seconds=3600.0,
        since="all", next_check_at=0.0, after_delivery="delete",
    )  # fmt: skip
    await run_until_idle(store, settings)
    for _ in range(3):  # looks: each lets go of what the library holds
        await store.set_watch_paused(watch.id, False)
        await run_until_idle(store, settings)

    copies = [p for p in library.rglob("*.jpg") if ".ferryman" not in p.parts]
    held = {sha256(p) for p in copies}
    for name, digest in shots.items():
        here = (root / "ZCamera" / name).exists()
        assert digest in held, f"the library's copy of {name} was deleted (in the folder: {here})"
    # Not walked: its copies are no photos of the folder's, which is let go of as any.
    assert list((root / "ZCamera").iterdir()) == []
    assert len(await store.list_jobs()) == 1


async def test_a_watched_folder_inside_its_library_is_never_let_go_of(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """``watch add ~/Library/Inbox --to library:~/Library``: each photo's place in the
    library (``Inbox/IMG_0000.jpg``) is the photo itself, so it is "already there", and
    no copy is made. ``--then delete`` deleted it: the photo was gone from everywhere."""
    library = tmp_path / "Library"
    root = library / "Inbox"
    settings = settings.model_copy(
        update={
            "library_dir": library,
            "library_layout": "{source}/{path}/{name}",
            "watch": settings.watch.model_copy(update={"folder_events": False}),
        }
    )
    shots = {}
    for n in range(2):
        path = make_photo(root / f"IMG_{n:04d}.jpg", n)
        os.utime(path, (OLD, OLD))
        shots[path] = sha256(path)
    watch = await store.add_watch(
        kind="folder", source=str(root), dest="library:", every_seconds=3600.0,
        since="all", next_check_at=0.0, after_delivery="delete",
    )  # fmt: skip
    await run_until_idle(store, settings)
    await store.set_watch_paused(watch.id, False)
    await run_until_idle(store, settings)
    for path, digest in shots.items():
        assert path.exists() and sha256(path) == digest, f"{path.name} is lost"


def test_only_ferryman_s_albums_are_passed_over(settings: Settings, tmp_path: Path) -> None:
    """A person's year folder named like an album (``2024/``) holding some program's
    manifest.json is walked as any; ferryman's album folder is not."""
    root = tmp_path / "Pictures"
    for rel, manifest in (
        ("2024", b'{"name": "a web app\'s manifest"}'),
        ("Library/Trip/0001", b'{"key":"job-1/album-1","job":1}'),
    ):
        make_photo(root / rel / "IMG_0001.jpg", 1)
        os.utime(root / rel / "IMG_0001.jpg", (OLD, OLD))
        (root / rel / "manifest.json").write_bytes(manifest)
    listed = {e.title for e in FolderLister().list_now(str(root), settings)}
    assert listed == {"2024/IMG_0001.jpg"}
