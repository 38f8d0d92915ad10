"""Local inputs (file, folder, archive) as one entry stream, on real files and archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from ferryman.archive.reader import ArchiveLimits, EntryInfo, EntryType, OpenOptions
from ferryman.errors import FerrymanError
from ferryman.sources.base import ReadOptions
from ferryman.sources.file import FileSource
from ferryman.sources.local import BLOCK_SIZE, iter_local
from ferryman.sources.local_path import Kind, LocalInput, inspect_local, job_name

NOBODY = 65534


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def error_code(fn: Callable[[], object]) -> str:
    try:
        fn()
    except FerrymanError as err:
        return err.code
    return "no error"


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, content in files.items():
            zf.writestr(rel, content)
    return path


def make_tar(path: Path, mode: str, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, mode) as tf:
        for rel, content in files.items():
            info = tarfile.TarInfo(rel)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    return path


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


# --- inspect_local -------------------------------------------------------------------

FILES = {"a.txt": b"alpha", "dir/b.bin": random.Random(5).randbytes(5000)}


@pytest.mark.parametrize(
    ("name", "maker", "kind", "fmt"),
    [
        ("a.zip", lambda p: make_zip(p, FILES), "archive", "zip"),
        ("A.ZIP", lambda p: make_zip(p, FILES), "archive", "zip"),
        ("data.bin", lambda p: make_zip(p, FILES), "archive", "zip"),  # magic beats name
        ("a.tar", lambda p: make_tar(p, "w", FILES), "archive", "tar"),
        ("a.tar.gz", lambda p: make_tar(p, "w:gz", FILES), "archive", "gzip"),
        ("a.tgz", lambda p: make_tar(p, "w:gz", FILES), "archive", "gzip"),
        ("a.tar.bz2", lambda p: make_tar(p, "w:bz2", FILES), "archive", "bzip2"),
        ("a.tbz2", lambda p: make_tar(p, "w:bz2", FILES), "archive", "bzip2"),
        ("a.tar.xz", lambda p: make_tar(p, "w:xz", FILES), "archive", "xz"),
        ("a.txz", lambda p: make_tar(p, "w:xz", FILES), "archive", "xz"),
        # compressed single files are archives of one entry; the bytes decide, not the name
        ("notes.txt.gz", lambda p: p.write_bytes(gzip.compress(b"text")), "archive", "gzip"),
        ("tarball.gz", lambda p: make_tar(p, "w:gz", FILES), "archive", "gzip"),
        ("photo.jpg", lambda p: p.write_bytes(jpeg_bytes()), "file", None),
        ("notes.txt", lambda p: p.write_text("hello"), "file", None),
    ],
)
def test_inspect_file_kinds(
    tmp_path: Path, name: str, maker: Callable[[Path], object], kind: Kind, fmt: str | None
) -> None:
    path = tmp_path / name
    maker(path)
    assert inspect_local(path) == LocalInput(kind, path, fmt)


def test_inspect_folder(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    assert inspect_local(tmp_path / "d") == LocalInput("folder", tmp_path / "d", None)


@pytest.mark.parametrize("name", ["notes.zip", "backup.tar.gz", "x.tgz", "x.tar", "x.txz"])
def test_text_named_like_archive_is_unreadable_archive(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("this is plain text, not an archive\n" * 20)
    with pytest.raises(FerrymanError) as info:
        inspect_local(path)
    assert info.value.code == "archive.unreadable"
    assert name in info.value.message


def test_missing_and_dangling(tmp_path: Path) -> None:
    assert error_code(lambda: inspect_local(tmp_path / "nope.zip")) == "source.not_found"
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    assert error_code(lambda: inspect_local(tmp_path / "dangling")) == "source.not_found"


def test_zero_byte_file_is_empty(tmp_path: Path) -> None:
    for name in ["empty.zip", "empty.mp4"]:
        (tmp_path / name).write_bytes(b"")
        assert error_code(lambda n=name: inspect_local(tmp_path / n)) == "source.empty"


def test_fifo_is_unreadable_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    assert error_code(lambda: inspect_local(tmp_path / "pipe")) == "source.unreadable"


# --- permissions -------------------------------------------------------------------


def as_unprivileged(fn: Callable[[], str]) -> str:
    """``fn()`` run without root's power to read anything.

    Root ignores permission bits, so under root ``fn`` runs in a forked child that
    has switched to the 'nobody' user (no exec: the venv's interpreter may live
    where nobody cannot reach it); otherwise it simply runs here.
    """
    if os.geteuid() != 0:
        return fn()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            result = fn()
        except BaseException as err:
            result = f"child failed: {err!r}"
        os.write(write_end, result.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        result = pipe.read().decode()
    os.waitpid(pid, 0)
    return result


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder 'nobody' can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="ferryman-perm-"))
    path.chmod(0o755)
    yield path
    for sub in path.rglob("*"):
        if not sub.is_symlink():
            sub.chmod(0o755)
    shutil.rmtree(path)


def test_unreadable_file(shared_dir: Path) -> None:
    path = shared_dir / "secret.zip"
    make_zip(path, FILES)
    path.chmod(0o000)
    assert as_unprivileged(lambda: error_code(lambda: inspect_local(path))) == "source.unreadable"


def test_file_in_unsearchable_folder(shared_dir: Path) -> None:
    locked = shared_dir / "locked"
    locked.mkdir()
    (locked / "clip.mp4").write_bytes(b"data")
    locked.chmod(0o000)
    target = locked / "clip.mp4"
    assert as_unprivileged(lambda: error_code(lambda: inspect_local(target))) == (
        "source.unreadable"
    )


def test_unreadable_folder(shared_dir: Path) -> None:
    folder = shared_dir / "closed"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    folder.chmod(0o311)  # enterable, not listable
    assert as_unprivileged(lambda: error_code(lambda: inspect_local(folder))) == (
        "source.unreadable"
    )


def test_unreadable_file_inside_folder_fails_on_read(shared_dir: Path) -> None:
    folder = shared_dir / "album"
    folder.mkdir()
    (folder / "a.txt").write_text("readable")
    (folder / "b.txt").write_text("hidden")
    (folder / "b.txt").chmod(0o000)

    def walk() -> str:
        results = []
        with iter_local(folder) as entries:
            for entry in entries:
                results.append(
                    f"{entry.info.path}={error_code(lambda e=entry: b''.join(e.read_blocks()))}"
                )
        return " ".join(results)

    assert as_unprivileged(walk) == "a.txt=no error b.txt=source.unreadable"


def test_unlistable_subfolder_stops_the_walk(shared_dir: Path) -> None:
    folder = shared_dir / "album"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("first")
    (folder / "sub" / "x.txt").write_text("x")
    (folder / "sub").chmod(0o311)

    def walk() -> str:
        seen: list[str] = []

        def consume() -> None:
            with iter_local(folder) as entries:
                seen.extend(e.info.path for e in entries)

        return f"{error_code(consume)} after {seen}"

    assert as_unprivileged(walk) == "source.unreadable after ['a.txt']"


# --- iter_local: single files ----------------------------------------------------------


def test_single_file_is_one_entry_in_1mib_blocks(tmp_path: Path) -> None:
    content = random.Random(6).randbytes(2 * BLOCK_SIZE + BLOCK_SIZE // 2)
    path = tmp_path / "Clip 01.mp4"
    path.write_bytes(content)
    with iter_local(path) as entries:
        got = list(entries)
    assert len(got) == 1
    info = got[0].info
    assert (info.index, info.path, info.size, info.type) == (0, "Clip 01.mp4", len(content), "file")
    assert info.mtime == path.stat().st_mtime
    blocks = list(got[0].read_blocks())
    assert [len(b) for b in blocks] == [BLOCK_SIZE, BLOCK_SIZE, BLOCK_SIZE // 2]
    assert sha(b"".join(blocks)) == sha(content)


def test_compressed_non_tar_is_one_file(tmp_path: Path) -> None:
    path = tmp_path / "log.txt.gz"
    path.write_bytes(gzip.compress(b"line\n" * 1000))
    with iter_local(path) as entries:
        got = [(e.info.path, b"".join(e.read_blocks())) for e in entries]
    assert got == [("log.txt", b"line\n" * 1000)]


# --- iter_local: folders ---------------------------------------------------------------


def build_album(root: Path) -> dict[str, bytes]:
    files = {
        "img10.jpg": b"ten",
        "img2.jpg": b"two",
        "IMG3.jpg": b"three",
        "img1.jpg": b"one",
        "Beta/x.txt": b"beta",
        "alpha/Z.txt": b"zed",
        "alpha/b/deep.txt": random.Random(7).randbytes(3000),
        "alpha/a.txt": b"",
    }
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    (root / "empty").mkdir()
    (root / "link-to-file").symlink_to("img1.jpg")
    (root / "link-to-dir").symlink_to("alpha")
    return files


ALBUM_ORDER = [
    "alpha/a.txt",
    "alpha/b/deep.txt",
    "alpha/Z.txt",
    "Beta/x.txt",
    "img1.jpg",
    "img2.jpg",
    "IMG3.jpg",
    "img10.jpg",
    "link-to-dir",
    "link-to-file",
]


def test_folder_walk_is_recursive_natural_and_case_insensitive(tmp_path: Path) -> None:
    files = build_album(tmp_path / "album")
    with iter_local(tmp_path / "album") as entries:
        got = [(e.info, b"".join(e.read_blocks())) for e in entries]
    assert [info.path for info, _ in got] == ALBUM_ORDER
    assert [info.index for info, _ in got] == list(range(len(ALBUM_ORDER)))
    for info, data in got:
        if info.path.startswith("link-"):  # reported, not followed
            assert (info.type, info.size, data) == (EntryType.SYMLINK, 0, b"")
        else:
            assert (info.type, info.size, sha(data)) == (
                EntryType.FILE,
                len(files[info.path]),
                sha(files[info.path]),
            )


def test_folder_indexes_stable_and_skippable(tmp_path: Path) -> None:
    build_album(tmp_path / "album")

    def infos() -> list[EntryInfo]:
        with iter_local(tmp_path / "album") as entries:
            return [e.info for e in entries]

    first = infos()
    assert infos() == first
    cursor = 4
    with iter_local(tmp_path / "album") as entries:
        tail = [e.info for e in entries if e.info.index >= cursor]
    assert tail == first[cursor:]
    assert tail[0].path == "img1.jpg"


def test_folder_with_only_empty_dirs_yields_nothing(tmp_path: Path) -> None:
    (tmp_path / "f" / "a" / "b").mkdir(parents=True)
    with iter_local(tmp_path / "f") as entries:
        assert list(entries) == []


# --- iter_local: archives ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["pics.zip", "pics.tar.gz", "pics.tbz2"])
def test_archive_entries_through_iter_local(tmp_path: Path, name: str) -> None:
    files = {"b/2.jpg": b"two", "a/10.jpg": b"ten", "c.txt": random.Random(8).randbytes(9000)}
    path = tmp_path / name
    if name.endswith(".zip"):
        make_zip(path, files)
    else:
        make_tar(path, "w:gz" if name.endswith(".gz") else "w:bz2", files)
    with iter_local(path) as entries:
        got = [(e.info.index, e.info.path, sha(b"".join(e.read_blocks()))) for e in entries]
    # archive order, not sorted: an archive's index is its position inside it
    assert got == [(i, p, sha(c)) for i, (p, c) in enumerate(files.items())]


def test_archive_made_by_tar_command(tmp_path: Path) -> None:
    src = tmp_path / "src"
    build_album(src)
    out = tmp_path / "album.tar.xz"
    subprocess.run(
        ["tar", "-cJf", str(out), "-C", str(src), "img2.jpg", "link-to-file"], check=True
    )
    with iter_local(out) as entries:
        got = [(e.info.path, e.info.type, b"".join(e.read_blocks())) for e in entries]
    assert got == [("img2.jpg", EntryType.FILE, b"two"), ("link-to-file", EntryType.SYMLINK, b"")]


def test_archive_entries_unusable_after_the_context(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", FILES)
    with iter_local(path) as entries:
        first = next(entries)
    with pytest.raises(RuntimeError):
        next(entries)
    with pytest.raises(RuntimeError):
        first.read_blocks()


def test_truncated_archive_through_iter_local(tmp_path: Path) -> None:
    files = {"a.txt": b"first", "big.bin": random.Random(9).randbytes(300_000), "z": b"z"}
    full = make_zip(tmp_path / "full.zip", files)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert inspect_local(cut).kind == "archive"  # the start still looks like a zip
    read: list[str] = []

    def consume() -> None:
        with iter_local(cut) as entries:
            for entry in entries:
                read.append(
                    f"{entry.info.path}:{error_code(lambda e=entry: list(e.read_blocks()))}"
                )

    assert error_code(consume) == "archive.truncated"
    assert read == ["a.txt:no error", "big.bin:archive.entry_corrupt"]


def test_nested_archive_without_a_scratch_folder_uses_a_temporary_one(tmp_path: Path) -> None:
    inner = make_zip(tmp_path / "inner.zip", {"x.txt": b"inside"})
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, "sub/inner.zip")
    with iter_local(outer) as entries:
        got = [(e.info.path, b"".join(e.read_blocks())) for e in entries]
    assert got == [("sub/inner.zip/x.txt", b"inside")]


# --- nested archives: room and limits across levels ----------------------------------------


def test_a_nested_archive_waits_for_space_before_it_is_copied_out(tmp_path: Path) -> None:
    inner = make_zip(tmp_path / "inner.zip", {"x.txt": b"inside"})
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("a.txt", b"first")
        zf.write(inner, "sub/inner.zip")
    scratch = tmp_path / "scratch"
    asked: list[tuple[int, list[Path]]] = []

    def wait_to_write(size: int) -> None:
        asked.append((size, sorted(p for p in scratch.rglob("*") if p.is_file())))

    options = ReadOptions(scratch=scratch, wait_to_write=wait_to_write)
    with iter_local(outer, options) as entries:
        got = [(e.info.path, b"".join(e.read_blocks())) for e in entries]
    assert got == [("a.txt", b"first"), ("sub/inner.zip/x.txt", b"inside")]
    assert asked == [(inner.stat().st_size, [])]  # asked once, before the copy was written

    def no_space(size: int) -> None:
        raise FerrymanError("space.low", f"no room for {size} bytes")

    read: list[str] = []
    with (
        iter_local(outer, ReadOptions(scratch=scratch, wait_to_write=no_space)) as entries,
        pytest.raises(FerrymanError) as raised,
    ):
        for entry in entries:
            read.append(entry.info.path)
    assert raised.value.code == "space.low"
    assert read == ["a.txt"]
    assert not any(p.is_file() for p in scratch.rglob("*"))  # nothing copied out


def _read_nested(path: Path, limits: ArchiveLimits) -> tuple[list[str], FerrymanError | None]:
    options = ReadOptions(archive=OpenOptions(limits=limits))
    read: list[str] = []
    try:
        with iter_local(path, options) as entries:
            for entry in entries:
                for _ in entry.read_blocks():
                    pass
                read.append(entry.info.path)
    except FerrymanError as exc:
        return read, exc
    return read, None


def test_the_byte_limit_holds_across_nesting_levels(tmp_path: Path) -> None:
    rng = random.Random(11)
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as zf:
        for i in range(2):
            zf.writestr(
                f"part{i}.zip",
                make_zip(
                    tmp_path / f"p{i}.zip", {f"p{i}.bin": rng.randbytes(3 << 20)}
                ).read_bytes(),
            )
    limits = ArchiveLimits(max_total_bytes=10 << 20)
    # Each archive alone stays under 10 MiB (outer 6, each inner 3); the tree writes 12.
    read, error = _read_nested(outer, limits)
    assert error is not None and error.code == "archive.limit_exceeded"
    assert "archives around and inside it" in error.message
    assert "outer.zip" in error.message
    assert read == ["part0.zip/p0.bin"]
    read, error = _read_nested(outer, ArchiveLimits(max_total_bytes=13 << 20))
    assert error is None and read == ["part0.zip/p0.bin", "part1.zip/p1.bin"]


def test_the_ratio_limit_multiplies_across_nesting_levels(tmp_path: Path) -> None:
    """Each level expands less than max_ratio, the two together far more: a nested bomb."""
    zeros = make_zip(tmp_path / "zeros.zip", {"z.jpg": bytes(48 << 20)})
    outer = make_zip(tmp_path / "outer.zip", {"inner.zip": zeros.read_bytes()})
    inner_ratio = (48 << 20) / zeros.stat().st_size
    outer_ratio = zeros.stat().st_size / outer.stat().st_size
    limit = 2 * max(inner_ratio, outer_ratio)
    assert inner_ratio * outer_ratio > 10 * limit  # so only the tree's tally can stop it
    # A 1 MiB ratio floor (the default, 1 GiB, lets 48 MiB through as a small archive).
    read, error = _read_nested(outer, ArchiveLimits(max_ratio=limit, ratio_grace_bytes=1 << 20))
    assert error is not None and error.code == "archive.limit_exceeded"
    assert "outer.zip and the archives inside it" in error.message
    assert "expand more than" in error.message
    assert read == []


def test_an_abandoned_nested_read_is_collected_without_a_crash(tmp_path: Path) -> None:
    """The garbage collector frees an unreachable libarchive handle before it closes the
    generators holding it in ``with``; their ``__exit__`` must not touch it (this
    segfaulted). Run in a child: a crash must fail the test, not end the test run."""
    script = f"""
