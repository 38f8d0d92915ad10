"""Media a link converter meets, made with PyAV and served on loopback by the fault server.

- ``/clip.mp4``: a direct MP4 (H.264/AAC);
- ``/video-tag.html``: a page with ``<video src>``; ``/og.html``: a page with ``og:video``;
- ``/hls/master.m3u8``: an HLS master with 1080p, 720p and 360p video-only variants
  and a separate AAC audio rendition (so a merge is needed);
- ``/two.html``: a page with two videos (a playlist: ``/clip2.mp4`` is 2 s, 320×180);
- ``/muxed/master.m3u8``: an HLS master whose variants carry their own sound;
- ``/subs/master.m3u8``: an HLS master (360p, its own sound) with WebVTT subtitle
  renditions in English and German, each two segments; ``/chaptered.html``: a page
  whose JSON-LD VideoObject names that stream, its description, date, thumbnail
  (``/thumb.png``) and two chapters (``hasPart`` clips);
- ``/nothing.html``: a page with no media; ``/gone.mp4`` 404, ``/secret.mp4`` 403.

Everything is encoded once per test session (``MediaSite.make``) and served from memory.
"""

from __future__ import annotations

import array
import json
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw

from tests.support.httpserve import FaultServer

FPS = 24
SECONDS = 6.0
VARIANTS = ((1920, 1080), (1280, 720), (640, 360))
TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".html": "text/html; charset=utf-8",
    ".vtt": "text/vtt",
    ".png": "image/png",
}
# The subtitles' words by language, two cues in each of two segments.
SUBTITLES = {
    "en": ("Waves come in", "The tide turns", "Gulls circle", "Night falls"),
    "de": ("Wellen kommen", "Die Flut kippt", "Möwen kreisen", "Die Nacht kommt"),
}


