"""What a link is, asked of the server before anything is downloaded.

A HEAD gives size, type, validators and the final URL after redirects; servers
that refuse HEAD (presigned CDN links often do) get a ranged GET of the first
bytes instead. The first bytes are also fetched when the type alone cannot say
what the link is, when the server did not say it accepts ranges (a 206 to
``Range: bytes=0-…`` proves it does), and when HEAD says "a page": some servers
answer HEAD with their HTML default while GET sends the file, so a page is believed
only from a GET. One attempt, no retries: the caller's stage
retries like any other step.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from ferryman.config import NetworkSettings
from ferryman.errors import FerrymanError
from ferryman.net.http import (
    BASE_HEADERS,
    content_length,
    parse_content_range,
    request_timeout,
    shown_url,
    status_error,
    transport_error,
)
from ferryman.net.kinds import SNIFF_BYTES, LinkKind, kind_of, type_decides
from ferryman.net.names import pick_filename


@dataclass(frozen=True, slots=True)
class LinkFacts:
    """What the server says a link is."""

    url: str
    final_url: str  # after redirects
    size: int | None  # None: the server does not say
    content_type: str | None
    accepts_ranges: bool  # resumable, and readable in place (a zip over Range)
    etag: str | None
    last_modified: str | None
    name: str  # sanitised: RFC 6266, else the final URL
    kind: LinkKind  # Content-Type first, then the first bytes
    head: bytes  # the first bytes, when they were fetched (up to SNIFF_BYTES)


async def probe(client: httpx.AsyncClient, url: str, *, network: NetworkSettings) -> LinkFacts:
    """Ask the server about ``url``; raises ``source.*`` codes like the downloader."""
    try:
        head = await client.head(url, headers=BASE_HEADERS, timeout=request_timeout(network))
        if head.status_code >= 400:
            return await _ranged_get(client, url, network, None)
        facts = _from_headers(url, head)
        if _needs_bytes(facts):
            return await _ranged_get(client, url, network, facts)
        return facts
    except httpx.HTTPError as exc:
        raise transport_error(exc, url) from exc
    except httpx.InvalidURL as exc:
        raise FerrymanError("source.unsupported", f"{shown_url(url)}: {exc}") from exc


def _from_headers(url: str, response: httpx.Response, body: bytes = b"") -> LinkFacts:
    headers = response.headers
    content_type = headers.get("content-type")
    final_url = str(response.url)
    name = pick_filename(headers.get("content-disposition"), final_url, content_type)
    size = content_length(response)
    accepts = headers.get("accept-ranges", "").strip().lower() == "bytes"
    if response.status_code == 206:
        span = parse_content_range(headers.get("content-range"))
        size = span.total if span is not None else None
        accepts = accepts or span is not None
    return LinkFacts(
        url=url,
        final_url=final_url,
        size=size,
        content_type=content_type,
        accepts_ranges=accepts,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        name=name,
        kind=kind_of(content_type, body, name),
        head=body,
    )


def _needs_bytes(facts: LinkFacts) -> bool:
    """The first bytes are worth a request: they say what the type cannot, or prove Range."""
    if facts.kind is LinkKind.PAGE:
        return True  # believed only from a GET (see the module's docstring)
    if facts.size == 0:
        return False
    return not facts.accepts_ranges or not type_decides(facts.content_type)


async def _ranged_get(
    client: httpx.AsyncClient, url: str, network: NetworkSettings, known: LinkFacts | None
) -> LinkFacts:
    """The first bytes by ``Range: bytes=0-…``; a server that ignores Range is read only
    that far, then the connection is dropped."""
    headers = BASE_HEADERS | {"Range": f"bytes=0-{SNIFF_BYTES - 1}"}
    async with client.stream("GET", url, headers=headers, timeout=request_timeout(network)) as got:
        if got.status_code not in (200, 206):
            raise status_error(got)
        body = bytearray()
        async for chunk in got.aiter_raw():
            body += chunk
            if len(body) >= SNIFF_BYTES:
                break
        facts = _from_headers(url, got, bytes(body[:SNIFF_BYTES]))
    if known is None or known.kind is LinkKind.PAGE:
        return facts  # a HEAD that said "page" described the page, not what GET sends
    return LinkFacts(
        url=url,
        final_url=known.final_url,
        size=known.size if known.size is not None else facts.size,
        content_type=known.content_type or facts.content_type,
        accepts_ranges=known.accepts_ranges or facts.accepts_ranges,
        etag=known.etag or facts.etag,
        last_modified=known.last_modified or facts.last_modified,
        name=known.name,
        kind=kind_of(known.content_type or facts.content_type, facts.head, known.name),
        head=facts.head,
    )
