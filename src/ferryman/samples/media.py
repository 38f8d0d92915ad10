"""Sample photos and videos (``samples``): seeded, decodable, pairwise distinct, made
with Pillow and PyAV on the machine, no network."""

from __future__ import annotations

import io
import math
import random
from array import array
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO

import av
from PIL import Image, ImageDraw, ImageFont

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
    "mts": "mpegts",
    "3gp": "3gp",
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


def photo_bytes(seed: int, size: tuple[int, int] = (320, 240), fmt: str = "JPEG") -> bytes:
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
