"""Entry-name sanitising, per-archive uniqueness and junk detection."""

from __future__ import annotations

import ntpath
import os
import posixpath
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.archive.names import (
    MAX_COMPONENT_BYTES,
    MAX_DEPTH,
    MAX_PATH_BYTES,
    UniqueNames,
    is_junk,
    sanitize_path,
)


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("photos/a.jpg", "photos/a.jpg"),
        ("../../etc/passwd", "etc/passwd"),
        ("/abs/x", "abs/x"),
        ("///abs//x", "abs/x"),
        ("a/../b", "a/b"),
        ("./a/./b/.", "a/b"),
        ("a//b", "a/b"),
        ("C:\\Windows\\x.exe", "Windows/x.exe"),
        ("c:\\x", "x"),
        ("C:relative.txt", "relative.txt"),
        ("C:/x", "x"),
        ("../C:/x", "x"),  # a drive uncovered by dropping ".." goes too
        ("a/C:/b", "a/b"),
        ("0:30 intro.mp4", "0_30 intro.mp4"),  # Windows reads any "X:" as a drive
        ("\U0001f600:x", "\U0001f600_x"),  # a drive to Python's ntpath
        ("\\\\srv\\share\\f", "f"),
        ("\\\\srv\\share\\dir\\f.txt", "dir/f.txt"),
        ("//srv/share/f", "f"),
        ("\\\\?\\C:\\x.txt", "x.txt"),
        ("dir\\sub\\f.txt", "dir/sub/f.txt"),
        ("a\x00b.txt", "a_b.txt"),
        ("tab\there\nnl\x7f\x85.txt", "tab_here_nl__.txt"),
        ("name.", "name"),
        ("name. . ", "name"),
        ("dir. /f.txt ", "dir/f.txt"),
        ("... /  /f", "f"),
        (" lead", " lead"),  # leading spaces are legal everywhere
        ("\udcff\udcfe.txt", "\ufffd\ufffd.txt"),
        ("cafe\u0301", "caf\u00e9"),  # NFC
        ("", "entry-7"),
        ("..", "entry-7"),
        ("/", "entry-7"),
        ("\\\\srv\\share", "entry-7"),
        ("C:", "entry-7"),
        (". . .", "entry-7"),
    ],
)
def test_sanitize_table(raw: str, expected: str) -> None:
    assert sanitize_path(raw, 7) == expected


def test_long_multibyte_name_keeps_extension() -> None:
    raw = "é" * 150 + ".jpeg"  # 305 bytes
    out = sanitize_path(raw, 0)
    assert nbytes(out) <= MAX_COMPONENT_BYTES
    assert out.endswith(".jpeg")
    assert set(out[: -len(".jpeg")]) == {"é"}
    assert nbytes(out) >= MAX_COMPONENT_BYTES - 1  # only the half character is lost


def test_long_name_cut_never_splits_a_character() -> None:
    raw = "a" + "😀" * 80  # 321 bytes, 4-byte characters, no extension
    out = sanitize_path(raw, 0)
    assert out == "a" + "😀" * 63  # 253 bytes: a 64th emoji would not fit
    assert out.encode("utf-8").decode("utf-8") == out


def test_long_extension_is_part_of_the_name() -> None:
    raw = "x." + "y" * 300
    out = sanitize_path(raw, 0)
    assert out == raw[:MAX_COMPONENT_BYTES]


def test_deep_path_keeps_top_and_bottom() -> None:
    parts = [f"d{i}" for i in range(100)] + ["f.txt"]
    out = sanitize_path("/".join(parts), 0).split("/")
    assert len(out) == MAX_DEPTH
    assert out[:32] == parts[:32]
    assert out[-32:] == parts[-32:]


def test_long_path_drops_middle_folders() -> None:
    parts = [f"{i:02d}" + "d" * 250 for i in range(30)] + ["file.txt"]
    out = sanitize_path("/".join(parts), 0)
    assert nbytes(out) <= MAX_PATH_BYTES
    kept = out.split("/")
    assert kept[0] == parts[0]
    assert kept[-1] == "file.txt"
    assert kept[-2] == parts[-2]


def test_unique_names_renames_collisions() -> None:
    names = UniqueNames()
    got = [names.claim(p) for p in ["photo.jpg", "photo.jpg", "photo.jpg", "PHOTO.JPG"]]
    assert got == ["photo.jpg", "photo (2).jpg", "photo (3).jpg", "PHOTO (4).JPG"]


def test_unique_names_case_insensitive() -> None:
    names = UniqueNames()
    assert names.claim("a.jpg") == "a.jpg"
    assert names.claim("A.JPG") == "A (2).JPG"


