"""A remote file read front to back as one stream, for readers that cannot seek (a tar,
compressed or not, read by libarchive as it arrives). Blocking: it runs on the engine's
reading thread.

One GET carries the whole body; when it is cut or stalls (no bytes for
``network.stall_seconds``), the next read asks again from the byte reached, with
``Range`` pinned by ``If-Range`` (the ETag, else Last-Modified) and the ``Content-Range``
checked (it starts where asked, and the total is the known size): the decompressor
above sees one unbroken stream, and a file that changed on the server is
``source.http.changed``, never a silent mix of two versions. Passing failures back off
and are retried up to ``retry.max_attempts`` in a row without progress.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import httpx

from ferryman.config import Retry
from ferryman.errors import FerrymanError
from ferryman.net import abort
from ferryman.net.http import check_partial, delay_after, shown_url, transport_error


class StreamFile(io.RawIOBase):
    """``size`` bytes at ``url``, front to back from ``start`` (to ``end``, when given:
    no more is asked for); ``fetched`` counts body bytes received, ``requests`` the
    GETs it took."""

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        size: int,
        validator: str | None,
        retry: Retry,
        *,
        start: int = 0,
        end: int | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.url = url
        self.size = size
        self.validator = validator
        self.retry = retry
        self.fetched = 0
        self.requests = 0
        self._pos = start
        self.end = size if end is None else min(end, size)  # asked up to here, not past
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._pending = b""

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._pos >= self.end or len(buffer) == 0:
            return 0
        if not self._pending:
            self._pending = self._next_chunk()
        taken = self._pending[: min(len(buffer), self.end - self._pos)]
        self._pending = self._pending[len(taken) :]
        buffer[: len(taken)] = taken
        self._pos += len(taken)
        return len(taken)

    def close(self) -> None:
        self._drop()
        super().close()

    def _next_chunk(self) -> bytes:
        """The next bytes of the body; a cut or a stall reconnects from ``_pos``."""
        failures = 0
        while True:
            problem: FerrymanError
            try:
                if self._chunks is None:
                    self._connect()
                assert self._chunks is not None
                chunk = next(self._chunks, b"")
                if chunk:
                    self.fetched += len(chunk)
                    return chunk
                problem = FerrymanError(
                    "source.io", f"{shown_url(self.url)}: the body ended at byte {self._pos}"
                )
            except httpx.HTTPError as exc:
                problem = transport_error(exc, self.url)
            except FerrymanError as exc:
                problem = exc
            self._drop()
            failures += 1
            changed = problem.code == "source.http.changed"
            if changed or not problem.retryable or failures >= self.retry.max_attempts:
                raise problem
            abort.pause(delay_after(problem, failures, self.retry, random.Random()))

    def open_now(self) -> None:
        """Ask for the bytes now (the answer's headers awaited), not at the first read: a
        window opened ahead of its reader, whose bytes come in while the reader is on
        others. A failure here is the first read's to meet again."""
        if self._chunks is None and self._pos < self.end:
            try:
                self._connect()
            except (httpx.HTTPError, FerrymanError):
                self._drop()

    def _connect(self) -> None:
        bounded = self.end < self.size
        last = str(self.end - 1) if bounded else ""
        headers = {"Range": f"bytes={self._pos}-{last}"}
        if self.validator and (self._pos or bounded):
            headers["If-Range"] = self.validator
        self.requests += 1
        response = self.client.send(
            self.client.build_request("GET", self.url, headers=headers), stream=True
        )
        try:
            self._check(response)
        except BaseException:
            response.close()
            raise
        self._response = response
        self._chunks = response.iter_raw()  # the file's bytes, as ranges count them

    def _check(self, response: httpx.Response) -> None:
        if response.status_code == 200 and self._pos == 0 and self.end >= self.size:
            return  # the whole body from the start: as good as a range from 0
        check_partial(response, self.url, self._pos, self.size, self.validator)

    def _drop(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response = None
        self._chunks = None
