"""A Takeout photo's albums as links to its one copy (``sinks/album_links``): where each
album shows it under a layout, the links' manifest entries (relative, the XMP's too),
a link never made over a file nor where the filesystem refuses links, and a manifest's
link that would point out of the library refused (``sinks/flat``)."""

from __future__ import annotations

import errno
import os
from datetime import datetime
from pathlib import Path

import pytest

from ferryman.errors import FerrymanError
from ferryman.sinks.album_links import album_paths, item_files, link_entries, make_link, pointed_at
from ferryman.sinks.flat import FlatLibrarySink
from ferryman.sinks.xmp import xmp_name

WHEN = datetime(2019, 1, 1, 12, 0)
SOURCE = "Takeout/Google Photos/Photos from 2019/IMG_0001.jpg"
VALUES = {
    "source": "export",
    "path": "Takeout/Google Photos/Photos from 2019",
    "name": "IMG_0001.jpg",
}


def test_each_album_shows_the_photo_where_the_layout_puts_the_albums_copy() -> None:
    chosen = "export/Takeout/Google Photos/Photos from 2019/IMG_0001.jpg"
    used = {chosen.lower()}
    layout = ("{source}/{path}/{name}", WHEN)
    values = dict(VALUES, name="IMG_0001.jpg", photo_album="Paris")
    paths = album_paths(("Paris", "Trip"), values, SOURCE, chosen, layout, used)
    assert paths == [
        "export/Takeout/Google Photos/Paris/IMG_0001.jpg",
        "export/Takeout/Google Photos/Trip/IMG_0001.jpg",
    ]
    assert album_paths(("Paris",), values, SOURCE, chosen, layout, used) == []  # taken
    by_album = ("{source}/{photo_album}/{name}", WHEN)
    stored = "export/Paris/IMG_0001.jpg"  # its first album's folder
    assert album_paths(("Paris", "Trip"), values, SOURCE, stored, by_album, set()) == [
        "export/Trip/IMG_0001.jpg"
    ]
    by_date = ("{date:%Y}/{name}", WHEN)  # no album's folder: no link
    assert album_paths(("Paris",), values, SOURCE, "2019/IMG_0001.jpg", by_date, set()) == []
    entries = link_entries(stored, ["export/Trip/IMG_0001.jpg"], xmp_name)
    assert entries == [
        {"link": "../Paris/IMG_0001.jpg", "path": "export/Trip/IMG_0001.jpg"},
        {"link": "../Paris/IMG_0001.jpg.xmp", "path": "export/Trip/IMG_0001.jpg.xmp"},
    ]
    assert [pointed_at(e, e["path"]) for e in entries] == [stored, xmp_name(stored)]
    staged = [{"stage": "000", "path": stored}, {"stage": "000.xmp", "path": "x.xmp"}]
    assert item_files([*staged, *entries]) == staged[:1]  # the items' files alone


def test_a_link_is_never_made_over_a_file_nor_where_links_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kept.jpg").write_bytes(b"photo")
    there = tmp_path / "there.jpg"
    there.write_bytes(b"a person's")
    entry = {"link": "kept.jpg", "path": "there.jpg"}
    assert make_link(entry, str(there)) is False
    assert there.read_bytes() == b"a person's" and not there.is_symlink()
    assert make_link({"link": "/etc/passwd", "path": "x.jpg"}, str(tmp_path / "x.jpg")) is False
    assert make_link({"link": "kept.jpg"}, str(tmp_path / "new.jpg")) is True
    assert (tmp_path / "new.jpg").read_bytes() == b"photo"

    def refused(*_: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")  # exFAT's answer

    monkeypatch.setattr(os, "symlink", refused)
    assert make_link({"link": "kept.jpg"}, str(tmp_path / "other.jpg")) is False
    assert not os.path.lexists(tmp_path / "other.jpg")


def test_a_manifests_link_out_of_the_library_is_refused(tmp_path: Path) -> None:
    sink = FlatLibrarySink(tmp_path / "Library", "{source}/{path}/{name}")
    out = {"link": "../../../outside.jpg", "path": "export/Trip/IMG_0001.jpg"}
    with pytest.raises(FerrymanError) as caught:
        sink._inside(pointed_at(out, out["path"]))
    assert caught.value.code == "sink.io"
