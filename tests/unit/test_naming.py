"""The naming rules alone (issue 35, point 8): a title once, a link's output only where
two results clash, one count, a stream named by its address, an archive's top folder.
Through the engine: tests/engine/test_naming_engine.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman import naming
from ferryman.links.profile import Output, Profile
from ferryman.model import Item, ItemState, MediaInfo, MediaKind, Plan
from ferryman.naming import (
    delivered_name,
    free_job_name,
    link_title,
    top_folder,
    unique_name,
    zip_member,
)


def test_a_free_name_is_kept() -> None:
    assert free_job_name("Sunset over the bay", ["Harbour"], "720p, mute") == (
        "Sunset over the bay"
    )


def test_a_clash_with_another_output_of_the_link_takes_the_output_before_a_count() -> None:
    taken = ["Sunset over the bay"]
    assert free_job_name("Sunset over the bay", taken, "720p, mute", siblings=taken) == (
        "Sunset over the bay (720p, mute)"
    )
    taken.append("Sunset over the bay (720p, mute)")
    assert free_job_name("Sunset over the bay", taken, "720p, mute", siblings=taken) == (
        "Sunset over the bay (2)"
    )


def test_another_input_of_the_same_title_is_counted_not_given_its_output() -> None:
    """Two different pages both as 1080p: "(1080p)" would tell them apart by nothing."""
    assert free_job_name("Sunset over the bay", ["Sunset over the bay"], "1080p") == (
        "Sunset over the bay (2)"
    )


def test_two_inputs_of_one_name_are_counted_once() -> None:
    """Never `X (1) (2)` or `X (2) (2)`: a name that already ends with a count counts on."""
    assert free_job_name("Trip", ["Trip"]) == "Trip (2)"
    assert free_job_name("Trip", ["Trip", "Trip (2)"]) == "Trip (3)"
    assert free_job_name("Trip (2)", ["Trip", "Trip (2)"]) == "Trip (3)"
    assert free_job_name("trip", ["TRIP"]) == "trip (2)"  # one folder on a phone's disk


def test_the_generic_extractors_number_goes_when_one_video_is_delivered() -> None:
    page = "http://127.0.0.1:8080/sunset.html"
    assert link_title("Sunset over the bay (1)", "sunset-1", page, alone=True) == (
        "Sunset over the bay"
    )
    # Several delivered: the numbers tell them apart.
    assert link_title("Two clips (2)", "two-2", page, alone=False) == "Two clips (2)"
    # A title whose count is its own (the ID says nothing of it) keeps it.
    assert link_title("Symphony (9)", "dQw4w9WgXcQ", page, alone=True) == "Symphony (9)"


@pytest.mark.parametrize(
    ("title", "url", "named"),
    [
        (
            "stream",
            "https://cdn.example.com/sunset-over-the-bay/stream.m3u8",
            "sunset-over-the-bay",
        ),
        ("master", "https://cdn.example.com/vod/harbour/hls/720/master.m3u8", "harbour"),
        ("index", "https://cdn.example.com/hls/index.m3u8", "cdn.example.com"),
        ("", "https://cdn.example.com/stream.mpd", "cdn.example.com"),
        ("Harbour at dusk", "https://cdn.example.com/hls/master.m3u8", "Harbour at dusk"),
        ("clip", "https://example.com/clip.mp4", "clip"),  # a file's own name says something
    ],
)
def test_a_stream_is_named_by_its_address_not_its_manifest(
    title: str, url: str, named: str
) -> None:
    assert link_title(title, "x", url, alone=True) == named


def test_the_profile_says_how_two_results_differ_in_a_few_words() -> None:
    assert Profile(Output.MUTE, 720).variant() == "720p, mute"
    assert Profile().variant() == "1080p"
    assert Profile(Output.VIDEO, None).variant() == "best"
    assert Profile(Output.MP3, None, 128).variant() == "MP3 128 kbps"
    assert Profile(Output.OPUS, None).variant() == "Opus 128 kbps"
    assert Profile(Output.M4A, None, None, True).variant() == "M4A, playlist"


def test_one_top_folder() -> None:
    assert top_folder(["Holiday 2024/a.jpg", "Holiday 2024/day 2/b.jpg"]) == "Holiday 2024"
    assert top_folder(["Holiday 2024/a.jpg", "b.jpg"]) is None
    assert top_folder(["Holiday 2024/a.jpg", "Other/b.jpg"]) is None
    assert top_folder([]) is None


def test_a_zip_member_keeps_its_inputs_folders() -> None:
    assert zip_member("Holiday 2024/day 2/beach.MOV", "beach.mp4") == "Holiday 2024/day 2/beach.mp4"
    assert zip_member("clip.mp4", "clip.mp4") == "clip.mp4"
    assert zip_member("../../etc/x.jpg", "x.jpg") == "etc/x.jpg"  # nothing climbs out


def test_unique_names_keep_their_folders() -> None:
    used: set[str] = set()
    assert unique_name("Holiday 2024/a.jpg", used) == "Holiday 2024/a.jpg"
    assert unique_name("Holiday 2024/A.jpg", used) == "Holiday 2024/A (2).jpg"
    assert unique_name("a.jpg", used) == "a.jpg"
    assert unique_name("a.jpg", used) == "a (2).jpg"


def test_a_zips_listing_confirms_the_first_batchs_folder(tmp_path: Path) -> None:
    """Folder entries, macOS clutter and `./` do not count; a file at the top does."""
    import zipfile

    from ferryman.engine.read.folder_name import FolderName, zip_names

    def listed(*names: str) -> FolderName:
        path = tmp_path / f"{len(names)}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name in names:
                archive.writestr(name, b"" if name.endswith("/") else b"x")
        return FolderName(zip_names(path))

    first = ["Holiday 2024/a.jpg"]
    tidy = listed("Holiday 2024/", "./Holiday 2024/a.jpg", "__MACOSX/Holiday 2024/._a.jpg")
    assert tidy.chosen(first, ended=False) == "Holiday 2024"
    assert listed("Holiday 2024/a.jpg", "readme.txt").chosen(first, ended=False) is None
    assert FolderName(None).chosen(first, ended=False) is None  # a tar: not known yet
    assert FolderName(None).chosen(first, ended=True) == "Holiday 2024"  # read whole
    assert zip_names(tmp_path) is None  # not a zip


def _picture(name: str, container: str, work: str | None = None) -> Item:
    return Item(
        id=1, job_id=1, seq=1, source_path=f"in/{name}", kind=MediaKind.PHOTO,
        state=ItemState.GROUPED, size=1, sha256=None, work_path=work or f"/w/000001-{name}",
        plan=Plan.AS_IS, reason=None, error_code=None, attempts=0, album_id=1,
        media=MediaInfo(container=container),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "container", "delivered"),
    [
        ("x.jpg", "png", "x.png"),  # a PNG named as a JPEG
        ("x.PNG", "webp", "x.webp"),
        ("IMG_1.heic", "jpeg", "IMG_1.jpg"),
        ("x.jpeg", "jpeg", "x.jpeg"),  # its own suffix, spelt another way: kept
        ("scan.TIFF", "tiff", "scan.TIFF"),
        ("x.mpo", "mpo", "x.mpo"),
        ("DSCF0001.MPO", "jpeg", "DSCF0001.MPO"),  # a camera's own names for a JPEG: kept
        ("IMG_20240101_00_002.insp", "jpeg", "IMG_20240101_00_002.insp"),
        ("L.jps", "jpeg", "L.jps"),
        ("scan.2024", "png", "scan.2024.png"),  # not a suffix: part of the stem
        ("IMG_0042", "jpeg", "IMG_0042.jpg"),
        ("clip.m4v", "mov", "clip.m4v"),  # videos: the container decides only when converted
    ],
)
def test_a_picture_carries_the_suffix_of_its_format(
    name: str, container: str, delivered: str
) -> None:
    assert delivered_name(_picture(name, container), None) == delivered


def test_a_converted_picture_is_named_by_its_output() -> None:
    converted = _picture("x.png", "jpeg", work="/w/000001-x.png.photo.jpg")
    assert delivered_name(converted, None) == "x.jpg"


def test_a_scans_pages_are_named_as_pages() -> None:
    scan = _picture("scan.tif", "tiff")
    scan.parts = [f"/w/000001-scan.page{n}.jpg" for n in (1, 2, 3)]
    assert [delivered_name(scan, n) for n in (1, 2, 3)] == [
        f"scan (page {n}).jpg" for n in (1, 2, 3)
    ]


@pytest.mark.parametrize(
    "path",
    ["a.jpg", "dir/a.JPG", "a", "a.", "a..b", "x.tar.gz", "dir/", "dir/.", "", "/", "..",
     "a/..", "scan.2024", "/w/000001-a.mp4", "d.o.t.s", "über.jpg"],
)  # fmt: skip
def test_names_are_split_as_pathlib_splits_them(path: str) -> None:
    """``delivered_name`` splits names by hand (several per file delivered): as pathlib."""
    name = naming._name(path)
    assert name == Path(path).name
    if "/" not in name:
        assert naming._split(name) == (Path(name).stem, Path(name).suffix)
