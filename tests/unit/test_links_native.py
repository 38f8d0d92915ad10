"""yt-dlp kept to its own downloaders (issue 56, item 2): with the link child's options,
a format yt-dlp would hand to a program (rtmpdump for RTMP, ffmpeg for a live HLS
stream or a merge of two URLs) is never chosen and is refused before it starts, and
yt-dlp finds no ffmpeg to delegate to (``tests/sources/test_links_egress.py`` proves
it against a real ffmpeg on PATH)."""

from __future__ import annotations

from typing import Any

import pytest
import yt_dlp
from yt_dlp.downloader.external import FFmpegFD
from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor

from ferryman.errors import FerrymanError
from ferryman.links import native
from ferryman.links.grab import GrabOptions, _params
from ferryman.links.profile import Output, Profile

INFO = {"id": "x", "title": "t", "extractor_key": "Generic"}
PROGRAMS = [
    {"format_id": "rtmp", "url": "rtmp://h/app/x", "protocol": "rtmp"},
    {"format_id": "live", "url": "https://h/x.m3u8", "protocol": "m3u8_native", "is_live": True},
    {
        "format_id": "merged",
        "url": "https://h/v.mp4+https://h/a.m4a",
        "protocol": "https+https",
        "requested_formats": [{}, {}],
    },
]
OWN = [
    {"format_id": "file", "url": "https://h/x.mp4", "protocol": "https"},
    {"format_id": "hls", "url": "https://h/x.m3u8", "protocol": "m3u8_native"},
    {"format_id": "hls-ffmpeg", "url": "https://h/x.m3u8", "protocol": "m3u8"},  # native too
    {"format_id": "dash", "url": "https://h/x.mpd", "protocol": "http_dash_segments"},
    {"format_id": "cut", "url": "https://h/x.mp4", "protocol": "https", "section_start": 5},
]


@pytest.fixture
def ydl() -> Any:
    with (
        native.no_programs(),
        yt_dlp.YoutubeDL(_params(GrabOptions(), Profile(Output.VIDEO))) as made,
    ):
        yield made


def test_a_format_only_a_program_would_fetch_is_not_chosen_nor_started(ydl: Any) -> None:
    assert native.native_formats(ydl, INFO, [*PROGRAMS, *OWN]) == OWN
    for fmt in PROGRAMS:
        with pytest.raises(FerrymanError) as refused:
            native.check_native(ydl, INFO, fmt)
        assert refused.value.code == "link.not_native"
    with pytest.raises(FerrymanError, match=r"link\.not_native"):
        native.native_formats(ydl, INFO, PROGRAMS)
    for fmt in OWN:
        native.check_native(ydl, INFO, fmt)


def test_yt_dlp_finds_no_ffmpeg_to_delegate_or_merge_with(ydl: Any) -> None:
    assert not FFmpegFD.available()  # what its HLS downloader asks before delegating
    assert not FFmpegPostProcessor(ydl).available  # its merger and postprocessors
    assert ydl.params["external_downloader"] == {"default": "native"}
