"""A part of a set added after (or before) its first part is that set's input: the
same job ("already job N"), not a second delivery of every file of the set."""

from __future__ import annotations

from pathlib import Path

from ferryman.engine.ops.intake import understand
from tests.support.zipped import zip_bytes as _zip


def test_each_part_of_a_takeout_is_the_set_s_one_input(tmp_path: Path) -> None:
    photos = "Takeout/Google Photos/Photos from 2019/"
    one = tmp_path / "takeout-20261130T000000Z-001.zip"
    two = tmp_path / "takeout-20261130T000000Z-002.zip"
    one.write_bytes(_zip({photos + "a.jpg": b"a" * 50}))
    two.write_bytes(_zip({photos + "a.jpg.json": b'{"title": "a.jpg"}'}))
    first, second = (understand(p, dest=f"library:{tmp_path / 'lib'}") for p in (one, two))
    assert first.dedupe_key is not None and first.dedupe_key == second.dedupe_key
    assert first.name == second.name == "takeout-20261130T000000Z-001"
    other = understand(two, dest=f"library:{tmp_path / 'elsewhere'}")
    assert other.dedupe_key != first.dedupe_key  # another place is another job


def test_each_volume_of_a_split_archive_is_the_set_s_one_input(tmp_path: Path) -> None:
    whole = _zip({"a.txt": b"x" * 4000, "b.txt": b"hello"})
    (tmp_path / "set.zip.001").write_bytes(whole[:2000])
    (tmp_path / "set.zip.002").write_bytes(whole[2000:])
    dest = f"library:{tmp_path / 'lib'}"
    first, second = (understand(tmp_path / f"set.zip.00{n}", dest=dest) for n in (1, 2))
    assert first.dedupe_key is not None and first.dedupe_key == second.dedupe_key
    assert first.name == second.name == "set"


def test_a_lone_takeout_zip_keeps_its_own_identity(tmp_path: Path) -> None:
    lone = tmp_path / "takeout-20261130T000000Z-001.zip"
    lone.write_bytes(_zip({"Takeout/a.jpg": b"a"}))
    other = tmp_path / "takeout-20250101T000000Z-001.zip"  # another export
    other.write_bytes(_zip({"Takeout/a.jpg": b"a"}))
    dest = f"library:{tmp_path / 'lib'}"
    assert understand(lone, dest=dest).dedupe_key != understand(other, dest=dest).dedupe_key