def _frame(index: int, size: tuple[int, int]) -> av.VideoFrame:
    width, height = size
    image = Image.new("RGB", size, ((index * 10) % 256, 60, 120))
    x = (index * 7) % width
    ImageDraw.Draw(image).rectangle((x, height // 4, x + width // 8, height // 2), fill="yellow")
    frame = av.VideoFrame.from_image(image)
    frame.pts, frame.time_base = index, Fraction(1, FPS)
    return frame


def _tone(out: av.container.OutputContainer, seconds: float) -> None:
    stream = out.streams.audio[0]
    rate = stream.codec_context.sample_rate
    total, pts = round(seconds * rate), 0
    while pts < total:
        count = min(1024, total - pts)
        samples = array.array(
            "f", (0.2 * math.sin(2 * math.pi * 440 * (pts + k) / rate) for k in range(count))
        )
        frame = av.AudioFrame(format="flt", layout="mono", samples=count)
        frame.planes[0].update(bytes(samples))
        frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
        out.mux(stream.encode(frame))
        pts += count
    out.mux(stream.encode(None))


def write_media(
    path: Path,
    *,
    size: tuple[int, int] | None,
    audio: bool,
    seconds: float = SECONDS,
    fmt: str | None = None,
    options: dict[str, str] | None = None,
    vcodec: str = "libx264",
    acodec: str = "aac",
) -> Path:
    """A clip: moving frames of ``size`` (None: sound only) and a 440 Hz tone."""
    with av.open(str(path), "w", format=fmt, options=options or {}) as out:
        video = None
        if size is not None:
            x264 = {"preset": "ultrafast"} if vcodec == "libx264" else {}
            video = out.add_stream(vcodec, rate=FPS, options={**x264, "g": str(FPS)})
            video.width, video.height = size
            video.pix_fmt = "yuv420p"
        if audio:
            sound = out.add_stream(acodec, rate=48_000)
            sound.layout = "stereo"
        if video is not None:
            for i in range(round(seconds * FPS)):
                out.mux(video.encode(_frame(i, size)))  # type: ignore[arg-type]
            out.mux(video.encode(None))
        if audio:
            _tone(out, seconds)
    return path


def _hls(folder: Path, size: tuple[int, int] | None, audio: bool, seconds: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    playlist = folder / "index.m3u8"
    options = {
        "hls_time": "1",
        "hls_playlist_type": "vod",
        "hls_segment_filename": str(folder / "seg%03d.ts"),
    }
    return write_media(
        playlist, size=size, audio=audio, seconds=seconds, fmt="hls", options=options
    )


@dataclass
class MediaSite:
    root: Path
    seconds: float

    @classmethod
    def make(cls, root: Path, seconds: float = SECONDS) -> MediaSite:
        root.mkdir(parents=True, exist_ok=True)
        write_media(
            root / "clip.mp4",
            size=(640, 360),
            audio=True,
            seconds=seconds,
            options={"movflags": "+faststart"},
        )
        write_media(root / "clip2.mp4", size=(320, 180), audio=True, seconds=2.0)
        for width, height in VARIANTS:
            _hls(root / "hls" / f"v{height}", (width, height), False, seconds)
            _hls(root / "muxed" / f"v{height}", (width, height), True, seconds)
        _hls(root / "hls" / "audio", None, True, seconds)
        (root / "hls" / "master.m3u8").write_text(_master(separate_audio=True))
        (root / "muxed" / "master.m3u8").write_text(_master(separate_audio=False))
        (root / "video-tag.html").write_text(
            "<!doctype html><html><head><title>A walk by the sea</title></head><body>"
            '<h1>A walk</h1><video controls src="/clip.mp4"></video></body></html>'
        )
        (root / "og.html").write_text(
            "<!doctype html><html><head><title>Harbour at dusk</title>"
            '<meta property="og:title" content="Harbour at dusk">'
            '<meta property="og:video" content="/clip.mp4">'
            '<meta property="og:video:type" content="video/mp4">'
            "</head><body><p>Watch it.</p></body></html>"
        )
        (root / "two.html").write_text(
            "<!doctype html><html><head><title>Two clips</title></head><body>"
            '<video src="/clip.mp4"></video><video src="/clip2.mp4"></video></body></html>'
        )
        _subtitled(root / "subs", seconds)
        Image.new("RGB", (320, 180), (200, 90, 30)).save(root / "thumb.png")
        (root / "nothing.html").write_text(
            "<!doctype html><html><head><title>Plain page</title></head>"
            "<body><p>Only words here.</p></body></html>"
        )
        return cls(root, seconds)

    def serve(self, server: FaultServer) -> FaultServer:
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                web = "/" + path.relative_to(self.root).as_posix()
                server.add(web, path.read_bytes(), content_type=TYPES.get(path.suffix))
        page = _chaptered_page(self.seconds, server.url("/")).encode()
        server.add("/chaptered.html", page, content_type=TYPES[".html"])
        server.add("/gone.mp4", b"", content_type="text/plain").faults.status = 404
        server.resources["/gone.mp4"].faults.status_times = None
        server.add("/secret.mp4", b"", content_type="text/plain").faults.status = 403
        server.resources["/secret.mp4"].faults.status_times = None
        return server


def _master(*, separate_audio: bool) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    if separate_audio:
        lines.append(
            '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",'
            'DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"'
        )
    for width, height in VARIANTS:
        rate = {1080: 4_000_000, 720: 2_000_000, 360: 700_000}[height]
        codecs = "avc1.64001f,mp4a.40.2"
        extra = ',AUDIO="aud"' if separate_audio else ""
        lines.append(
            f'#EXT-X-STREAM-INF:BANDWIDTH={rate},RESOLUTION={width}x{height},CODECS="{codecs}"{extra}'
        )
        lines.append(f"v{height}/index.m3u8")
    return "\n".join(lines) + "\n"


def _subtitled(folder: Path, seconds: float) -> None:
    """``folder/master.m3u8``: 360p with sound, and a WebVTT rendition per language."""
    _hls(folder / "v360", (640, 360), True, seconds)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    half = seconds / 2
    for language, words in SUBTITLES.items():
        sub = folder / language
        sub.mkdir(parents=True, exist_ok=True)
        playlist = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{math.ceil(half)}"]
        playlist += ["#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]
        for part in range(2):
            start = part * half
            cues = []
            for k in range(2):
                begin, end = start + k * half / 2, start + (k + 1) * half / 2 - 0.2
                cues.append(f"{_vtt_time(begin)} --> {_vtt_time(end)}\n{words[part * 2 + k]}\n")
            (sub / f"part{part}.vtt").write_text("WEBVTT\n\n" + "\n".join(cues))
            playlist += [f"#EXTINF:{half:.3f},", f"part{part}.vtt"]
        (sub / "index.m3u8").write_text("\n".join([*playlist, "#EXT-X-ENDLIST"]) + "\n")
        name = {"en": "English", "de": "Deutsch"}[language]
        lines.append(
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="{name}",LANGUAGE="{language}",'
            f'AUTOSELECT=YES,URI="{language}/index.m3u8"'
        )
    lines.append(
        "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,"
        'CODECS="avc1.64001f,mp4a.40.2",SUBTITLES="subs"'
    )
    lines.append("v360/index.m3u8")
    (folder / "master.m3u8").write_text("\n".join(lines) + "\n")


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _chaptered_page(seconds: float, base: str) -> str:
    """JSON-LD takes absolute addresses only: the page is made for the server's own."""
    video = {
        "@context": "https://schema.org",
        "@type": "VideoObject",
        "name": "Tides of the harbour",
        "description": "A day at the harbour & its tides.",
        "uploadDate": "2026-03-14",
        "thumbnailUrl": base + "thumb.png",
        "contentUrl": base + "subs/master.m3u8",
        "duration": f"PT{int(seconds)}S",
        "author": {"@type": "Person", "name": "Harbour Films"},
        "hasPart": [
            {"@type": "Clip", "name": "Morning", "startOffset": 0, "endOffset": seconds / 2},
            {"@type": "Clip", "name": "Evening", "startOffset": seconds / 2, "endOffset": seconds},
        ],
    }
    return (
        "<!doctype html><html><head><title>Tides of the harbour</title>"
        f'<script type="application/ld+json">{json.dumps(video)}</script>'
        "</head><body><p>Tides.</p></body></html>"
    )
