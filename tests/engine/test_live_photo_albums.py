"""A Live Photo (an iPhone's ``IMG_0001.HEIC`` and its ``IMG_0001.MOV``) stays whole in a
library's ``albums`` layout (issue 79, item 4): an album's boundary falling between its
two files moves the still to the next album beside its clip, and another ``IMG_0001``
in the same album leaves the pair one name. Real files (pillow-heif's HEIC, PyAV's HEVC
MOV tagged ``hvc1``, ferryman.samples' JPEGs), a real zip, the engine run by the CLI."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pillow_heif
from PIL import Image
from typer.testing import CliRunner

from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo
from tests.media.test_camera_raw import hevc_clip

ENV = {
    "FERRYMAN_SPACE_FLOOR": "0",
    "FERRYMAN_POLL_SECONDS": "0.05",
    "FERRYMAN_CONFIG": None,
    "FERRYMAN_MEDIA__LIBRARY_CONVERT": None,  # originals kept
    "FERRYMAN_LIBRARY_LAYOUT": "albums",
    "FERRYMAN_ALBUM_SIZE": "3",
    "FERRYMAN_LIBRARY_MEDIA_ONLY": None,
}


def _heic(made: Path, seed: int) -> bytes:
    path = made / f"live-{seed}.heic"
    still = Image.open(make_photo(made / f"still-{seed}.jpg", seed))
    pillow_heif.from_pillow(still).save(path, quality=60)
    return path.read_bytes()


def _zip(tmp_path: Path, files: dict[str, bytes]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "roll.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _albums(library: Path) -> list[dict[str, str]]:
    """Each album folder's files: name -> sha256, in album order."""
    manifests = sorted(library.rglob("manifest.json"), key=lambda p: p.parent.name)
    found = []
    for manifest in manifests:
        names = [e["file"] for e in json.loads(manifest.read_text())["items"]]
        found.append({n: hashlib.sha256((manifest.parent / n).read_bytes()).hexdigest()
                      for n in names})  # fmt: skip
    return found


def _run(tmp_path: Path, files: dict[str, bytes]) -> list[dict[str, str]]:
    library = tmp_path / "Library"
    args = ["--data-dir", str(tmp_path / "data"), "add", "--run", "--to", f"library:{library}"]
    ran = CliRunner().invoke(app, [*args, str(_zip(tmp_path, files))], env=ENV)
    assert ran.exit_code == 0, ran.output
    return _albums(library)


def test_a_live_photo_at_an_album_boundary_goes_whole_into_one_album(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    heic, mov = _heic(made, 3), hevc_clip(made / "live.mov", "mov", tag="hvc1").read_bytes()
    files = {
        "DCIM/IMG_0001.JPG": make_photo(made / "a.jpg", 1).read_bytes(),
        "DCIM/IMG_0002.JPG": make_photo(made / "b.jpg", 2).read_bytes(),
        "DCIM/IMG_0003.HEIC": heic,  # the third: album 1's last place, its clip the fourth
        "DCIM/IMG_0003.MOV": mov,
        "DCIM/IMG_0004.JPG": make_photo(made / "c.jpg", 4).read_bytes(),
    }
    albums = _run(tmp_path, files)
    assert [sorted(a) for a in albums] == [
        ["IMG_0001.JPG", "IMG_0002.JPG"],
        ["IMG_0003.HEIC", "IMG_0003.MOV", "IMG_0004.JPG"],
    ]
    kept = {h for album in albums for h in album.values()}
    assert kept == {hashlib.sha256(data).hexdigest() for data in files.values()}


def test_a_live_photo_keeps_one_name_beside_another_file_of_its_name(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    files = {
        "Edited/IMG_0005.HEIC": _heic(made, 5),  # another IMG_0005, no clip: not the pair's
        "DCIM/IMG_0005.HEIC": _heic(made, 6),
        "DCIM/IMG_0005.MOV": hevc_clip(made / "live.mov", "mov", tag="hvc1").read_bytes(),
    }
    (album,) = _run(tmp_path, files)
    digest = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    named = {h: n for n, h in album.items()}
    still, clip = named[digest["DCIM/IMG_0005.HEIC"]], named[digest["DCIM/IMG_0005.MOV"]]
    assert Path(still).stem == Path(clip).stem, album
    assert named[digest["Edited/IMG_0005.HEIC"]] != still


def test_a_live_photo_keeps_one_name_in_a_folder_where_its_still_s_name_is_taken(
    tmp_path: Path,
) -> None:
    """A templated layout (folders of names, not albums): a folder of the library holds
    an ``IMG_0007.HEIC`` of other bytes (an earlier roll's); a Live Photo of that name
    coming next takes ``IMG_0007 (2)`` for its still and its clip alike."""
    made = tmp_path / "made"
    made.mkdir()
    library = tmp_path / "Library"
    env = ENV | {"FERRYMAN_LIBRARY_LAYOUT": "Camera/{name}"}
    earlier = {
        "DCIM/IMG_0007.HEIC": _heic(made, 7),
        "DCIM/IMG_0009.JPG": make_photo(made / "other.jpg", 9).read_bytes(),
    }
    later = {
        "DCIM/IMG_0007.HEIC": _heic(made, 8),
        "DCIM/IMG_0007.MOV": hevc_clip(made / "live.mov", "mov", tag="hvc1").read_bytes(),
    }
    for n, files in enumerate((earlier, later)):
        args = ["--data-dir", str(tmp_path / "data"), "add", "--run", "--to", f"library:{library}"]
        zipped = _zip(tmp_path / f"in-{n}", files)
        ran = CliRunner().invoke(app, [*args, str(zipped)], env=env)
        assert ran.exit_code == 0, ran.output
    kept = {p.name: p.read_bytes() for p in (library / "Camera").iterdir()}
    assert kept == {
        "IMG_0009.JPG": earlier["DCIM/IMG_0009.JPG"],
        "IMG_0007.HEIC": earlier["DCIM/IMG_0007.HEIC"],
        "IMG_0007 (2).HEIC": later["DCIM/IMG_0007.HEIC"],
        "IMG_0007 (2).MOV": later["DCIM/IMG_0007.MOV"],
    }
