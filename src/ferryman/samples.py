"""Real, small sample inputs for ``ferryman demo``, the tests and the benchmarks.

The demo must run on a fresh machine without a network, and tests need many media
files that are genuinely decodable and pairwise distinct (ferryman deduplicates by
content hash). So everything here is generated locally from a seed: the same seed
gives the same bytes (videos aside, where only distinctness is promised), different
seeds give different bytes.
"""

from __future__ import annotations

import bz2
import calendar
import contextlib
import gzip
import io
import lzma
import math
import random
import shutil
import tarfile
import tempfile
import zipfile
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

import av
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "DemoInputs",
    "make_bulk_zip",
    "make_corrupt_zip",
    "make_demo_inputs",
    "make_photo",
    "make_photo_set",
    "make_tar",
    "make_video",
    "make_zip",
]

PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}

# Suffix or short name -> FFmpeg muxer name.
_CONTAINERS = {
    "mp4": "mp4",
    "mkv": "matroska",
    "matroska": "matroska",
    "mov": "mov",
    "avi": "avi",
    "ts": "mpegts",
    "mpegts": "mpegts",
    "webm": "webm",
}
# Encoder name -> names to try, so a build that lacks the preferred one still works.
_ENCODER_CANDIDATES = {
    "libx264": ("libx264", "h264"),
    "h264": ("libx264", "h264"),
    "libx265": ("libx265", "hevc"),
    "hevc": ("libx265", "hevc"),
    "mp3": ("libmp3lame", "mp3"),
    "libmp3lame": ("libmp3lame", "mp3"),
}
_ENCODER_OPTIONS = {
    "libx265": {"x265-params": "log-level=error"},
}
# WebM only carries these; anything else is swapped for VP9/Opus rather than failing.
_WEBM_VIDEO = ("libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1", "vp9", "vp8", "av1")
_WEBM_AUDIO = ("libopus", "opus", "libvorbis", "vorbis")

# Archive entries get a fixed timestamp so archives are byte-for-byte reproducible.
_ARCHIVE_TIME = (2024, 6, 1, 12, 0, 0)
_ARCHIVE_EPOCH = calendar.timegm((*_ARCHIVE_TIME, 0, 0, 0))
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- photos


