"""HTTP facts shared by the probe and the downloader: the client, ranges, statuses as codes."""

from __future__ import annotations

import functools
import math
import os
import random
import re
import socket
import ssl
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from ferryman.config import NetworkSettings, Retry
from ferryman.errors import FerrymanError, ServerWait
from ferryman.net import abort
from ferryman.net.egress import Egress, guard_async, guard_sync
from ferryman.net.waits import backoff_seconds, retry_after_seconds
from ferryman.urls import shown as shown_link

_CONTENT_RANGE = re.compile(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)\s*/\s*(\d+|\*)\s*", re.IGNORECASE)
# Asked for explicitly, by every request of the clients below: a server compressing on
# the fly (nginx's `gzip on`) would drop the length and ranges, and offsets into its
# output mean nothing. A file stored compressed (`Content-Encoding: gzip` on a .tar.gz)
# is read as its bytes are: lengths and ranges count those.
BASE_HEADERS = {"Accept-Encoding": "identity"}


class HttpWait(ServerWait):
    """The server asked to be left alone for ``seconds`` (429/503 with Retry-After).
    ``code``: a debrid API's is ``debrid.rate_limited`` (its next step fits an API)."""

    def __init__(self, message: str, seconds: float, code: str = "source.http.status") -> None:
        super().__init__(code, message, math.ceil(seconds))


def delay_after(
    problem: FerrymanError | None, failures: int, retry: Retry, rng: random.Random
) -> float:
    """How long to wait before asking again after ``failures`` failed attempts in a row:
    a server's Retry-After to the second (429/503), raised as it is when longer than
    ``retry.max_seconds`` (the engine keeps such a wait, uncounted, instead of a
    sleep); else the backoff."""
    if isinstance(problem, HttpWait):
        if problem.seconds > retry.max_seconds:
            raise problem
        return float(problem.seconds)
    if problem is None:
        return 0.0
    return backoff_seconds(max(1, failures), retry, rng)


@dataclass(frozen=True, slots=True)
class ContentRange:
    """``Content-Range: bytes start-end/total`` (``start``/``end`` None for ``*/total``)."""

    start: int | None
    end: int | None
    total: int | None


def async_transport(egress: Egress) -> httpx.AsyncHTTPTransport | None:
    """An httpx transport whose every connection (each redirect's too) ``egress`` checks,
    on the addresses it connects to (``net.egress``); None (httpx's own, which takes a
    proxy from the environment) when a proxy is set and private addresses are not
    refused: the proxy makes the connections, as before."""
    if _proxied(egress):
        return None
    transport = httpx.AsyncHTTPTransport(verify=tls())
    guard_async(transport._pool, egress)
    return transport


def sync_transport(egress: Egress) -> httpx.HTTPTransport | None:
    """``async_transport``'s blocking twin."""
    if _proxied(egress):
        return None
    transport = httpx.HTTPTransport(verify=tls())
    guard_sync(transport._pool, egress)
    return transport


def tls() -> ssl.SSLContext:
    """The TLS settings every client of ours verifies servers with, as httpx makes them
    (``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, else certifi's bundle), made once per such
    setting: making them reads the whole CA bundle, 25 ms of CPU, and every download,
    probe and read in place made a client, on the event loop (half the loop's busy time
    while a watch's batch of links was fetched)."""
    return _tls_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """A context is used, never changed, once made (SSL contexts are shared across
    threads by design); the arguments are the environment it was made from."""
    return httpx.create_ssl_context()


def _proxied(egress: Egress) -> bool:

    return not egress.block_private and bool(urllib.request.getproxies())


def make_client(settings: NetworkSettings, *, trusted: Iterable[str] = ()) -> httpx.AsyncClient:
    """The client downloads and probes share: redirects followed up to the limit, our
    User-Agent, the connect timeout; the read timeout is the stall watchdog; every
    connection through the egress guard (``net.egress``; ``trusted``: hosts the operator
    wrote in the settings)."""
    return httpx.AsyncClient(
        transport=async_transport(Egress.of(settings, trusted)),
        verify=tls(),
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        headers={"User-Agent": settings.user_agent} | BASE_HEADERS,
        timeout=request_timeout(settings),
    )


def make_sync_client(
    settings: NetworkSettings,
    *,
    base_url: str = "",
    auth: tuple[str, str] | None = None,
    trusted: Iterable[str] = (),
) -> httpx.Client:
    """``make_client``'s blocking twin, for what reads on the engine's reading thread
    (a zip or a tar in place, a WebDAV folder, a Torbox item)."""
    return httpx.Client(
        transport=sync_transport(Egress.of(settings, trusted)),
        verify=tls(),
        base_url=base_url,
        auth=auth,
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        headers={"User-Agent": settings.user_agent} | BASE_HEADERS,
        timeout=request_timeout(settings),
        event_hooks={"request": [abort.on_request]},  # a stop cuts its reads short
    )


def request_timeout(settings: NetworkSettings) -> httpx.Timeout:
    """No bytes for ``stall_seconds`` while waiting for a response or its body: stalled."""
    return httpx.Timeout(settings.stall_seconds, connect=settings.connect_timeout)


def parse_content_range(value: str | None) -> ContentRange | None:
    """The header's numbers, or None when it is missing or malformed."""
    match = _CONTENT_RANGE.fullmatch(value or "")
    if not match:
        return None
    start, end, total = match.groups()
    if (start is None) != (end is None):
        return None
    first = int(start) if start is not None else None
    last = int(end) if end is not None else None
    if first is not None and last is not None and last < first:
        return None
    return ContentRange(first, last, int(total) if total != "*" else None)


