"""A Google Takeout delivered to a library as the photos it holds (issue 81, item 3):
a generated two-part export (``takeout-…-001.zip``, ``-002.zip``: one job) with
sidecars in every naming variant, a photo in its year folder and in an album, a Live
Photo's HEIC and clip, an album's ``metadata.json``, a sidecar in the other part than
its photo. Every photo's modified time is its sidecar's ``photoTakenTime``, every
place and description is in its ``photo.jpg.xmp``, no sidecar is delivered, no photo
twice; the album layout and ``{photo_album}`` too. Real zips, real JPEG, HEIC and MP4
made here, the engine run by the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from ferryman.frontdoors.cli.root import app
from ferryman.samples import make_photo, make_video
from ferryman.sinks.xmp import coordinate_degrees

ENV = {
    "FERRYMAN_SPACE_FLOOR": "0",
    "FERRYMAN_POLL_SECONDS": "0.05",
    "FERRYMAN_CONFIG": None,
    "FERRYMAN_MEDIA__LIBRARY_CONVERT": None,
    "FERRYMAN_LIBRARY_MEDIA_ONLY": None,
    "COLUMNS": "200",
}
PHOTOS = "Takeout/Google Photos"
LONG = "Screenshot_20190317-101112_Some Really Long App Name"  # + .jpg: 56 characters
DOTTED = "PXL_20220405_090123740.PORTRAIT"  # a dot in its stem, edited in Italian
FORTY = "PXL_20210101_120000000_Stockholm_OldTown"  # + .jpg.s: cut at 46
NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
}


@dataclass(frozen=True)
class Photo:
    """One photo of the export: its path in it, its sidecar's name (None: it has none of
    its own), the part holding each, and what its sidecar says."""

    path: str
    sidecar: str | None
    taken: int
    place: tuple[float, float, float] | None = None
    description: str = ""
    part: int = 1
    sidecar_part: int = 1
    seed: int = 0
    told_by: str | None = None  # a sidecar of another file tells it (an edit, a clip)
    albums: tuple[str, ...] = ()  # also in these albums' folders (in the last part)
    exif_place: bool = False  # its place in ``geoDataExif`` alone (``geoData`` 0, 0)


def photos() -> list[Photo]:
    day = 86_400
    year19, year20, year21 = (
        f"{PHOTOS}/Photos from 2019",
        f"{PHOTOS}/Photos from 2020",
        (f"{PHOTOS}/Photos from 2021"),
    )
    return [
        Photo(f"{year19}/IMG_0001.jpg", "IMG_0001.jpg.json", 1546344000,
              (48.858370, 2.294481, 35.0), "Eiffel tower", seed=1, albums=("Paris trip",)),
        Photo(f"{year19}/IMG_0002.HEIC", "IMG_0002.HEIC.supplemental-metadata.json",
              1546344000 + day, (51.500729, -0.124625, 12.5), seed=2),
        Photo(f"{year19}/IMG_0002.MP4", None, 1546344000 + day,
              (51.500729, -0.124625, 12.5), seed=3,
              told_by="IMG_0002.HEIC.supplemental-metadata.json"),
        Photo(f"{year19}/IMG_0003.jpg", "IMG_0003.jpg.json", 1546344000 + 2 * day,
              (-33.856784, 151.215297, 4.0), seed=4, albums=("Sydney 2019", "Travels")),
        Photo(f"{year19}/IMG_0003(1).jpg", "IMG_0003.jpg(1).json", 1546344000 + 3 * day,
              (-22.951916, -43.210487, 700.0), "Cristo", seed=5),
        Photo(f"{year20}/{LONG}.jpg", f"{LONG}.jpg"[:46] + ".json", 1577880000,
              (40.689247, -74.044502, -2.0), seed=6),
        Photo(f"{year20}/IMG_0004.jpg", "IMG_0004.jpg.json", 1577880000 + day,
              (35.658581, 139.745433, 150.0), seed=7),
        Photo(f"{year20}/IMG_0004-edited.jpg", None, 1577880000 + day,
              (35.658581, 139.745433, 150.0), seed=8, told_by="IMG_0004.jpg.json"),
        Photo(f"{year20}/IMG_0005.jpg", "IMG_0005.jpg.supplemental-metad.json",
              1577880000 + 2 * day, (64.146582, -21.942635, 20.0), seed=9),
        Photo(f"{year20}/VID_0006.mp4", "VID_0006.mp4.suppl.json", 1577880000 + 3 * day,
              (-13.163141, -72.544963, 2430.0), "Machu Picchu", seed=10),
        Photo(f"{year21}/IMG_0007(2).jpg", "IMG_0007.jpg.supplemental-metadata(2).json",
              1609502400, (55.752023, 37.617499, 150.0), seed=11),
        Photo(f"{year21}/IMG_0008.jpg", "IMG_0008.json", 1609502400 + day, None,
              "no place (0.0/0.0)", seed=12),
        Photo(f"{year21}/{LONG}(1).jpg", (f"{LONG}.jpg.supplemental-metadata")[:46] + "(1).json",
              1609502400 + 2 * day, (41.890210, 12.492231, 21.0), seed=13),
        Photo(f"{year21}/IMG_0010.jpg", "IMG_0010.jpg.json", 1609502400 + 3 * day,
              (30.328960, 35.444832, 900.0), part=2, sidecar_part=1, seed=14),
        Photo(f"{PHOTOS}/Paris trip/IMG_0011.jpg", "IMG_0011.jpg.json", 1609502400 + 4 * day,
              (48.860611, 2.337644, 40.0), "Louvre", part=2, sidecar_part=2, seed=15),
        Photo(f"{year21}/IMG_0012(1).jpg", "IMG_0012(1).jpg.json", 1609502400 + 5 * day,
              (37.971532, 23.725749, 150.0), seed=16),  # a counter left where it was
        Photo(f"{year21}/{DOTTED}.jpg", f"{DOTTED}.jpg.json", 1609502400 + 6 * day,
              (52.373169, 4.890660, 2.0), seed=17),
        Photo(f"{year21}/{DOTTED}-modificato.jpg", None, 1609502400 + 6 * day,
              (52.373169, 4.890660, 2.0), seed=18, told_by=f"{DOTTED}.jpg.json"),
        Photo(f"{year21}/{FORTY}.jpg", f"{FORTY}.jpg.supplemental-metadata"[:46] + ".json",
              1609502400 + 7 * day, (59.329323, 18.068581, 28.0), seed=19),  # ….s.json
        Photo(f"{year20}/Café Ñandú.jpg", "Café Ñandú.jpg.json", 1577880000 + 4 * day,
              (-34.603722, -58.381592, 25.0), "Buenos Aires", seed=20),
        Photo(f"{year20}/IMG_0013.jpg", "IMG_0013.jpg.json", 1577880000 + 5 * day,
              (45.440847, 12.315515, 1.0), seed=21, exif_place=True),
    ]  # fmt: skip


def sidecar(photo: Photo) -> bytes:
    lat, lon, alt = photo.place or (0.0, 0.0, 0.0)
    place = {"latitude": lat, "longitude": lon, "altitude": alt}
    none = {"latitude": 0.0, "longitude": 0.0, "altitude": 0.0}
    return json.dumps(
        {
            "title": Path(photo.path).name,
            "description": photo.description if photo.place or photo.description else "",
            "photoTakenTime": {"timestamp": str(photo.taken), "formatted": "…"},
            "creationTime": {"timestamp": "1700000000"},
            "geoData": none if photo.exif_place else place,
            "geoDataExif": place if photo.exif_place else none,
        },
        ensure_ascii=False,
    ).encode()


def media_bytes(photo: Photo, made: Path) -> bytes:
    suffix = Path(photo.path).suffix.lower()
    if suffix == ".heic":
        heic = made / f"{photo.seed}.heic"
        picture = Image.open(make_photo(made / f"{photo.seed}.jpg", photo.seed))
        pillow_heif.from_pillow(picture).save(heic, quality=50)
        return heic.read_bytes()
    if suffix == ".mp4":
        return make_video(made / f"{photo.seed}.mp4", photo.seed, seconds=0.4).read_bytes()
    return make_photo(made / f"{photo.seed}.jpg", photo.seed, size=(96, 64)).read_bytes()


def takeout(folder: Path, *, parts_of: int = 2) -> tuple[list[Path], dict[str, bytes]]:
    """The two parts (one: all in ``-001.zip``), and each photo's bytes by its path in
    the export."""
    parts, content = takeout_files(folder, parts_of=parts_of)
    zips = []
    for number, files in parts.items():
        path = folder / f"takeout-20240115T101112Z-00{number}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in sorted(files.items()):
                zf.writestr(name, data)
        zips.append(path)
    return zips, content


def takeout_files(
    folder: Path, *, parts_of: int = 2
) -> tuple[dict[int, dict[str, bytes]], dict[str, bytes]]:
    """The files of each part (by its number: path in the export → bytes; made in
    ``folder/made``), and each photo's bytes by its path in the export."""
    made = folder / "made"
    made.mkdir(parents=True)
    every = photos()
    content = {p.path: media_bytes(p, made) for p in every}
    parts: dict[int, dict[str, bytes]] = {n: {} for n in range(1, parts_of + 1)}
    last = min(2, parts_of)
    for photo in every:
        parts[min(photo.part, last)][photo.path] = content[photo.path]
        if photo.sidecar is not None:
            where = f"{photo.path.rpartition('/')[0]}/{photo.sidecar}"
            parts[min(photo.sidecar_part, last)][where] = sidecar(photo)
    for photo in every:  # also in albums, with the album's own sidecar and metadata
        name = Path(photo.path).name
        for title in photo.albums:
            album = f"{PHOTOS}/{title}"
            parts[last][f"{album}/{name}"] = content[photo.path]
            parts[last][f"{album}/{name}.json"] = sidecar(photo)
            parts[last][f"{album}/metadata.json"] = json.dumps({"title": title}).encode()
    parts[1]["Takeout/archive_browser.html"] = b"<html>Your Takeout</html>\n"
    return parts, content