def _font(height: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font scaled to the picture, so the seed stays legible on tiny and big images."""
    return ImageFont.load_default(size=max(8, height // 4))


def _render_photo(
    seed: int,
    size: tuple[int, int],
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> Image.Image:
    """A seeded two-colour gradient with shapes and the seed as text.

    Colours, angle and shapes come from the seed; the text alone already makes two
    seeds differ, even after lossy compression of a tiny image.
    """
    rng = random.Random(seed)
    width, height = size
    c1 = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    c2 = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    # Crop inside the rotated square so no unfilled corners show.
    gradient = Image.linear_gradient("L").rotate(rng.uniform(0, 360))
    mask = gradient.crop((40, 40, 216, 216)).resize(size)
    img = Image.composite(Image.new("RGB", size, c1), Image.new("RGB", size, c2), mask)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 4)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = x0 + rng.randint(width // 8 + 1, width // 2 + 1)
        y1 = y0 + rng.randint(height // 8 + 1, height // 2 + 1)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=colour)
    draw.text(
        (2, 2),
        str(seed),
        fill=(255, 255, 255),
        font=font,
        stroke_width=max(1, height // 60),
        stroke_fill=(0, 0, 0),
    )
    return img


def _normalise_format(fmt: str) -> str:
    name = _FORMAT_ALIASES.get(fmt.upper(), fmt.upper())
    if name not in PHOTO_FORMATS:
        raise ValueError(f"unsupported photo format {fmt!r}; use one of {PHOTO_FORMATS}")
    return name


def _save_photo(img: Image.Image, target: Path | IO[bytes], fmt: str) -> None:
    if fmt == "GIF":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE)
    img.save(target, format=fmt)


def _photo_bytes(seed: int, size: tuple[int, int] = (320, 240), fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    _save_photo(_render_photo(seed, size, _font(size[1])), buf, _normalise_format(fmt))
    return buf.getvalue()


def make_photo(
    path: Path, seed: int, *, size: tuple[int, int] = (320, 240), fmt: str = "JPEG"
) -> Path:
    """Write a seeded photo (JPEG, PNG, WEBP, GIF, BMP or TIFF) and return its path."""
    fmt = _normalise_format(fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save_photo(_render_photo(seed, size, _font(size[1])), path, fmt)
    return path


def make_photo_set(
    folder: Path, count: int, *, start_seed: int = 0, size: tuple[int, int] = (64, 48)
) -> list[Path]:
    """Write ``count`` tiny distinct JPEGs ``photo_NNNNNN.jpg``, fast enough for bulk tests.

    The font is loaded once for the whole set, which is most of the per-file cost.
    """
    folder.mkdir(parents=True, exist_ok=True)
    font = _font(size[1])
    paths: list[Path] = []
    for seed in range(start_seed, start_seed + count):
        path = folder / f"photo_{seed:06d}.jpg"
        _render_photo(seed, size, font).save(path, format="JPEG")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- videos


def _encoder(name: str) -> str | None:
    """The first available encoder for ``name`` (or its aliases); ``None`` if none is."""
    for candidate in _ENCODER_CANDIDATES.get(name, (name,)):
        try:
            return str(av.codec.Codec(candidate, "w").name)
        except ValueError:  # av.codec.codec.UnknownCodecError
            continue
    return None


def _first_encoder(names: Sequence[str]) -> str | None:
    for name in names:
        found = _encoder(name)
        if found:
            return found
    return None


class _AudioTrack:
    """A seeded sine tone (one pitch per channel) fed to an encoder in 1024-sample frames."""

    def __init__(self, stream: av.AudioStream, rng: random.Random, seconds: float) -> None:
        self.stream = stream
        self.rate: int = stream.rate
        self.layout: str = stream.layout.name
        self.channels = 1 if self.layout == "mono" else 2
        self.freqs = [rng.uniform(220.0, 880.0) for _ in range(self.channels)]
        self.total = round(seconds * self.rate)
        self.pts = 0

    def encode_until(self, out: av.container.OutputContainer, seconds: float) -> None:
        """Encode and mux samples up to ``seconds`` (or the end of the track)."""
        end = min(self.total, round(seconds * self.rate) if math.isfinite(seconds) else self.total)
        while self.pts < end:
            n = min(1024, end - self.pts)
            samples = array("h")
            for i in range(self.pts, self.pts + n):
                t = 2.0 * math.pi * i / self.rate
                samples.extend(int(12000 * math.sin(f * t)) for f in self.freqs)
            frame = av.AudioFrame(format="s16", layout=self.layout, samples=n)
            frame.planes[0].update(samples.tobytes())
            frame.sample_rate = self.rate
            frame.pts = self.pts
            frame.time_base = Fraction(1, self.rate)
            self.pts += n
            out.mux(self.stream.encode(frame))


def _video_frame(img: Image.Image) -> av.VideoFrame:
    """An rgb24 frame holding a copy of ``img`` (typed stand-in for ``from_image``)."""
    width, height = img.size
    frame = av.VideoFrame(width, height, "rgb24")
    plane = frame.planes[0]
    data = img.convert("RGB").tobytes()
    row = width * 3
    if plane.line_size != row:
        pad = bytes(plane.line_size - row)
        data = b"".join(data[y * row : (y + 1) * row] + pad for y in range(height))
    plane.update(data)
    return frame


def make_video(
    path: Path,
    seed: int,
    *,
    seconds: float = 1.0,
    size: tuple[int, int] = (160, 120),
    fps: int = 25,
    container: str | None = None,
    vcodec: str = "libx264",
    pix_fmt: str = "yuv420p",
    acodec: str | None = "aac",
    faststart: bool = True,
) -> Path:
    """Encode a seeded moving pattern (plus a seeded sine tone) and return the path.

    ``container`` defaults to the suffix (.mp4 .mkv .mov .avi .ts .webm). Encoders fall
    back to an alias (libx264 -> h264, libx265 -> hevc, mp3 -> libmp3lame); an audio
    encoder that is missing yields a video-only file, because the video is what the
    callers need. WebM gets VP9/Opus when the given codecs cannot go into WebM.
    ``faststart`` moves the MP4/MOV index (moov) before the data, as web-ready files
    have; ``False`` leaves it at the end, as cameras and many downloads do.
    Different seeds always give different files; the same seed gives the same frames
    and tone, but not always the same bytes (H.264 with audio varies between runs).
    """
    fmt = _CONTAINERS.get((container or path.suffix.lstrip(".")).lower())
    if fmt is None:
        raise ValueError(f"unknown container for {path.name!r}: {container!r}")
    video_name = _encoder(vcodec)
    audio_name = _encoder(acodec) if acodec else None
    if fmt == "webm":
        if video_name not in _WEBM_VIDEO:
            video_name = _first_encoder(_WEBM_VIDEO)
        if acodec and audio_name not in _WEBM_AUDIO:
            audio_name = _first_encoder(_WEBM_AUDIO)
    if video_name is None:
        raise ValueError(f"no encoder available for {vcodec!r}")

    rng = random.Random(seed)
    width, height = size
    frames = max(1, round(seconds * fps))
    # bitexact: no random segment UIDs or wall-clock stamps in the container. Bytes still
    # may vary between runs: libx264 output varied here when an audio stream was present.
    options = {"fflags": "+bitexact"}
    if faststart and fmt in ("mp4", "mov"):
        options["movflags"] = "+faststart"
    path.parent.mkdir(parents=True, exist_ok=True)

    with av.open(str(path), mode="w", format=fmt, options=options) as out:
        vstream = out.add_stream(video_name, rate=fps, options=_ENCODER_OPTIONS.get(video_name))
        assert isinstance(vstream, av.VideoStream)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, pix_fmt
        vstream.codec_context.time_base = Fraction(1, fps)
        astream: av.AudioStream | None = None
        if audio_name is not None:
            codec = av.codec.Codec(audio_name, "w")
            rate = rng.choice((44100, 48000))
            if codec.audio_rates and rate not in codec.audio_rates:
                rate = 48000
            added = out.add_stream(audio_name, rate=rate)
            assert isinstance(added, av.AudioStream)
            astream = added
            astream.layout = rng.choice(("mono", "stereo"))
            astream.codec_context.time_base = Fraction(1, rate)

        font = _font(height)
        background = _render_photo(seed, size, font)
        box = (max(4, width // 5), max(4, height // 5))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        speed = rng.uniform(1.0, 4.0)
        audio = _AudioTrack(astream, rng, frames / fps) if astream is not None else None
        for index in range(frames):
            img = background.copy()
            draw = ImageDraw.Draw(img)
            x = int(index * speed * width / fps) % width
            y = int((height - box[1]) * (0.5 + 0.5 * math.sin(index / fps * 2 * math.pi)))
            draw.rectangle((x, y, x + box[0], y + box[1]), fill=colour)
            draw.text((width // 2, 2), str(index), fill=(255, 255, 255), font=font)
            frame = _video_frame(img).reformat(format=pix_fmt)
            frame.pts = index
            frame.time_base = vstream.codec_context.time_base
            out.mux(vstream.encode(frame))
            if audio is not None:
                # Keep audio in step with video so the muxer never buffers a whole track.
                audio.encode_until(out, (index + 1) / fps)
        out.mux(vstream.encode(None))
        if audio is not None:
            audio.encode_until(out, math.inf)
            out.mux(audio.stream.encode(None))
    return path


# --------------------------------------------------------------------------- archives


def make_zip(path: Path, files: Sequence[tuple[str, Path]], *, compress: bool = True) -> Path:
    """Zip ``(arcname, source)`` pairs with a fixed timestamp, so equal inputs zip equally.

    A source that is a directory becomes a directory entry (real zips have them).
    """
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for arcname, source in files:
            info = zipfile.ZipInfo.from_file(source, arcname)
            info.date_time = _ARCHIVE_TIME
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
            data = _photo_bytes(seed * 10 + i, fmt=fmt)
            zf.writestr(zipfile.ZipInfo(f"photo_{i + 1}.{fmt.lower()}", _ARCHIVE_TIME), data)
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
            info = zipfile.ZipInfo(f"photo_{index:0{digits}d}.jpg", _ARCHIVE_TIME)
            with zf.open(info, "w", force_zip64=zip64) as dst:
                dst.write(jpeg)
                left = size - len(jpeg)
                while left > 0:
                    n = min(_CHUNK, left)
                    dst.write(rng.randbytes(n))
                    left -= n
    return path


# --------------------------------------------------------------------------- demo


@dataclass(frozen=True)
class DemoInputs:
    """What ``ferryman demo`` feeds in, and what a correct run must deliver."""

    paths: list[Path]  # what the demo adds, in order
    expected_media: int  # photo/video entries that must end up delivered
    description: list[str]  # one human line per input


def make_demo_inputs(folder: Path) -> DemoInputs:
    """Create the six demo inputs in ``folder``, covering each path through ferryman.

    Archives (zip, nested tar.gz with a non-media entry), a loose folder, a file that
    only needs a new container, one that needs a transcode, and a broken archive.
    Every media file has its own seed so none is a duplicate of another.
    """
    folder.mkdir(parents=True, exist_ok=True)
    seeds = iter(range(1000, 2000))
    paths: list[Path] = []
    description: list[str] = []
    media = 0

    with tempfile.TemporaryDirectory(dir=folder, prefix=".staging-") as tmp:
        staging = Path(tmp)

        def photo(name: str, fmt: str = "JPEG") -> Path:
            return make_photo(staging / name, next(seeds), fmt=fmt)

        def clip(name: str) -> Path:
            return make_video(staging / name, next(seeds), seconds=1.0)

        # 1. holiday.zip: photos and H.264/AAC MP4s in two subfolders.
        holiday = [
            ("holiday/beach/IMG_0001.jpg", photo("h1.jpg")),
            ("holiday/beach/IMG_0002.jpg", photo("h2.jpg")),
            ("holiday/beach/IMG_0003.png", photo("h3.png", "PNG")),
            ("holiday/city/IMG_0004.jpg", photo("h4.jpg")),
            ("holiday/city/IMG_0005.jpg", photo("h5.jpg")),
            ("holiday/city/IMG_0006.png", photo("h6.png", "PNG")),
            ("holiday/beach/VID_0001.mp4", clip("h7.mp4")),
            ("holiday/city/VID_0002.mp4", clip("h8.mp4")),
        ]
        paths.append(make_zip(folder / "holiday.zip", holiday))
        description.append("holiday.zip: 6 photos (JPEG, PNG) + 2 H.264/AAC MP4 videos")
        media += len(holiday)

        # 2. trip.tar.gz: nested folders, directory entries, and a readme to skip.
        readme = staging / "readme.txt"
        readme.write_text("Photos from the trip. This file is not media.\n")
        for sub in ("a", "a/b", "a/b/c"):
            (staging / "dirs" / sub).mkdir(parents=True, exist_ok=True)
        trip_media = [
            ("trip/a/DSC_0001.jpg", photo("t1.jpg")),
            ("trip/a/b/DSC_0002.jpg", photo("t2.jpg")),
            ("trip/a/b/DSC_0003.png", photo("t3.png", "PNG")),
            ("trip/a/b/c/DSC_0004.jpg", photo("t4.jpg")),
            ("trip/a/b/c/DSC_0005.jpg", photo("t5.jpg")),
            ("trip/a/b/c/MOV_0001.mp4", clip("t6.mp4")),
        ]
        dirs = [(f"trip/{sub}", staging / "dirs" / sub) for sub in ("a", "a/b", "a/b/c")]
        trip = [*dirs, ("trip/readme.txt", readme), *trip_media]
        paths.append(make_tar(folder / "trip.tar.gz", trip, compression="gz"))
        description.append("trip.tar.gz: 5 photos + 1 video in a/b/c, plus readme.txt (not media)")
        media += len(trip_media)

        # 3. loose/: plain files in a folder.
        loose = folder / "loose"
        loose.mkdir(exist_ok=True)
        make_photo(loose / "sunset.jpg", next(seeds))
        make_photo(loose / "harbour.jpg", next(seeds))
        make_photo(loose / "map.png", next(seeds), fmt="PNG")
        make_video(loose / "waves.mp4", next(seeds))
        paths.append(loose)
        description.append("loose/: a folder with 3 photos + 1 MP4 video")
        media += 4

    # 4. Matroska with streams an MP4 can carry: only the container changes.
    paths.append(make_video(folder / "needs-remux.mkv", next(seeds)))
    description.append("needs-remux.mkv: H.264/AAC in Matroska (container change only)")
    media += 1

    # 5. MPEG-4 part 2 in AVI: the codecs themselves must change.
    paths.append(
        make_video(folder / "needs-transcode.avi", next(seeds), vcodec="mpeg4", acodec="mp3")
    )
    description.append("needs-transcode.avi: MPEG-4 part 2 video in AVI (full transcode)")
    media += 1

    # 6. A truncated zip: must be reported, not crash the run.
    paths.append(make_corrupt_zip(folder / "broken.zip", next(seeds)))
    description.append("broken.zip: a truncated zip (should be reported as damaged)")

    return DemoInputs(paths=paths, expected_media=media, description=description)
