"""A second Google Takeout export of photos the first put in the library already, with
a place and a description corrected in Google Photos between the two: the XMP that
ferryman wrote beside each is rewritten with the new facts (the photo itself never),
one it did not write (a person's, from digiKam) stays byte for byte, and one whose
facts did not change is not written again. Real zips made by ``test_takeout``'s
generator, the engine run by the CLI."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import pytest

from ferryman.model import MediaInfo
from ferryman.sinks.xmp import xmp_text
from tests.engine.test_takeout import (
    PHOTOS,
    Photo,
    check_library,
    cli,
    digest,
    photos,
    sidecar,
    takeout,
)

# A person's sidecar, as digiKam (Exiv2) writes one: their own rating and tags.
FOREIGN = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
    ' xmp:Rating="4"/>\n'
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>\n'
).encode()


def _corrected(every: list[Photo]) -> list[Photo]:
    """The export a year on: the Eiffel tower photo (in an album too) and IMG_0004 (and
    its edited copy, which its sidecar tells) with another place and description."""
    moved = {
        "IMG_0001.jpg.json": ((48.853, 2.3499, 33.0), "Notre-Dame, not the tower"),
        "IMG_0004.jpg.json": ((35.6595, 139.7005, 38.0), "Shibuya"),
    }
    return [
        dataclasses.replace(p, place=moved[told][0], description=moved[told][1])
        if (told := p.sidecar or p.told_by or "") in moved
        else p
        for p in every
    ]


def _export_again(first: Path, later: Path, every: list[Photo]) -> None:
    """``first`` written again as ``later``: the same photos' bytes, each sidecar as
    ``every`` says it now (its own and an album's copy of it)."""
    told = {}
    for photo in every:
        if photo.sidecar is not None:
            told[f"{photo.path.rpartition('/')[0]}/{photo.sidecar}"] = sidecar(photo)
        for title in photo.albums:
            told[f"{PHOTOS}/{title}/{Path(photo.path).name}.json"] = sidecar(photo)
    with zipfile.ZipFile(first) as old, zipfile.ZipFile(later, "w") as new:
        for name in old.namelist():
            new.writestr(name, told.get(name, old.read(name)))


def test_a_later_export_rewrites_ferrymans_xmp_and_leaves_a_persons(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    zips, content = takeout(tmp_path / "in", parts_of=1)
    library = tmp_path / "Library"
    to = f"library:{library}"
    first = cli(tmp_path / "data", None, "add", "--run", "--to", to, str(zips[0]))
    assert first.exit_code == 0, first.output
    by_digest, _ = check_library(library, content)
    kept = {Path(p.path).name: by_digest[digest(content[p.path])][0] for p in photos()}
    xmp = {name: path.with_name(f"{path.name}.xmp") for name, path in kept.items()}
    xmp["IMG_0004.jpg"].write_bytes(FOREIGN)  # the person's own, over ferryman's
    photo_stat = {name: path.stat() for name, path in kept.items()}
    same_stat = xmp["IMG_0003.jpg"].stat()
    assert 'x:xmptk="ferryman"' in xmp["IMG_0001.jpg"].read_text()  # ferryman's

    corrected = _corrected(photos())
    later = tmp_path / "in" / "takeout-20250301T090000Z-001.zip"
    _export_again(zips[0], later, corrected)
    again = cli(tmp_path / "data", None, "add", "--run", "--to", to, str(later))
    assert again.exit_code == 0, again.output
    assert f"({len(photos()) + 1} already there)" in again.output, again.output

    # Every photo once, its XMP as the later export tells it: but for the person's.
    ours = [p for p in corrected if Path(p.path).name != "IMG_0004.jpg"]
    check_library(library, content, None, ours)
    assert xmp["IMG_0004.jpg"].read_bytes() == FOREIGN  # byte for byte
    notre_dame = xmp["IMG_0001.jpg"].read_text()
    assert "Notre-Dame, not the tower" in notre_dame and "Eiffel" not in notre_dame
    album_link = library / "Takeout/Google Photos/Paris trip/IMG_0001.jpg.xmp"
    assert album_link.is_symlink() and album_link.read_text() == notre_dame
    eiffel = next(p for p in corrected if Path(p.path).name == "IMG_0001.jpg")
    assert notre_dame == xmp_text(
        MediaInfo(
            taken=eiffel.taken,
            latitude=eiffel.place[0] if eiffel.place else None,
            longitude=eiffel.place[1] if eiffel.place else None,
            altitude=eiffel.place[2] if eiffel.place else None,
            description=eiffel.description,
        )
    )  # whole: written as a first delivery writes it, nothing of the old left in it
    # The photos never rewritten; a sidecar whose facts did not change not written again.
    for name, path in kept.items():
        now = path.stat()
        assert (now.st_ino, now.st_mtime_ns, now.st_size) == (
            photo_stat[name].st_ino,
            photo_stat[name].st_mtime_ns,
            photo_stat[name].st_size,
        ), name
    assert xmp["IMG_0003.jpg"].stat().st_ino == same_stat.st_ino
    # No temporary file left beside them; the job's stage is gone.
    assert not [p for p in library.rglob("*") if p.name.startswith(".") and p.is_file()]
    assert not list((library / ".ferryman").rglob("*.partial"))
    left = [r.getMessage() for r in caplog.records if "not written by ferryman" in r.getMessage()]
    assert len(left) == 1 and "IMG_0004.jpg.xmp: " in left[0], left  # the log says so
    assert json.loads(cli(tmp_path / "data", None, "report", "2", "--json").stdout)["state"] == (
        "done"
    )
