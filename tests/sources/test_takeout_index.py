"""A Takeout's listing indexed (issue 81, item 3), as a property over generated exports:
photos in year folders and albums, each with its sidecar in any of Google's naming
variants (cut at 46 or 47, ``.supplemental-metadata``, a counter moved), an edited copy
beside some: every photo is kept once (its year folder's copy), told its own sidecar's
time and every album it is in; every sidecar and every other copy is skipped; an edited
copy is kept, told its original's."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.model import PhotoFacts
from ferryman.sources.takeout import DUPLICATE, SIDECAR, Listed, indexed
from tests.sources.test_takeout_names import _EXTS, _STEMS, counted, google_sidecar

TOTAL = settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ROOT = "Takeout/Google Photos"
_PHOTO = st.tuples(
    _STEMS,
    _EXTS,
    st.integers(0, 2),  # its counter
    st.booleans(),  # .supplemental-metadata
    st.sampled_from([46, 47]),
    st.sampled_from(["2019", "2020"]),
    st.sets(st.sampled_from(["Paris", "Family"])),
    st.booleans(),  # an edited copy beside it
)


@TOTAL
@given(st.lists(_PHOTO, min_size=1, max_size=6, unique_by=lambda p: p[0].casefold()))
def test_every_photo_is_kept_once_with_its_own_sidecars_time_and_albums(
    photos: list[tuple[str, str, int, bool, int, str, set[str], bool]],
) -> None:
    listed: list[Listed] = []
    parsed: dict[str, PhotoFacts | None] = {}
    expected: dict[str, tuple[float, tuple[str, ...]]] = {}
    copies: list[str] = []
    sidecars: list[str] = []
    by_folder: dict[str, set[str]] = {}
    for number, (stem, ext, counter, sup, cut, year, albums, edited) in enumerate(photos):
        original = f"{stem}{ext}"
        name = counted(original, counter)
        sidecar = google_sidecar(original, counter, sup, cut)
        taken = 1_500_000_000.0 + number
        folders = [f"{ROOT}/Photos from {year}", *(f"{ROOT}/{a}" for a in sorted(albums))]
        for folder in folders:
            if sidecar in by_folder.setdefault(folder, set()):
                return  # two names cut to one: Google would have counted them apart
            by_folder[folder].add(sidecar)
            listed.append(Listed(f"{folder}/{name}", 100 + number, f"crc32:{number:08x}"))
            listed.append(Listed(f"{folder}/{sidecar}", 300, f"crc32:s{number}"))
            parsed[f"{folder}/{sidecar}"] = PhotoFacts(taken=taken)
            sidecars.append(f"{folder}/{sidecar}")
        copies += [f"{folder}/{name}" for folder in folders[1:]]
        expected[f"{folders[0]}/{name}"] = (taken, tuple(sorted(albums)))
        if edited:
            stem_of, _, suffix = name.rpartition(".")
            copy = f"{folders[0]}/{stem_of}-edited.{suffix}"
            listed.append(Listed(copy, 5000 + number, f"crc32:e{number}"))
            expected[copy] = (taken, ())
    listed.append(Listed(f"{ROOT}/Paris/metadata.json", 40, "crc32:m"))
    parsed[f"{ROOT}/Paris/metadata.json"] = None
    index = indexed(listed, parsed)
    for path, (taken, albums) in expected.items():
        assert path not in index.skip, path
        facts = index.facts.get(path)
        assert facts is not None and facts.taken == taken, (path, facts)
        if not path.removesuffix(path.rpartition(".")[2]).endswith("-edited."):
            assert facts.albums == albums, path
    for path in copies:
        assert index.skip.get(path) == DUPLICATE, path
    for path in sidecars:
        assert index.skip.get(path) == SIDECAR, path
    assert index.skip[f"{ROOT}/Paris/metadata.json"] == SIDECAR


def test_a_sidecar_that_cannot_be_read_is_delivered_not_said_to_have_told_its_photo() -> None:
    folder = f"{ROOT}/Photos from 2019"
    listed = [
        Listed(f"{folder}/a.jpg", 100, "crc32:1"),
        Listed(f"{folder}/a.jpg.json", 9, "crc32:2"),  # "{not json": None when parsed
        Listed(f"{folder}/b.jpg", 101, "crc32:3"),
        Listed(f"{folder}/b.jpg.json", 50, "crc32:4"),
    ]
    parsed = {f"{folder}/a.jpg.json": None, f"{folder}/b.jpg.json": PhotoFacts(taken=2e9)}
    index = indexed(listed, parsed)
    assert index.skip == {f"{folder}/b.jpg.json": SIDECAR}
    assert f"{folder}/a.jpg" not in index.facts
    assert index.facts[f"{folder}/b.jpg"] == PhotoFacts(taken=2e9)
