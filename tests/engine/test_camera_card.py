"""A camera card is kept whole in a library, so `add --run card.zip && rm card.zip` is
safe (issue 79, items 4 and 5): RAW files of many makes, XMP and AAE sidecars, a Live
Photo's HEIC and its HEVC MOV (``hvc1``, its index last, as an iPhone writes it) under
one name, a PDF and a note, each byte for byte, the run's exit 0; with `--media-only`
the others are left out by the person's choice (still 0) and the report says so; a
library keeps every common video container as it is. Real zips, real media by PyAV and
pillow-heif, the engine run by the CLI."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo, make_video
from tests.archive.test_archive_reader import flip_byte_in_entry
from tests.media.test_camera_raw import hevc_clip, video_tag
from tests.support.camera_raw import raw_files, sidecar_files

ENV = {
    "FERRYMAN_SPACE_FLOOR": "0",
    "FERRYMAN_POLL_SECONDS": "0.05",
    "FERRYMAN_CONFIG": None,
    "FERRYMAN_MEDIA__LIBRARY_CONVERT": None,  # the default: originals kept
    "FERRYMAN_LIBRARY_LAYOUT": None,  # the default layout: names kept
    "FERRYMAN_LIBRARY_MEDIA_ONLY": None,  # the default: every file kept
    "COLUMNS": "200",
}


def cli(data: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data), *args], env=ENV)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def card(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A phone's and a camera's card as one zip: name in the zip -> bytes."""
    made = tmp_path / "made"
    made.mkdir()
    heic = made / "IMG_0201.HEIC"
    pillow_heif.from_pillow(Image.open(make_photo(made / "p.jpg", 2))).save(heic, quality=60)
    files = {
        "DCIM/100CANON/IMG_0100.JPG": make_photo(made / "a.jpg", 1).read_bytes(),
        "DCIM/100APPLE/IMG_0201.HEIC": heic.read_bytes(),
        "DCIM/100APPLE/IMG_0201.MOV": hevc_clip(made / "live.mov", "mov", tag="hvc1").read_bytes(),
        "Documents/manual.pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        "notes.txt": b"shot on the ridge, 6 am\n",
    }
    for name, data in raw_files().items():
        files[f"DCIM/RAW/{name}"] = data
    for name, data in sidecar_files().items():  # an edit's AAE beside its iPhone photo
        files[f"DCIM/{'100APPLE' if name.endswith('.AAE') else 'RAW'}/{name}"] = data
    path = tmp_path / "card.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path, files


def library_files(library: Path) -> dict[str, bytes]:
    return {
        p.relative_to(library).as_posix(): p.read_bytes()
        for p in library.rglob("*")
        if p.is_file() and ".ferryman" not in p.parts
    }


def report(data: Path, job: int) -> dict[str, Any]:
    shown = cli(data, "report", str(job), "--json")
    assert shown.exit_code == 0, shown.output
    found: dict[str, Any] = json.loads(shown.output)
    return found


def test_a_card_is_kept_whole_byte_for_byte_and_the_run_exits_0(tmp_path: Path) -> None:
    zipped, files = card(tmp_path)
    library = tmp_path / "Library"
    ran = cli(tmp_path / "data", "add", "--run", "--to", f"library:{library}", str(zipped))
    assert ran.exit_code == 0, ran.output  # so `&& rm card.zip` is safe
    kept = library_files(library)
    by_content = {digest(data): name for name, data in kept.items()}
    for name, data in files.items():
        assert digest(data) in by_content, f"{name} is not in the library: {sorted(kept)}"
        assert Path(by_content[digest(data)]).name == Path(name).name, "its name changed"
    live = sorted(n for n in kept if Path(n).stem == "IMG_0201")
    assert sorted(Path(n).suffix for n in live) == [".AAE", ".HEIC", ".MOV"]
    assert len({Path(n).parent for n in live}) == 1  # side by side, one name
    mov = next(n for n in live if n.endswith(".MOV"))
    assert video_tag(library / mov) == ("hevc", "hvc1")


def test_media_only_leaves_the_rest_out_by_choice_and_says_so(tmp_path: Path) -> None:
    zipped, _ = card(tmp_path)
    library, data = tmp_path / "Library", tmp_path / "data"
    ran = cli(data, "add", "--run", "--media-only", "--to", f"library:{library}", str(zipped))
    assert ran.exit_code == 0, ran.output  # left out by the person's own choice
    kept = {Path(n).name for n in library_files(library)}
    assert kept == {"IMG_0100.JPG", "IMG_0201.HEIC", "IMG_0201.MOV"}
    items = {i["path"]: i for i in report(data, 1)["items"]}
    assert items["DCIM/RAW/IMG_0101.CR2"]["state"] == "skipped"
    assert items["DCIM/RAW/IMG_0101.CR2"]["reason"] == "camera_raw"
    assert items["Documents/manual.pdf"]["reason"] == "not_media"


def test_a_job_with_a_file_not_delivered_does_not_exit_0(tmp_path: Path) -> None:
    """The other side of `&& rm`: a file that could not be kept (a zip entry whose
    bytes were damaged in the zip: it fails to read) makes the run's exit 1, whatever
    else was kept. (An MP4 that is none is kept as it is: a library decodes nothing.)"""
    zipped = tmp_path / "card.zip"
    broken = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 12
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("IMG_0101.CR2", raw_files()["IMG_0101.CR2"])
        zf.writestr("clip.mp4", broken)
        zf.write(make_photo(tmp_path / "p3.jpg", 3), "p3.jpg")
    flip_byte_in_entry(zipped, "p3.jpg", 900)
    library = tmp_path / "L"
    ran = cli(tmp_path / "data", "add", "--run", "--to", f"library:{library}", str(zipped))
    assert ran.exit_code == 1, ran.output
    kept = {Path(name).name: data for name, data in library_files(library).items()}
    assert kept["clip.mp4"] == broken and "IMG_0101.CR2" in kept and "p3.jpg" not in kept


@pytest.mark.parametrize(
    ("name", "container", "options"),
    [
        ("IMG_0301.MOV", "mov", {"faststart": False}),  # a camera's: its index last
        ("clip.mp4", "mp4", {"faststart": False}),
        ("00001.MTS", "mts", {}),
        ("VID_0302.3gp", "3gp", {"acodec": None}),
        ("MVI_0303.AVI", "avi", {"vcodec": "mpeg4", "acodec": None}),
        ("clip.mkv", "mkv", {}),
        ("clip.webm", "webm", {}),
    ],
)
def test_a_library_keeps_every_common_video_container_as_it_is(
    tmp_path: Path, name: str, container: str, options: dict[str, Any]
) -> None:
    source = make_video(tmp_path / "in" / name, 3, seconds=0.4, container=container, **options)
    library = tmp_path / "Library"
    ran = cli(tmp_path / "data", "add", "--run", "--to", f"library:{library}", str(source))
    assert ran.exit_code == 0, ran.output
    kept = library_files(library)
    assert list(kept) == [f"{name}"] or [Path(n).name for n in kept] == [name], kept
    assert digest(next(iter(kept.values()))) == digest(source.read_bytes())
