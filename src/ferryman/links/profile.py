"""What a person wants out of a link to media: one model for the CLI, the chat and the web.

``video`` is an MP4 (H.264/AAC) no taller than ``height`` (None: the best there is);
``audio`` is the sound alone, as MP3 at ``bitrate`` kbps, M4A (AAC copied when there
is one) or Opus; ``mute`` is the MP4 without its sound. ``playlist`` takes every
entry of a playlist or channel link (up to ``links.playlist_max``), else only the one
video the link names.

A profile travels inside the job's source URI as a short token (``video-1080``,
``mp3-192``, ``m4a``, ``mute-720+playlist``) so a job remembers what was asked for
across restarts, and the same link asked for as MP4 and as MP3 is two inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from ferryman.errors import FerrymanError

HEIGHTS = (2160, 1440, 1080, 720, 480, 360)
MP3_BITRATES = (320, 256, 192, 128, 96)
DEFAULT_HEIGHT = 1080
DEFAULT_MP3_BITRATE = 192


class Output(StrEnum):
    VIDEO = "video"
    MP3 = "mp3"
    M4A = "m4a"
    OPUS = "opus"
    MUTE = "mute"

    @property
    def is_audio(self) -> bool:
        return self in (Output.MP3, Output.M4A, Output.OPUS)


@dataclass(frozen=True, slots=True)
class Profile:
    output: Output = Output.VIDEO
    height: int | None = DEFAULT_HEIGHT  # video and mute; None: best
    bitrate: int | None = None  # mp3 kbps (default 192); opus kbps (default 128)
    playlist: bool = False
    subs: tuple[str, ...] = ()  # subtitles' languages, as asked ("en", "de", "pt-BR")
    nfo: bool = False  # a library's sidecars: .srt beside the file, .nfo, poster (links.extras)

    @property
    def sidecars(self) -> bool:
        return self.nfo

    def __post_init__(self) -> None:
        for language in self.subs:
            if not _LANGUAGE.match(language):
                raise FerrymanError(
                    "link.bad_profile", f"subtitles '{language}': a language code (en, de, pt-BR)"
                )
        if self.height is not None and self.height not in HEIGHTS:
            raise FerrymanError(
                "link.bad_profile",
                f"height {self.height} is not one of {', '.join(map(str, HEIGHTS))} or best",
            )
        if self.output is Output.MP3 and self.bitrate not in (None, *MP3_BITRATES):
            raise FerrymanError(
                "link.bad_profile",
                f"MP3 at {self.bitrate} kbps: choose {', '.join(map(str, MP3_BITRATES))}",
            )
        if self.output in (Output.M4A,) and self.bitrate is not None:
            raise FerrymanError(
                "link.bad_profile", "M4A keeps the source's AAC: it takes no bitrate"
            )
        if (
            self.output is Output.OPUS
            and self.bitrate is not None
            and not 32 <= self.bitrate <= 256
        ):
            raise FerrymanError("link.bad_profile", "Opus bitrate: 32 to 256 kbps")

    @property
    def kbps(self) -> int | None:
        """The audio bitrate asked for, with the format's default."""
        if self.output is Output.MP3:
            return self.bitrate or DEFAULT_MP3_BITRATE
        if self.output is Output.OPUS:
            return self.bitrate or 128
        return None

    @property
    def suffix(self) -> str:
        return {Output.MP3: ".mp3", Output.M4A: ".m4a", Output.OPUS: ".opus"}.get(
            self.output, ".mp4"
        )

    def token(self) -> str:
        """The profile as the short word kept in a source URI (``parse_token`` reads it)."""
        if self.output.is_audio:
            word = self.output.value + (f"-{self.bitrate}" if self.bitrate else "")
        else:
            word = f"{self.output.value}-{self.height or 'best'}"
        word += "+playlist" if self.playlist else ""
        word += f"+subs-{'.'.join(self.subs)}" if self.subs else ""
        return word + ("+nfo" if self.nfo else "")

    def variant(self) -> str:
        """As few words as tell two results of one link apart, as a caption says them:
        "720p, mute", "best", "MP3 192 kbps", "1080p, playlist"."""
        if self.output.is_audio:
            rate = f" {self.kbps} kbps" if self.kbps else ""
            text = {Output.OPUS: "Opus"}.get(self.output, self.output.value.upper()) + rate
        else:
            text = f"{self.height}p" if self.height else "best"
            text += ", mute" if self.output is Output.MUTE else ""
        text += ", playlist" if self.playlist else ""
        return text + (f", subtitles {'+'.join(self.subs)}" if self.subs else "")

    def describe(self) -> str:
        """As a person would say it: "MP4 up to 1080p", "MP3 192 kbps"."""
        if self.output is Output.MP3:
            text = f"MP3 {self.kbps} kbps"
        elif self.output is Output.OPUS:
            text = f"Opus {self.kbps} kbps"
        elif self.output is Output.M4A:
            text = "M4A (AAC)"
        else:
            size = f"up to {self.height}p" if self.height else "best quality"
            text = f"{'MP4 without sound' if self.output is Output.MUTE else 'MP4'} {size}"
        text += ", whole playlist" if self.playlist else ""
        text += f", subtitles {', '.join(self.subs)}" if self.subs else ""
        return text + (", with .nfo and poster" if self.nfo else "")


