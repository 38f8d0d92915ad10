"""yt-dlp's failures as ferryman's error codes: what went wrong, whether waiting helps,
and what a person can do.

yt-dlp raises few exception classes and says most in its messages, so the rules are
read in order, first match wins, on the message lower-cased and with curly quotes made
straight (YouTube's bot check says "you’re"). Order matters: YouTube's private-video
message also says "Sign in", so "private" comes before the plain sign-in rule, and the
bot check and age check come before both. Anything an extractor did not expect
(``ExtractorError`` with ``expected`` false: a regex that no longer matches, JSON it
cannot read) is ``source.changed``: the site changed, and a newer yt-dlp may read it.

Pure functions over (class name, message, HTTP status, expected) so the rule table is
tested with recorded messages and no yt-dlp; ``from_exception`` takes those four from a
live exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ferryman.errors import FerrymanError, ServerWait

RATE_LIMIT_WAIT = 600  # seconds, when the site asks for a pause but says not how long
LIVE_WAIT = 900  # seconds between looks at a live stream or premiere that has not ended


@dataclass(frozen=True, slots=True)
class Failure:
    """What a yt-dlp failure said, reduced to what the rules read."""

    kind: str  # the exception's class name (the innermost: DownloadError unwrapped)
    message: str
    status: int | None = None  # an HTTP status, when the failure was an HTTP answer
    expected: bool = True  # ExtractorError.expected: the extractor meant to say this
    retry_after: int | None = None


# (pattern on the normalised message, code), first match wins.
_RULES: tuple[tuple[str, str], ...] = (
    # yt-dlp's HLS downloader hands SAMPLE-AES (and what else it cannot do) to ffmpeg,
    # which ferryman hides from it (links.native): before "not found" below
    (r"ffmpeg (could not be|not) found", "link.not_native"),
    (r"drm protected|drm-protected|widevine|playready", "content.drm"),
    (r"confirm you'?re not a bot|not a robot|captcha|bot check", "source.bot_check"),
    (r"rate.?limit|too many requests|try again later", "source.rate_limited"),
    (
        r"private (video|account|post)|video is private|this (video|post|account) is private"
        r"|is a private",
        "content.private",
    ),
    (
        r"confirm your age|age.?restrict|age.?gate|inappropriate for some users|nsfw"
        r"|comfortable for some audiences|sensitive content",
        "content.age_restricted",
    ),
    (
        r"not (made this video )?available in your (country|region)|geo.?restrict"
        r"|blocked in your country|from your location|ip address is blocked",
        "content.geo_blocked",
    ),
    (
        r"live event will begin|premieres? in|is upcoming|live stream (has not|hasn'?t) started"
        r"|is currently live|is live now|still live|live streams? (are|is) not supported"
        r"|wait for the (live|premiere)",
        "content.live",
    ),
    (
        r"members.?only|join this channel|requires? (a )?(subscription|payment|purchase)"
        r"|sign in|log ?in|login required|authentication|registered users|use --cookies"
        r"|password",
        "content.login_required",
    ),
    (
        r"video unavailable|no longer available|has been removed|been terminated|does not exist"
        r"|not found|deleted|was removed|this (tweet|post|track) is unavailable|suspended"
        r"|recording is not available|content isn'?t available",
        "content.unavailable",
    ),
    (
        r"no video (could be )?found|no media found|no video formats found|there'?s no video"
        r"|does not contain (a )?video|no (playable )?media",
        "link.no_media",
    ),
    (r"unsupported url", "link.no_media"),  # the generic extractor found nothing on the page
    (r"is not supported|not a supported|unsupported (site|tab|playlist|type)", "link.unsupported"),
    (r"is not a valid url|invalid url|url is not", "link.invalid"),
)
# Read after the HTTP status: "Unable to download webpage: HTTP Error 403" is a refusal.
_NETWORK = re.compile(
    r"timed? ?out|connection (reset|refused|aborted)|name or service not known|no such host"
    r"|temporary failure in name resolution|network is unreachable|unable to download"
    r"|ssl|eof occurred|remote end closed|incomplete read|got error:"
    r"|content too short|did not get any data"
)

_BY_STATUS = (
    (401, "content.login_required"),
    (403, "content.login_required"),
    (404, "content.unavailable"),
    (410, "content.unavailable"),
    (451, "content.geo_blocked"),
)


def normalised(message: str) -> str:
    """Lower case, straight quotes, yt-dlp's ``ERROR: [site] id:`` prefix gone."""
    text = message.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    text = re.sub(r"^\s*error:\s*", "", text, flags=re.IGNORECASE)
    return text.lower()


