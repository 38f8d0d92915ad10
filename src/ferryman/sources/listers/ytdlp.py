"""Any playlist, channel or feed yt-dlp lists (YouTube channels and playlists, the
generic extractor's RSS/Atom feeds and pages of links): flat extraction in a child
process (``links/flat``), as a fetch runs yt-dlp; each new entry becomes a
``media:`` job in the watch's output profile (MP4 up to 1080p unless it says else)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ferryman.config import Settings
from ferryman.sources.listers.base import WatchEntry
from ferryman.urls import scheme_of

LIST_TIMEOUT = 600.0  # seconds one listing may take


class YtdlpLister:
    kind = "ytdlp"
    description = "a playlist, channel or feed yt-dlp lists (entries made as --audio/--quality say)"
    changes_in_place = False
    read_oldest_first = False

    def accepts(self, source: str) -> bool:
        return scheme_of(source) in ("http", "https")

    def describe(self, source: str) -> str:
        from ferryman.net.http import shown_url

        return shown_url(source)

    async def matches(self, source: str, settings: Settings) -> bool:
        return True

    async def entries(self, source: str, settings: Settings) -> list[WatchEntry]:
        import shutil
        import tempfile

        from ferryman.links.cookies import cookies_for
        from ferryman.links.flat import list_flat
        from ferryman.links.grab import GrabOptions
        from ferryman.media.child import run_in_child

        links, network = settings.links, settings.network
        got: list[dict[str, Any]] = []

        def on_event(name: str, value: Any) -> None:
            if name == "entries" and isinstance(value, list):
                got.extend(value)

        # The page's cookies, copied for this listing alone (``links.cookies``).
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="ferryman-list-"))
        try:
            options = GrabOptions(
                cookies_file=await asyncio.to_thread(cookies_for, settings, folder),
                playlist_max=links.playlist_max,
                socket_timeout=min(network.stall_seconds, 120.0),
                block_private=network.block_private,
                private_allowed=tuple(network.private_allowed),
            )
            await run_in_child(
                list_flat,
                {"url": source, "options": options},
                on_progress=None,
                timeout=LIST_TIMEOUT,
                on_event=on_event,
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
        return [
            WatchEntry(
                id=str(e["id"]),
                input=str(e["url"]),
                title=str(e["title"]),
                duration=e.get("duration"),
                published=e.get("published"),
            )
            for e in got
        ]
