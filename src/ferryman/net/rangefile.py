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
import time

import httpx

from ferryman.config import Retry
from ferryman.errors import FerrymanError
from ferryman.net.http import parse_content_range, shown_url, status_error, transport_error
from ferryman.net.waits import backoff_seconds

READ_AHEAD = 1 << 20  # sequential reads become few large requests


class RangeFile(io.RawIOBase):
    """``size`` bytes at ``url``; ``fetched`` counts the body bytes received."""

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        size: int,
        validator: str | None,
        retry: Retry,
    ) -> None:
        super().__init__()
        self.client = client
        self.url = url
        self.size = size
        self.validator = validator
        self.retry = retry
        self.fetched = 0
        self._pos = 0

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

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self.size - self._pos)
        if wanted <= 0:
            return 0
        data = self._get(self._pos, wanted)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _get(self, start: int, length: int) -> bytes:
        """``length`` bytes from ``start``; a cut answer is resumed where it stopped."""
        got = bytearray()
        failures = 0
        while len(got) < length:
            before = len(got)
            problem: FerrymanError | None = None
            try:
                self._request(start + len(got), start + length - 1, got)
            except FerrymanError as exc:
                problem = exc
            if len(got) >= length:
                break
            problem = problem or FerrymanError(
                "source.io", f"{shown_url(self.url)}: the range ended early"
            )
            failures = 0 if len(got) > before else failures + 1
            changed = problem.code == "source.http.changed"  # asking again cannot help
            if changed or not problem.retryable or failures >= self.retry.max_attempts:
                raise problem
            time.sleep(backoff_seconds(max(1, failures), self.retry, random.Random()))
        return bytes(got)

    def _request(self, start: int, end: int, into: bytearray) -> None:
        """Append bytes ``start..end`` (as many as arrive) to ``into``."""
        headers = {"Range": f"bytes={start}-{end}"}
        if self.validator:
            headers["If-Range"] = self.validator
        try:
            with self.client.stream("GET", self.url, headers=headers) as response:
                if response.status_code == 200:
                    raise FerrymanError(
                        "source.http.changed",
                        f"{shown_url(self.url)} changed on the server while it was read",
                    )
                if response.status_code != 206:
                    response.read()
                    raise status_error(response)
                found = parse_content_range(response.headers.get("content-range"))
                if found is None or found.start != start:
                    raise FerrymanError(
                        "source.http.status",
                        f"{shown_url(self.url)}: asked from byte {start}, got another range",
                    )
                for chunk in response.iter_bytes():
                    into += chunk
                    self.fetched += len(chunk)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.url) from exc


def open_range_file(
    client: httpx.Client, url: str, size: int, validator: str | None, retry: Retry
) -> io.BufferedReader:
    """The remote file behind a read-ahead buffer (zipfile reads in small pieces)."""
    return io.BufferedReader(RangeFile(client, url, size, validator, retry), READ_AHEAD)
