"""Sample archives (``samples``): zip and tar in every compression, reproducible byte
for byte (fixed times and owners), a truncated zip, and bulk zips for benchmarks."""

from __future__ import annotations

import bz2
import calendar
import contextlib
import gzip
import io
import lzma
import random
import shutil
import tarfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from PIL import Image

from ferryman.samples.media import photo_bytes

# Archive entries get a fixed timestamp so archives are byte-for-byte reproducible.
ARCHIVE_TIME = (2024, 6, 1, 12, 0, 0)
_ARCHIVE_EPOCH = calendar.timegm((*ARCHIVE_TIME, 0, 0, 0))
_CHUNK = 1 << 20


def make_zip(path: Path, files: Sequence[tuple[str, Path]], *, compress: bool = True) -> Path:
    """Zip ``(arcname, source)`` pairs with a fixed timestamp, so equal inputs zip equally.

    A source that is a directory becomes a directory entry (real zips have them).
    """
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for arcname, source in files:
            info = zipfile.ZipInfo.from_file(source, arcname)
            info.date_time = ARCHIVE_TIME
            if info.is_dir():
                zf.mkdir(info)
                continue
            info.compress_type = method
            with source.open("rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
    return path


@contextlib.contextmanager
def _compressed(raw: IO[bytes], compression: str) -> Iterator[IO[bytes] | io.BufferedIOBase]:
    """A writer for the tar stream; gzip gets mtime 0 so the output is reproducible."""
    if compression == "":
        yield raw
        return
    if compression == "gz":
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            yield gz
    elif compression == "bz2":
        with bz2.BZ2File(raw, "wb") as bz:
            yield bz
    elif compression == "xz":
        with lzma.LZMAFile(raw, "wb") as xz:
            yield xz
    else:
        raise ValueError(f"unknown tar compression {compression!r}; use '', 'gz', 'bz2' or 'xz'")


def make_tar(path: Path, files: Sequence[tuple[str, Path]], *, compression: str = "") -> Path:
    """Tar ``(arcname, source)`` pairs, optionally gz/bz2/xz, reproducibly (fixed owner, time).

    A source that is a directory becomes a directory entry.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        path.open("wb") as raw,
        _compressed(raw, compression) as stream,
        tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for arcname, source in files:
            info = tar.gettarinfo(str(source), arcname)
            info.mtime = _ARCHIVE_EPOCH
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isdir():
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                with source.open("rb") as src:
                    tar.addfile(info, src)
    return path


def make_corrupt_zip(path: Path, seed: int) -> Path:
    """A real zip of four seeded photos, cut in half: a truncated download.

    The end-of-central-directory record is gone, so readers must detect it rather
    than trust the file's name.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(4):
            fmt = "PNG" if i % 2 else "JPEG"
            data = photo_bytes(seed * 10 + i, fmt=fmt)
            zf.writestr(zipfile.ZipInfo(f"photo_{i + 1}.{fmt.lower()}", ARCHIVE_TIME), data)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2])
    return path


def make_bulk_zip(path: Path, *, total_bytes: int, entry_bytes: int, seed: int = 0) -> Path:
    """A stored zip of ~``total_bytes`` of JPEG-looking entries of ~``entry_bytes`` each.

    Each entry is a tiny real JPEG followed by seeded random padding: classifiers see
    JPEG magic bytes, the padding does not compress, and the file is streamed in 1 MiB
    chunks so benchmark inputs of many GB never sit in memory.
    """
    if total_bytes <= 0 or entry_bytes <= 0:
        raise ValueError("total_bytes and entry_bytes must be positive")
    rng = random.Random(seed)
    head = io.BytesIO()
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    Image.new("RGB", (16, 16), colour).save(head, format="JPEG")
    jpeg = head.getvalue()

    # Per entry: local header + central record (30 + 46 bytes + the name twice), plus a
    # zip64 extra when an entry may pass 2 GiB; 22 bytes end record once.
    zip64 = entry_bytes * 2 > zipfile.ZIP64_LIMIT
    guess = max(1, total_bytes // entry_bytes)
    digits = max(5, len(str(guess * 2)))
    overhead = 76 + 2 * len(f"photo_{0:0{digits}d}.jpg") + (20 if zip64 else 0)
    count = max(1, round((total_bytes - 22) / (entry_bytes + overhead)))
    payload = total_bytes - 22 - count * overhead
    sizes = [entry_bytes] * (count - 1) + [payload - entry_bytes * (count - 1)]

    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for index, size in enumerate(sizes, start=1):
            info = zipfile.ZipInfo(f"photo_{index:0{digits}d}.jpg", ARCHIVE_TIME)
            with zf.open(info, "w", force_zip64=zip64) as dst:
                dst.write(jpeg)
                left = size - len(jpeg)
                while left > 0:
                    n = min(_CHUNK, left)
                    dst.write(rng.randbytes(n))
                    left -= n
    return path
