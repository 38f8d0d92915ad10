"""``/d/`` links to files a job sent to Telegram, served from Telegram's storage.

The Telegram sink keeps what a link needs of each document it sends
(``sinks/telegram_files``); a link names one by ``tg:ITEM:PART`` in the same signed token
as a result's (``web/signing``: the expiry, the person it is bound to, checked by
``web/api/downloads`` exactly as for a file on disk). Serving one asks Telegram for the
blocks the request's range needs (``telegram/stream``), through the account that sent
it and, for a channel's message, every other account of the pool (each fetches the
message once for a file reference of its own, kept in memory for the next requests):
each account carries ``in_flight`` blocks on its own connections, and where it found the
file (another data centre, a CDN: ``telegram/dcs``) is kept for the next requests.
Nothing is written to disk. One range a request (``Range: bytes=A-B``, ``A-``, ``-N``);
several ranges get the whole file, as RFC 9110 allows. A file cut by bytes into pieces
(``link:telegram``'s over Telegram's size limit) is one link: a range is read piece
after piece, each piece's part of it from that piece's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.responses import Response, StreamingResponse

from ferryman.errors import FerrymanError
from ferryman.sinks.telegram_files import TelegramFile, TelegramLink
from ferryman.telegram.accounts import account_pool
from ferryman.web.result_files import disposition

if TYPE_CHECKING:
    from ferryman.resources import Shared
    from ferryman.telegram.dcs import FileWay
    from ferryman.telegram.pool import ClientPool
    from ferryman.telegram.stream import Reader

# Telethon (and its RSA's ASN.1) is loaded by the first link read, not as the web starts:
# ``tests/cli/test_startup_imports.py``. Imports marked ``lazy: start-up`` below.

log = logging.getLogger(__name__)

CONNECTIONS = 1  # an account's connections for streams (its speed is Telegram's cap)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a ``Range`` header asks of a ``size``-byte file; None:
    the whole file (no header, another unit, several ranges, or one not understood).
    ``link.range`` (416) for a range wholly past the end."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0:
            raise FerrymanError("link.range", f"an empty range of a {size}-byte file")
        return max(0, size - count), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None  # not a valid range: ignored (RFC 9110 14.1.1)
    if start >= size:
        raise FerrymanError("link.range", f"bytes {start}- are past the end ({size} bytes)")
    return start, end


class TelegramStreams:
    """The accounts' ways to files in Telegram: each account's stream connections
    (opened on first use, kept), and the file references each was given."""

    def __init__(
        self,
        shared: Shared,
        *,
        in_flight: int | None = None,
        accounts: int | None = None,
        connections: int = CONNECTIONS,
    ) -> None:
        self.shared = shared
        self.in_flight = in_flight  # blocks each account carries at once (None: the stream's)
        self.accounts = accounts  # None: every account of the pool that can see the file
        self.connections = connections
        self._pools: dict[str, ClientPool] = {}
        self._locations: dict[tuple[str, int], Any] = {}
        # Where each account found each file (its DC, its CDN token): the next request's
        # readers go straight there, not through another FILE_MIGRATE.
        self._ways: dict[tuple[str, int], FileWay] = {}

    async def readers(self, f: TelegramFile) -> list[Reader]:
        """The sending account, then the others that can read the file (a channel's)."""
        pool = account_pool(self.shared)
        pool.refresh()
        sender = pool.member(f.account)
        members = [m for m in pool.members if m is sender]
        if f.channel:
            members += [m for m in pool.members if m is not sender]
        members = members[: self.accounts] if self.accounts else members
        if not members:
            raise FerrymanError(
                "telegram.not_logged_in", f"the account that sent {f.name} is not logged in"
            )
        found = await asyncio.gather(
            *(self._reader(m.name, m.hub, f, first=m is sender) for m in members),
            return_exceptions=True,
        )
        readers = [r for r in found if not isinstance(r, BaseException)]
        if not readers:
            from ferryman.telegram.errors import from_telethon  # lazy: start-up

            error = next(e for e in found if isinstance(e, BaseException))
            raise from_telethon(error) from error
        for name, failure in zip((m.name for m in members), found, strict=True):
            if isinstance(failure, BaseException):
                log.info("account %s cannot read %s: %s", name, f.name, failure)
        return readers

    async def _reader(self, name: str, hub: Any, f: TelegramFile, *, first: bool) -> Reader:
        from ferryman.telegram.dcs import FileWay  # lazy: start-up
        from ferryman.telegram.pool import ClientPool  # lazy: start-up
        from ferryman.telegram.stream import IN_FLIGHT, Reader  # lazy: start-up

        client = await hub.client()
        key = (name, f.document_id)

        async def refresh() -> Any:
            location = await _fetch_location(client, f)
            self._locations[key] = location
            return location

        location = self._locations.get(key)
        if location is None:
            location = f.location() if first else await refresh()
        if name not in self._pools:
            self._pools[name] = ClientPool(hub.dialer, self.connections)
        pool = self._pools[name].pool(client)
        way = self._ways.get(key)
        if way is None or way.home is not pool:  # none yet, or another client's since
            way = self._ways[key] = FileWay(client, pool)
        in_flight = IN_FLIGHT if self.in_flight is None else self.in_flight
        return Reader(name, client, pool, location, refresh, in_flight, way=way)

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        self._ways.clear()
        for pool in pools:
            await pool.close()


async def _fetch_location(client: Any, f: TelegramFile) -> Any:
    """The document's location with a file reference this account was given: its
    message fetched again by id."""
    from telethon.tl import types  # lazy: start-up

    from ferryman.telegram.errors import from_telethon  # lazy: start-up

    chat: Any = f.chat
    if chat.lstrip("-").isdigit():
        chat = int(chat)
    try:
        entity = await client.get_input_entity(chat)
        message = await client.get_messages(entity, ids=f.message_id)
    except Exception as exc:
        raise from_telethon(exc) from exc
    media = getattr(message, "media", None)
    document = getattr(media, "document", None)
    if not isinstance(document, types.Document) or document.id != f.document_id:
        raise FerrymanError(
            "link.gone", f"{f.name} is no longer in its Telegram message (deleted or edited)"
        )
    return types.InputDocumentFileLocation(
        document.id, document.access_hash, document.file_reference, ""
    )


def player_page(name: str, mime: str, src: str) -> str:
    """A page that plays ``src`` (a ``/d/`` link: the browser asks it by ranges as it
    plays and seeks); no script, the page's stylesheet."""
    tag = "audio" if mime.startswith("audio/") else "video"
    title = html.escape(name)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>"
        '<link rel="stylesheet" href="/static/player.css"></head>'
        f"<body><main><h1>{title}</h1>"
        f'<{tag} controls preload="metadata" src="{html.escape(src)}"'
        f"></{tag}>"
        f'<p><a href="{html.escape(src)}" download>Download</a></p></main></body></html>\n'
    )