def content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.strip().isdigit() else None


def shown_url(url: str) -> str:
    """A link as messages show it: no user info, the query (tokens) elided; one that
    does not parse, as ``urls.shown`` cuts it (a message about it must not fail)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return shown_link(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    shown = urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
    return shown + ("?…" if parts.query else "")


def status_error(response: httpx.Response) -> FerrymanError:
    """A failed status as an error code: whether retrying can help follows from the code."""
    status = response.status_code
    where = shown_url(str(response.url))
    if status in (401, 403, 407):
        return FerrymanError("source.auth", f"HTTP {status} for {where}")
    if status in (404, 410):
        gone = "has no such file" if status == 404 else "says the file is gone for good"
        host = response.url.host or where
        return FerrymanError("source.not_found", f"HTTP {status}: {host} {gone} ({where})")
    if status in (429, 503):
        wait = retry_after_seconds(response.headers.get("retry-after"))
        if wait is not None:
            return HttpWait(f"HTTP {status} for {where}: retry after {wait:.0f} s", wait)
    if status >= 500 or status in (408, 425, 429):
        return FerrymanError("source.http.status", f"HTTP {status} for {where}")
    return FerrymanError("source.http.refused", f"HTTP {status} for {where}")


def transport_error(exc: httpx.HTTPError, link: str) -> FerrymanError:
    """A failure below HTTP: a stall, a dropped or refused connection, too many redirects."""
    url = shown_url(link)
    if isinstance(exc, httpx.ReadTimeout):
        return FerrymanError("source.http.stalled", f"no bytes from {url} in time")
    if isinstance(exc, httpx.TooManyRedirects):
        return FerrymanError("source.http.refused", f"too many redirects from {url}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return FerrymanError("source.unsupported", f"{url}: {exc}")
    permanent = _permanent_connect_error(exc, url)
    if permanent is not None:
        return permanent
    if isinstance(exc, httpx.ConnectError):  # httpx's own words: "All connection attempts…"
        return FerrymanError(
            "source.io", f"could not connect to {url} (the server is down or refusing connections)"
        )
    return FerrymanError("source.io", f"{type(exc).__name__} from {url}: {exc}")


# getaddrinfo's answer that the name does not exist (NXDOMAIN: glibc and macOS say
# EAI_NONAME). A resolver that could not be asked says EAI_AGAIN, a passing fault; so
# does EAI_NODATA here, which Android's resolver gives for "no network" as well.
_NO_SUCH_NAME = frozenset({socket.EAI_NONAME})


def _permanent_connect_error(exc: httpx.HTTPError, url: str) -> FerrymanError | None:
    """A connection that cannot work however often it is tried: the name does not
    resolve (``source.host_unknown``), the server's TLS certificate is refused
    (``source.tls_refused``). The host named is the one asked (a redirect's too)."""
    if not isinstance(exc, httpx.ConnectError):
        return None
    host = _host_asked(exc) or urllib.parse.urlsplit(url).hostname or url
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = cause.verify_message or cause.reason or str(cause)
            return FerrymanError(
                "source.tls_refused", f"the TLS certificate of {host} was refused: {why} ({url})"
            )
        if isinstance(cause, socket.gaierror) and cause.errno in _NO_SUCH_NAME:
            return FerrymanError(
                "source.host_unknown", f"the host name {host} does not resolve ({url})"
            )
    return None


def _host_asked(exc: httpx.ConnectError) -> str | None:
    try:
        return exc.request.url.host or None
    except RuntimeError:  # made without a request
        return None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, each once (httpx wraps httpcore wraps the OS error)."""
    found: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and all(cause is not seen for seen in found):
        found.append(cause)
        cause = cause.__cause__ or cause.__context__
    return found


def check_partial(
    response: httpx.Response, url: str, start: int, size: int, pinned: str | None = None
) -> None:
    """A ranged answer holds the same file from ``start`` on, or raise: a 200 to a
    request pinned by If-Range (``pinned``) means the file changed
    (``source.http.changed``), unless the 200 carries that same validator and size, or
    nothing pinned it: then the server ignores Range (``source.http.no_ranges``; some
    copy ``Accept-Ranges: bytes`` without honouring it). A ``Content-Range`` that starts
    elsewhere is refused; another total is a changed file. Anything but 206 is the
    status's own error (the body read, so the connection can be kept)."""
    if response.status_code == 200:
        if _ignores_ranges(response, pinned, size):
            raise FerrymanError(
                "source.http.no_ranges",
                f"{shown_url(url)}: the server says it takes byte ranges but sent the whole"
                " file, unchanged, when asked for a part",
            )
        raise FerrymanError(
            "source.http.changed", f"{shown_url(url)} changed on the server while it was read"
        )
    if response.status_code != 206:
        response.read()
        raise status_error(response)
    found = parse_content_range(response.headers.get("content-range"))
    if found is None or found.start != start:
        raise FerrymanError(
            "source.http.status", f"{shown_url(url)}: asked from byte {start}, got another range"
        )
    if found.total is not None and found.total != size:
        raise FerrymanError(
            "source.http.changed", f"{shown_url(url)} is {found.total} bytes now, not {size}"
        )


def _ignores_ranges(response: httpx.Response, pinned: str | None, size: int) -> bool:
    """A 200 to a ranged request is the same file, sent whole: no If-Range could have
    turned the range down, or the 200 names the validator the request pinned."""
    length = content_length(response)
    if length is not None and length != size:
        return False
    if pinned is None:
        return True
    headers = response.headers
    return pinned in (headers.get("etag"), headers.get("last-modified"))
