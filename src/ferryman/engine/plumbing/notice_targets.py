"""Where a job's or a watch's notices go, as given (``--notify``, the settings): read and
checked here, where the notifier that sends them and the operations that take them
(``ops/watch_admin``, ``add``) both find it without importing each other.
"""

from __future__ import annotations

import re
import urllib.parse

from ferryman.config import NotifySettings
from ferryman.errors import FerrymanError
from ferryman.urls import refused_character, scheme_of, shown, split_link

WEBHOOK_SCHEMES = {"ferryman": "http", "ferrymans": "https"}
QUIET = "none"
_APPRISE_WEB = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})  # POSTs to a host


def targets(override: str | None, settings: NotifySettings) -> list[str]:
    """Where a notice goes: the job's or watch's own URLs (``none``: nowhere), else the
    settings' (none when quiet)."""
    if override is not None:
        words = [w for w in re.split(r"[\s,]+", override.strip()) if w]
        return [] if words == [QUIET] or not words else words
    return [] if settings.quiet else list(settings.urls)


def check_target(text: str) -> str:
    """A ``--notify`` value, refused early when it names no URL (``none`` is fine)."""
    words = [w for w in re.split(r"[\s,]+", text.strip()) if w]
    if words == [QUIET]:
        return QUIET
    bad = [why for w in words if (why := _malformed(w)) is not None]
    if not words or bad:
        said = f" ({bad[0]})" if bad else ""
        raise FerrymanError(
            "notify.bad_url",
            f"--notify '{shown(text)}'{said}: give Apprise URLs (tgram://…, ntfy://…,"
            " json://host/), ferryman(s)://host/path for a signed webhook, or none",
        )
    return " ".join(words)


def _malformed(url: str) -> str | None:
    """What is wrong with one notice URL, else None. A webhook's, or an Apprise web
    target's (``json://``…), is a web link, checked whole (host, port); any other Apprise
    URL's parts are its plugin's (``tgram://TOKEN:KEY/`` has no port), so only its form
    is checked here and Apprise reads the rest."""
    if "://" not in url or not scheme_of(url):
        return f"{shown(url)} has no scheme://"
    if scheme_of(url) in WEBHOOK_SCHEMES or scheme_of(url) in _APPRISE_WEB:
        try:
            if not split_link(url).hostname:
                return f"{shown(url)} names no host"
        except FerrymanError as exc:
            return exc.message
        return None
    bad = refused_character(url)
    if bad is not None:
        return f"{shown(url)} holds the character {bad!a}"
    try:
        urllib.parse.urlsplit(url)
    except ValueError as exc:  # an unclosed [ : Apprise's own parser would raise too
        return f"{shown(url)}: {exc}"
    return None
