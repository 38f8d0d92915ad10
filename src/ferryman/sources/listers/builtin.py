"""The kinds of watched source ferryman ships, in the order they are asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman.sources.listers.base import ListerRegistry
from ferryman.sources.listers.dav import DavLister
from ferryman.sources.listers.feed import FeedLister
from ferryman.sources.listers.folder import FolderLister
from ferryman.sources.listers.rclone import RcloneLister
from ferryman.sources.listers.telegram_chat import TelegramChatLister
from ferryman.sources.listers.torbox import TorboxLister
from ferryman.sources.listers.ytdlp import YtdlpLister

if TYPE_CHECKING:
    from ferryman.resources import Shared


def default_listers(shared: Shared | None = None) -> ListerRegistry:
    """A fresh registry: a t.me link to a chat is a Telegram watch (read through the
    engine's ``shared`` connection when there is one); another web link is a feed if it
    reads as one, else a yt-dlp page; a path is a folder on this machine; ``rclone:`` a
    remote's folder (through the engine's ``rclone rcd`` when there is one)."""
    return ListerRegistry(
        (
            FolderLister(),
            DavLister(),
            TorboxLister(),
            RcloneLister(shared),
            TelegramChatLister(shared),
            FeedLister(),
            YtdlpLister(),
        )
    )