async def serve_file(
    streams: TelegramStreams, f: TelegramLink, range_header: str | None, *, head: bool
) -> Response:
    """The file (or the range asked of it) as it is read from Telegram; a file cut into
    pieces is read across them, as one."""
    asked = parse_range(range_header, f.size) if f.size else None
    start, end = asked or (0, f.size - 1)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(max(0, end - start + 1)),
        "Content-Disposition": disposition(f.name),
        "Cache-Control": "private",
    }
    if asked is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{f.size}"
    status = 206 if asked is not None else 200
    if head or f.size == 0:
        return Response(status_code=status, headers=headers, media_type=f.mime)
    spans = spans_of([p.size for p in f.pieces], start, end)
    first = await streams.readers(f.pieces[spans[0][0]])  # said before any byte is sent
    return StreamingResponse(
        _body(streams, f, spans, first), status_code=status, headers=headers, media_type=f.mime
    )


def spans_of(sizes: list[int], start: int, end: int) -> list[tuple[int, int, int]]:
    """(piece, its first byte, its last byte) of each piece that holds bytes ``start``..
    ``end`` (inclusive) of the pieces of ``sizes`` joined, in order."""
    spans = []
    at = 0
    for number, size in enumerate(sizes):
        low, high = max(start, at), min(end, at + size - 1)
        if low <= high:
            spans.append((number, low - at, high - at))
        at += size
    return spans


async def _body(
    streams: TelegramStreams,
    f: TelegramLink,
    spans: list[tuple[int, int, int]],
    first: list[Reader],
) -> AsyncIterator[bytes]:
    from ferryman.telegram.stream import read_range  # lazy: start-up

    for number, low, high in spans:
        piece = f.pieces[number]
        readers = first if number == spans[0][0] else await streams.readers(piece)
        # Closed with the response (a client gone mid-file): its requests in flight end now.
        async with contextlib.aclosing(read_range(readers, piece.size, low, high)) as blocks:
            async for block in blocks:
                yield block
