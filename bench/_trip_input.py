"""The trip bench's input: a stored zip of phone photos, a dozen videos and a few documents.

Made once per size with Pillow and imageio-ffmpeg's ffmpeg, cached under ``cache_dir()``.
Photos are 8 MP JPEGs over noise (~2-3 MB, they compress badly, as real ones do); a few
distinct ones are repeated with bytes after the JPEG end marker, so every entry differs.
Videos: H.264/AAC MP4s (sent as they are), H.264 MKVs (remuxed to MP4) and one VP9 WebM
(transcoded): each encoded on its own, with distinct lengths.
"""

from __future__ import annotations

import json
import os
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench._common import MiB, cache_dir, progress

INPUT_VERSION = 1  # bump when the input changes: the cached zip is made again
PHOTO_SIZE = (3264, 2448)  # an 8 MP phone camera
PHOTO_BASES = 6
MP4_VIDEOS, MKV_VIDEOS, VP9_VIDEOS = 8, 3, 1
DOCUMENTS = 3
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


@dataclass
class TripInput:
    path: Path
    size: int
    entries: int
    photos: int
    videos: int
    documents: int


def make_input(size_mib: int) -> TripInput:
    """The cached zip of about ``size_mib`` MiB, made when missing."""
    folder = cache_dir() / "trip"
    path = folder / f"trip-{size_mib}MiB-v{INPUT_VERSION}.zip"
    facts = path.with_suffix(".json")
    if path.exists() and facts.exists():
        progress(f"trip: cached input {path}")
        return TripInput(path, **json.loads(facts.read_text()))
    progress(f"trip: making a {size_mib} MiB zip (cached in {folder})")
    folder.mkdir(parents=True, exist_ok=True)
    videos = _videos(folder, small=size_mib < 512)
    photos = [_photo(folder / f"base{n}.jpg", n) for n in range(PHOTO_BASES)]
    docs = [PDF_HEAD + random.Random(n).randbytes(MiB) for n in range(DOCUMENTS)]
    budget = size_mib * MiB - sum(len(v) for _, v in videos) - sum(len(d) for d in docs)
    count = max(1, budget // len(photos[0]))
    every = max(1, count // (len(videos) + 1))  # videos spread among the photos
    partial = path.with_name(f".{path.name}.partial")
    written = n = 0
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
        while written < budget:
            data = photos[n % len(photos)] + n.to_bytes(8, "big")
            archive.writestr(f"DCIM/Camera/IMG_{n:05d}.jpg", data)
            written += len(data)
            n += 1
            if n % every == 0 and videos:
                name, video = videos.pop(0)
                archive.writestr(f"DCIM/Camera/{name}", video)
        for name, video in videos:
            archive.writestr(f"DCIM/Camera/{name}", video)
        for k, doc in enumerate(docs):
            archive.writestr(f"Documents/report-{k}.pdf", doc)
    for base in folder.glob("base*"):
        base.unlink()
    os.replace(partial, path)
    total_videos = MP4_VIDEOS + MKV_VIDEOS + VP9_VIDEOS
    made = {
        "size": path.stat().st_size,
        "entries": n + total_videos + DOCUMENTS,
        "photos": n,
        "videos": total_videos,
        "documents": DOCUMENTS,
    }
    facts.write_text(json.dumps(made))
    return TripInput(path, **made)


def _photo(path: Path, seed: int) -> bytes:
    """A noisy 8 MP JPEG at q90: the size a phone's photo has."""
    from PIL import Image

    from bench.media import noisy_rgb

    width, height = PHOTO_SIZE
    base = noisy_rgb(PHOTO_SIZE).rotate(90 * seed, expand=False)
    noise = Image.frombytes("RGB", PHOTO_SIZE, random.Random(seed).randbytes(width * height * 3))
    Image.blend(base, noise, 0.25).save(path, "JPEG", quality=90)
    return path.read_bytes()


def _videos(folder: Path, *, small: bool) -> list[tuple[str, bytes]]:
    """(name, bytes) of every video; 720p for a small run, 1080p at the 1 GiB default."""
    from bench.media import ffmpeg_exe, make_clip, run_tool

    ff = ffmpeg_exe()
    size = "1280x720" if small else "1920x1080"
    made: list[tuple[str, bytes]] = []
    for n in range(MP4_VIDEOS + MKV_VIDEOS):
        mkv = n >= MP4_VIDEOS
        dst = folder / f"base-v{n}.{'mkv' if mkv else 'mp4'}"
        extra = [] if mkv else ["-movflags", "+faststart"]
        make_clip(ff, dst, 2.0 + 0.25 * n, size=size, extra=extra)
        made.append((f"VID_{n:03d}.{dst.suffix[1:]}", dst.read_bytes()))
    vp9 = folder / "base-vp9.webm"
    cmd = [
        *(ff, "-hide_banner", "-loglevel", "error", "-y"),
        *("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30"),
        *("-t", "3", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"),
        *("-b:v", "4M", str(vp9)),
    ]
    run_tool(cmd, timeout=600)
    made.append(("VID_vp9.webm", vp9.read_bytes()))
    return made