def cli(data: Path, layout: str | None, *args: str) -> Result:
    env = {**ENV, "FERRYMAN_LIBRARY_LAYOUT": layout}
    return CliRunner().invoke(app, ["--data-dir", str(data), *args], env=env)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("layout", "given"),
    [
        (None, "first part"),
        ("albums", "second part"),
        ("{source}/{photo_album}/{name}", "folder"),
        ("{date:%Y}/{name}", "unpacked"),
    ],
)
def test_a_takeout_is_delivered_with_every_date_and_place_right(
    tmp_path: Path, layout: str | None, given: str
) -> None:
    """Given its first part, any part, the folder holding them, or unpacked: one job."""
    zips, content = takeout(tmp_path / "in")
    for made in (tmp_path / "in" / "made").iterdir():
        made.unlink()
    (tmp_path / "in" / "made").rmdir()
    if given == "unpacked":
        for part in zips:
            with zipfile.ZipFile(part) as zf:
                zf.extractall(tmp_path / "unpacked")
    where = {
        "first part": zips[0],
        "second part": zips[1],
        "folder": tmp_path / "in",
        "unpacked": tmp_path / "unpacked",
    }[given]
    library = tmp_path / "Library"
    ran = cli(tmp_path / "data", layout, "add", "--run", "--to", f"library:{library}", str(where))
    assert ran.exit_code == 0, ran.output
    by_digest, names = check_library(library, content, layout)
    assert "archive_browser.html" in names  # not a photo, kept as a library keeps all
    eiffel = by_digest[digest(content[photos()[0].path])][0]
    links = sorted(p for p in library.rglob("*") if p.is_symlink())
    if layout is None:  # its year folder's copy kept, each album's a link to it
        assert eiffel.parent.name == "Photos from 2019"
        wanted = []
        for photo in photos():
            kept = by_digest[digest(content[photo.path])][0]
            for title in photo.albums:
                for name in (kept.name, f"{kept.name}.xmp"):
                    shown = kept.parent.parent / title / name
                    assert os.readlink(shown) == f"../{kept.parent.name}/{name}", shown
                    assert shown.resolve() == (kept.parent / name).resolve()
                    wanted.append(shown)
        assert links == sorted(wanted) and len(links) == 6  # 3 albums' links, no other
        louvre = by_digest[digest(content[photos()[14].path])][0]
        assert louvre.parent.name == "Paris trip" and not louvre.is_symlink()  # only there
    elif layout == "{source}/{photo_album}/{name}":  # kept in its first album, linked
        sydney = by_digest[digest(content[photos()[3].path])][0]
        assert sydney.parent.name == "Sydney 2019"
        travels = sydney.parent.parent / "Travels"
        assert os.readlink(travels / sydney.name) == f"../Sydney 2019/{sydney.name}"
        assert len(links) == 2, links  # the photo and its XMP
    else:
        assert links == []  # the layout names no album's folder
    if layout == "{source}/{photo_album}/{name}":
        assert eiffel.parent.name == "Paris trip"  # {photo_album}
        alone = by_digest[digest(content[photos()[1].path])][0]  # in no album: no folder
        assert len(alone.relative_to(library).parts) == 2, alone


