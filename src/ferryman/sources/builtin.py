"""The sources ferryman ships, as a fresh registry (a test adds its own to a copy)."""

from __future__ import annotations

from ferryman.sources.base import Source, SourceRegistry
from ferryman.sources.file import FileSource
from ferryman.sources.http import HttpSource
from ferryman.sources.magnet import MagnetSource
from ferryman.sources.media_link import MediaLinkSource
from ferryman.sources.rclone import RcloneSource
from ferryman.sources.sound import SoundSource
from ferryman.sources.telegram_link import TelegramLinkSource
from ferryman.sources.torbox import TorboxSource
from ferryman.sources.webdav import WebdavSource


def default_sources() -> SourceRegistry:
    """Asked in this order: a t.me link is a Telegram message, and a platform's link
    (YouTube, X…) a link to media, before either is a web link; anything with a scheme
    before a local path. A magnet or a .torrent goes through a debrid service (TorBox's
    call budget shared with torbox: items)."""
    torbox = TorboxSource()
    return SourceRegistry(
        (
            TelegramLinkSource(),
            MediaLinkSource(),
            HttpSource(),
            WebdavSource(),
            torbox,
            MagnetSource(torbox),
            RcloneSource(),
            SoundSource(),
            FileSource(),
        ),
        batch=_batch,
    )


def _batch(registry: SourceRegistry) -> Source:
    """A watch's inputs as one job, each read by ``registry``'s sources."""
    from ferryman.sources.batch import BatchSource  # lazy: start-up (asyncio)

    return BatchSource(registry)
