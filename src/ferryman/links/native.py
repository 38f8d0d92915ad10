"""yt-dlp kept to its own downloaders: no program it could start (ffmpeg, rtmpdump,
aria2c…) makes a connection the egress guard has not checked.

The guard sees the connections of the link's child process (``net.egress``:
``guarded_lookups``); a program yt-dlp starts opens its own sockets. yt-dlp hands an
HLS manifest to an ``ffmpeg`` on PATH when its native downloader meets what it does not
do itself (SAMPLE-AES, an AES-128 key without pycryptodomex, a live stream), and some
protocols (RTMP, RTSP) to other programs. So:

- every download is yt-dlp's own (``external_downloader`` ``native``), and yt-dlp is
  told ffmpeg is at a place where nothing can be (``NOWHERE``): it finds no ffmpeg to
  delegate to or to merge with (an AES-128 stream is decrypted by yt-dlp with
  pycryptodomex, a dependency for it);
- a format whose downloader would still be a program is never chosen
  (``native_formats``), and one that got this far is refused before it starts
  (``check_native``): ``link.not_native``;
- what yt-dlp could only delegate (a SAMPLE-AES stream) fails as ``link.not_native``
  (``links.failures`` reads yt-dlp's "ffmpeg could not be found").

ferryman's own ffmpeg (``media.ffmpeg_binary``) reads only files and pipes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from ferryman.errors import FerrymanError

# A file under /dev/null can never exist (not a folder): yt-dlp looks there for ffmpeg
# and ffprobe, finds neither, and runs no program.
NOWHERE = os.path.join(os.devnull, "ffmpeg")

# yt-dlp's downloaders that fetch in Python, through the guarded sockets: its names, so
# this module loads nothing of yt-dlp's at import.
_NATIVE = frozenset({"HttpFD", "HlsFD", "DashSegmentsFD", "F4mFD", "IsmFD"})


def native_params() -> dict[str, Any]:
    """yt-dlp's options that keep every download its own."""
    return {
        "external_downloader": {"default": "native"},
        "hls_prefer_native": True,
        "ffmpeg_location": NOWHERE,
    }


@contextlib.contextmanager
def no_programs() -> Iterator[None]:
    """While the block runs, yt-dlp's class-wide look for ffmpeg (the one its HLS
    downloader asks before delegating: ``FFmpegFD.available``, which reads no options)
    finds none either."""
    from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor  # lazy: start-up

    token = FFmpegPostProcessor._ffmpeg_location.set(NOWHERE)
    try:
        yield
    finally:
        FFmpegPostProcessor._ffmpeg_location.reset(token)


def downloader_of(ydl: Any, info: Mapping[str, Any], fmt: Mapping[str, Any]) -> str:
    """The name of the yt-dlp downloader that would fetch ``fmt`` of ``info``."""
    from yt_dlp.downloader import get_suitable_downloader  # lazy: start-up

    merged = dict(info)
    merged.update(fmt)
    merged.pop("requested_formats", None)
    found = get_suitable_downloader(merged, ydl.params)
    return found.__name__ if found is not None else "none"


def native_formats(ydl: Any, info: Mapping[str, Any], formats: list[Any]) -> list[Any]:
    """The formats yt-dlp fetches itself; ``link.not_native`` when there are none."""
    kept = [f for f in formats if downloader_of(ydl, info, f) in _NATIVE]
    if formats and not kept:
        raise FerrymanError("link.not_native", _words(downloader_of(ydl, info, formats[-1])))
    return kept


def check_native(ydl: Any, info: Mapping[str, Any], fmt: Mapping[str, Any]) -> None:
    """Refuse ``fmt`` before its download starts when a program would fetch it."""
    name = downloader_of(ydl, info, fmt)
    if name not in _NATIVE:
        raise FerrymanError("link.not_native", _words(name))


def _words(downloader: str) -> str:
    return (
        f"this stream is fetched only by a program outside ferryman ({downloader}),"
        " whose connections the network guard cannot check"
    )