# Read first: a host's name may hold any rule's words (login.example.com). A link that
# redirects to itself is the link's fault, whatever the status says (302 Found).
_PERMANENT = (
    (r"name or service not known|nodename nor servname provided", "source.host_unknown"),
    (r"certificate verify failed", "source.tls_refused"),
    (r"redirect loop|too many redirects", "source.http.refused"),
)


def code_for(failure: Failure) -> str:
    """The error code of one yt-dlp failure."""
    if failure.kind == "GeoRestrictedError":
        return "content.geo_blocked"
    text = normalised(failure.message)
    for pattern, code in _PERMANENT:  # the name does not resolve, the certificate is refused
        if re.search(pattern, text):
            return code
    if failure.status == 429:
        return "source.rate_limited"
    if failure.status is not None and failure.status >= 500:
        return "source.network"
    for pattern, code in _RULES:  # re keeps the compiled patterns
        if re.search(pattern, text):
            return code
    for status, code in _BY_STATUS:
        if failure.status == status:
            return code
    if _NETWORK.search(text):
        return "source.network"
    if failure.kind == "UnsupportedError":
        return "link.no_media"
    if failure.kind == "InvalidDataError":  # FFmpeg read no media in what was downloaded
        return "link.no_media"
    if failure.kind in ("TransportError", "ConnectionError", "IncompleteRead", "TimeoutError"):
        return "source.network"
    if failure.kind in ("RegexNotFoundError", "ExtractorError") and not failure.expected:
        return "source.changed"
    if failure.kind == "ExtractorError":
        return "content.unavailable"
    return "source.changed"


def error_for(failure: Failure) -> FerrymanError:
    """The coded error, with the site's own words kept in the message; a rate limit is a
    server's wait (honoured, not counted as an attempt)."""
    code = code_for(failure)
    message = _cleaned(failure.message)
    if code == "source.rate_limited":
        return ServerWait(code, message, failure.retry_after or RATE_LIMIT_WAIT)
    if code == "content.live":  # uncounted: a three-hour stream must not use up the tries
        return ServerWait(code, message, LIVE_WAIT)
    return FerrymanError(code, message)


def from_exception(exc: BaseException) -> Failure:
    """The four facts of a live yt-dlp exception (DownloadError unwrapped to its cause)."""
    inner = exc
    info = getattr(exc, "exc_info", None)
    if info and info[1] is not None:
        inner = info[1]
    orig = getattr(inner, "orig_msg", None) or getattr(inner, "msg", None) or str(inner)
    status, retry_after = _http_facts(inner)
    cause = getattr(inner, "cause", None)
    if status is None and cause is not None:
        status, retry_after = _http_facts(cause)
    kind = type(inner).__name__
    if kind == "ExtractorError" and cause is not None and _is_network(cause):
        kind = "TransportError"
    return Failure(
        kind=kind,
        message=str(orig),
        status=status,
        expected=bool(getattr(inner, "expected", True)),
        retry_after=retry_after,
    )


def _http_facts(exc: BaseException) -> tuple[int | None, int | None]:
    status = getattr(exc, "status", None)
    if not isinstance(status, int):
        return None, None
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    wait = headers.get("Retry-After") if headers is not None else None
    return status, int(wait) if isinstance(wait, str) and wait.isdigit() else None


def _is_network(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"TransportError", "HTTPError", "OSError", "TimeoutError"})


def _cleaned(message: str) -> str:
    text = re.sub(r"^\s*ERROR:\s*", "", message.strip())
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # colour codes
    # A file of the work area FFmpeg names ("...input: '/data/work/job-1/...'"): its
    # name alone, the folders are nobody's business on a page.
    text = re.sub(r"'/[^']*/([^'/]+)'", r"'\1'", text)
    return text[:500]
