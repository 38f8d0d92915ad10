"""The resumable downloader: one URL into one folder, surviving cuts, stalls and crashes.

Rules (docs/network.md says why):

- The folder belongs to one download. ``<name>.part`` holds a prefix of the file and
  ``<name>.part.json`` (written and fsynced before the first body byte) says of
  what: URL, ETag / Last-Modified, size. The part's length is the resume offset.
- Resume asks ``Range: bytes=N-`` with ``If-Range`` (the strong ETag, else
  Last-Modified). Only a 206 whose ``Content-Range`` starts at N is appended; any
  other start is refused and the download starts over. A 200 starts over from zero
  with its own body. A 416 means done when the part already has the known size,
  else start over. New validators mean the content changed: start over, counted.
- No bytes for ``network.stall_seconds``: reconnect and resume. Failures back off
  exponentially with jitter; 429/503 wait as long as ``Retry-After`` says. Only
  attempts that add no new bytes count towards ``retry.max_attempts``.
- ``wait_to_write(n)`` is asked before the first byte (n = the bytes still to come) and
  every ``space_check_bytes`` while writing; it may wait or raise ``space.*``.
- A 403/410 with a ``refresh_url`` hook gets a fresh link and resumes against it
  with the same validators (expiring CDN links).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from ferryman.config import NetworkSettings, Retry
from ferryman.errors import FerrymanError
from ferryman.fsutil import write_whole
from ferryman.net import partfile
from ferryman.net.http import (
    BASE_HEADERS,
    content_length,
    delay_after,
    parse_content_range,
    request_timeout,
    shown_url,
    status_error,
    transport_error,
)
from ferryman.net.kinds import SNIFF_BYTES, LinkKind, kind_of
from ferryman.net.names import FALLBACK_NAME, pick_filename, safe_filename
from ferryman.net.progress import ProgressCallback, ProgressReporter
from ferryman.net.sidecar import PartRecord, part_path, write_record

WaitToWrite = Callable[[int], Awaitable[None]]
RefreshUrl = Callable[[], Awaitable[str]]

SPACE_CHECK_BYTES = 8 * 1024**2
WRITE_BUFFER_BYTES = 256 * 1024  # what a kill can cost, beside the socket's buffers
# Failures healed by asking again here; anything else (space, auth) goes to the caller.
_RETRIED_HERE = frozenset({"source.io", "source.http.status", "source.http.stalled"})


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A finished download: the file at ``path`` has exactly ``size`` bytes."""

    path: Path
    url: str  # the link last asked (a refreshed one if the first expired)
    final_url: str  # after redirects
    name: str
    size: int
    content_type: str | None
    kind: LinkKind  # Content-Type first, then the first bytes
    restarts: int  # times it started over from zero (Range ignored or refused, content changed)
    changes: int  # of those, because the content on the server changed
    refreshes: int  # expired links replaced through ``refresh_url``


async def download(
    client: httpx.AsyncClient,
    url: str,
    folder: Path,
    *,
    network: NetworkSettings,
    retry: Retry,
    name: str | None = None,
    wait_to_write: WaitToWrite | None = None,
    on_progress: ProgressCallback | None = None,
    refresh_url: RefreshUrl | None = None,
    space_check_bytes: int = SPACE_CHECK_BYTES,
    rng: random.Random | None = None,
) -> Downloaded:
    """Download ``url`` into ``folder`` (one download per folder), resuming what a
    previous run left there; ``name`` overrides the server's name.

    Raises ``FerrymanError``: ``source.not_found``, ``source.auth``,
    ``source.http.refused`` at once; ``source.http.status``, ``source.http.stalled``,
    ``source.io`` once ``retry.max_attempts`` attempts in a row brought no new bytes
    (``HttpWait`` when a server's Retry-After is longer than ``retry.max_seconds``);
    ``source.http.changed`` when the content keeps changing; ``space.*`` from
    ``wait_to_write`` or a full disk.
    """
    job = _Download(
        client,
        url,
        folder,
        network=network,
        retry=retry,
        name=name,
        wait_to_write=wait_to_write,
        progress=ProgressReporter(on_progress),
        refresh_url=refresh_url,
        space_check_bytes=space_check_bytes,
        rng=rng or random.Random(),
    )
    return await job.run()


