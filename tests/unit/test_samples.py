"""The sample generators make real, decodable, distinct and reproducible inputs."""

from __future__ import annotations

import hashlib
import struct
import tarfile
import time
import zipfile
from pathlib import Path

import av
import pytest
from PIL import Image

from ferryman.samples import (
    make_bulk_zip,
    make_corrupt_zip,
    make_demo_inputs,
    make_photo,
    make_photo_set,
    make_tar,
    make_video,
    make_zip,
)

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi", ".ts", ".webm"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def top_level_atoms(path: Path) -> list[str]:
    """Top-level MP4/MOV box types in file order (size 1 = 64-bit size, 0 = to the end)."""
    atoms: list[str] = []
    data = path.read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
        elif size == 0:
            size = len(data) - pos
        assert size >= 8, f"bad atom size at {pos}"
        atoms.append(kind.decode("latin-1"))
        pos += size
    assert pos == len(data)
    return atoms


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_photo_decodes_and_is_seeded(tmp_path: Path, fmt: str) -> None:
    ext = fmt.lower()
    a = make_photo(tmp_path / f"a.{ext}", 1, fmt=fmt, size=(200, 100))
    again = make_photo(tmp_path / f"again.{ext}", 1, fmt=fmt, size=(200, 100))
    b = make_photo(tmp_path / f"b.{ext}", 2, fmt=fmt, size=(200, 100))
    with Image.open(a) as img:
        assert img.format == fmt
        assert img.size == (200, 100)
        img.load()
    assert sha256(a) == sha256(again)
    assert sha256(a) != sha256(b)


def test_photo_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_photo(tmp_path / "x.heic", 1, fmt="HEIC")


VIDEO_CASES = [
    # name, kwargs, format name, video codec, audio codec or None
    ("a.mp4", {}, "mp4", "h264", "aac"),
    ("b.mkv", {}, "matroska", "h264", "aac"),
    ("c.ts", {}, "mpegts", "h264", "aac"),
    ("d.mkv", {"vcodec": "libx265", "acodec": None}, "matroska", "hevc", None),
    ("e.mkv", {"vcodec": "libx265"}, "matroska", "hevc", "aac"),
    ("f.avi", {"vcodec": "mpeg4", "acodec": "mp3"}, "avi", "mpeg4", "mp3"),
    ("g.mov", {}, "mov", "h264", "aac"),
    ("h.webm", {}, "webm", "vp9", "opus"),
]


@pytest.mark.parametrize(("name", "kwargs", "fmt", "vcodec", "acodec"), VIDEO_CASES)
def test_video_decodes(
    tmp_path: Path,
    name: str,
    kwargs: dict[str, object],
    fmt: str,
    vcodec: str,
    acodec: str | None,
) -> None:
    path = make_video(tmp_path / name, 3, seconds=1.2, size=(96, 64), fps=20, **kwargs)  # type: ignore[arg-type]
    with av.open(str(path)) as c:
        assert fmt in c.format.name.split(",")
        video = c.streams.video[0]
        assert video.codec_context.name == vcodec
        assert (video.width, video.height) == (96, 64)
        if acodec is None:
            assert not c.streams.audio
        else:
            audio = c.streams.audio[0]
            assert audio.codec_context.name.startswith(acodec)  # mp3 decodes as mp3float
            assert audio.rate in (44100, 48000)
            assert audio.layout.name in ("mono", "stereo")
        assert c.duration is not None
        assert abs(c.duration / av.time_base - 1.2) <= 0.1
        frames = list(c.decode(video=0))
    assert len(frames) == 24
    first, last = frames[0], frames[-1]
    assert (first.width, first.height) == (last.width, last.height) == (96, 64)
    assert bytes(first.planes[0]) != bytes(last.planes[0])  # the pattern moves


def test_video_distinct_per_seed(tmp_path: Path) -> None:
    a = make_video(tmp_path / "a.mp4", 1, seconds=0.4)
    b = make_video(tmp_path / "b.mp4", 2, seconds=0.4)
    assert sha256(a) != sha256(b)


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_video_faststart(tmp_path: Path, suffix: str) -> None:
    fast = top_level_atoms(make_video(tmp_path / f"fast{suffix}", 1, seconds=0.4))
    slow = top_level_atoms(make_video(tmp_path / f"slow{suffix}", 1, seconds=0.4, faststart=False))
    assert fast.index("moov") < fast.index("mdat")
    assert slow.index("moov") > slow.index("mdat")


def test_video_without_audio_encoder_is_video_only(tmp_path: Path) -> None:
    path = make_video(tmp_path / "a.mkv", 1, seconds=0.4, acodec="no-such-encoder")
    with av.open(str(path)) as c:
        assert c.streams.video
        assert not c.streams.audio


