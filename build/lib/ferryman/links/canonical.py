"""Which links are platform links, and one name for each video whatever link names it.

A platform host (YouTube, X, TikTok, Instagram…) always serves a page around its
videos, so its links go to yt-dlp at once; any other link is asked first (the HTTP
source decides by the server's answer). The canonical form is the result cache's key:
``youtu.be/ID``, ``youtube.com/shorts/ID`` and ``watch?v=ID&t=42`` are one video; a
tracking query (``utm_*``, ``si``, ``fbclid``…) or a fragment changes nothing.
"""

from __future__ import annotations

import re
import urllib.parse

# Hosts (and their subdomains) whose links are pages around media, for yt-dlp.
PLATFORM_HOSTS = frozenset(
    {
        "youtube.com",
        "youtu.be",
        "youtube-nocookie.com",
        "music.youtube.com",
        "x.com",
        "twitter.com",
        "tiktok.com",
        "vm.tiktok.com",
        "instagram.com",
        "facebook.com",
        "fb.watch",
        "vimeo.com",
        "reddit.com",
        "redd.it",
        "v.redd.it",
        "soundcloud.com",
        "dailymotion.com",
        "twitch.tv",
        "bilibili.com",
        "streamable.com",
        "bsky.app",
        "threads.net",
        "pinterest.com",
        "rumble.com",
        "odysee.com",
        "bandcamp.com",
        "mixcloud.com",
    }
)

_TRACKING = re.compile(r"^(utm_.*|si|fbclid|gclid|feature|pp|igsh|igshid|ref_src)$")
_PLATFORM_TRACKING = re.compile(r"^(s|t|ref|lang)$")  # X's share tag, a start time
_YT_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")


def host_of(url: str) -> str:
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.").removeprefix("m.").removeprefix("mobile.")


def is_platform(url: str) -> bool:
    """A known platform's link (its host or a subdomain of one)."""
    host = host_of(url)
    return any(host == known or host.endswith("." + known) for known in PLATFORM_HOSTS)


def canonical(url: str) -> str:
    """One string per video: the cache key's link part."""
    parts = urllib.parse.urlsplit(url.strip())
    host = host_of(url)
    youtube = _youtube_id(host, parts)
    if youtube is not None:
        return f"youtube:{youtube}"
    if host in ("x.com", "twitter.com", "mobile.twitter.com"):
        status = re.search(r"/status(?:es)?/(\d+)", parts.path)
        if status:
            return f"x:{status.group(1)}"
    platform = is_platform(url)
    query = [
        (key, value)
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING.match(key.lower())
        and not (platform and _PLATFORM_TRACKING.match(key.lower()))
    ]
    path = parts.path.rstrip("/") or "/"
    return urllib.parse.urlunsplit(
        (
            parts.scheme.lower(),
            _netloc(parts, host),
            path,
            urllib.parse.urlencode(sorted(query)),
            "",
        )
    )


def _youtube_id(host: str, parts: urllib.parse.SplitResult) -> str | None:
    if host == "youtu.be":
        candidate = parts.path.strip("/").split("/")[0]
    elif host.endswith("youtube.com") or host.endswith("youtube-nocookie.com"):
        segments = [s for s in parts.path.split("/") if s]
        if segments and segments[0] in ("shorts", "embed", "live", "v", "e") and len(segments) > 1:
            candidate = segments[1]
        elif segments and segments[0] == "watch":
            candidate = dict(urllib.parse.parse_qsl(parts.query)).get("v", "")
        else:
            return None
    else:
        return None
    return candidate if _YT_ID.match(candidate) else None


def _netloc(parts: urllib.parse.SplitResult, host: str) -> str:
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return host if port is None or port == default else f"{host}:{port}"
