"""A job's error in the page's words: what a library said is kept for Details, not shown.

A link that fails carries what yt-dlp, urllib3 or ssl said
(``HTTPSConnection(host='youtu.be', port=443): Failed to resolve …``): right for a bug
report, unreadable on a card. The code already says what happened, so a message that
reads as a library's text is replaced on the card by a sentence for its code (or its
family), and the text itself moves under Details. ferryman's own messages, written as
sentences, stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

from ferryman.errors import page_line, page_step, spec_for, with_job
from ferryman.model import Job

# What only a library's or the runtime's own text contains: an errno, a connection's or
# an object's repr, a C source line, a traceback, yt-dlp's "ERROR:" and "[extractor] id:".
_RAW = re.compile(
    r"\[Errno|\[SSL: |Errno -?\d|\w+Connection\(|\(host=|_ssl\.c|<urlopen|<[\w.]+ object at 0x"
    r"|Traceback \(|^ERROR: |^\[[\w:.-]+\] |Max retries exceeded|HTTPError\(|\w+Error\(",
)

_SAID: dict[str, str] = {
    "source.host_unknown": "The link's server was not found.",
    "source.network": "The link's server could not be reached.",
    "source.tls_refused": "The link's server has a certificate that is not trusted.",
    "source.rate_limited": "The site refused: too many requests for now.",
    "source.changed": "The site answered in a way ferryman does not understand.",
    "content.unavailable": "The video is not available.",
    "content.login_required": "The site wants a signed-in account for this.",
    "content.age_restricted": "The site wants a signed-in adult account for this.",
    "content.geo_blocked": "The site does not offer this in this server's country.",
    "link.no_media": "No video or audio was found at the link.",
    "link.unsupported": "This kind of link is not supported.",
    "link.invalid": "That is not a link ferryman can open.",
}
_FAMILY: dict[str, str] = {
    "source": "Reading the source failed.",
    "content": "The site refused this video.",
    "link": "The link could not be turned into media.",
    "archive": "The archive could not be read.",
    "media": "A file could not be converted.",
    "telegram": "Telegram refused.",
    "sink": "Delivering failed.",
}


def reads_as_library_text(message: str) -> bool:
    """Whether ``message`` is a library's or the runtime's own text, not a sentence: it
    starts so, after at most a name (``youtu.be: HTTPSConnection(…``). A sentence of
    ours that quotes such text further on (``1 file of 3 not delivered, kept in
    quarantine (…)``) stays: its own words come first and say what happened."""
    found = _RAW.search(message)
    return found is not None and len(message[: found.start()].split()) <= 1


def page_message(code: str, message: str) -> tuple[str, str | None]:
    """The card's message and the text kept for Details (None: the message is ours)."""
    if not reads_as_library_text(message):
        return message, None
    family = code.partition(".")[0]
    return _SAID.get(code) or _FAMILY.get(family, "It failed."), message


def page_error(job: Job, source: str) -> dict[str, Any] | None:
    """A job's error as the page's view carries it: the message in words, the library's
    text apart (``detail``), the next step in the page's words, the server's line."""
    if not job.error_code:
        return None
    # describe() names an upload "NAME (uploaded)": its step says upload, not download.
    uploaded = source.endswith(" (uploaded)")
    step = page_step(job.error_code, failed=job.state.terminal, uploaded=uploaded)
    said, detail = page_message(job.error_code, job.error_message or job.error_code)
    return {
        "code": job.error_code,
        "message": said,
        "detail": detail,  # a library's own text, for Details (None: ours)
        "next": with_job(step, job.id),
        "line": page_line(job.error_code, job.error_message),
        "retryable": spec_for(job.error_code).retryable,
    }
