"""The kinds of watched source ferryman ships, in the order they are asked."""

from __future__ import annotations

from ferryman.sources.listers.base import ListerRegistry
from ferryman.sources.listers.dav import DavLister
from ferryman.sources.listers.feed import FeedLister
from ferryman.sources.listers.torbox import TorboxLister
from ferryman.sources.listers.ytdlp import YtdlpLister


def default_listers() -> ListerRegistry:
    """A fresh registry: a web link is a feed if it reads as one, else a yt-dlp page."""
    return ListerRegistry((DavLister(), TorboxLister(), FeedLister(), YtdlpLister()))
