"""A link's output made while it downloads (``links.grab``): an HLS picture joined with
its sound by ffmpeg as it arrives, or a sound encoded to MP3/Opus as it grows, instead
of after the download."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.links import make
from ferryman.links.grab_download import Curve, download, download_fed, download_path, scaled
from ferryman.links.profile import Output, Profile
from ferryman.media.ffmpeg_binary import streaming_encode

log = logging.getLogger(__name__)


def joins_streamed(profile: Profile, downloads: Sequence[Mapping[str, Any]]) -> bool:
    """An MP4 of an HLS picture (yt-dlp's own HLS downloader writes its segments one
    after another: a file read front to back) and a separate sound, neither known to
    need more than a copy: the sound is downloaded first and ffmpeg joins the picture
    as it arrives (``joined``)."""
    if profile.output is not Output.VIDEO or len(downloads) != 2:
        return False
    picture, sound = downloads
    vcodec, acodec = str(picture.get("vcodec") or ""), str(sound.get("acodec") or "")
    return (  # an unknown codec is tried: what the copy makes is checked after
        picture.get("protocol") == "m3u8_native"
        and (not vcodec or vcodec.startswith(("avc1", "h264")))
        and (not acodec or acodec.startswith(("mp4a", "aac")))
    )


def joined(
    ydl: Any,
    info: dict[str, Any],
    downloads: Sequence[Mapping[str, Any]],
    sizes: Sequence[float],
    profile: Profile,
    work: Path,
    target: Path,
    ffmpeg: str,
    max_size: int,
    curve: Curve,
) -> tuple[Any | None, list[Path]]:
    """Download the sound, then the picture with ffmpeg copying it into the MP4 as it
    arrives: the join overlaps the download instead of following it (2 s of a 5-minute
    1080p stream on loopback; on a real network the whole join hides in the download).

    Returns the verified result, or None when the copy does not fit after all (the
    picture is not H.264 at the size asked, the sound not AAC: found once both are in)
    or ffmpeg could not read the stream; then the caller makes it from the two files,
    which are returned either way. A restart joins again from the picture's start."""
    from ferryman.media.ffmpeg_binary import streaming_join  # lazy: tests patch it here
    from ferryman.media.linkout import joins_by_copy  # lazy: tests patch it here

    picture_fmt, sound_fmt = downloads
    total = sum(sizes) or 2
    sound_share = (sizes[1] or 1) / total * 0.95
    sound = download_path(work, sound_fmt)
    download(ydl, info, sound_fmt, sound, scaled(curve, 0, sound_share), curve, max_size)
    picture = download_path(work, picture_fmt)
    partial = work / ("making" + profile.suffix)
    partial.unlink(missing_ok=True)
    joiner = streaming_join(ffmpeg, sound, partial, make.metadata_of(info), work / "ffmpeg.log")
    moved = scaled(curve, sound_share, 0.95 - sound_share)
    download_fed(joiner, ydl, info, picture_fmt, picture, moved, curve, max_size)
    fetched = [picture, sound]
    try:
        joiner.finish()
        if joiner.fed != picture.stat().st_size:  # ffmpeg may end well on a cut stream
            raise FerrymanError("media.convert_failed", "the join did not read it all")
        if joins_by_copy(picture, sound, True, profile.height):
            return make.finish_output(info, profile, partial, target, fetched), fetched
    except FerrymanError as exc:  # its verify too: the files are still here to join
        log.info("the join while downloading did not make it (%s); joining the files", exc)
    partial.unlink(missing_ok=True)
    return None, fetched


STREAMED = (Output.MP3, Output.OPUS)
# Containers ffmpeg reads from a pipe, front to back (an MP4 with its index at the end
# is not one of them: those are downloaded first).
_PIPEABLE = frozenset({"ts", "webm", "mka", "mkv", "ogg", "opus", "mp3", "aac", "flac", "wav"})


def pipes(fmt: Mapping[str, Any]) -> bool:
    protocol = str(fmt.get("protocol") or "")
    return protocol.startswith("m3u8") or str(fmt.get("ext") or "") in _PIPEABLE


def streamed(
    ydl: Any,
    info: dict[str, Any],
    fmt: Mapping[str, Any],
    profile: Profile,
    work: Path,
    target: Path,
    ffmpeg: str,
    max_size: int,
    curve: Curve,
) -> Any:
    """Download the sound and encode it at once, the encoder reading the download as it
    grows (``media.ffmpeg_binary.StreamingEncoder``): the encode hides behind the
    download, or the download behind the encode, instead of following it."""

    path = download_path(work, fmt)
    partial = work / ("making" + profile.suffix)
    duration = info.get("duration")
    shares = {"download": 0.0, "encode": 0.0}

    def moved(which: str) -> Callable[[float], None]:
        def report(fraction: float) -> None:
            shares[which] = max(shares[which], fraction)
            curve.at(0.5 * shares["download"] + 0.5 * shares["encode"])

        return report

    encoder = streaming_encode(
        ffmpeg,
        partial,
        profile.output.value,
        profile.kbps or 192,
        make.metadata_of(info),
        float(duration) if isinstance(duration, int | float) else None,
        moved("encode"),
        work / "ffmpeg.log",
    )
    download_fed(encoder, ydl, info, fmt, path, moved("download"), curve, max_size)
    encoder.finish()
    return make.finish_output(info, profile, partial, target, [path])