def test_video_unknown_container(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_video(tmp_path / "x.flv", 1)


@pytest.fixture
def sources(tmp_path: Path) -> list[tuple[str, Path]]:
    return [
        ("one.jpg", make_photo(tmp_path / "src" / "1.jpg", 1)),
        ("sub/two.png", make_photo(tmp_path / "src" / "2.png", 2, fmt="PNG")),
        ("sub/deeper/three.gif", make_photo(tmp_path / "src" / "3.gif", 3, fmt="GIF")),
    ]


@pytest.mark.parametrize("compress", [True, False])
def test_zip_listing(tmp_path: Path, sources: list[tuple[str, Path]], compress: bool) -> None:
    path = make_zip(tmp_path / "x.zip", sources, compress=compress)
    again = make_zip(tmp_path / "y.zip", sources, compress=compress)
    assert sha256(path) == sha256(again)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == [name for name, _ in sources]
        for name, src in sources:
            assert zf.read(name) == src.read_bytes()
            expected = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            assert zf.getinfo(name).compress_type == expected


@pytest.mark.parametrize("compression", ["", "gz", "bz2", "xz"])
def test_tar_listing(tmp_path: Path, sources: list[tuple[str, Path]], compression: str) -> None:
    path = make_tar(tmp_path / "x.tar", sources, compression=compression)
    again = make_tar(tmp_path / "y.tar", sources, compression=compression)
    assert sha256(path) == sha256(again)
    with tarfile.open(path) as tar:  # detects the compression itself
        members = tar.getmembers()
        assert [m.name for m in members] == [name for name, _ in sources]
        for (_, src), member in zip(sources, members, strict=True):
            fh = tar.extractfile(member)
            assert fh is not None
            assert fh.read() == src.read_bytes()


def test_corrupt_zip(tmp_path: Path) -> None:
    path = make_corrupt_zip(tmp_path / "broken.zip", 1)
    other = make_corrupt_zip(tmp_path / "other.zip", 2)
    assert path.read_bytes()[:4] == b"PK\x03\x04"  # still looks like a zip
    assert sha256(path) != sha256(other)
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except zipfile.BadZipFile:
        return
    assert bad is not None


def test_demo_inputs(tmp_path: Path) -> None:
    start = time.perf_counter()
    demo = make_demo_inputs(tmp_path / "demo")
    print(f"make_demo_inputs: {time.perf_counter() - start:.2f} s")
    names = [p.name for p in demo.paths]
    assert names == [
        "holiday.zip",
        "trip.tar.gz",
        "loose",
        "needs-remux.mkv",
        "needs-transcode.avi",
        "broken.zip",
    ]
    assert len(demo.description) == 6
    assert all(p.exists() for p in demo.paths)
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == sorted(names)

    def is_media(name: str) -> bool:
        return Path(name).suffix.lower() in PHOTO_SUFFIXES | VIDEO_SUFFIXES

    holiday, trip, loose, remux, transcode, broken = demo.paths
    with zipfile.ZipFile(holiday) as zf:
        holiday_media = [n for n in zf.namelist() if is_media(n)]
        hashes = {hashlib.sha256(zf.read(n)).hexdigest() for n in holiday_media}
    assert len(holiday_media) == 8
    with tarfile.open(trip) as tar:
        files = [m.name for m in tar.getmembers() if m.isfile()]
        assert any(m.isdir() and m.name.endswith("a/b/c") for m in tar.getmembers())
        for m in tar.getmembers():
            fh = tar.extractfile(m) if m.isfile() and is_media(m.name) else None
            if fh is not None:
                hashes.add(hashlib.sha256(fh.read()).hexdigest())
    assert any(f.endswith("readme.txt") for f in files)
    trip_media = [f for f in files if is_media(f)]
    assert any("a/b/c/" in f for f in trip_media)
    loose_media = [p for p in loose.iterdir() if is_media(p.name)]
    hashes |= {sha256(p) for p in loose_media} | {sha256(remux), sha256(transcode)}
    total = len(holiday_media) + len(trip_media) + len(loose_media) + 2
    assert demo.expected_media == total
    assert demo.expected_files(media_only=True) == total
    assert demo.expected_files(media_only=False) == total + 1  # the readme, kept as a file
    assert len(hashes) == total  # no two media files are duplicates

    with av.open(str(remux)) as c:
        assert "matroska" in c.format.name
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.audio[0].codec_context.name == "aac"
    with av.open(str(transcode)) as c:
        assert c.format.name == "avi"
        assert c.streams.video[0].codec_context.name == "mpeg4"
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(broken)


def test_photo_set(tmp_path: Path) -> None:
    start = time.perf_counter()
    paths = make_photo_set(tmp_path / "set", 300, start_seed=7)
    elapsed = time.perf_counter() - start
    print(f"make_photo_set: {len(paths) / elapsed:.0f} files/s")
    assert len(paths) == 300
    assert len({sha256(p) for p in paths}) == 300
    with Image.open(paths[0]) as img:
        assert img.format == "JPEG"
        assert img.size == (64, 48)
    again = make_photo_set(tmp_path / "again", 3, start_seed=7)
    assert [sha256(p) for p in again] == [sha256(p) for p in paths[:3]]


@pytest.mark.parametrize(
    ("total", "entry"), [(20 * 2**20, 2**20), (3 * 2**20, 100_000), (200_000, 5_000)]
)
def test_bulk_zip(tmp_path: Path, total: int, entry: int) -> None:
    start = time.perf_counter()
    path = make_bulk_zip(tmp_path / "bulk.zip", total_bytes=total, entry_bytes=entry, seed=1)
    elapsed = time.perf_counter() - start
    size = path.stat().st_size
    print(f"make_bulk_zip: {size / 2**20 / elapsed:.0f} MB/s ({size} bytes)")
    assert abs(size - total) <= 0.05 * total
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        assert infos[0].filename == "photo_00001.jpg"
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED
            with zf.open(info) as fh:
                assert fh.read(3) == b"\xff\xd8\xff"
        with zf.open(infos[0]) as fh, Image.open(fh) as img:
            assert img.format == "JPEG"
            img.load()
        assert abs(infos[0].file_size - entry) <= 0.05 * entry
    other = make_bulk_zip(tmp_path / "other.zip", total_bytes=total, entry_bytes=entry, seed=2)
    assert sha256(path) != sha256(other)