import gc, io, random, zipfile
from pathlib import Path
from ferryman.archive.reader import ArchiveLimits, OpenOptions
from ferryman.errors import FerrymanError
from ferryman.sources.base import ReadOptions
from ferryman.sources.local import iter_local

outer = Path({str(tmp_path / "outer.zip")!r})
rng = random.Random(3)
with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as zf:
    for i in range(2):
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"p{{i}}.bin", rng.randbytes(30_000))
        zf.writestr(f"part{{i}}.zip", inner.getvalue())
limits = ArchiveLimits(max_total_bytes=100_000)
for _ in range(3):
    try:  # the tree limit stops the second inner archive; ``entries`` is never closed
        with iter_local(outer, ReadOptions(archive=OpenOptions(limits=limits))) as entries:
            for entry in entries:
                for _ in entry.read_blocks():
                    pass
    except FerrymanError as exc:
        assert exc.code == "archive.limit_exceeded", exc
    gc.collect()
print("survived")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "survived"


def test_an_archive_without_a_suffix_in_a_folder_is_opened(tmp_path: Path) -> None:
    # Given alone it was read as a zip; in a folder it was skipped as not_media.
    folder = tmp_path / "downloads"
    folder.mkdir()
    photo = jpeg_bytes()
    make_zip(folder / "file_1234", {"a.jpg": photo, "b.jpg": photo})
    make_zip(folder / "report.docx", {"word/document.xml": b"<w/>"})
    (folder / "README").write_bytes(b"plain text, no suffix\n")
    with iter_local(folder) as entries:
        got = {e.info.path: sha(b"".join(e.read_blocks())) for e in entries}
    assert got["file_1234/a.jpg"] == got["file_1234/b.jpg"] == sha(photo)
    assert set(got) == {"README", "file_1234/a.jpg", "file_1234/b.jpg", "report.docx"}


