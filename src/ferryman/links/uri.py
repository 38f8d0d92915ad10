"""The ``media:`` source URI: a link and the output profile asked of it.

``media:mp3-192:https://youtu.be/ID`` keeps what was asked inside the job's source, so
a restart, a retry and ``status`` all see it. ``+fresh`` after the profile (from
``add --force``) skips the result cache; it is not part of the cache key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ferryman.errors import FerrymanError
from ferryman.links.canonical import canonical
from ferryman.links.profile import Profile, parse_token
from ferryman.urls import shown, split_link

SCHEME = "media"
_HTTP = re.compile(r"^https?://", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MediaRef:
    url: str
    profile: Profile
    fresh: bool = False

    @property
    def uri(self) -> str:
        return f"{SCHEME}:{self.profile.token()}{'+fresh' if self.fresh else ''}:{self.url}"

    @property
    def cache_key(self) -> str:
        """The same video asked the same way: ``canonical link | profile``."""
        return f"{canonical(self.url)}|{self.profile.token()}"


def as_media(raw: str, profile: Profile | None, *, fresh: bool = False) -> str | None:
    """What a person typed, as a ``media:`` URI carrying ``profile`` (and ``fresh``):
    any http(s) link when a profile is given (an MP3 of a direct MP4 link too), a
    platform's link when only ``fresh`` is; None when it stays what it is."""
    from ferryman.links.canonical import is_platform  # lazy: start-up

    text = raw.strip().strip("<>")
    if text.lower().startswith(SCHEME + ":"):
        ref = parse(text)
        return MediaRef(ref.url, profile or ref.profile, fresh or ref.fresh).uri
    if not _HTTP.match(text):
        return None
    split_link(text)  # link.invalid: a bad port, host or bracket
    if profile is not None:
        return MediaRef(text, profile, fresh).uri
    if fresh and is_platform(text):
        return MediaRef(text, Profile(), fresh).uri
    return None


def parse(uri: str) -> MediaRef:
    """The link and profile of a ``media:`` URI; ``link.invalid`` when it is not one."""
    scheme, _, rest = uri.partition(":")
    token, _, url = rest.partition(":")
    if scheme.lower() != SCHEME or not _HTTP.match(url):
        raise FerrymanError("link.invalid", f"'{shown(uri)}' is not media:PROFILE:http(s)://…")
    split_link(url)
    fresh = token.endswith("+fresh")
    return MediaRef(url, parse_token(token.removesuffix("+fresh")), fresh)
