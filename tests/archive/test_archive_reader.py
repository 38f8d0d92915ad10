"""``open_archive`` (backend + guard) on real archives made by zipfile/tarfile, zip and tar."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import subprocess
import tarfile
import zipfile
from pathlib import Path

import libarchive
import pytest

from ferryman.archive.names import sanitize_path
from ferryman.archive.opener import open_archive
from ferryman.archive.reader import EntryInfo, EntryType, OpenOptions, detect_format
from ferryman.errors import FerrymanError
from ferryman.sources.local_path import inspect_local

MiB = 1 << 20

# (path, content) in the order the archives store them; sizes cross block boundaries.
FILES: list[tuple[str, bytes]] = [
    ("readme.txt", b"hello ferryman\n" * 40),
    ("photos/img1.jpg", random.Random(1).randbytes(70_000)),
    ("photos/deep/empty.dat", b""),
    ("photos/deep/big.bin", random.Random(2).randbytes(MiB + MiB // 2)),
    ("zz-last.txt", b"the end\n"),
]

Row = tuple[int, str, EntryType, int | None, str]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_rows(files: list[tuple[str, bytes]]) -> list[Row]:
    return [(i, p, EntryType.FILE, len(c), sha(c)) for i, (p, c) in enumerate(files)]


def read_rows(path: Path) -> list[Row]:
    """Every entry of ``path`` with the hash of its bytes, as the engine would read it."""
    rows: list[Row] = []
    with open_archive(path) as reader:
        for entry in reader:
            digest = hashlib.sha256()
            for block in entry.read_blocks():
                digest.update(block)
            info = entry.info
            rows.append((info.index, info.path, info.type, info.size, digest.hexdigest()))
    return rows


def write_tree(root: Path, files: list[tuple[str, bytes]]) -> Path:
    for rel, content in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return root


def make_py_zip(path: Path, files: list[tuple[str, bytes]] = FILES) -> Path:
    """Entries alternate stored/deflated; directory entries (one empty) included."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("photos/", b"")
        zf.writestr("empty-dir/", b"")
        for i, (rel, content) in enumerate(files):
            method = zipfile.ZIP_STORED if i % 2 == 0 else zipfile.ZIP_DEFLATED
            zf.writestr(rel, content, compress_type=method)
    return path


def make_py_tar(path: Path, mode: str, files: list[tuple[str, bytes]] = FILES) -> Path:
    with tarfile.open(path, mode) as tf:
        dir_info = tarfile.TarInfo("photos")
        dir_info.type = tarfile.DIRTYPE
        tf.addfile(dir_info)
        for rel, content in files:
            info = tarfile.TarInfo(rel)
            info.size = len(content)
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(content))
    return path


