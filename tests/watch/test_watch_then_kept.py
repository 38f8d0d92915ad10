"""``--then delete`` lets a person's file go only once the library holds its bytes,
read back at that moment (issue 79, item 2): not on the store's word. A library copy
gone or damaged since its delivery keeps the file in the folder; and a run killed at
any step a file takes (copied, read back, committed, moved into place, read back for
``--then``, deleted) leaves every photo in the folder or in the library, never in
neither. Real photos, the real engine; the kills are SIGKILLs of a child."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.samples import make_photo
from ferryman.store import Store
from tests.support import forked
from tests.support.contract import memory_store
from tests.support.engine_helpers import run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

REPO = Path(__file__).resolve().parents[2]
OLD = time.time() - 3600


def _photos(folder: Path, count: int) -> dict[str, str]:
    """Photos settled an hour ago (a watch takes them at once), by name: their hashes."""
    made = {}
    for n in range(count):
        path = make_photo(folder / f"IMG_{n:04d}.jpg", n)
        os.utime(path, (OLD, OLD))
        made[path.name] = sha256(path)
    return made


def _library(library: Path) -> list[Path]:
    return [p for p in library.rglob("*") if p.is_file() and ".ferryman" not in p.parts]


def _polled(settings: Settings) -> Settings:
    watch = settings.watch.model_copy(update={"folder_events": False})
    return settings.model_copy(update={"watch": watch})


async def _look(store: Store, settings: Settings, watch_id: int) -> None:
    await store.set_watch_paused(watch_id, False)  # due now
    await run_until_idle(store, settings)


@pytest.mark.parametrize("damage", ["gone", "emptied", "other bytes"])
async def test_a_file_the_library_lacks_now_is_left(
    store: Store, settings: Settings, tmp_path: Path, damage: str
) -> None:
    settings = _polled(settings.model_copy(update={"library_layout": "{source}/{path}/{name}"}))
    root = tmp_path / "Camera"
    shots = _photos(root, 2)
    watch = await store.add_watch(
        kind="folder", source=str(root), dest="library:", every_seconds=3600.0,
        since="all", next_check_at=0.0, after_delivery="delete",
    )  # fmt: skip
    await run_until_idle(store, settings)
    [job] = await store.list_jobs()
    assert job.state.value == "done"
    copies = {p.name: p for p in _library(settings.library)}
    assert sorted(copies) == sorted(shots)
    lost = copies["IMG_0000.jpg"]
    if damage == "gone":
        lost.unlink()
    elif damage == "emptied":
        lost.write_bytes(b"")
    else:  # the same size, other bytes: a disk's or another program's doing
        lost.write_bytes(bytes(lost.stat().st_size))

    await _look(store, settings, watch.id)
    assert (root / "IMG_0000.jpg").exists()  # the library lacks it: kept
    assert sha256(root / "IMG_0000.jpg") == shots["IMG_0000.jpg"]
    assert not (root / "IMG_0001.jpg").exists()  # held in the library: let go


async def test_a_second_data_folder_s_watch_deletes_only_what_the_library_holds(
    settings: Settings, tmp_path: Path
) -> None:
    """The issue's loss: two data folders (a reinstall, a second phone) watch a folder
    named Camera each into one library with ``--then delete``. The second's job 1 is
    "Camera" too; its photos are in the library before any leaves its folder. Each
    Camera lies beside its data folder, not in it (a data folder is never watched)."""
    library = tmp_path / "LIB"
    shots = {}
    for phone, seed in (("a", 0), ("b", 10)):
        mine = _polled(
            settings.model_copy(
                update={
                    "data_dir": tmp_path / phone / "data",
                    "library_dir": library,
                    "library_layout": "{source}/{path}/{name}",
                }
            )
        )
        root = tmp_path / phone / "Camera"
        for n in range(2):
            path = make_photo(root / f"IMG_{seed + n:04d}.jpg", seed + n)
            os.utime(path, (OLD, OLD))
            shots[path] = sha256(path)
        store = await Store.open(mine.database)
        try:
            watch = await store.add_watch(
                kind="folder", source=str(root), dest="library:", every_seconds=3600.0,
                since="all", next_check_at=0.0, after_delivery="delete",
            )  # fmt: skip
            await run_until_idle(store, mine)
            await _look(store, mine, watch.id)
        finally:
            await store.close()
    held = {sha256(p) for p in _library(library)}
    for path, digest in shots.items():
        assert digest in held, f"{path.name} is not in the library"
        assert not path.exists()  # held there: let go


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    [
        "place:before",  # copying into the stage
        "verify:after",  # copied and read back, not committed
        "commit:after",  # committed, nothing moved into place
        "put:after",  # one file moved into place, the rest staged
        "holds:after",  # the library read back for --then, the file not yet deleted
    ],
)
def test_a_kill_at_any_step_leaves_each_photo_in_the_folder_or_the_library(
    tmp_path: Path, point: str
) -> None:
    """A run SIGKILLed at the step, at its second call (mid-album, or the second file
    let go); the next run finishes: each photo in the library once, the folder empty."""
    data, root, library = tmp_path / "data", tmp_path / "Camera", tmp_path / "LIB"
    shots = _photos(root, 5)
    assert _child(tmp_path, data, root, library, point, 2) == -signal.SIGKILL
    _each_kept(shots, root, library, point)
    assert _child(tmp_path, data, root, library, "none", 0) == 0
    _each_kept(shots, root, library, "the end")
    assert sorted(p.name for p in root.iterdir()) == []  # all delivered, all let go
    held = sorted(sha256(p) for p in _library(library))
    assert held == sorted(shots.values())  # each once


def _child(tmp_path: Path, data: Path, root: Path, library: Path, point: str, n: int) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    args = [str(data), str(root), str(library), point, str(n)]
    with (tmp_path / "child.log").open("ab") as log:
        # forked: the points it patches are module attributes, looked up at each call
        return forked.run(
            args, module="tests.support.tidyfault_child",
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log, timeout=120, check=False,
        ).returncode  # fmt: skip


def _each_kept(shots: dict[str, str], root: Path, library: Path, after: str) -> None:
    """Every photo's bytes in the folder, or in the library (read back now)."""
    held = {sha256(p) for p in _library(library)}
    for name, digest in shots.items():
        here = (root / name).exists() and sha256(root / name) == digest
        assert here or digest in held, f"{name} is in neither after a kill at {after}"
