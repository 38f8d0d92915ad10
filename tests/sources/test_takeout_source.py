"""A Takeout's parts as the local source streams them (issue 81, item 3): one stream of
both parts, indexes consecutive and the same on a second read (a resumed job skips by
them); a gap in the numbering named; a watch's new part read alone (its sidecars
paired, nothing of the next part waited for)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from ferryman.errors import FerrymanError
from ferryman.sources.local import iter_local
from ferryman.sources.local_path import Below
from ferryman.sources.takeout import DUPLICATE, SIDECAR
from tests.engine.test_takeout import photos, takeout


def listing(
    path: Path, below: Below | None = None
) -> list[tuple[int, str, str | None, float | None]]:
    with iter_local(path, below=below) as entries:
        return [
            (e.info.index, e.info.path, e.skip, e.facts.taken if e.facts else None) for e in entries
        ]


def test_both_parts_are_one_stream_with_stable_indexes(tmp_path: Path) -> None:
    zips, _ = takeout(tmp_path)
    first = listing(zips[0])
    assert first == listing(zips[1]) == listing(zips[0])  # any part; the same each time
    assert [index for index, *_ in first] == list(range(len(first)))
    told = {path: taken for _, path, skip, taken in first if skip is None}
    for photo in photos():
        assert told[photo.path] == photo.taken, photo.path
    skipped = {path: skip for _, path, skip, _ in first if skip is not None}
    assert skipped["Takeout/Google Photos/Paris trip/IMG_0001.jpg"] == DUPLICATE
    assert skipped["Takeout/Google Photos/Paris trip/metadata.json"] == SIDECAR
    assert all(skip == SIDECAR for path, skip in skipped.items() if path.endswith(".json")), skipped
    assert not [p for p in told if p.endswith(".json")]


def test_a_missing_part_is_named(tmp_path: Path) -> None:
    zips, _ = takeout(tmp_path)
    zips[1].rename(zips[1].with_name("takeout-20240115T101112Z-003.zip"))
    with pytest.raises(FerrymanError) as caught, iter_local(zips[0]) as entries:
        list(entries)
    assert caught.value.code == "archive.volume_missing"
    assert "takeout-20240115T101112Z-002.zip" in caught.value.message
    # The message says what is missing; its next step, what to do: put it there and
    # retry. It said "add it again" too, which the job already added refuses.
    assert "add it again" not in caught.value.message and "retry" in caught.value.next_step


def test_a_watchs_part_is_read_alone_indexed_with_the_parts_beside_it(tmp_path: Path) -> None:
    """A watch takes a set's parts at one look, each an input of its own: each part's
    entries read, paired with sidecars in the other part and its copies skipped when
    the copy kept is there; a part whose set-mates are not there (gone, late, a link) is
    read with what it holds, no gap refused."""
    zips, _ = takeout(tmp_path)
    seen = os.stat(tmp_path)
    below = Below(tmp_path, seen.st_dev, seen.st_ino)
    alone = listing(zips[1], below)
    told = {path: taken for _, path, skip, taken in alone if skip is None}
    skipped = {path: skip for _, path, skip, _ in alone if skip is not None}
    prefix = f"{zips[1].name}/Takeout/Google Photos"
    louvre = next(p for p in photos() if p.path.endswith("IMG_0011.jpg"))
    petra = next(p for p in photos() if p.path.endswith("IMG_0010.jpg"))
    assert told[f"{prefix}/Paris trip/IMG_0011.jpg"] == louvre.taken  # its sidecar beside it
    assert told[f"{prefix}/Photos from 2021/IMG_0010.jpg"] == petra.taken  # its sidecar: part 1
    assert skipped[f"{prefix}/Paris trip/IMG_0001.jpg"] == DUPLICATE  # its year's copy: part 1
    assert not [p for p in told if p.endswith(".json")]
    first = {path for _, path, skip, _ in listing(zips[0], below) if skip is None}
    assert all(p.startswith(f"{zips[0].name}/") for p in first)  # its own entries only
    elsewhere = tmp_path / "elsewhere.zip"  # a link in a watched folder is never followed
    zips[0].rename(elsewhere)
    zips[0].symlink_to(elsewhere)
    lone = {path: taken for _, path, skip, taken in listing(zips[1], below) if skip is None}
    assert lone[f"{prefix}/Photos from 2021/IMG_0010.jpg"] is None
    assert f"{prefix}/Paris trip/IMG_0001.jpg" in lone


def test_a_takeout_inside_an_archive_is_copied_out_and_indexed(tmp_path: Path) -> None:
    """A part read from a copy (inside another archive, or a remote part not read by
    Range): its sidecars paired all the same."""
    zips, _ = takeout(tmp_path / "made", parts_of=1)
    outer = tmp_path / "backup.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as zf:
        zf.write(zips[0], f"Google/{zips[0].name}")
    read = listing(outer)
    told = {path.split(".zip/", 1)[1]: taken for _, path, skip, taken in read if skip is None}
    for photo in photos():
        assert told[photo.path] == photo.taken, photo.path
    assert not [p for p in told if p.endswith(".json")]
