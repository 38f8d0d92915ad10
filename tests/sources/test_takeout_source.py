"""A Takeout's parts as the local source streams them (issue 81, item 3): one stream of
both parts, indexes consecutive and the same on a second read (a resumed job skips by
them); a gap in the numbering named; a watch's new part read alone (its sidecars
paired, nothing of the next part waited for)."""

from __future__ import annotations

import os
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


def test_a_watchs_new_part_is_read_alone(tmp_path: Path) -> None:
    zips, _ = takeout(tmp_path)
    seen = os.stat(tmp_path)
    alone = listing(zips[1], Below(tmp_path, seen.st_dev, seen.st_ino))
    told = {path: taken for _, path, skip, taken in alone if skip is None}
    prefix = f"{zips[1].name}/Takeout/Google Photos"
    louvre = next(p for p in photos() if p.path.endswith("IMG_0011.jpg"))
    assert told[f"{prefix}/Paris trip/IMG_0011.jpg"] == louvre.taken  # its sidecar beside it
    assert told[f"{prefix}/Photos from 2021/IMG_0010.jpg"] is None  # its sidecar: part 1
    assert f"{prefix}/Paris trip/IMG_0001.jpg" in told  # its year's copy is in part 1
    assert not [p for p in told if p.endswith(".json")]
