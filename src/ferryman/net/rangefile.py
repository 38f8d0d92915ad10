"""A remote file read by HTTP Range, seekable, for readers that need to seek (a zip's
central directory sits at its end). Blocking: it runs on the engine's reading thread.

Every request pins the content with ``If-Range`` (the ETag, else Last-Modified): a
server whose file changed answers 200 with the whole new file instead of 206, and that
is ``source.http.changed``, never a silent mix of two versions. A 206 that does not
start where it was asked is refused. Cut or stalled reads are retried with backoff.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator, Sequence

import httpx

from ferryman.config import Retry
from ferryman.errors import FerrymanError
from ferryman.net import abort
from ferryman.net.http import (
    check_partial,
    delay_after,
    shown_url,
    status_error,
    transport_error,
)
from ferryman.net.rangewindows import Windows
from ferryman.net.streamfile import StreamFile

READ_AHEAD = 1 << 20  # sequential reads become few large requests
STREAM_AFTER = 2  # reads in a row that follow on before the rest comes in one GET
EXPIRED = (403, 410)  # what a CDN answers to a link whose token ran out
# A renewable link (a debrid service's) that answers 404 after serving bytes was
# withdrawn, not lost: Real-Debrid and AllDebrid drop an unlocked link so.
_RENEWABLE = (*EXPIRED, 404)
_RENEWALS = 3  # fresh links in a row that still expire before giving up


class _Expired(Exception):
    """The link expired (403/410, or 404 for a renewable link) and a fresh one can be
    asked for."""

    def __init__(self, error: FerrymanError) -> None:
        super().__init__(error.message)
        self.error = error


class RangeFile(io.RawIOBase):
    """``size`` bytes at ``url``; ``fetched`` counts the body bytes received.

    ``renew``: where a fresh link comes from when this one expires (a debrid CDN's
    token runs out mid-read: 403 or 410); the read goes on at the same offset, pinned to
    the same validator, so a renewed link to other content is still refused.
    """

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        size: int,
        validator: str | None,
        retry: Retry,
        renew: Callable[[], str] | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.url = url
        self.size = size
        self.validator = validator
        self.retry = retry
        self.renew = renew
        self.renewed = 0  # how many fresh links were asked for
        self.fetched = 0
        self.requests = 0
        self._pos = 0
        self._last_end = -1  # where the last read ended: the next one may follow on
        self._run = 0  # reads in a row that followed on
        self._stream: StreamFile | None = None  # one GET for a run of reads
        self._windows: Windows | None = None  # once the reader says what it reads next

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def want(self, extent: tuple[int, int], after: Sequence[tuple[int, int]] = ()) -> None:
        """The reader reads ``extent`` (start, end) next, then likely those ``after``:
        from then on, reads there go through bounded windows (``net.rangewindows``),
        none past its extent's end, those that follow asked for ahead of the reader;
        reads elsewhere ask for just their range (no GET of the rest of the file)."""
        if self._windows is None:
            self._close_stream()
            self._windows = Windows(self._window, self.size)
        self._windows.want(extent, after)

    def _window(self, start: int, end: int) -> StreamFile:
        return StreamFile(
            self.client, self.url, self.size, self.validator, self.retry, start=start, end=end
        )

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        """Inside the extent the reader said it reads (``want``), a window's bytes.
        Else a read that follows on from the last two goes on in one GET of the rest
        (``StreamFile``: a cut or a stall resumed there), so reading a file front to
        back costs one request, not one per read, and the network keeps sending while
        the reader writes. Other reads ask for just their range."""
        wanted = min(len(buffer), self.size - self._pos)
        if wanted <= 0:
            return 0
        follows = self._pos == self._last_end
        self._run = self._run + 1 if follows else 0
        if self._stream is not None and not follows:
            self._close_stream()  # a seek elsewhere: the rest of that GET is not wanted
        # A view, not a slice: ``read()`` passes a bytearray, whose slice is a copy that
        # the stream would fill while the caller got the bytearray's unset bytes.
        window = memoryview(buffer)[:wanted]
        if self._windows is not None:
            got = self._windows.readinto(self._pos, window)
            if got is not None:
                self.fetched += got
                self._pos += got
                self._last_end = self._pos
                return got
        streams = self._windows is None and self._run >= STREAM_AFTER
        got = self._streamed(window) if streams else None
        if got is None:
            data = self._get(self._pos, wanted)
            buffer[: len(data)] = data
            got = len(data)
        self._pos += got
        self._last_end = self._pos
        return got

    def _streamed(self, buffer: memoryview) -> int | None:
        """Bytes from the run's GET (opened here if need be), or None when it failed for
        good (an expired link, a changed file): then the ranged path decides."""
        if self._stream is None:
            self._stream = StreamFile(
                self.client, self.url, self.size, self.validator, self.retry, start=self._pos
            )
        try:
            got = self._stream.readinto(buffer)
        except FerrymanError:
            self._close_stream()
            return None
        self.fetched += got
        return got

    def _close_stream(self) -> None:
        if self._stream is not None:
            self.requests += self._stream.requests
            self._stream.close()
        self._stream = None

    def close(self) -> None:
        self._close_stream()
        if self._windows is not None:
            self._windows.close()
            self.requests += self._windows.requests
        super().close()

    def _get(self, start: int, length: int) -> bytes:
        """``length`` bytes from ``start``; a cut answer is resumed where it stopped."""
        got = bytearray()
        failures = renewals = 0
        while len(got) < length:
            before = len(got)
            problem: FerrymanError | None = None
            try:
                self._request(start + len(got), start + length - 1, got)
            except FerrymanError as exc:
                problem = exc
            except _Expired as expired:
                renewals = 0 if len(got) > before else renewals + 1
                if self.renew is None or renewals > _RENEWALS:
                    raise expired.error from None
                self.url = self.renew()
                self.renewed += 1
                continue
            if len(got) >= length:
                break
            problem = problem or FerrymanError(
                "source.io", f"{shown_url(self.url)}: the range ended early"
            )
            failures = 0 if len(got) > before else failures + 1
            changed = problem.code == "source.http.changed"  # asking again cannot help
            if changed or not problem.retryable or failures >= self.retry.max_attempts:
                raise problem
            abort.pause(delay_after(problem, failures, self.retry, random.Random()))
        return bytes(got)

    def _request(self, start: int, end: int, into: bytearray) -> None:
        """Append bytes ``start..end`` (as many as arrive, none past ``end``) to ``into``.

        A server may answer a part with more than was asked (a 206 to the file's end):
        the rest is not taken (it crashed the zip reader with ``engine.internal``)."""
        left = end - start + 1
        headers = {"Range": f"bytes={start}-{end}"}
        self.requests += 1
        if self.validator:
            headers["If-Range"] = self.validator
        try:
            with self.client.stream("GET", self.url, headers=headers) as response:
                if response.status_code in _RENEWABLE and self.renew is not None:
                    response.read()
                    raise _Expired(status_error(response))
                check_partial(response, self.url, start, self.size, self.validator)
                for chunk in response.iter_raw():  # the file's bytes, as ranges count them
                    taken = chunk[:left]
                    into += taken
                    self.fetched += len(taken)
                    left -= len(taken)
                    if left <= 0:
                        break  # closing the stream drops the rest of the answer
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.url) from exc


def open_range_file(
    client: httpx.Client,
    url: str,
    size: int,
    validator: str | None,
    retry: Retry,
    renew: Callable[[], str] | None = None,
) -> io.BufferedReader:
    """The remote file behind a read-ahead buffer (zipfile reads in small pieces)."""
    return io.BufferedReader(RangeFile(client, url, size, validator, retry, renew), READ_AHEAD)


def strong_validator(etag: str | None, last_modified: str | None) -> str | None:
    """What ``If-Range`` may carry: a strong ETag, else Last-Modified (RFC 9110 13.1.5
    refuses weak ETags there), else None (nothing to pin: reads are not checked)."""
    if etag and not etag.startswith("W/"):
        return etag if etag.startswith('"') else f'"{etag}"'
    return last_modified or None


def remote_blocks(
    client: httpx.Client,
    url: str,
    size: int,
    validator: str | None,
    retry: Retry,
    *,
    block: int = 4 << 20,
    renew: Callable[[], str] | None = None,
) -> Iterator[bytes]:
    """One file of a remote folder (WebDAV, a debrid item…), ``block`` bytes at a time
    by Range, for the engine to stage: cut reads resumed, stalls retried, each read
    pinned by ``If-Range`` so two versions never mix.

    ``size`` and ``validator`` are the folder listing's, which may be hours old: before
    its first byte is handed out, a file that changed since is read as it is now (the
    entry is staged whole or not at all, so nothing of the old one is kept), and a file
    gone since is ``source.entry_gone``, which fails that entry alone. A change once
    bytes went out stays ``source.http.changed``: the entry is read again from zero. A
    server that sends the whole file when asked for a part is read in one GET.

    ``renew``: where a fresh link comes from when this one expires mid-read (a debrid
    CDN's token): the read goes on at the byte reached (see ``RangeFile``).
    """
    if size == 0:
        return
    remote = RangeFile(client, url, size, validator, retry, renew)
    try:
        first = remote.read(block)
    except FerrymanError as exc:
        remote.close()
        url = remote.url  # a renewed link, when one was asked for
        if exc.code == "source.not_found":
            raise _gone(url) from exc
        if exc.code == "source.http.no_ranges":  # sent whole when asked for a part
            yield from _whole(client, url, size, validator, retry, block)
            return
        if exc.code != "source.http.changed":
            raise
        size, validator = _current(client, url)
        if size == 0:
            return
        remote = RangeFile(client, url, size, validator, retry, renew)
        first = remote.read(block)
    with remote:
        data = first
        while data:
            yield data
            data = remote.read(block)


def _whole(
    client: httpx.Client, url: str, size: int, validator: str | None, retry: Retry, block: int
) -> Iterator[bytes]:
    """The file in one GET from its start, for a server that ignores Range: a cut is
    ``source.http.no_ranges`` again, and the entry is read again from zero."""
    with StreamFile(client, url, size, validator, retry) as whole:
        while data := whole.read(block):
            yield data


def _gone(url: str) -> FerrymanError:
    return FerrymanError(
        "source.entry_gone",
        f"{shown_url(url)} was listed but is no longer on the server",
    )


def _current(client: httpx.Client, url: str) -> tuple[int, str | None]:
    """The file's size and validator now (HEAD)."""
    try:
        head = client.head(url)
    except httpx.HTTPError as exc:
        raise transport_error(exc, url) from exc
    if head.status_code in (404, 410):
        raise _gone(url)
    if head.status_code >= 400:
        raise status_error(head)
    size = head.headers.get("content-length")
    if size is None or not size.isdigit():
        raise FerrymanError("source.http.changed", f"{shown_url(url)} changed and has no size")
    return int(size), strong_validator(head.headers.get("etag"), head.headers.get("last-modified"))
