"""Multi-volume sets found from names: every style, any volume given, gaps named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.archive.volumes import VolumeSet, find_volumes
from ferryman.errors import FerrymanError


def touch(folder: Path, *names: str) -> list[Path]:
    paths = [folder / n for n in names]
    for p in paths:
        p.write_bytes(b"x")
    return paths


@pytest.mark.parametrize(
    ("names", "first"),
    [
        (["a.part1.rar", "a.part2.rar", "a.part3.rar"], "a.part1.rar"),
        (["a.part01.rar", "a.part02.rar"], "a.part01.rar"),
        (["a.rar", "a.r00", "a.r01"], "a.rar"),
        (["a.7z.001", "a.7z.002", "a.7z.003"], "a.7z.001"),
        (["a.zip.001", "a.zip.002"], "a.zip.001"),
    ],
)
def test_sets_in_reading_order_from_any_volume(
    tmp_path: Path, names: list[str], first: str
) -> None:
    paths = touch(tmp_path, *names)
    for given in paths:
        found = find_volumes(given)
        assert found == VolumeSet(tmp_path / first, tuple(paths)), given.name


def test_spanned_zip_opens_by_its_zip_and_reads_it_last(tmp_path: Path) -> None:
    z01, z02, last = touch(tmp_path, "a.z01", "a.z02", "a.zip")
    for given in (z01, z02, last):
        assert find_volumes(given) == VolumeSet(last, (z01, z02, last))


@pytest.mark.parametrize(
    ("names", "given", "missing"),
    [
        (["a.part1.rar", "a.part3.rar"], "a.part1.rar", "a.part2.rar"),
        (["a.part2.rar", "a.part3.rar"], "a.part3.rar", "a.part1.rar"),
        (["a.7z.001", "a.7z.003"], "a.7z.003", "a.7z.002"),
        (["a.7z.002"], "a.7z.002", "a.7z.001"),
        (["a.rar", "a.r00", "a.r02"], "a.rar", "a.r01"),
        (["a.r00", "a.r01"], "a.r01", "a.rar"),
        (["a.z01", "a.z03", "a.zip"], "a.zip", "a.z02"),
    ],
)
def test_a_gap_names_the_missing_volume(
    tmp_path: Path, names: list[str], given: str, missing: str
) -> None:
    touch(tmp_path, *names)
    with pytest.raises(FerrymanError) as caught:
        find_volumes(tmp_path / given)
    assert caught.value.code == "archive.volume_missing"
    assert missing in caught.value.message


@pytest.mark.parametrize(
    ("names", "given"),
    [
        (["photo.jpg"], "photo.jpg"),
        (["a.rar"], "a.rar"),  # a plain RAR
        (["a.zip"], "a.zip"),
        (["a.7z.001"], "a.7z.001"),  # a lone split part is just a file
        (["a.z01"], "a.z01"),  # no a.zip: not a spanned zip
        (["clip.mp4"], "clip.mp4"),
    ],
)
def test_single_files_are_not_sets(tmp_path: Path, names: list[str], given: str) -> None:
    touch(tmp_path, *names)
    assert find_volumes(tmp_path / given) is None


def test_a_lone_first_rar_part_is_a_set_of_one(tmp_path: Path) -> None:
    (only,) = touch(tmp_path, "a.part1.rar")
    assert find_volumes(only) == VolumeSet(only, (only,))


def test_other_sets_in_the_folder_do_not_mix(tmp_path: Path) -> None:
    a = touch(tmp_path, "a.part1.rar", "a.part2.rar")
    touch(tmp_path, "b.part1.rar", "b.part2.rar", "b.part3.rar", "a.part001.rar")
    assert find_volumes(a[1]) == VolumeSet(a[0], tuple(a))