def flip_byte_in_entry(path: Path, name: str, offset: int) -> None:
    """Damage ``name``'s stored bytes in place (the headers stay intact)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + offset] ^= 0xFF
    path.write_bytes(bytes(data))


# --- round trips -------------------------------------------------------------------


def test_python_zip_stored_and_deflated_round_trip(tmp_path: Path) -> None:
    path = make_py_zip(tmp_path / "a.zip")
    with zipfile.ZipFile(path) as zf:  # the fixture really mixes both methods
        methods = {i.compress_type for i in zf.infolist() if not i.is_dir()}
    assert methods == {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
    assert read_rows(path) == expected_rows(FILES)


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_python_tar_round_trip(tmp_path: Path, mode: str) -> None:
    path = make_py_tar(tmp_path / "a.tar", mode)
    assert read_rows(path) == expected_rows(FILES)


@pytest.mark.parametrize("flag", ["-0", "-6"])
def test_zip_command_round_trip(tmp_path: Path, flag: str) -> None:
    src = write_tree(tmp_path / "src", FILES)
    (src / "empty-dir").mkdir()
    out = tmp_path / "cmd.zip"
    names = ["empty-dir/", "photos/"] + [rel for rel, _ in FILES]
    subprocess.run(["zip", "-q", flag, str(out), *names], cwd=src, check=True)
    with zipfile.ZipFile(out) as zf:  # the tool stored the directory entries too
        assert {"empty-dir/", "photos/"} <= set(zf.namelist())
    assert read_rows(out) == expected_rows(FILES)


@pytest.mark.parametrize("flag", ["-c", "-cz", "-cj", "-cJ"])
def test_tar_command_round_trip(tmp_path: Path, flag: str) -> None:
    src = write_tree(tmp_path / "src", FILES)
    out = tmp_path / "cmd.tar"
    subprocess.run(
        ["tar", flag + "f", str(out), "--no-recursion", "photos", *(r for r, _ in FILES)],
        cwd=src,
        check=True,
    )
    assert read_rows(out) == expected_rows(FILES)


def test_tar_command_dot_prefix_is_stripped_in_tar_order(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", FILES)
    out = tmp_path / "dot.tgz"
    subprocess.run(["tar", "-czf", str(out), "-C", str(src), "."], check=True)
    listed = subprocess.run(["tar", "-tzf", str(out)], capture_output=True, text=True, check=True)
    tar_order = [n.removeprefix("./") for n in listed.stdout.split() if not n.endswith("/")]
    content = dict(FILES)
    rows = read_rows(out)
    assert [r[1] for r in rows] == tar_order
    assert sorted(tar_order) == sorted(content)
    assert [r[4] for r in rows] == [sha(content[p]) for p in tar_order]


def test_zstd_tar_and_7z_are_read(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", FILES)
    tzst = tmp_path / "a.tar.zst"
    names = [r for r, _ in FILES]
    subprocess.run(["tar", "--zstd", "-cf", str(tzst), *names], cwd=src, check=True)
    assert read_rows(tzst) == expected_rows(FILES)
    seven = tmp_path / "a.7z"
    with libarchive.file_writer(str(seven), "7zip") as writer:
        for rel, content in FILES:
            writer.add_file_from_memory(rel, len(content), content)
    assert detect_format(seven) == "7z"
    rows = read_rows(seven)  # libarchive's 7z writer stores empty files last
    assert [r[0] for r in rows] == list(range(len(FILES)))
    assert {r[1]: r[2:] for r in rows} == {r[1]: r[2:] for r in expected_rows(FILES)}


def test_empty_zip_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    with zipfile.ZipFile(path, "w"):
        pass
    assert path.stat().st_size > 0
    assert read_rows(path) == []


# --- skipping and reading rules ------------------------------------------------------


@pytest.mark.parametrize("cursor", [1, 3, 4])  # 4 skips the 1.5 MiB entry unread
@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_skipping_by_index_without_reading(tmp_path: Path, kind: str, cursor: int) -> None:
    if kind == "zip":
        path = make_py_zip(tmp_path / "a.zip")
    else:
        path = make_py_tar(tmp_path / "a.tgz", "w:gz")
    got: list[Row] = []
    with open_archive(path) as reader:
        for entry in reader:
            if entry.info.index < cursor:
                continue
            data = b"".join(entry.read_blocks())
            info = entry.info
            got.append((info.index, info.path, info.type, info.size, sha(data)))
    assert got == expected_rows(FILES)[cursor:]


def test_partial_read_then_advance(tmp_path: Path) -> None:
    path = make_py_tar(tmp_path / "a.tar.xz", "w:xz")
    big = dict(FILES)["photos/deep/big.bin"]
    after: dict[str, bytes] = {}
    with open_archive(path) as reader:
        for entry in reader:
            if entry.info.path == "photos/deep/big.bin":
                first = next(entry.read_blocks())
                assert first == big[: len(first)]
                assert 0 < len(first) < len(big)  # really a partial read
            else:
                after[entry.info.path] = b"".join(entry.read_blocks())
    assert after["zz-last.txt"] == dict(FILES)["zz-last.txt"]


def test_indexes_stable_across_reopens(tmp_path: Path) -> None:
    path = make_py_zip(tmp_path / "a.zip")

    def infos() -> list[EntryInfo]:
        with open_archive(path) as reader:
            return [entry.info for entry in reader]

    first = infos()
    assert [i.index for i in first] == list(range(len(FILES)))
    assert infos() == first


def test_entry_unreadable_after_reader_advances(tmp_path: Path) -> None:
    path = make_py_zip(tmp_path / "a.zip")
    with open_archive(path) as reader:
        entries = iter(reader)
        first = next(entries)
        next(entries)
        with pytest.raises(RuntimeError, match="advanced"):
            first.read_blocks()


def test_entry_read_once(tmp_path: Path) -> None:
    path = make_py_zip(tmp_path / "a.zip")
    with open_archive(path) as reader:
        entry = next(iter(reader))
        assert b"".join(entry.read_blocks()) == FILES[0][1]
        with pytest.raises(RuntimeError, match="once"):
            entry.read_blocks()


def test_iterating_after_close_is_refused(tmp_path: Path) -> None:
    path = make_py_zip(tmp_path / "a.zip")
    with open_archive(path) as reader:
        entries = iter(reader)
        next(entries)
    with pytest.raises(RuntimeError, match="closed"):
        next(entries)


# --- entry types and paths -----------------------------------------------------------


def test_links_in_python_tar(tmp_path: Path) -> None:
    path = tmp_path / "links.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("real.txt")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"data"))
        sym = tarfile.TarInfo("sym.txt")
        sym.type, sym.linkname = tarfile.SYMTYPE, "real.txt"
        tf.addfile(sym)
        hard = tarfile.TarInfo("hard.txt")
        hard.type, hard.linkname = tarfile.LNKTYPE, "real.txt"
        tf.addfile(hard)
        fifo = tarfile.TarInfo("pipe")
        fifo.type = tarfile.FIFOTYPE
        tf.addfile(fifo)
    with open_archive(path) as reader:
        got = [(e.info.path, e.info.type, b"".join(e.read_blocks())) for e in reader]
    assert got == [
        ("real.txt", EntryType.FILE, b"data"),
        ("sym.txt", EntryType.SYMLINK, b""),
        ("hard.txt", EntryType.HARDLINK, b""),
        ("pipe", EntryType.OTHER, b""),
    ]


def test_symlink_from_tar_command(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", [("target.txt", b"x")])
    (src / "link.txt").symlink_to("target.txt")
    out = tmp_path / "l.tar"
    subprocess.run(["tar", "-cf", str(out), "target.txt", "link.txt"], cwd=src, check=True)
    with open_archive(out) as reader:
        got = [(e.info.path, e.info.type) for e in reader]
    assert got == [("target.txt", EntryType.FILE), ("link.txt", EntryType.SYMLINK)]


def test_paths_are_sanitised(tmp_path: Path) -> None:
    names = ["/abs/x.txt", "../up/y.txt", "a\\b\\c.txt", "..", "ok//./double.txt"]
    path = tmp_path / "odd.tar"
    with tarfile.open(path, "w") as tf:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 1
            tf.addfile(info, io.BytesIO(b"z"))
    with open_archive(path) as reader:
        got = [e.info.path for e in reader]
    assert got == ["abs/x.txt", "up/y.txt", "a/b/c.txt", "entry-3", "ok/double.txt"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("/a/b", "a/b"), ("./a/../b", "a/b"), ("a\\b", "a/b"), ("", "entry-7"), ("/../.", "entry-7")],
)
def test_sanitize_path(raw: str, expected: str) -> None:
    assert sanitize_path(raw, 7) == expected


# --- damage ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"]
)
def test_bit_flip_is_entry_corrupt_and_next_entry_reads(tmp_path: Path, method: int) -> None:
    path = tmp_path / "crc.zip"
    rng = random.Random(3)
    files = [("one.txt", b"A" * 1000), ("two.bin", rng.randbytes(20_000)), ("three.txt", b"C" * 9)]
    with zipfile.ZipFile(path, "w", method) as zf:
        for rel, content in files:
            zf.writestr(rel, content)
    flip_byte_in_entry(path, "two.bin", 500)
    with zipfile.ZipFile(path) as zf:  # an independent reader agrees it is damaged
        assert zf.testzip() == "two.bin"
    results: list[tuple[str, str]] = []
    with open_archive(path) as reader:
        for entry in reader:
            try:
                results.append((entry.info.path, sha(b"".join(entry.read_blocks()))))
            except FerrymanError as err:
                results.append((entry.info.path, err.code))
    assert results == [
        ("one.txt", sha(files[0][1])),
        ("two.bin", "archive.entry_corrupt"),
        ("three.txt", sha(files[2][1])),
    ]


def test_skipping_a_corrupt_entry_is_silent(tmp_path: Path) -> None:
    path = tmp_path / "crc.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bad.bin", b"B" * 5000)
        zf.writestr("good.txt", b"fine")
    flip_byte_in_entry(path, "bad.bin", 10)
    with open_archive(path) as reader:
        got = [b"".join(e.read_blocks()) for e in reader if e.info.index >= 1]
    assert got == [b"fine"]


def read_until_error(path: Path) -> tuple[dict[str, str], FerrymanError | None]:
    """Entries read before the archive broke (path -> sha or error code), and the break."""
    seen: dict[str, str] = {}
    try:
        with open_archive(path) as reader:
            for entry in reader:
                try:
                    seen[entry.info.path] = sha(b"".join(entry.read_blocks()))
                except FerrymanError as err:
                    seen[entry.info.path] = err.code
    except FerrymanError as err:
        return seen, err
    return seen, None


TRUNC_FILES = [
    ("a.txt", b"first"),
    ("b.txt", b"second"),
    ("middle.bin", random.Random(4).randbytes(400_000)),
    ("z.txt", b"never reached"),
]


@pytest.mark.parametrize("kind", ["zip", "tgz", "tar"])
def test_truncated_archive(tmp_path: Path, kind: str) -> None:
    full = tmp_path / f"full.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(full, "w", zipfile.ZIP_DEFLATED) as zf:
            for rel, content in TRUNC_FILES:
                zf.writestr(rel, content)
    else:
        make_py_tar(full, "w:gz" if kind == "tgz" else "w", TRUNC_FILES)
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # inside middle.bin
    seen, err = read_until_error(cut)
    assert err is not None and err.code == "archive.truncated"
    assert "cut." in err.message  # names the file
    assert seen == {
        "a.txt": sha(b"first"),
        "b.txt": sha(b"second"),
        "middle.bin": "archive.entry_corrupt",
    }


def test_truncated_bzip2_fails_on_open(tmp_path: Path) -> None:
    """bzip2 decodes 900 kB blocks: half a single block gives libarchive nothing to parse."""
    full = make_py_tar(tmp_path / "full.tar.bz2", "w:bz2", TRUNC_FILES)
    cut = tmp_path / "cut.tar.bz2"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(FerrymanError) as info:
        open_archive(cut)
    assert info.value.code == "archive.truncated"


def test_damaged_zip_header_after_good_entries(tmp_path: Path) -> None:
    path = tmp_path / "dmg.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for rel, content in TRUNC_FILES:
            zf.writestr(rel, content)
        offset = zf.getinfo("middle.bin").header_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 4] = b"XXXX"  # the local header signature
    path.write_bytes(bytes(data))
    seen, err = read_until_error(path)
    assert err is not None and err.code == "archive.unreadable"
    assert seen == {"a.txt": sha(b"first"), "b.txt": sha(b"second")}


# --- not archives ------------------------------------------------------------------


def test_open_text_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "notes.zip"
    path.write_text("just some text, not a zip\n")
    with pytest.raises(FerrymanError) as info:
        open_archive(path)
    assert info.value.code == "archive.unreadable"
    assert "notes.zip" in info.value.message


def test_gzipped_non_tar_is_one_entry_whatever_its_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.tar.gz"
    text = b"plain text inside gzip\n" * 100
    path.write_bytes(gzip.compress(text))
    assert detect_format(path) == "gzip"
    with open_archive(path) as reader:
        got = [(e.info.path, b"".join(e.read_blocks())) for e in reader]
    assert got == [("notes.tar", text)]


def test_open_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(FerrymanError) as missing:
        open_archive(tmp_path / "nope.zip")
    assert missing.value.code == "source.not_found"
    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")
    with pytest.raises(FerrymanError) as info:
        open_archive(empty)
    assert info.value.code == "archive.unreadable"


# --- detect_format -------------------------------------------------------------------


def test_detect_format_from_magic_only(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", [("a.txt", b"abc" * 100)])
    made: dict[str, Path] = {}
    made["zip"] = make_py_zip(tmp_path / "x.bin1")
    made["tar"] = make_py_tar(tmp_path / "x.bin2", "w")
    for fmt, flag in [("gzip", "-z"), ("bzip2", "-j"), ("xz", "-J"), ("zstd", "--zstd")]:
        made[fmt] = tmp_path / f"x.{fmt}.data"
        subprocess.run(["tar", flag, "-cf", str(made[fmt]), "a.txt"], cwd=src, check=True)
    made["7z"] = tmp_path / "x.bin3"
    with libarchive.file_writer(str(made["7z"]), "7zip") as writer:
        writer.add_file_from_memory("a.txt", 3, b"abc")
    made["rar"] = tmp_path / "x.bin4"  # nothing here writes RAR: its documented signature
    made["rar"].write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(100))
    for fmt, path in made.items():
        assert detect_format(path) == fmt, path
    text = tmp_path / "t.zip"
    text.write_text("hello")
    assert detect_format(text) is None
    empty = tmp_path / "e.tar"
    empty.write_bytes(b"")
    assert detect_format(empty) is None


def test_detect_format_tar_made_by_command(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", [("a.txt", b"abc")])
    for fmt in ["ustar", "gnu", "pax"]:
        out = tmp_path / f"{fmt}.tar"
        subprocess.run(["tar", f"--format={fmt}", "-cf", str(out), "a.txt"], cwd=src, check=True)
        assert detect_format(out) == "tar", fmt


def test_zip_command_symlink_is_symlink(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", [("target.txt", b"x")])
    (src / "link.txt").symlink_to("target.txt")
    out = tmp_path / "y.zip"
    subprocess.run(["zip", "-q", "-y", str(out), "target.txt", "link.txt"], cwd=src, check=True)
    with open_archive(out) as reader:
        got = [(e.info.path, e.info.type) for e in reader]
    assert got == [("target.txt", EntryType.FILE), ("link.txt", EntryType.SYMLINK)]


def test_an_empty_tar_is_a_tar_that_holds_nothing(tmp_path: Path) -> None:
    # GNU tar's, bsdtar's and tarfile's empty archive is only zero blocks: `add`
    # refused it as "named like an archive, but its bytes match no archive format".
    path = tmp_path / "empty.tar"
    tarfile.open(path, "w").close()
    assert path.stat().st_size >= 1024 and not path.read_bytes().strip(b"\x00")
    assert detect_format(path) == "tar"
    assert inspect_local(path).format == "tar"
    with open_archive(path, OpenOptions()) as reader:
        assert list(reader) == []
    zeros = tmp_path / "zeros.jpg"  # not named like a tar: a file, whatever its bytes
    zeros.write_bytes(bytes(10240))
    assert detect_format(zeros) is None
