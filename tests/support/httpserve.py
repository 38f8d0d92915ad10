"""A real HTTP/1.1 server on 127.0.0.1 that tests can make misbehave, path by path.

It serves bytes from memory with correct ``Range`` / ``If-Range`` / ``ETag`` /
``Last-Modified`` / ``Content-Disposition`` handling, and a test switches faults on
per path (:class:`Faults`): ignore Range, send a 206 from the wrong byte, stall or
cut the connection at a byte, replace the content, answer a status (429/503 with
``Retry-After``) a few times, demand a token in the query that can expire. A
:class:`Link` models the network (bandwidth, latency) for benchmarks. ``served``
counts the body bytes each path actually sent, so tests can assert what travelled;
``sending`` the bodies going out now (0 once a client that hung up is noticed), so a
test waits for a download to have stopped rather than watching a quiet window.

Fault offsets are positions in the file, not in one response: ``cut_at=1000``
cuts any response that would send byte 1000. ``trickle`` paces one path's responses
(a slow origin beside quick ones), where a :class:`Link` paces every path together.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

_CHUNK = 16 * 1024
_TRICKLE_CHUNK = 1024  # a trickling path sends this much at a time, evenly spaced
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass
class Link:
    """The network between client and server: ``bandwidth`` in bytes/s (None: as fast
    as loopback goes), one link that every response shares, as a phone's connection is
    (two parallel requests get half each); ``latency`` seconds before each response's
    headers (a request's round trip)."""

    bandwidth: float | None = None
    latency: float = 0.0


_BURST = 0.02  # seconds of the link's bandwidth that an idle link may send at once


class _Pacer:
    """A token bucket on the sending side: each chunk books its time on the one link,
    then its sender waits until that time has passed. Bookings advance by exact amounts,
    so a late wake-up (sleep overshoot) is made up within the bucket, not lost: a GiB
    at 100 Mbit/s takes within a fraction of a per cent of 85.9 s."""

    def __init__(self, bandwidth: float | None) -> None:
        self.bandwidth = bandwidth
        self._free = 0.0  # when the link has sent everything booked so far
        self._lock = threading.Lock()

    def send(self, size: int) -> None:
        """Wait until ``size`` more bytes have had their time on the link."""
        if not self.bandwidth:
            return
        with self._lock:
            now = time.monotonic()
            self._free = max(self._free, now - _BURST) + size / self.bandwidth
            due = self._free
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # the link's speed: a pace, not a wait


@dataclass
class Faults:
    """What goes wrong on one path; each ``*_times`` counts down (None: every time)."""

    ignore_range: bool = False  # answer 200 with the whole file to a Range request
    claim_ranges: bool = False  # ...while still saying Accept-Ranges: bytes (a proxy's copy)
    wrong_range_start: bool = False  # answer a Range request with a 206 from byte 0
    range_to_end: bool = False  # answer a Range request with a 206 from its start to the end
    stall_at: int | None = None  # before sending this byte, send nothing for stall_seconds
    stall_seconds: float = 0.0
    stall_times: int | None = 1
    cut_at: int | None = None  # before sending this byte, close the connection
    cut_times: int | None = 1
    replace_on_cut: bytes | None = None  # the content changes (new ETag) when the cut happens
    expire_token_on_cut: bool = False  # the link expires (403) when the cut happens
    status: int | None = None  # answer this status instead of the file...
    status_times: int | None = 1  # ...this many times
    retry_after: str | None = None  # with this Retry-After header
    refuse_head: bool = False  # 405 to HEAD
    head_says_page: bool = False  # HEAD answers a framework's HTML default; GET the file
    two_origins: bool = False  # balanced origins: each request's ETag names its origin
    trickle: float | None = None  # bytes/s for this path alone (a slow origin), any link


@dataclass
class Resource:
    """One file the server holds; validators follow the content when it is replaced."""

    data: bytes
    content_type: str | None = "application/octet-stream"
    disposition: str | None = None
    send_etag: bool = True
    weak_etag: bool = False
    send_last_modified: bool = True
    send_length: bool = True  # False: no Content-Length, the body ends with the connection
    accept_ranges: bool = True  # False: Range is ignored (and not advertised)
    # gzip on the fly to a client that accepts it (nginx's `gzip on`): no length, no
    # ranges, a weak ETag; ``Accept-Encoding: identity`` gets the file as it is
    gzip_on_the_fly: bool = False
    encoding: str | None = None  # Content-Encoding sent with the stored bytes (a .tar.gz
    # that Apache's `AddEncoding x-gzip .gz` labels so): lengths and ranges count them
    token: str | None = None  # when set, requests need ?token=<token> or get 403
    faults: Faults = field(default_factory=Faults)
    version: int = 0
    _digest: tuple[int, int, str] | None = field(default=None, repr=False, compare=False)

    @property
    def etag(self) -> str:
        # Hashed once per content (a GiB takes a large part of a second, every request).
        if self._digest is None or self._digest[:2] != (self.version, id(self.data)):
            full = hashlib.sha256(self.data).hexdigest()[:16]
            self._digest = (self.version, id(self.data), full)
        digest = self._digest[2]
        return f'W/"{digest}"' if self.weak_etag else f'"{digest}"'

    @property
    def last_modified(self) -> str:
        return formatdate(1_700_000_000 + self.version * 60, usegmt=True)


@dataclass(frozen=True)
class Request:
    """What the server saw: for asserting that a client sent what the rules say."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int


class FaultServer:
    """The server; use as a context manager (or the ``serving`` helper)."""

    def __init__(self, link: Link | None = None, host: str = "127.0.0.1") -> None:
        self.link = link or Link()
        self.pacer = _Pacer(self.link.bandwidth)
        self.resources: dict[str, Resource] = {}
        self.redirects: dict[str, str] = {}
        self.served: dict[str, int] = {}
        self.sending: dict[str, int] = {}  # bodies being sent now, by path
        # the client ports of the responses stalled now (a stall_at reached), by path
        self.stalled: dict[str, set[int]] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _QuietServer((host, 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fault_server = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, path: str, data: bytes, **options: object) -> Resource:
        resource = Resource(data, **options)  # type: ignore[arg-type]
        with self.lock:
            self.resources[path] = resource
            self.served.setdefault(path, 0)
        return resource

    def url(self, path: str) -> str:
        """The path's URL, with the current token when the path wants one."""
        resource = self.resources.get(path)
        query = f"?token={resource.token}" if resource and resource.token else ""
        return self.base + quote(path, safe="/%") + query

    def redirect(self, path: str, location: str) -> None:
        self.redirects[path] = location

    def replace(self, path: str, data: bytes) -> None:
        """New content at the same URL: new ETag and Last-Modified."""
        with self.lock:
            resource = self.resources[path]
            resource.data = data
            resource.version += 1

    def expire_token(self, path: str) -> None:
        """The old link stops working (403); ``url(path)`` gives the new one."""
        with self.lock:
            self.resources[path].token = secrets.token_hex(8)

    def requests_for(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


@contextmanager
def serving(link: Link | None = None, host: str = "127.0.0.1") -> Iterator[FaultServer]:
    """A started server, stopped (stalled responses woken) when the block ends."""
    with FaultServer(link, host) as server:
        yield server


class _QuietServer(ThreadingHTTPServer):
    """Clients dropping connections is what these tests are about: not worth a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _take(count: int | None) -> tuple[bool, int | None]:
    """(fires, remaining) for a fault that fires ``count`` more times (None: always)."""
    if count is None:
        return True, None
    return count > 0, max(0, count - 1)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultserve/1"

    @property
    def fs(self) -> FaultServer:
        return self.server.fault_server  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: object) -> None:
        pass  # tests read ``requests`` instead

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _record(self, status: int) -> None:
        parts = urlsplit(self.path)
        with self.fs.lock:
            self.fs.requests.append(
                Request(self.command, parts.path, parts.query, dict(self.headers.items()), status)
            )

    def _simple(self, status: int, headers: dict[str, str] | None = None) -> None:
        self._record(status)
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _serve(self, *, head: bool) -> None:
        if self.fs.link.latency:
            time.sleep(self.fs.link.latency)  # the link's latency: a pace, not a wait
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        if path in self.fs.redirects:
            self._simple(302, {"Location": self.fs.redirects[path]})
            return
        resource = self.fs.resources.get(path)
        if resource is None:
            self._simple(404)
            return
        faults = resource.faults
        if head and faults.refuse_head:
            self._simple(405, {"Allow": "GET"})
            return
        if head and faults.head_says_page:
            self._simple(200, {"Content-Type": "text/html; charset=utf-8"})
            return
        if resource.token is not None:
            given = parse_qs(parts.query).get("token", [""])[0]
            if given != resource.token:
                self._simple(403)
                return
        with self.fs.lock:
            status_fires = False
            if faults.status is not None:
                status_fires, faults.status_times = _take(faults.status_times)
        if status_fires and faults.status is not None:
            extra = {"Retry-After": faults.retry_after} if faults.retry_after else {}
            self._simple(faults.status, extra)
            return
        self._send_file(resource, head=head)

    def _wanted_range(self, resource: Resource) -> tuple[int, int] | None:
        """The (start, end inclusive) asked for and honoured, or None for the whole file."""
        value = self.headers.get("Range")
        if not value or not resource.accept_ranges or resource.faults.ignore_range:
            return None
        match = _RANGE.fullmatch(value.strip())
        if not match or match.group(1) == match.group(2) == "":
            return None
        if_range = self.headers.get("If-Range")
        if if_range is not None and not self._if_range_holds(resource, if_range.strip()):
            return None
        size = len(resource.data)
        first, last = match.groups()
        if first == "":
            return max(0, size - int(last)), size - 1
        end = min(int(last), size - 1) if last else size - 1
        return int(first), end

    def _if_range_holds(self, resource: Resource, value: str) -> bool:
        if value.startswith(('"', "W/")):
            return not resource.weak_etag and resource.send_etag and value == self._etag
        return resource.send_last_modified and value == resource.last_modified

    def _send_file(self, resource: Resource, *, head: bool) -> None:
        with self.fs.lock:
            data = resource.data
            etag, modified = resource.etag, resource.last_modified
            if resource.faults.two_origins:  # the same bytes, another origin's ETag
                origin = len(self.fs.requests) % 2
                etag = f'{etag[:-1]}-{origin}"'
        self._etag = etag
        size = len(data)
        wanted = self._wanted_range(resource)
        headers: dict[str, str] = {}
        if resource.content_type:
            headers["Content-Type"] = resource.content_type
        if resource.disposition:
            headers["Content-Disposition"] = resource.disposition
        if resource.encoding:
            headers["Content-Encoding"] = resource.encoding
        if resource.send_etag:
            headers["ETag"] = etag
        if resource.send_last_modified:
            headers["Last-Modified"] = modified
        if resource.accept_ranges and (
            not resource.faults.ignore_range or resource.faults.claim_ranges
        ):
            headers["Accept-Ranges"] = "bytes"
        if resource.gzip_on_the_fly and "gzip" in self.headers.get("Accept-Encoding", ""):
            self._send_gzipped(headers, data, head=head)
            return
        if wanted is not None and wanted[0] >= size:
            self._simple(416, headers | {"Content-Range": f"bytes */{size}"})
            return
        if wanted is None:
            status, start, end = 200, 0, size - 1
        else:
            status, (start, end) = 206, wanted
            if resource.faults.wrong_range_start:
                start = 0
            if resource.faults.range_to_end:
                end = size - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._record(status)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if resource.send_length:
            self.send_header("Content-Length", str(end - start + 1))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not head:
            path = self.fs_path
            with self.fs.lock:
                self.fs.sending[path] = self.fs.sending.get(path, 0) + 1
            try:
                self._body(resource, data, start, end + 1)
            finally:
                with self.fs.lock:
                    self.fs.sending[path] -= 1

    def _send_gzipped(self, headers: dict[str, str], data: bytes, *, head: bool) -> None:
        import gzip

        headers.pop("Accept-Ranges", None)
        if "ETag" in headers:
            headers["ETag"] = "W/" + headers["ETag"]
        self._record(200)
        self.send_response(200)
        for key, value in (headers | {"Content-Encoding": "gzip"}).items():
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if not head:
            with suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(gzip.compress(data, 1))

    def _body(self, resource: Resource, data: bytes, start: int, stop: int) -> None:
        faults = resource.faults
        position = start
        try:
            while position < stop:
                if self._fault_at(resource, faults, position, stop):
                    return
                limit = stop
                for mark in (faults.stall_at, faults.cut_at):
                    if mark is not None and position < mark < limit:
                        limit = mark
                size = _TRICKLE_CHUNK if faults.trickle else _CHUNK
                chunk = data[position : min(limit, position + size)]
                if faults.trickle and self.fs.stopping.wait(len(chunk) / faults.trickle):
                    self.close_connection = True  # the server is stopping
                    return
                self.wfile.write(chunk)
                position += len(chunk)
                with self.fs.lock:
                    self.fs.served[self.fs_path] = self.fs.served.get(self.fs_path, 0) + len(chunk)
                self.fs.pacer.send(len(chunk))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    @property
    def fs_path(self) -> str:
        return unquote(urlsplit(self.path).path)

    def _fault_at(self, resource: Resource, faults: Faults, position: int, stop: int) -> bool:
        """Apply a stall or cut due at ``position``; True when the response ends here."""
        with self.fs.lock:
            stall = cut = False
            if faults.stall_at == position:
                stall, faults.stall_times = _take(faults.stall_times)
            if faults.cut_at == position:
                cut, faults.cut_times = _take(faults.cut_times)
                if cut and faults.replace_on_cut is not None:
                    resource.data = faults.replace_on_cut
                    resource.version += 1
                    faults.replace_on_cut = None
                if cut and faults.expire_token_on_cut:
                    resource.token = secrets.token_hex(8)
        if stall:
            peer = int(self.client_address[1])
            with self.fs.lock:
                self.fs.stalled.setdefault(self.fs_path, set()).add(peer)
            try:
                if self.fs.stopping.wait(faults.stall_seconds):
                    cut = True  # the server is stopping: end the stalled response
            finally:
                with self.fs.lock:
                    self.fs.stalled[self.fs_path].discard(peer)
        if cut:
            self.close_connection = True
            self.wfile.flush()
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return True
        return False