def test_unique_names_nfc_and_nfd_collide() -> None:
    names = UniqueNames()
    assert names.claim("caf\u00e9.txt") == "caf\u00e9.txt"
    assert names.claim("cafe\u0301.txt") == "caf\u00e9 (2).txt"


def test_unique_names_skips_names_already_taken() -> None:
    names = UniqueNames()
    assert names.claim("a.txt") == "a.txt"
    assert names.claim("a (2).txt") == "a (2).txt"
    assert names.claim("a.txt") == "a (3).txt"


def test_unique_names_file_then_folder() -> None:
    names = UniqueNames()
    assert names.claim("x") == "x"
    assert names.claim("x/y") == "x (2)/y"
    assert names.claim("X/z") == "x (2)/z"  # the rest of the folder follows it
    assert names.claim("x (2)/y") == "x (2)/y (2)"


def test_unique_names_folder_then_file() -> None:
    names = UniqueNames()
    assert names.claim("a/b.txt") == "a/b.txt"
    assert names.claim("A") == "A (2)"
    assert names.claim("a/b.txt/c") == "a/b.txt (2)/c"


def test_unique_names_sanitises() -> None:
    names = UniqueNames()
    assert names.claim("../x/./y") == "x/y"
    assert names.claim("") == "entry-1"


def test_unique_names_suffix_respects_component_limit() -> None:
    names = UniqueNames()
    long = "n" * 250 + ".jpg"
    assert names.claim(long) == long
    second = names.claim(long)
    assert second.endswith(" (2).jpg")
    assert nbytes(second) <= MAX_COMPONENT_BYTES
    assert sanitize_path(second, 0) == second


def test_unique_names_suffix_respects_path_limit() -> None:
    folders = "/".join(f"{i:02d}" + "d" * 251 for i in range(16))  # 16 x 253 bytes
    name = "n" * 28 + ".jpg"  # fills the path to exactly 4096 bytes
    path = sanitize_path(f"{folders}/{name}", 0)
    assert nbytes(path) == MAX_PATH_BYTES and path.endswith("/" + name)
    names = UniqueNames()
    assert names.claim(path) == path
    second = names.claim(path)  # " (2)" does not fit: the stem gives way
    assert nbytes(second) <= MAX_PATH_BYTES
    assert second.rsplit("/", 1)[0] == path.rsplit("/", 1)[0]
    assert second.endswith("/" + "n" * 24 + " (2).jpg")
    assert sanitize_path(second, 0) == second


def test_unique_names_moves_up_when_nothing_fits() -> None:
    folders = "/".join(["d" * 254] + [f"{i:02d}" + "d" * 253 for i in range(15)])
    path = sanitize_path(f"{folders}/x", 0)
    assert nbytes(path) == MAX_PATH_BYTES
    names = UniqueNames()
    assert names.claim(path) == path
    second = names.claim(path)  # "x (2)" cannot fit in that folder at all
    assert nbytes(second) <= MAX_PATH_BYTES
    assert second == path.rsplit("/", 2)[0] + "/x"
    assert sanitize_path(second, 0) == second


def test_unique_names_renamed_folder_keeps_limits() -> None:
    names = UniqueNames()
    folder = "f" * MAX_COMPONENT_BYTES
    assert names.claim(folder) == folder
    got = names.claim(f"{folder}/a.txt")
    assert got == "f" * (MAX_COMPONENT_BYTES - 4) + " (2)/a.txt"


def test_unique_names_deep_hostile_paths_stay_fast() -> None:
    deep = "/".join(["d" * 60] * 64)
    names = UniqueNames()
    got = {names.claim(deep) for _ in range(3_000)}
    assert len(got) == 3_000


def test_unique_names_many_duplicates_stay_fast() -> None:
    names = UniqueNames()
    got = {names.claim("same.txt") for _ in range(20_000)}
    assert len(got) == 20_000


@pytest.mark.parametrize(
    "path",
    [
        "__MACOSX/photo.jpg",
        "album/__MACOSX/._photo.jpg",
        "album/__macosx/x",
        "._photo.jpg",
        "album/._IMG_0001.JPG",
        ".DS_Store",
        "a/b/.ds_store",
        "Thumbs.db",
        "x/THUMBS.DB",
        "ehthumbs.db",
        "Desktop.ini",
        ".Spotlight-V100/Store-V2/x",
        ".Trashes/501/a.jpg",
        ".fseventsd/0001",
        "$RECYCLE.BIN/S-1-5/a.jpg",
        "System Volume Information/IndexerVolumeGuid",
        "d\\__MACOSX\\f",
    ],
)
def test_junk(path: str) -> None:
    assert is_junk(path)