def test_a_folder_s_legacy_code_page_names_arrive_as_written(tmp_path: Path) -> None:
    # unzip on Linux leaves a Windows zip's names as their cp437/Shift-JIS bytes.
    folder = tmp_path / "unzipped"
    folder.mkdir()
    photo = jpeg_bytes()
    for raw in ("Café_été.jpg".encode("cp437"), "写真_東京.jpg".encode("cp932")):
        (folder / os.fsdecode(raw)).write_bytes(photo)
    with iter_local(folder) as entries:
        assert sorted(e.info.path for e in entries) == ["Café_été.jpg", "写真_東京.jpg"]


def test_a_utf8_folder_keeps_its_name_above_legacy_code_page_names(tmp_path: Path) -> None:
    # Was: `Fotos M├╝nchen/Straße_été.jpg` beside `Fotos München/ok.jpg`: a Windows
    # zip unzipped into a folder made here, the whole path read in one code page.
    folder = tmp_path / "in" / "Fotos München"
    folder.mkdir(parents=True)
    (folder / os.fsdecode("Straße_été.jpg".encode("cp850"))).write_bytes(jpeg_bytes())
    (folder / "ok.jpg").write_bytes(jpeg_bytes())
    with iter_local(tmp_path / "in") as entries:
        assert sorted(e.info.path for e in entries) == [
            "Fotos München/Straße_été.jpg",
            "Fotos München/ok.jpg",
        ]


