"""A playlist's, channel's or feed's entries as yt-dlp lists them (flat: nothing is
downloaded, entries are not opened one by one): the work of a watch's child process
(``media.child.run_in_child``), as ``grab`` is a fetch's. The entries go back to the
parent as one ``entries`` event of plain dicts."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.links.grab import GrabOptions, _coded, _Quiet, installed_yt_dlp

Event = Callable[[str, Any], None]


def list_flat(
    *, url: str, options: GrabOptions, progress: Callable[[float], None], event: Event
) -> None:
    """List ``url``'s entries (up to ``options.playlist_max``), newest first as the site
    lists them; a page that is one video is one entry."""
    with contextlib.ExitStack() as stack:
        guard = None
        if options.block_private:  # yt-dlp connects by itself: its lookups are checked
            from ferryman.net.addresses import guarded_lookups

            guard = stack.enter_context(guarded_lookups(options.private_allowed))
        try:
            event("entries", _list(url, options))
        except Exception as exc:
            if guard is not None and guard.refused:
                raise FerrymanError("link.blocked", guard.refused) from exc
            if isinstance(exc, FerrymanError):
                raise
            raise _coded(exc) from exc
    progress(1.0)


def _list(url: str, options: GrabOptions) -> list[dict[str, Any]]:
    yt_dlp = installed_yt_dlp()
    params: dict[str, Any] = {
        "quiet": True,
        "no_warnings": True,
        "logger": _Quiet(),
        "extract_flat": "in_playlist",
        "playlistend": options.playlist_max,
        "socket_timeout": options.socket_timeout,
        "retries": options.retries,
        "cachedir": False,
        "color": "no_color",
    }
    if options.cookies_file:
        params["cookiefile"] = options.cookies_file
    with yt_dlp.YoutubeDL(params) as ydl:
        info = ydl.extract_info(url, download=False)
    if not isinstance(info, dict):
        raise FerrymanError("link.no_media", "the extractor returned nothing")
    entries = info.get("entries") if "entries" in info else [info]
    found = []
    for entry in entries or ():
        if not isinstance(entry, dict):
            continue
        link = entry.get("webpage_url") or entry.get("url") or entry.get("original_url")
        if not link:
            continue
        key = entry.get("ie_key") or entry.get("extractor_key") or ""
        ident = f"{key}:{entry['id']}" if entry.get("id") else str(link)
        found.append(
            {
                "id": ident,
                "url": str(link),
                "title": str(entry.get("title") or entry.get("id") or link),
                "duration": _number(entry.get("duration")),
                "published": _number(entry.get("timestamp") or entry.get("release_timestamp")),
            }
        )
        if len(found) >= options.playlist_max:
            break
    return found


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