_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
_TOKEN = re.compile(r"^(video|mute)-(best|\d{3,4})$|^(mp3|m4a|opus)(?:-(\d{2,3}))?$")


def parse_token(token: str) -> Profile:
    """The profile a source URI's token names; ``link.bad_profile`` if it names none."""
    word, *extras = token.split("+")
    found = _TOKEN.match(word)
    if found is None:
        raise FerrymanError("link.bad_profile", f"'{token}' is not an output profile")
    playlist = nfo = False
    subs: tuple[str, ...] = ()
    for extra in extras:
        if extra == "playlist":
            playlist = True
        elif extra == "nfo":
            nfo = True
        elif extra.startswith("subs-") and len(extra) > 5:
            subs = tuple(extra[5:].split("."))
        else:
            raise FerrymanError("link.bad_profile", f"'{token}' is not an output profile")
    if found.group(1):
        height = None if found.group(2) == "best" else int(found.group(2))
        return Profile(Output(found.group(1)), height, None, playlist, subs, nfo)
    bitrate = int(found.group(4)) if found.group(4) else None
    return Profile(Output(found.group(3)), None, bitrate, playlist, subs, nfo)


def languages(text: str | None) -> tuple[str, ...]:
    """``en,de`` (or ``en de``) as the languages asked, in order, each once."""
    seen: list[str] = []
    for word in re.split(r"[,\s]+", text or ""):
        if word and word not in seen:
            seen.append(word)
    return tuple(seen)


def from_choices(
    *,
    audio: str | None = None,
    bitrate: int | None = None,
    quality: str | None = None,
    mute: bool = False,
    playlist: bool = False,
    subs: str | None = None,
    nfo: bool = False,
) -> Profile | None:
    """The profile the CLI's flags (or a web form) ask for; None when none was given
    (the link then goes where the server's answer sends it, with the default profile)."""
    if languages(subs) or nfo:
        plain = from_choices(
            audio=audio, bitrate=bitrate, quality=quality, mute=mute, playlist=playlist
        )
        return replace(plain or Profile(playlist=playlist), subs=languages(subs), nfo=nfo)
    if audio is None and bitrate is None and quality is None and not mute and not playlist:
        return None
    if audio is not None and mute:
        raise FerrymanError("link.bad_profile", "audio and mute exclude each other")
    if audio is not None:
        if quality is not None:
            raise FerrymanError("link.bad_profile", "a quality is for video; audio takes a bitrate")
        try:
            output = Output(audio.lower())
        except ValueError:
            raise FerrymanError(
                "link.bad_profile", f"audio format '{audio}': choose mp3, m4a or opus"
            ) from None
        if not output.is_audio:
            raise FerrymanError(
                "link.bad_profile", f"audio format '{audio}': choose mp3, m4a or opus"
            )
        return Profile(output, None, bitrate, playlist)
    if bitrate is not None:
        return Profile(Output.MP3, None, bitrate, playlist)
    height = _height(quality) if quality is not None else DEFAULT_HEIGHT
    return Profile(Output.MUTE if mute else Output.VIDEO, height, None, playlist)


def _height(quality: str) -> int | None:
    text = quality.strip().lower().removesuffix("p")
    if text in ("best", "max", "source"):
        return None
    if text.isdigit() and int(text) in HEIGHTS:
        return int(text)
    shown = ", ".join(f"{h}p" for h in HEIGHTS)
    raise FerrymanError("link.bad_profile", f"quality '{quality}': choose {shown} or best")


_CAPTION_WORDS = re.compile(
    r"(?<![\w/.])(mp3|m4a|opus|mute|playlist|best|(?:2160|1440|1080|720|480|360)p|4k)(?![\w/.])"
    r"(?:\s+(\d{2,3})(?:\s*kbps|k)?(?![\w/.]))?",
    re.IGNORECASE,
)


_CAPTION_SUBS = re.compile(
    r"(?<![\w/.])subs?\s+([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?(?:\s*,\s*[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)*)",
    re.IGNORECASE,
)
_CAPTION_NFO = re.compile(r"(?<![\w/.])nfo(?![\w/.])", re.IGNORECASE)


def from_caption(text: str) -> Profile | None:
    """The profile a chat caption asks for (``mp3 192``, ``720p``, ``m4a``, ``mute 480p``,
    ``best playlist``, ``subs en,de``, ``nfo``); None when it names none. A bitrate
    follows its format."""
    audio: str | None = None
    bitrate: int | None = None
    quality: str | None = None
    mute = playlist = False
    subs = _CAPTION_SUBS.search(text)
    words = _CAPTION_SUBS.sub(" ", text)
    for found in _CAPTION_WORDS.finditer(words):
        word = found.group(1).lower()
        if word in ("mp3", "m4a", "opus"):
            audio = word
            bitrate = int(found.group(2)) if found.group(2) else bitrate
        elif word == "mute":
            mute = True
        elif word == "playlist":
            playlist = True
        else:
            quality = "2160" if word == "4k" else word
    return from_choices(
        audio=audio,
        bitrate=bitrate,
        quality=quality,
        mute=mute,
        playlist=playlist,
        subs=subs.group(1) if subs else None,
        nfo=bool(_CAPTION_NFO.search(words)),
    )
