"""Choose what to download from the formats a page offers, for one output profile.

yt-dlp lists a video's formats worst to best (its own ranking: resolution, codec,
bitrate), so a format's position is its rank. The rule is the one people mean by
"1080p": the best picture whose short side fits the height asked (a vertical
1080×1920 video is 1080p), with the best sound; separate video-only and audio-only
streams are merged, which is how YouTube serves everything above 360p. When every
picture is larger than asked, the smallest is taken and scaled down. Nothing is
asked of the network here: this works on the list alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.links.profile import Output, Profile

Format = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Choice:
    """The formats to fetch: a picture (None for audio) and a separate sound (None when
    the picture's own is used, or none is wanted), and what a person is told of it."""

    video: Format | None
    audio: Format | None
    height: int | None  # the chosen picture's short side, when known
    scale_to: int | None  # the picture is larger than asked: scale its short side to this
    note: str  # "asked 1080p; best available 720p"

    @property
    def format_ids(self) -> tuple[str, ...]:
        return tuple(str(f["format_id"]) for f in (self.video, self.audio) if f is not None)


def has_video(fmt: Format) -> bool:
    return fmt.get("vcodec") != "none" and not _audio_ext(fmt)


def has_audio(fmt: Format) -> bool:
    return fmt.get("acodec") != "none"


def short_side(fmt: Format) -> int | None:
    width, height = fmt.get("width"), fmt.get("height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return min(width, height)
    return height if isinstance(height, int) and height > 0 else None


def choose(formats: Sequence[Format], profile: Profile) -> Choice:
    """The formats for ``profile``; ``link.no_media`` when none can give it."""
    usable = [f for f in formats if f.get("url") or f.get("fragments")]
    ranked = list(enumerate(usable))  # position = yt-dlp's rank, worst first
    if profile.output.is_audio:
        return _for_audio(ranked, profile)
    return _for_video(ranked, profile)


def _for_audio(ranked: list[tuple[int, Format]], profile: Profile) -> Choice:
    alone = [(i, f) for i, f in ranked if has_audio(f) and not has_video(f)]
    if alone:
        best = max(alone, key=lambda p: (_abr(p[1]), p[0]))[1]
        return Choice(None, best, None, None, f"{profile.describe()} from {_sound(best)}")
    mixed = [(i, f) for i, f in ranked if has_audio(f)]
    if not mixed:
        raise FerrymanError("link.no_media", "the page offers no sound to extract")
    # The sound is usually the same in every variant: the smallest picture costs least.
    best = max(mixed, key=lambda p: (_abr(p[1]), -(short_side(p[1]) or 0), p[0]))[1]
    return Choice(best, None, short_side(best), None, f"{profile.describe()} from {_sound(best)}")


def _for_video(ranked: list[tuple[int, Format]], profile: Profile) -> Choice:
    pictures = [(i, f) for i, f in ranked if has_video(f)]
    if not pictures:
        raise FerrymanError("link.no_media", "the page offers no video, only sound")
    wanted = profile.height
    fits = [(i, f) for i, f in pictures if wanted is None or (short_side(f) or 0) <= wanted]
    scale_to = None
    if fits:
        picture = max(fits, key=lambda p: (short_side(p[1]) or 0, p[0]))[1]
    else:  # every picture is larger than asked: the smallest, scaled down
        picture = min(pictures, key=lambda p: (short_side(p[1]) or 0, -p[0]))[1]
        scale_to = wanted
    got = short_side(picture)
    sound: Format | None = None
    if profile.output is not Output.MUTE and not has_audio(picture):
        alone = [(i, f) for i, f in ranked if has_audio(f) and not has_video(f)]
        if alone:
            sound = max(alone, key=lambda p: (_abr(p[1]), p[0]))[1]
        else:  # no separate sound: the best picture that carries its own
            mixed = [(i, f) for i, f in fits or pictures if has_audio(f)]
            if mixed:
                picture = max(mixed, key=lambda p: (short_side(p[1]) or 0, p[0]))[1]
                got = short_side(picture)
    return Choice(picture, sound, got, scale_to, _video_note(profile, got, scale_to, pictures))


def _video_note(
    profile: Profile, got: int | None, scale_to: int | None, pictures: list[tuple[int, Format]]
) -> str:
    asked = f"{profile.height}p" if profile.height else "best"
    if scale_to is not None:
        return f"asked {asked}; smallest available {got}p, scaled to {scale_to}p"
    if got is None:
        return f"asked {asked}; the page does not say the picture's size"
    best = max((short_side(f) or 0) for _, f in pictures)
    if profile.height is not None and got < profile.height and got == best:
        return f"asked {asked}; best available {got}p"
    return f"asked {asked}; delivered {got}p"


def _abr(fmt: Format) -> float:
    for key in ("abr", "tbr"):
        value = fmt.get(key)
        if isinstance(value, int | float):
            return float(value)
    return 0.0


def _sound(fmt: Format) -> str:
    codec = str(fmt.get("acodec") or "audio").split(".")[0]
    rate = _abr(fmt)
    return f"{codec} {rate:.0f} kbps" if rate else codec


def _audio_ext(fmt: Format) -> bool:
    """A direct link to a sound file: yt-dlp cannot tell its codecs (both None)."""
    return fmt.get("vcodec") is None and fmt.get("ext") in ("mp3", "m4a", "opus", "ogg", "wav")