def test_an_input_whose_path_is_not_utf8_is_found_and_named_readably(tmp_path: Path) -> None:
    # A folder from a Latin-1 disk: `add` said "source.not_found ... dir_\ufffdt\ufffd:
    # no such file or folder" about a folder that was there.
    folder = tmp_path / os.fsdecode("dir_été".encode("cp1252"))
    folder.mkdir()
    (folder / os.fsdecode("café.jpg".encode("cp1252"))).write_bytes(jpeg_bytes())
    source = FileSource()
    uri = source.recognise(str(folder))
    assert uri is not None and "%E9" in uri
    found = source.inspect(uri)
    assert found.name == "dir_été" and source.describe(uri).endswith("dir_été")
    with source.open(uri, ReadOptions()) as entries:
        assert [e.info.path for e in entries] == ["café.jpg"]
    gone = source.recognise(str(tmp_path / os.fsdecode(b"gone_\xe9.zip")))
    assert gone is not None
    with pytest.raises(FerrymanError) as info:  # said with no lone surrogate in it
        source.inspect(gone)
    assert info.value.code == "source.not_found"
    info.value.message.encode("utf-8")


def test_a_folder_whose_path_is_not_utf8_keeps_the_dots_of_its_name(tmp_path: Path) -> None:
    # Was: `Café v1`, the folder's readable spelling asked whether it was a folder
    # (it is not on disk so spelled) and its `.2` taken for a file's suffix.
    folder = tmp_path / os.fsdecode("Café v1.2".encode("cp1252"))
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg_bytes())
    source = FileSource()
    uri = source.recognise(str(folder))
    assert uri is not None
    assert source.inspect(uri).name == "Café v1.2"
    assert source.inspect(source.recognise(str(folder / "a.jpg")) or "").name == "a"


@pytest.mark.parametrize(
    ("name", "job"),
    [
        ("clip.mp4.gz", "clip"),  # was "clip.mp4": a folder named like a file
        ("film.mkv.zst", "film"),
        ("clip.mkv", "clip"),
        ("holiday.tar.gz", "holiday"),
        ("x.tgz", "x"),
        ("holiday.2024.zip", "holiday.2024"),
    ],
)
def test_a_compressed_file_s_job_is_named_as_the_file_it_holds(name: str, job: str) -> None:
    assert job_name(Path("/nowhere") / name) == job
