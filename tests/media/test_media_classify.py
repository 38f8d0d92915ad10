"""classify: content decides, the name only breaks ties."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import tarfile
from pathlib import Path

import pytest

from ferryman.media.classify import HEAD_SIZE, classify
from ferryman.model import MediaKind
from tests.media.test_media_probe_plan import build_media, frame_image, write_audio
from tests.support.once import built_once
from tests.support.zipped import zip_bytes as _zip

PHOTO, VIDEO, AUDIO = MediaKind.PHOTO, MediaKind.VIDEO, MediaKind.AUDIO
ANIMATION, DOCUMENT, ARCHIVE, OTHER = (
    MediaKind.ANIMATION,
    MediaKind.DOCUMENT,
    MediaKind.ARCHIVE,
    MediaKind.OTHER,
)

EXPECTED = {
    "photo.jpg": PHOTO,
    "rotated.jpg": PHOTO,
    "photo.png": PHOTO,
    "still.gif": PHOTO,
    "anim.gif": ANIMATION,
    "still.webp": PHOTO,
    "anim.webp": ANIMATION,
    "photo.bmp": PHOTO,
    "photo.tiff": PHOTO,
    "photo.avif": PHOTO,
    "h264.mp4": VIDEO,
    "h264_fast.mp4": VIDEO,
    "silent_fast.mp4": VIDEO,
    "rotated.mp4": VIDEO,
    "h264.mkv": VIDEO,
    "h264.ts": VIDEO,
    "h264_mp3.mkv": VIDEO,
    "h264_444.mp4": VIDEO,
    "h264_10bit.mp4": VIDEO,
    "hevc.mkv": VIDEO,
    "mpeg4.avi": VIDEO,
    "h264.avi": VIDEO,
    "audio.mp3": AUDIO,
    "audio.m4a": AUDIO,
    "audio.aac": AUDIO,
    "audio.flac": AUDIO,
    "audio.wav": AUDIO,
    "audio.opus": AUDIO,
    "text.mp4": DOCUMENT,  # text, whatever the name says
    "truncated.mp4": VIDEO,  # still an MP4 by content; probe refuses it later
    "noise.mp4": OTHER,
}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return built_once(tmp_path_factory, "probe-media", build_media)  # one per run


def head_of(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(HEAD_SIZE)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_files(media: dict[str, Path], name: str) -> None:
    assert classify(head_of(media[name]), name) is EXPECTED[name]


@pytest.mark.parametrize("name", ["photo.jpg", "h264.mkv", "audio.mp3", "anim.gif"])
def test_the_name_does_not_override_content(media: dict[str, Path], name: str) -> None:
    for wrong in ("x.txt", "x.zip", "x.mp4", "x.pdf", "noext"):
        assert classify(head_of(media[name]), wrong) is EXPECTED[name]


def test_audio_only_mp4_is_audio_by_content_when_the_index_is_first(tmp_path: Path) -> None:
    first = write_audio(tmp_path / "first.mp4", fmt="mp4", codec="aac", faststart=True)
    assert classify(head_of(first), "song.mp4") is AUDIO
    last = write_audio(tmp_path / "last.mp4", fmt="mp4", codec="aac")
    assert classify(head_of(last), "song.mp4") is VIDEO  # nothing in the head says otherwise
    assert classify(head_of(last), "song.m4a") is AUDIO  # so the name breaks the tie


def test_zip_is_an_archive_unless_it_is_a_document() -> None:
    plain = _zip({"a.jpg": b"x" * 100, "b.txt": b"hello"})
    assert classify(plain, "photos.zip") is ARCHIVE
    for name in ("report.docx", "sheet.xlsx", "deck.pptx", "book.epub", "text.odt", "app.apk"):
        assert classify(plain, name) is DOCUMENT, name
    assert classify(plain, "lib.JAR") is DOCUMENT
    # Content alone gives these away, whatever the name.
    assert classify(_zip({"mimetype": b"application/epub+zip"}), "book.zip") is DOCUMENT
    assert classify(_zip({"[Content_Types].xml": b"<Types/>"}), "x.zip") is DOCUMENT


def test_compressed_and_tar_archives(tmp_path: Path) -> None:
    payload = os.urandom(2000)
    assert classify(gzip.compress(payload), "x.gz") is ARCHIVE
    assert classify(bz2.compress(payload), "x.bz2") is ARCHIVE
    assert classify(lzma.compress(payload), "x.xz") is ARCHIVE
    tar_path = tmp_path / "x.tar"
    member = tmp_path / "member.txt"
    member.write_text("hello")
    with tarfile.open(tar_path, "w", format=tarfile.USTAR_FORMAT) as tar:
        tar.add(member, arcname="member.txt")
    assert classify(tar_path.read_bytes()[:HEAD_SIZE], "x.tar") is ARCHIVE


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"Rar!\x1a\x07\x01\x00" + bytes(50), ARCHIVE),
        (b"7z\xbc\xaf\x27\x1c" + bytes(50), ARCHIVE),
        (b"\x28\xb5\x2f\xfd" + bytes(50), ARCHIVE),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", DOCUMENT),
        (b"\x00\x00\x01\xba\x44\x00\x04\x00" + bytes(50), VIDEO),  # MPEG-PS
        (b"FLV\x01\x05\x00\x00\x00\x09" + bytes(50), VIDEO),
        (b"OggS\x00\x02" + bytes(22) + b"\x80theora" + bytes(40), VIDEO),
        (b"OggS\x00\x02" + bytes(22) + b"\x01vorbis" + bytes(40), AUDIO),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(50), AUDIO),
        (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat" + bytes(50), VIDEO),  # old QuickTime
        (b"", OTHER),
        (b"\x00\x01\x02\x03" * 100, OTHER),
        ("plain text, \u00e9t\u00e9 \U0001f600\n".encode() * 50, DOCUMENT),
        ("\ufeffUTF-16 text".encode("utf-16-le"), DOCUMENT),
        (b"binary\x00with a NUL", OTHER),
    ],
)
def test_signatures(head: bytes, kind: MediaKind) -> None:
    assert classify(head, "file.bin") is kind


def test_mpeg_ts_needs_sync_bytes_every_188() -> None:
    packet = b"\x47" + bytes(187)
    assert classify(packet * 5, "x.bin") is VIDEO
    assert classify(b"\x00\x00\x00\x00" + packet * 5, "x.m2ts") is OTHER
    m2ts = (bytes(4) + packet) * 5  # 192-byte packets with a timestamp prefix
    assert classify(m2ts, "x.bin") is VIDEO
    assert classify(b"\x47" + bytes(400), "x.bin") is OTHER


def test_text_cut_in_the_middle_of_a_character_is_still_text() -> None:
    text = ("\u00e9" * 3000).encode()  # two bytes each: 4096 cuts one in half
    assert classify(text[: HEAD_SIZE - 1], "notes") is DOCUMENT


def test_gif_with_a_second_frame_but_no_loop_extension_is_an_animation(tmp_path: Path) -> None:
    path = tmp_path / "noloop.gif"
    images = [frame_image(i, (16, 12)) for i in range(3)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100)
    head = head_of(path)
    assert b"NETSCAPE2.0" not in head
    assert classify(head, "x.gif") is ANIMATION


def test_matroska_audio_is_audio_by_name(media: dict[str, Path]) -> None:
    assert classify(head_of(media["h264.mkv"]), "song.mka") is AUDIO