class _Download:
    """One download's state between attempts."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        folder: Path,
        *,
        network: NetworkSettings,
        retry: Retry,
        name: str | None,
        wait_to_write: WaitToWrite | None,
        progress: ProgressReporter,
        refresh_url: RefreshUrl | None,
        space_check_bytes: int,
        rng: random.Random,
    ) -> None:
        self.client = client
        self.url = url
        self.folder = folder
        self.network = network
        self.retry = retry
        self.fixed_name = name
        self.wait_to_write = wait_to_write
        self.progress = progress
        self.refresh_url = refresh_url
        self.space_check_bytes = max(1, space_check_bytes)
        self.rng = rng
        self.record: PartRecord | None = None
        self.offset = 0  # bytes of the current content in the part (or received)
        self.high_water = 0  # the most bytes of the current content ever held
        self.restarts = 0
        self.changes = 0
        self.refreshes = 0
        self.refreshed_without_bytes = False
        self.problem: FerrymanError | None = None  # why the last start-over happened

    async def run(self) -> Downloaded:
        self.record, self.offset = await asyncio.to_thread(partfile.recover, self.folder)
        self.high_water = self.offset
        if self.record is not None and self.record.complete:
            return await self._result(self.record)
        failures = 0
        while True:
            before = self.high_water
            try:
                done = await self._attempt()
            except FerrymanError as exc:
                if exc.code not in _RETRIED_HERE:
                    raise
                self.problem = exc
                done = None
            if done is not None:
                return await self._result(done)
            failures = 0 if self.high_water > before else failures + 1
            if failures >= self.retry.max_attempts:
                raise self.problem or FerrymanError(
                    "source.http.status",
                    f"{shown_url(self.url)}: no progress after {failures} attempts",
                )
            await asyncio.sleep(self._delay(failures))

    def _delay(self, failures: int) -> float:
        return delay_after(self.problem, failures, self.retry, self.rng)

    async def _attempt(self) -> PartRecord | None:
        """One request; the finished record, or None to ask again."""
        self.problem = None
        headers = dict(BASE_HEADERS)
        asked = self.offset if self.record is not None else 0
        if asked and self.record is not None:
            headers["Range"] = f"bytes={asked}-"
            validator = self.record.if_range()
            if validator:
                headers["If-Range"] = validator
        try:
            async with self.client.stream(
                "GET", self.url, headers=headers, timeout=request_timeout(self.network)
            ) as response:
                return await self._answer(response, asked)
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.url) from exc
        except httpx.InvalidURL as exc:
            raise FerrymanError("source.unsupported", f"{shown_url(self.url)}: {exc}") from exc

    async def _answer(self, response: httpx.Response, asked: int) -> PartRecord | None:
        status = response.status_code
        if status == 206:
            return await self._partial(response, asked)
        if status == 200:
            return await self._whole(response, asked)
        if status == 416:
            return await self._unsatisfiable(response)
        if status in (403, 410) and self.refresh_url is not None:
            await self._refresh(response)
            return None
        raise status_error(response)

    async def _partial(self, response: httpx.Response, asked: int) -> PartRecord | None:
        span = parse_content_range(response.headers.get("content-range"))
        if span is None or span.start != asked:
            start = "none" if span is None else span.start
            await self._start_over(f"asked from byte {asked}, the server sent from {start}")
            return None
        if asked == 0 or self.record is None:
            await self._begin(response, span.total)
            return await self._receive(response)
        record = self.record
        etag, modified = _validators(response)
        size_changed = record.size is not None and span.total not in (None, record.size)
        if size_changed or not record.same_content(etag, modified):
            await self._changed("the validators or the size changed between requests")
            return None
        await self._before_write(_remaining(record.size, asked, self.space_check_bytes))
        return await self._receive(response)

    async def _whole(self, response: httpx.Response, asked: int) -> PartRecord | None:
        etag, modified = _validators(response)
        if self.record is not None and not self.record.same_content(etag, modified):
            self._count_change()
        elif asked:
            self.restarts += 1  # the server ignored Range: its 200 body is used from zero
        await self._begin(response, content_length(response))
        return await self._receive(response)

    async def _unsatisfiable(self, response: httpx.Response) -> PartRecord | None:
        span = parse_content_range(response.headers.get("content-range"))
        record = self.record
        if (
            record is not None
            and record.size is not None
            and self.offset == record.size
            and (span is None or span.total in (None, record.size))
        ):
            return await self._finish(record)
        await self._start_over("416: the part does not fit the file on the server")
        return None

    async def _refresh(self, response: httpx.Response) -> None:
        if self.refreshed_without_bytes or self.refresh_url is None:
            raise status_error(response)  # a fresh link refused too: the link is not the problem
        self.url = await self.refresh_url()
        self.refreshes += 1
        self.refreshed_without_bytes = True
        if self.record is not None:
            self.record = self.record.with_url(self.url)
            await asyncio.to_thread(write_record, self.folder, self.record)

    def _count_change(self) -> None:
        self.changes += 1
        self.restarts += 1
        self.high_water = 0
        if self.changes > self.retry.max_attempts:
            raise FerrymanError(
                "source.http.changed",
                f"{shown_url(self.url)} changed {self.changes} times while downloading",
            )

    async def _changed(self, why: str) -> None:
        self._count_change()
        await self._drop_bytes()
        self.problem = FerrymanError("source.http.changed", f"{shown_url(self.url)}: {why}")

    async def _start_over(self, why: str) -> None:
        """Refuse what the server sent; the next request asks for the whole file."""
        self.restarts += 1
        await self._drop_bytes()
        self.problem = FerrymanError("source.http.status", f"{shown_url(self.url)}: {why}")

    async def _drop_bytes(self) -> None:
        if self.record is not None:
            await asyncio.to_thread(partfile.drop_bytes, self.folder, self.record)
        self.offset = 0

    async def _begin(self, response: httpx.Response, size: int | None) -> None:
        """Start from zero with this response: room first, then the record, then bytes."""
        etag, modified = _validators(response)
        content_type = response.headers.get("content-type")
        final_url = str(response.url)
        old = self.record
        if self.fixed_name:
            name = safe_filename(self.fixed_name) or FALLBACK_NAME
        elif old is not None and old.same_content(etag, modified):
            name = old.name  # the same file again (maybe by a refreshed link): same name
        else:
            disposition = response.headers.get("content-disposition")
            name = pick_filename(disposition, final_url, content_type)
        new = PartRecord(name, self.url, final_url, etag, modified, size, content_type)
        await self._before_write(_remaining(size, 0, self.space_check_bytes))
        await asyncio.to_thread(partfile.start_over, self.folder, self.record, new)
        self.record = new
        self.offset = 0

    async def _receive(self, response: httpx.Response) -> PartRecord | None:
        """Append the body to the part; the finished record at the end of a whole body."""
        record = self.record
        assert record is not None
        writer = await asyncio.to_thread(
            partfile.PartWriter, part_path(self.folder, record.name), self.offset
        )
        buffer = bytearray()
        since_sync = 0
        try:
            async for chunk in response.aiter_raw():
                if record.size is not None and self.offset + len(chunk) > record.size:
                    raise FerrymanError(
                        "source.http.status",
                        f"{shown_url(self.url)} sent more than its {record.size} bytes",
                    )
                buffer += chunk
                self.offset += len(chunk)
                self.refreshed_without_bytes = False
                since_sync += len(chunk)
                if since_sync >= self.space_check_bytes:
                    await write_whole(writer.write, bytes(buffer), sync=True)
                    buffer.clear()
                    since_sync = 0
                    await self._before_write(
                        _remaining(record.size, self.offset, self.space_check_bytes)
                    )
                elif len(buffer) >= WRITE_BUFFER_BYTES:
                    await write_whole(writer.write, bytes(buffer), sync=False)
                    buffer.clear()
                self.high_water = max(self.high_water, self.offset)
                self.progress.update(self.offset, record.size, self.restarts)
        finally:
            try:
                if buffer:
                    await write_whole(writer.write, bytes(buffer), sync=False)
            finally:
                self.offset = await asyncio.to_thread(writer.size)
                await asyncio.to_thread(writer.close)
        if record.size is not None and self.offset < record.size:
            raise FerrymanError(
                "source.io", f"{shown_url(self.url)} ended at byte {self.offset} of {record.size}"
            )
        if record.size is None:
            record = replace(record, size=self.offset)
        return await self._finish(record)

    async def _finish(self, record: PartRecord) -> PartRecord | None:
        done = await asyncio.to_thread(partfile.finish, self.folder, record)
        if done is None:
            await self._start_over("the finished part has the wrong size")
            return None
        self.record = done
        self.progress.update(done.size or 0, done.size, self.restarts, force=True)
        return done

    async def _before_write(self, needed: int) -> None:
        if self.wait_to_write is not None and needed > 0:
            await self.wait_to_write(needed)

    async def _result(self, record: PartRecord) -> Downloaded:
        path = self.folder / record.name
        head = await asyncio.to_thread(partfile.read_head, path, SNIFF_BYTES)
        return Downloaded(
            path=path,
            url=record.url,
            final_url=record.final_url,
            name=record.name,
            size=record.size or 0,
            content_type=record.content_type,
            kind=kind_of(record.content_type, head, record.name),
            restarts=self.restarts,
            changes=self.changes,
            refreshes=self.refreshes,
        )


def _validators(response: httpx.Response) -> tuple[str | None, str | None]:
    return response.headers.get("etag"), response.headers.get("last-modified")


def _remaining(size: int | None, offset: int, unknown: int) -> int:
    """Bytes still to come; a chunk's worth when the server sent no length."""
    return size - offset if size is not None else unknown
