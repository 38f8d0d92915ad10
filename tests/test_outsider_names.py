"""Names other people's tools write, through the whole engine: long entry names in
multi-byte scripts (a Japanese phone's zip) and the first volume of a split set
(``trip.part1.rar``, ``trip.7z.001``). Archives are made here by zipfile, ``zip``
and 7zz; the rules alone: tests/test_naming.py, tests/test_archive_names.py."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ferryman.config import Settings
from ferryman.engine import intake
from ferryman.fsutil import safe_name
from ferryman.model import ItemState, JobState
from ferryman.samples import make_photo_set
from ferryman.store import Store
from tests.engine_helpers import library_files, run_until_idle, sha256


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