@pytest.mark.parametrize(
    "path",
    ["photo.jpg", "._", "a._b", "MACOSX/x", "thumbs.db.jpg", "my.DS_Store.txt", "Trashes/x", ""],
)
def test_not_junk(path: str) -> None:
    assert not is_junk(path)


# --- properties -------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "/",
        "\\",
        "//",
        "\\\\",
        ".",
        "..",
        "...",
        " ",
        ". ",
        "C:",
        "c:\\",
        "\\\\srv\\share\\",
        "\x00",
        "\x1f",
        "\x7f",
        "\udcff",
        "\ud83d",
        "e\u0301",
        "\u00e9",
        ".jpg",
        "é" * 130,
        "😀" * 70,
        "a" * 260,
        "dir/" * 40,
    ]
)
_ANY_CHAR = st.characters(exclude_categories=())  # surrogates included
_HOSTILE = st.lists(st.one_of(_FRAGMENTS, st.text(_ANY_CHAR, max_size=8)), max_size=30).map("".join)
_BASE = os.path.join(os.sep, "nonexistent-ferryman-base", "dir")


def _check_safe(out: str) -> None:
    assert out
    out.encode("utf-8")  # raises on a surrogate
    assert not out.startswith("/")
    assert "\\" not in out
    assert not any(unicodedata.category(ch) == "Cc" for ch in out)
    assert nbytes(out) <= MAX_PATH_BYTES
    parts = out.split("/")
    assert len(parts) <= MAX_DEPTH
    for part in parts:
        assert part not in ("", ".", "..")
        assert part.strip(" .")
        assert part == part.rstrip(" .")
        assert nbytes(part) <= MAX_COMPONENT_BYTES
        assert part[1:2] != ":"  # no drive, as ntpath or Windows would read it
    assert unicodedata.normalize("NFC", out) == out
    base = os.path.realpath(_BASE)
    joined = os.path.realpath(os.path.join(base, out))
    assert os.path.commonpath([base, joined]) == base and joined != base
    win_base = "C:\\base"
    win = ntpath.normpath(ntpath.join(win_base, out))
    assert win.startswith(win_base + "\\")
    assert posixpath.normpath(out) == out


@settings(max_examples=400, deadline=None)
@given(_HOSTILE, st.integers(min_value=0, max_value=10**6))
def test_sanitize_properties(raw: str, index: int) -> None:
    out = sanitize_path(raw, index)
    _check_safe(out)
    assert sanitize_path(out, index + 1) == out  # idempotent


@settings(max_examples=300, deadline=None)
@given(st.text(_ANY_CHAR))
def test_sanitize_properties_plain_text(raw: str) -> None:
    out = sanitize_path(raw, 0)
    _check_safe(out)
    assert sanitize_path(out, 0) == out


_NAME_PARTS = st.sampled_from(
    ["a", "A", "b", "a.jpg", "A.JPG", "a (2).jpg", "caf\u00e9", "cafe\u0301"]
)
_NAMES = st.lists(st.lists(_NAME_PARTS, min_size=1, max_size=4).map("/".join), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_NAMES.map("\\".join), _HOSTILE, _NAMES.map("/".join)), max_size=30))
def test_unique_names_properties(raw_names: list[str]) -> None:
    names = UniqueNames()
    got = [names.claim(raw) for raw in raw_names]
    _check_unique(got)
    for g in got:
        _check_safe(g)


def _check_unique(got: list[str]) -> None:
    keys = [unicodedata.normalize("NFC", g.casefold()) for g in got]
    assert len(set(keys)) == len(keys)
    folders = {"/".join(k.split("/")[:i]) for k in keys for i in range(1, k.count("/") + 1)}
    assert not folders & set(keys)  # no result is a folder of another
    for g in got:
        assert sanitize_path(g, 0) == g


@settings(max_examples=200, deadline=None)
@given(_NAMES)
def test_unique_names_properties_on_clashing_trees(raw_names: list[str]) -> None:
    names = UniqueNames()
    _check_unique([names.claim(raw) for raw in raw_names])


# Paths at the length limits, so renames must shorten stems or move files up.
_LONG_PARTS = st.sampled_from(
    ["d" * 250, "D" * 250, "é" * 127, "x", "X", "x.jpg", "n" * 240 + ".jpg"]
)
_LONG_NAMES = st.lists(st.lists(_LONG_PARTS, min_size=1, max_size=20).map("/".join), max_size=25)


@settings(max_examples=100, deadline=None)
@given(_LONG_NAMES)
def test_unique_names_properties_at_the_limits(raw_names: list[str]) -> None:
    names = UniqueNames()
    got = [names.claim(raw) for raw in raw_names]
    _check_unique(got)
    for g in got:
        _check_safe(g)
