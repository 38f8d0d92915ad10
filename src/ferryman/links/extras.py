"""What a media library wants beside a link's picture and sound: the subtitles of the
languages asked for, the page's chapters, and (for a library) an ``.nfo`` and a poster.

- **Subtitles** (``Profile.subs``): for each language asked, the page's own subtitles
  (else its automatic captions) in WebVTT or SRT, fetched by yt-dlp's own downloaders
  (an HLS rendition segment by segment, merged by yt-dlp), read with PyAV and written
  as SRT. An MP4 or M4A gets them as ``mov_text`` tracks (``media.mov_text``: what
  Telegram's and every phone's player shows), each with its language.
- **Chapters** (yt-dlp's ``chapters``: YouTube's, a page's JSON-LD ``hasPart`` clips)
  are written into the MP4/M4A (its chapter list, as FFmpeg writes it).
- **Sidecars** (``Profile.sidecars``, set when the destination is a library): each
  subtitle as ``Title.LANG.srt`` beside the file, ``Title.nfo`` (Kodi's ``<movie>``:
  title, channel, date, description, the site's ID) and the thumbnail as
  ``Title-thumb.jpg`` and ``poster.jpg``: the names Jellyfin, Plex and Kodi read
  (docs/links.md says which of their pages).

The made file is changed only by a remux into a new file that is verified before it
replaces the old one; its size and hash in the entry's record are taken anew.
"""

from __future__ import annotations

import contextlib
import html
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ferryman.links.profile import Output, Profile
from ferryman.media import mov_text

SUB_EXTS = ("vtt", "srt")
CHAPTERED = (Output.VIDEO, Output.MUTE, Output.M4A)  # MP4 and M4A keep a chapter list


@dataclass(frozen=True, slots=True)
class Cue:
    start: float  # seconds
    end: float
    text: str


def chosen_subtitles(info: Mapping[str, Any], languages: tuple[str, ...]) -> dict[str, Any]:
    """For each language asked, the page's subtitle format to fetch (its own first, then
    automatic captions; WebVTT, then SRT); ``en`` takes ``en-US`` when that is all."""
    found: dict[str, Any] = {}
    for wanted in languages:
        for kind in ("subtitles", "automatic_captions"):
            tracks = info.get(kind) or {}
            names = [n for n in tracks if n == wanted] or [
                n for n in tracks if n.split("-")[0].lower() == wanted.lower()
            ]
            fmt = next(
                (f for n in names for ext in SUB_EXTS for f in tracks[n] if f.get("ext") == ext),
                None,
            )
            if fmt is not None:
                found[wanted] = fmt
                break
    return found


def read_cues(path: Path) -> list[Cue]:
    """The cues of a WebVTT or SRT file, in time order, markup removed."""
    cues: list[Cue] = []
    with av.open(str(path)) as inp:
        stream = inp.streams.subtitles[0]
        codec = stream.codec_context.name
        base = stream.time_base or Fraction(1, 1000)
        for packet in inp.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            text = mov_text.cue_text(codec, bytes(packet))
            if text:
                start = float(packet.pts * base)
                cues.append(Cue(start, start + float((packet.duration or 0) * base), text))
    return sorted(cues, key=lambda c: c.start)


def srt_text(cues: list[Cue]) -> str:
    def stamp(seconds: float) -> str:
        ms = max(0, round(seconds * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "".join(
        f"{n}\n{stamp(c.start)} --> {stamp(c.end)}\n{c.text}\n\n" for n, c in enumerate(cues, 1)
    )


def embed(
    made: Path, subs: dict[str, list[Cue]], chapters: list[Mapping[str, Any]], work: Path
) -> Path:
    """A copy of the MP4/M4A ``made`` with ``subs`` as ``mov_text`` tracks (language
    tagged) and ``chapters``, written in ``work``: every stream of ``made`` copied."""
    target = work / ("with-extras" + made.suffix)
    templates: list[Any] = []
    with contextlib.ExitStack() as stack:
        inp = stack.enter_context(av.open(str(made)))
        out = stack.enter_context(
            av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"})
        )
        out.metadata.update(inp.metadata)
        copied = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        tracks = []
        for language, cues in subs.items():
            template = stack.enter_context(mov_text.open_template())
            templates.append(template)
            stream = out.add_stream_from_template(template.streams[0])
            stream.metadata["language"] = _iso639_2(language)
            stream.metadata["title"] = language
            stream.time_base = Fraction(1, 1000)
            tracks.append((stream, cues))
        if chapters:
            out.set_chapters(
                [
                    {
                        "id": n + 1,
                        "start": round(float(c.get("start_time") or 0) * 1000),
                        "end": round(float(c.get("end_time") or 0) * 1000),
                        "time_base": Fraction(1, 1000),
                        "metadata": {"title": str(c.get("title") or f"Chapter {n + 1}")},
                    }
                    for n, c in enumerate(chapters)
                ]
            )
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = copied[packet.stream_index]
            out.mux(packet)
        for stream, cues in tracks:
            for cue in cues:
                packet = av.Packet(mov_text.sample(cue.text))
                packet.stream = stream
                packet.time_base = Fraction(1, 1000)
                packet.pts = packet.dts = round(cue.start * 1000)
                packet.duration = max(1, round((cue.end - cue.start) * 1000))
                out.mux(packet)
    return target


# The languages people write in two letters, as MP4's three-letter codes.
_ISO639_2 = {
    "en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por",
    "ru": "rus", "ja": "jpn", "zh": "zho", "ko": "kor", "nl": "nld", "pl": "pol",
    "sv": "swe", "tr": "tur", "uk": "ukr", "ar": "ara", "hi": "hin", "cs": "ces",
}  # fmt: skip


def _iso639_2(language: str) -> str:
    base = language.split("-")[0].lower()
    return _ISO639_2.get(base, base if len(base) == 3 else "und")


def nfo_text(info: Mapping[str, Any]) -> str:
    """Kodi's ``<movie>`` NFO (Jellyfin and Plex's local-metadata agents read it too):
    title, the channel as studio, the date, the description as plot, the site's ID."""

    def tag(name: str, value: Any, attrs: str = "") -> str:
        return f"  <{name}{attrs}>{html.escape(str(value))}</{name}>\n" if value else ""

    date = str(info.get("upload_date") or info.get("release_date") or "")
    premiered = f"{date[:4]}-{date[4:6]}-{date[6:]}" if len(date) == 8 and date.isdigit() else ""
    site = str(info.get("extractor_key") or info.get("extractor") or "web").lower()
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<movie>\n'
        + tag("title", info.get("title"))
        + tag("plot", info.get("description"))
        + tag("studio", info.get("channel") or info.get("uploader"))
        + tag("premiered", premiered)
        + tag("year", premiered[:4])
        + tag("uniqueid", info.get("id"), f' type="{html.escape(site)}" default="true"')
        + tag("trailer", info.get("webpage_url"))
        + "</movie>\n"
    )


def poster_jpeg(data: bytes) -> bytes:
    """A thumbnail (JPEG, WebP or PNG as sites serve them) as a JPEG."""
    from PIL import Image  # lazy: start-up

    with Image.open(io.BytesIO(data)) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=90)
        return buffer.getvalue()


def write_file(path: Path, data: bytes) -> None:
    """A sidecar written whole and durable before it has its name."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def wants_extras(profile: Profile, info: Mapping[str, Any]) -> bool:
    return bool(profile.subs or profile.sidecars or (info.get("chapters") and _chaptered(profile)))


def _chaptered(profile: Profile) -> bool:
    return profile.output in CHAPTERED
