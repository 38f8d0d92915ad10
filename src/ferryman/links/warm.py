"""yt-dlp made ready in the child-process template (``engine.plumbing.children`` names
this module among those the template loads): importing it does the work below, once.

yt-dlp asks each of its ~1,750 extractors in turn whether a link is theirs, and an
extractor compiles its URL pattern the first time it is asked (kept on its class);
``re``'s own cache holds 512. So every child forked for a link (``links.grab``, a watch's
``links.flat``) compiled them all again for a link no site claims: 0.77 CPU-s of each
link here (``tests/sources/test_links_warm.py``: a child finds them compiled). Asked
here, in the template, the patterns are compiled once and each child has them; so are
the modules a plain file's download loads at its first use (the generic extractor, the
HLS and HTTP downloaders). It costs the template 0.75 CPU-s at its start and 10 MB
while it lives (81 -> 91 MB).
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)

# Loaded at a download's first use: the extractor every link no site claims ends with,
# and what fetches a file, a stream, a playlist of segments.
FIRST_USE = (
    "yt_dlp.extractor.generic",
    "yt_dlp.downloader.http",
    "yt_dlp.downloader.hls",
    "yt_dlp.postprocessor.ffmpeg",
)
ANY_LINK = "https://ferryman.invalid/warm"  # claimed by no site but the generic extractor


def warm_extractors() -> int:
    """Ask every extractor once (each compiles its pattern); the count asked. A fault
    here only loses the head start: the child does the same work again."""
    try:
        from yt_dlp.extractor import gen_extractor_classes  # lazy: yt-dlp is big

        classes = gen_extractor_classes()
        for extractor in classes:
            extractor.suitable(ANY_LINK)
        for name in FIRST_USE:
            importlib.import_module(name)
    except Exception as exc:  # a yt-dlp whose insides moved: no head start, no harm
        log.info("yt-dlp not made ready ahead (%s): each link's child does it", exc)
        return 0
    return len(classes)


warm_extractors()
