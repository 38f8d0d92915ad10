"""Make the asked-for file from what was downloaded, with PyAV, then prove it plays.

- ``video``/``mute``: the picture's and the sound's streams are copied into one MP4
  when they already play everywhere (H.264 8-bit 4:2:0 no larger than asked; AAC);
  otherwise they are joined as they are and re-encoded by the segmented transcoder
  (H.264/AAC, scaled to the height asked).
- ``mp3``/``opus`` are encoded at the bitrate asked; ``m4a`` copies an AAC sound.
- Title, uploader and date go into the file's tags.
- The result is probed (``media.verify``) before it counts: not empty, as long as the
  source said (within 1 s or 1 %), its first and last seconds decode.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av

from ferryman.fsutil import sha256_file
from ferryman.links.profile import Output, Profile
from ferryman.links.select import Choice
from ferryman.media import linkout
from ferryman.media.verify import verify

if TYPE_CHECKING:
    from ferryman.media.verify import Verified


def cost_share(profile: Profile, choice: Choice) -> float:
    """The share of an entry's time spent making the output, for the progress curve."""
    if profile.output is Output.M4A:
        return 0.03
    if profile.output.is_audio:
        return 0.15
    if choice.scale_to is not None or not _plays_everywhere(choice.video):
        return 0.5
    return 0.05


def _plays_everywhere(fmt: Any) -> bool:
    codec = str((fmt or {}).get("vcodec") or "")
    return codec.startswith(("avc1", "h264")) or codec in ("", "None")


def metadata_of(info: dict[str, Any]) -> dict[str, str]:
    """The tags written into the file: title, artist (the uploader), date, comment (the
    page it came from)."""
    tags = {
        "title": info.get("title") or info.get("fulltitle"),
        "artist": info.get("uploader") or info.get("channel") or info.get("creator"),
        "date": _date(info.get("upload_date") or info.get("release_date")),
        "comment": info.get("webpage_url"),
    }
    return {key: str(value)[:500] for key, value in tags.items() if value}


def _date(value: Any) -> str | None:
    text = str(value or "")
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text or None


def make_output(
    info: dict[str, Any],
    profile: Profile,
    choice: Choice,
    fetched: Sequence[Path],
    target: Path,
    work: Path,
    progress: Callable[[float], None],
    ffmpeg: str | None = None,
    *,
    crf: int = 23,
    preset: str = "veryfast",
    threads: int = 0,
    lookahead: int | None = None,
) -> Verified:
    """Write ``target`` for ``profile`` from the ``fetched`` files (picture first), verify
    it, and only then put it in place (a crash leaves no half file under its name).
    The length it must have is the page's, else the longest download's; a transcode is
    made at the ``convert`` section's ``crf``, ``preset``, ``threads`` and ``lookahead``."""

    tags = metadata_of(info)
    partial = work / ("making" + profile.suffix)
    partial.unlink(missing_ok=True)
    if profile.output.is_audio:
        source = fetched[-1] if choice.audio is not None else fetched[0]
        linkout.audio_file(
            source, partial, profile.output.value, profile.kbps, tags, progress, ffmpeg
        )
    else:
        picture = fetched[0]
        sound = fetched[1] if len(fetched) > 1 else None
        keep_sound = profile.output is not Output.MUTE
        linkout.video_file(
            picture,
            sound,
            partial,
            work,
            keep_sound,
            profile.height,
            tags,
            progress,
            ffmpeg,
            crf=crf,
            preset=preset,
            threads=threads,
            lookahead=lookahead,
        )
    return finish_output(info, profile, partial, target, fetched)


def finish_output(
    info: dict[str, Any],
    profile: Profile,
    partial: Path,
    target: Path,
    fetched: Sequence[Path],
) -> Verified:
    """Verify a made file against what was asked and the source's length, make it
    durable, and only then give it its name."""

    wants_video = not profile.output.is_audio
    duration = info.get("duration")
    expected = float(duration) if isinstance(duration, int | float) else _longest(fetched)
    # The file's hash, computed while it is verified and made durable (hashlib works
    # outside the GIL): staging then links it without reading it again.
    with ThreadPoolExecutor(1) as pool:
        hashing = pool.submit(sha256_file, partial)
        verified = verify(
            partial,
            expected,
            video=wants_video,
            audio=profile.output is not Output.MUTE,
            max_height=profile.height if wants_video else None,
        )
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        size, digest = hashing.result()
    os.replace(partial, target)
    return replace(verified, size=size, sha256=digest)


def _longest(paths: Sequence[Path]) -> float | None:
    """The longest of the downloads as their containers say (None if none says)."""

    found = []
    for path in paths:
        with av.open(str(path)) as inp:
            if inp.duration:
                found.append(inp.duration / av.time_base)
    return max(found, default=None)
