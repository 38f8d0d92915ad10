"""A folder watch takes a camera's own photos and clips whose names Python's
``mimetypes`` (and a system's mime.types) does not know: a 3D camera's MPO, Insta360's
INSP, GoPro MAX's 360, a camcorder's AVCHD MTS and M2TS, MOD, TOD, VOB, MXF, DJI's OSV,
Canon's Cinema RAW Light CRM. They were never listed: never backed up, silently. Into a
library they keep their names (an INSP was delivered as ``….insp.jpg``, lost to its
app) and bytes; real files, the real engine."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image

from ferryman.config import Settings, load_settings
from ferryman.samples import make_photo
from ferryman.samples.media import make_video
from ferryman.sources.listers.folder import FolderLister
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

OLD = time.time() - 3600
NAMES = [
    "DSCF0001.MPO", "L0001.JPS", "IMG_20240101_120000_00_002.insp", "GS010001.360",
    "00001.MTS", "00002.M2TS", "MOV001.MOD", "MOV002.TOD", "VTS_01_1.VOB", "C0001.MXF",
    "CAM_0001.OSV", "A001C002.CRM", "VID_20240101_120000_00_001.insv",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _originals(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite pins older tests to a converting, media-only library (conftest); these
    test the default: every file kept as it is."""
    for name in ("FERRYMAN_MEDIA__LIBRARY_CONVERT", "FERRYMAN_LIBRARY_MEDIA_ONLY"):
        monkeypatch.delenv(name, raising=False)


def _settled(path: Path) -> str:
    os.utime(path, (OLD, OLD))
    return sha256(path)


def test_a_watch_lists_a_camera_s_own_photos_and_clips(settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "DCIM"
    root.mkdir()
    for n, name in enumerate(NAMES):
        (root / name).write_bytes(os.urandom(2000 + n))
        _settled(root / name)
    listed = {e.title for e in FolderLister().list_now(str(root), settings)}
    assert listed == set(NAMES)


async def test_into_a_library_they_are_delivered_under_their_own_names(
    store: Store, tmp_path: Path
) -> None:
    values = {"data_dir": tmp_path / "data", "poll_seconds": 0.05, "space_floor": 0}
    settings = load_settings(None, values)
    root = tmp_path / "DCIM"
    root.mkdir()
    made: dict[str, str] = {}
    insp = make_photo(root / "IMG_20240101_120000_00_002.insp", 1)  # a JPEG, by its bytes
    made[insp.name] = _settled(insp)
    left, right = (Image.new("RGB", (64, 48), colour) for colour in ("red", "blue"))
    left.save(root / "DSCF0001.MPO", format="MPO", save_all=True, append_images=[right])
    made["DSCF0001.MPO"] = _settled(root / "DSCF0001.MPO")
    single = make_photo(root / "DSCF0002.MPO", 2)  # an MPO whose bytes say JPEG alone
    made[single.name] = _settled(single)
    clip = make_video(root / "00001.MTS", 3, seconds=0.3, container="mpegts", acodec=None)
    made[clip.name] = _settled(clip)
    gopro = make_video(root / "GS010001.360", 4, seconds=0.3, container="mp4", acodec=None)
    made[gopro.name] = _settled(gopro)
    await store.add_watch(
        kind="folder", source=str(root), dest="library:", every_seconds=3600.0,
        since="all", next_check_at=0.0,
    )  # fmt: skip
    await run_until_idle(store, settings)
    delivered = {Path(f["path"]).name: f["disk_sha256"] for f in library_files(settings.library)}
    assert delivered == made
