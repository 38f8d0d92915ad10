"""A small S3 client on httpx: Signature V4 (signed requests and presigned URLs), and the
handful of calls the results store needs (put a file, multipart when large; get, list,
delete, presign).

Why not boto3: for six calls it would add tens of MB to an install meant for a phone
(botocore's service data) and import slower than this module with httpx, which the
engine loads anyway (the figures: docs/web.md, "The client").
The signing follows AWS's published Signature Version 4 and is checked against its
worked example and against a real S3 server (SeaweedFS) in the tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import math
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import httpx

from ferryman.errors import FerrymanError
from ferryman.net.http import tls

UNSIGNED = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MULTIPART_FROM = 64 << 20  # files this large go up in parts (a failed part is sent again)
PART_SIZE = 16 << 20
MAX_PARTS = 10_000  # S3's limit: a huge file gets larger parts
PRESIGN_MAX = 7 * 86400  # S3 refuses a presigned URL that lives longer
READ_BLOCK = 1 << 20
ATTEMPTS = 4  # a request is tried this often on 500/502/503/504 or a dropped connection
RETRIED = frozenset({500, 502, 503, 504})
BACKOFF = 0.25  # seconds before the second try; three times longer each time after
# A full bucket or store: a wait for room (``sink.space_low``), not a failure. Services
# say it their own ways: 507, a quota code, MinIO's "storage full", or EntityTooLarge
# (a quota met, on services that meter a bucket; on AWS only over 5 GB in one PUT,
# which this client never sends: larger files go in parts).
FULL_STATUS = 507
FULL_CODES = frozenset(
    {
        "EntityTooLarge",
        "QuotaExceeded",
        "InsufficientStorage",
        "StorageFull",
        "XMinioStorageFull",
        "XMinioAdminBucketQuotaExceeded",
    }
)


@dataclass(frozen=True, slots=True)
class S3Target:
    """Where and as whom: what ``[results.s3]`` says."""

    endpoint: str  # https://s3.example.com (a path after the host is kept)
    bucket: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    virtual_host: bool = False  # bucket.host/key instead of host/bucket/key


@dataclass(frozen=True, slots=True)
class S3Object:
    key: str
    size: int
    modified: float  # seconds since the epoch


# -- Signature V4 ----------------------------------------------------------------------


def quote(text: str, *, keep_slash: bool = False) -> str:
    """URI-encode as SigV4 wants: only ``A-Za-z0-9-._~`` stay (and ``/`` in paths)."""
    return urllib.parse.quote(text, safe="-_.~/" if keep_slash else "-_.~")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _signing_key(secret: str, day: str, region: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), day)
    key = _hmac(key, region)
    key = _hmac(key, "s3")
    return _hmac(key, "aws4_request")


def _canonical_query(query: Iterable[tuple[str, str]]) -> str:
    pairs = sorted((quote(k), quote(v)) for k, v in query)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _string_to_sign(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: dict[str, str],
    payload: str,
    stamp: str,
    scope: str,
) -> tuple[str, str]:
    """(signed header names, string to sign) for one request."""
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            quote(path, keep_slash=True),
            _canonical_query(query),
            "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names),
            ";".join(names),
            payload,
        ]
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return ";".join(names), f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}"


def _stamps(now: dt.datetime) -> tuple[str, str]:
    now = now.astimezone(dt.UTC)
    return now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")


def sign_headers(
    target: S3Target,
    method: str,
    host: str,
    path: str,
    query: Iterable[tuple[str, str]],
    payload: str,
    now: dt.datetime,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers that authorise one request (``Authorization``, ``x-amz-*``, ``host``);
    ``payload`` is the body's SHA-256 hex or ``UNSIGNED-PAYLOAD``."""
    stamp, day = _stamps(now)
    scope = f"{day}/{target.region}/s3/aws4_request"
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": stamp}
    headers.update({k.lower(): v for k, v in (extra or {}).items()})
    names, to_sign = _string_to_sign(method, path, query, headers, payload, stamp, scope)
    signature = hmac.new(
        _signing_key(target.secret_key, day, target.region), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={target.access_key}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return headers


def presign_query(
    target: S3Target,
    method: str,
    host: str,
    path: str,
    expires: int,
    now: dt.datetime,
    params: dict[str, str] | None = None,
) -> str:
    """The query string of a presigned URL for ``path`` on ``host``, valid ``expires``
    seconds from ``now`` (``params`` such as ``response-content-disposition`` are signed
    with it)."""
    stamp, day = _stamps(now)
    scope = f"{day}/{target.region}/s3/aws4_request"
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{target.access_key}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": "host",
        **(params or {}),
    }
    _, to_sign = _string_to_sign(
        method, path, query.items(), {"host": host}, UNSIGNED, stamp, scope
    )
    signature = hmac.new(
        _signing_key(target.secret_key, day, target.region), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    return f"{_canonical_query(query.items())}&X-Amz-Signature={signature}"


# -- the client ----------------------------------------------------------------------------


class S3Client:
    """The calls the results store makes, each signed; errors become ``results.bucket``
    (retried by the engine: a server that is down or a wrong key is fixed outside)."""

    def __init__(
        self,
        target: S3Target,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.target = target
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=10.0),
            verify=tls(),  # made once (net.http)
        )
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        base = urllib.parse.urlsplit(target.endpoint.rstrip("/"))
        if base.scheme not in ("http", "https") or not base.hostname:
            raise FerrymanError(
                "config.invalid", f"results.s3.endpoint {target.endpoint!r} is not an http(s) URL"
            )
        self._scheme = base.scheme
        self._host = f"{target.bucket}.{base.netloc}" if target.virtual_host else base.netloc
        self._root = base.path if target.virtual_host else f"{base.path}/{target.bucket}"

    async def close(self) -> None:
        await self._client.aclose()

    def _path(self, key: str) -> str:
        return f"{self._root}/{key}" if key else (self._root or "/")

    def _url(self, path: str, query: str = "") -> str:
        url = f"{self._scheme}://{self._host}{quote(path, keep_slash=True)}"
        return f"{url}?{query}" if query else url

    async def _send(
        self,
        method: str,
        key: str,
        query: dict[str, str] | None = None,
        *,
        content: Callable[[], bytes | AsyncIterator[bytes]] | None = None,
        payload: str = EMPTY_SHA256,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One signed request; a dropped connection or a 500/503 (S3's "try again",
        "slow down") is sent again, a fresh body from ``content`` each time."""
        path = self._path(key)
        pairs = list((query or {}).items())
        for attempt in range(ATTEMPTS):
            signed = sign_headers(
                self.target, method, self._host, path, pairs, payload, self._clock()
            )
            request = self._client.build_request(
                method,
                self._url(path, _canonical_query(pairs)),
                content=content() if content is not None else None,
                headers={**signed, **(headers or {})},
            )
            last = attempt == ATTEMPTS - 1
            try:
                response = await self._client.send(request, stream=stream)
            except httpx.TransportError as exc:
                if last:
                    raise FerrymanError(
                        "results.bucket", f"S3 {self.target.endpoint} cannot be reached: {exc}"
                    ) from exc
            else:
                if response.status_code not in RETRIED or last:
                    return response
                await response.aclose()
            await asyncio.sleep(BACKOFF * 3**attempt)
        raise AssertionError("unreachable")

    async def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code < 300:
            return response
        body = await response.aread()
        code, message = _error_of(body)
        told = f"{response.status_code} {code or ''} {message or ''}".rstrip()
        if response.status_code == FULL_STATUS or code in FULL_CODES:
            raise self._full(what, told)
        raise FerrymanError("results.bucket", f"S3 {what}: {told}")

    def _full(self, what: str, told: str) -> FerrymanError:
        where = f"{self.target.endpoint.rstrip('/')}/{self.target.bucket}"
        return FerrymanError("sink.space_low", f"the bucket {where} is full ({what}: {told})")

    # -- objects -----------------------------------------------------------------------
    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        response = await self._send(
            "PUT",
            key,
            content=lambda: data,
            payload=hashlib.sha256(data).hexdigest(),
            headers={"content-type": content_type, "content-length": str(len(data))},
        )
        await self._check(response, f"writing {key}")

    async def put_file(
        self,
        key: str,
        path: Path,
        content_type: str,
        sent: Callable[[int], None] | None = None,
    ) -> None:
        """Upload a file, in parts when it is large; nothing is read into memory whole.
        ``sent``: told the bytes stored so far, after each part."""
        size = (await asyncio.to_thread(path.stat)).st_size
        if size < MULTIPART_FROM:
            response = await self._send(
                "PUT",
                key,
                content=lambda: _read_range(path, 0, size),
                payload=UNSIGNED,
                headers={"content-type": content_type, "content-length": str(size)},
            )
            await self._check(response, f"writing {key}")
        else:
            await self._multipart(key, path, size, content_type, sent)
        if sent is not None:
            sent(size)

    async def _multipart(
        self,
        key: str,
        path: Path,
        size: int,
        content_type: str,
        sent: Callable[[int], None] | None,
    ) -> None:
        started = await self._send(
            "POST", key, {"uploads": ""}, headers={"content-type": content_type}
        )
        answer = await self._check(started, f"starting {key}")
        upload_id = _text(ET.fromstring(answer.content), "UploadId")
        if not upload_id:
            raise FerrymanError("results.bucket", f"S3 gave no upload id for {key}")
        part = max(PART_SIZE, math.ceil(size / MAX_PARTS))
        etags: list[str] = []
        try:
            for number, offset in enumerate(range(0, size, part), start=1):
                length = min(part, size - offset)
                response = await self._send(
                    "PUT",
                    key,
                    {"partNumber": str(number), "uploadId": upload_id},
                    content=functools.partial(_read_range, path, offset, length),
                    payload=UNSIGNED,
                    headers={"content-length": str(length)},
                )
                await self._check(response, f"writing part {number} of {key}")
                etags.append(response.headers.get("etag", ""))
                if sent is not None:
                    sent(offset + length)
            body = "".join(
                f"<Part><PartNumber>{n}</PartNumber><ETag>{_xml_escape(e)}</ETag></Part>"
                for n, e in enumerate(etags, start=1)
            )
            document = f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>".encode()
            done = await self._send(
                "POST",
                key,
                {"uploadId": upload_id},
                content=lambda: document,
                payload=hashlib.sha256(document).hexdigest(),
                headers={"content-type": "application/xml"},
            )
            await self._check(done, f"finishing {key}")
            # S3 may answer 200 and put the error in the body, after a long wait.
            if b"<Error>" in done.content:
                code, message = _error_of(done.content)
                if code in FULL_CODES:
                    raise self._full(f"finishing {key}", f"{code} {message}")
                raise FerrymanError("results.bucket", f"S3 finishing {key}: {code} {message}")
        except BaseException:
            aborted = await self._send("DELETE", key, {"uploadId": upload_id})
            await aborted.aclose()
            raise

    async def get_bytes(self, key: str) -> bytes | None:
        """The whole object (small ones: manifests), or None when there is none."""
        response = await self._send("GET", key)
        if response.status_code == 404:
            return None
        return (await self._check(response, f"reading {key}")).content

    async def stream(self, key: str, block: int = READ_BLOCK) -> AsyncIterator[bytes]:
        response = await self._send("GET", key, stream=True)
        try:
            await self._check(response, f"reading {key}")
            async for chunk in response.aiter_bytes(block):
                yield chunk
        finally:
            await response.aclose()

    async def delete(self, key: str) -> None:
        response = await self._send("DELETE", key)
        if response.status_code != 404:
            await self._check(response, f"deleting {key}")

    async def list(self, prefix: str) -> list[S3Object]:
        """Every object under ``prefix`` (ListObjectsV2, page after page)."""
        found: list[S3Object] = []
        token = ""
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            response = await self._check(await self._send("GET", "", query), "listing")
            root = _strip_namespaces(ET.fromstring(response.content))
            for entry in root.iter("Contents"):
                found.append(
                    S3Object(
                        _text(entry, "Key"),
                        int(_text(entry, "Size") or 0),
                        _timestamp(_text(entry, "LastModified")),
                    )
                )
            token = _text(root, "NextContinuationToken")
            if _text(root, "IsTruncated") != "true" or not token:
                return found

    async def make_bucket(self) -> None:
        """Create the bucket (an existing one of ours is fine)."""
        response = await self._send("PUT", "")
        if response.status_code == 409 and b"BucketAlreadyOwnedByYou" in response.content:
            return
        await self._check(response, f"creating bucket {self.target.bucket}")

    async def check(self) -> None:
        """The bucket answers to these keys (one listed key at most)."""
        query = {"list-type": "2", "max-keys": "1"}
        await self._check(await self._send("GET", "", query), f"bucket {self.target.bucket}")

    def presign(self, key: str, expires: int, params: dict[str, str] | None = None) -> str:
        """A GET URL for ``key`` that works without credentials for ``expires`` seconds
        (at most S3's 7 days)."""
        path = self._path(key)
        seconds = max(1, min(int(expires), PRESIGN_MAX))
        query = presign_query(self.target, "GET", self._host, path, seconds, self._clock(), params)
        return self._url(path, query)


async def _read_range(path: Path, offset: int, length: int) -> AsyncIterator[bytes]:
    """``length`` bytes of ``path`` from ``offset``, read off the event loop."""
    handle = await asyncio.to_thread(open, path, "rb")
    try:
        await asyncio.to_thread(handle.seek, offset)
        left = length
        while left > 0:
            block = await asyncio.to_thread(handle.read, min(READ_BLOCK, left))
            if not block:
                raise FerrymanError("sink.io", f"{path} became shorter while it was sent")
            left -= len(block)
            yield block
    finally:
        await asyncio.to_thread(handle.close)


def _strip_namespaces(root: ET.Element) -> ET.Element:
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.rsplit("}", 1)[1]
    return root


def _text(element: ET.Element, tag: str) -> str:
    root = _strip_namespaces(element)
    found = root.find(tag)
    return (found.text or "") if found is not None else ""


def _error_of(body: bytes) -> tuple[str, str]:
    try:
        root = _strip_namespaces(ET.fromstring(body))
    except ET.ParseError:
        return "", body[:200].decode("utf-8", "replace")
    return _text(root, "Code"), _text(root, "Message")


def _timestamp(text: str) -> float:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _xml_escape(text: str) -> str:
    return escape(text, {'"': "&quot;"})