def check_library(
    library: Path,
    content: dict[str, bytes],
    layout: str | None = None,
    every: list[Photo] | None = None,
) -> tuple[dict[str, list[Path]], list[str]]:
    """Every photo of ``every`` (all of ``photos()``) in ``library`` once, its modified
    time its sidecar's, its place and description in its XMP; no sidecar delivered.
    The library's files by digest, and their names."""
    every = photos() if every is None else every
    files = [
        p
        for p in library.rglob("*")
        if p.is_file() and not p.is_symlink() and ".ferryman" not in p.parts
    ]
    names = [p.name for p in files]
    sidecars = [n for n in names if n.endswith(".json") and n != "manifest.json"]  # ferryman's
    assert not sidecars, names  # no sidecar delivered
    by_digest: dict[str, list[Path]] = {}
    for path in files:
        by_digest.setdefault(digest(path.read_bytes()), []).append(path)
    right = 0
    for photo in every:
        found = by_digest.get(digest(content[photo.path]), [])
        assert len(found) == 1, f"{photo.path}: {len(found)} copies in the library"
        kept = found[0]
        assert kept.name == Path(photo.path).name
        assert int(os.stat(kept).st_mtime) == photo.taken, photo.path  # its date
        if layout == "{date:%Y}/{name}":  # and {date}'s
            assert kept.parent.name == str(datetime.fromtimestamp(photo.taken).year)
        xmp = kept.with_name(f"{kept.name}.xmp")
        if photo.place is None:
            assert not xmp.exists() or "GPS" not in xmp.read_text(), photo.path
            right += 1
            continue
        assert xmp.is_file(), f"{photo.path}: no XMP beside {kept}"
        description = ET.parse(xmp).getroot().find(".//rdf:Description", NS)
        assert description is not None
        said = {key.rpartition("}")[2]: value for key, value in description.attrib.items()}
        lat, lon, alt = photo.place
        assert coordinate_degrees(said["GPSLatitude"]) == pytest.approx(lat, abs=1e-6)
        assert coordinate_degrees(said["GPSLongitude"]) == pytest.approx(lon, abs=1e-6)
        num, den = said["GPSAltitude"].split("/")
        assert int(num) / int(den) == pytest.approx(abs(alt)) and said["GPSAltitudeRef"] == (
            "1" if alt < 0 else "0"
        )
        when = datetime.fromtimestamp(photo.taken, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert said["DateTimeOriginal"] == when
        text = description.findtext(".//dc:description/rdf:Alt/rdf:li", namespaces=NS)
        assert (text or "") == photo.description, photo.path
        right += 1
    assert right == len(every)  # 100 % of dates and places
    return by_digest, names


def test_a_later_export_grows_the_first_ones_folder_and_stores_nothing_twice(
    tmp_path: Path,
) -> None:
    """A person exports again a year on: the same photos and a new one, in a zip of
    another name. Its job is `Takeout (2)`, but its files go where the first export's
    are, `Takeout/…`: the photos already there (the same bytes at the same place) are
    not stored again, the new one joins them, and the albums' links are as before."""
    zips, content = takeout(tmp_path / "in", parts_of=1)
    library = tmp_path / "Library"
    first = cli(tmp_path / "data", None, "add", "--run", "--to", f"library:{library}", str(zips[0]))
    assert first.exit_code == 0, first.output
    links = sorted(str(p.relative_to(library)) for p in library.rglob("*") if p.is_symlink())
    later = tmp_path / "in" / "takeout-20250301T090000Z-001.zip"
    later.write_bytes(zips[0].read_bytes())
    new = Photo(f"{PHOTOS}/Photos from 2025/IMG_9001.jpg", "IMG_9001.jpg.json", 1740820000,
                (59.3293, 18.0686, 28.0), "Stockholm", seed=91)  # fmt: skip
    content[new.path] = make_photo(tmp_path / "new.jpg", new.seed, size=(96, 64)).read_bytes()
    with zipfile.ZipFile(later, "a") as zf:
        zf.writestr(new.path, content[new.path])
        zf.writestr(f"{PHOTOS}/Photos from 2025/{new.sidecar}", sidecar(new))
    again = cli(tmp_path / "data", None, "add", "--run", "--to", f"library:{library}", str(later))
    assert again.exit_code == 0, again.output
    assert "Takeout (2): delivered" in again.output
    there = len(photos()) + 1  # and archive_browser.html, kept as a library keeps all
    assert f"({there} already there)" in again.output, again.output
    by_digest, _ = check_library(library, content, None, [*photos(), new])  # each once
    kept = by_digest[digest(content[new.path])][0]
    assert kept.relative_to(library).parts[:3] == ("Takeout", "Google Photos", "Photos from 2025")
    assert not (library / "Takeout (2)").exists()
    assert links == sorted(
        str(p.relative_to(library)) for p in library.rglob("*") if p.is_symlink()
    )
