"""Fakes of four debrid services' documented APIs on loopback, one server per service:
Real-Debrid (``/rest/1.0``: ``torrents`` (paged, newest first), ``torrents/addMagnet``, PUT
``torrents/addTorrent``, ``torrents/selectFiles/ID``, ``torrents/info/ID``,
``unrestrict/link``, ``torrents/delete/ID``; ``{"error", "error_code"}``), AllDebrid
(``/v4``: ``magnet/upload``, ``magnet/upload/file``, ``/v4.1/magnet/status`` (POST,
no links), ``magnet/files`` (``id[]``: the files' tree), ``link/unlock``,
``magnet/delete``; ``agent`` on every call and the key as a Bearer token or ``apikey``;
``{"status", "data" | "error": {"code", "message"}}``), Premiumize (``/api``: ``transfer/create``,
``transfer/list``, ``folder/list``, ``item/details``, ``transfer/delete``; ``apikey``;
``{"status": "error", "message"}``) and Debrid-Link (``/api/v2``: ``seedbox/add``,
``seedbox/list`` (paged), ``seedbox/ID/remove``; Bearer; ``{"success", "value" | "error"}``).

What a magnet (or an uploaded ``.torrent``, known by the bytes ``torrent_file`` made)
holds is what ``swarm`` says of its info hash; a hash no swarm knows is added and then
given up (Real-Debrid ``magnet_error``, AllDebrid statusCode 15, Premiumize ``error``,
Debrid-Link status 9). A torrent is ready after ``polls`` status calls (0: cached). The
direct links are served by a ``tests.support.httpserve.FaultServer`` with a token per
file, so a test can make one expire (``cdn.expire_token`` or a ``Faults``); the next
``throttled`` API calls answer 429 with ``Retry-After``."""

from __future__ import annotations

import email
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.faketorbox import served
from tests.support.httpserve import Faults, FaultServer

KEY = "debrid-key-0123456789"
PREFIX = {
    "realdebrid": "/rest/1.0",
    "alldebrid": "/v4",
    "premiumize": "/api",
    "debridlink": "/api/v2",
}


# Each service's calls that add an item (a magnet or a .torrent): what ``FakeDebrid.gate``
# holds on its way.
ADDS = {
    "realdebrid": ("torrents/addMagnet", "torrents/addTorrent"),
    "alldebrid": ("magnet/upload", "magnet/upload/file"),
    "premiumize": ("transfer/create",),
    "debridlink": ("seedbox/add",),
}


@dataclass
class Gate:
    """An add held on its way to the service: ``arrived`` is set when one reaches it,
    which is answered once ``release`` is set (a race made to happen, not waited for)."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def hold(self) -> None:
        self.arrived.set()
        if not self.release.wait(60):
            raise TimeoutError("the test never released the add")


@dataclass
class Torrent:
    name: str
    files: list[tuple[str, bytes, str]]  # path inside, bytes, MIME type
    polls: int = 0  # status calls before the service has it whole (0: cached)
    faults: dict[str, Faults] = field(default_factory=dict)


@dataclass
class Item:
    id: str
    hash: str
    torrent: Torrent | None  # None: no swarm had it
    polls_left: int
    paths: list[str]  # the CDN's path of each file
    selected: bool = False
    src: str = ""


@dataclass
class FakeDebrid:
    kind: str
    cdn: FaultServer
    base: str = ""
    swarm: dict[str, Torrent] = field(default_factory=dict)
    uploads: dict[bytes, str] = field(default_factory=dict)  # .torrent bytes -> info hash
    items: dict[str, Item] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    unlocked: Counter[tuple[str, int]] = field(default_factory=Counter)
    throttled: int = 0
    retry_after: str = "1"
    next_id: int = 100
    # AllDebrid: link/unlock answers `delayed`, ready after this many link/delayed asks
    # (-1: it fails, status 3); delayed id -> [asks left, the link]
    delay_unlocks: int | None = None
    delayed: dict[str, list[Any]] = field(default_factory=dict)
    gate: Gate | None = None  # every add waits at it before it is made (``Gate``)

    @property
    def api_base(self) -> str:
        return self.base + PREFIX[self.kind]

    def added(self) -> int:
        return self.calls["add"]

    def add(self, digest: str, src: str) -> Item:
        """The account's item of ``digest`` (one per hash), made now if it has none."""
        for item in self.items.values():
            if item.hash == digest:
                return item
        self.next_id += 1
        torrent = self.swarm.get(digest)
        item_id = (
            str(self.next_id)
            if self.kind == "alldebrid"
            else f"{self.kind[:2].upper()}{self.next_id}"
        )
        paths = []
        for n, (path, data, mime) in enumerate(torrent.files if torrent else []):
            where = f"/dl/{item_id}/{n}/{path.rsplit('/', 1)[-1]}"
            self.cdn.add(where, data, token=f"t{item_id}x{n}", content_type=mime)
            if torrent is not None and path in torrent.faults:
                self.cdn.resources[where].faults = torrent.faults[path]
            paths.append(where)
        item = Item(item_id, digest, torrent, torrent.polls if torrent else 1, paths, src=src)
        self.items[item_id] = item
        return item

    def poll(self, item: Item) -> bool:
        """One status call: whether the item is ready now."""
        if item.torrent is not None and item.polls_left > 0 and self.selected(item):
            item.polls_left -= 1
        return item.torrent is not None and item.polls_left == 0 and self.selected(item)

    def selected(self, item: Item) -> bool:
        return item.selected or self.kind != "realdebrid"

    def link(self, item: Item, n: int) -> str:
        self.unlocked[(item.id, n)] += 1
        return self.cdn.url(item.paths[n])


def bencode(value: Any) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
    return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"


def torrent_file(torrent: Torrent) -> tuple[bytes, str]:
    """A .torrent of ``torrent`` and its info hash (SHA-1 of the bencoded info)."""
    info = {
        "name": torrent.name,
        "piece length": 16384,
        "pieces": b"\x00" * 20,
        "files": [{"length": len(d), "path": p.split("/")} for p, d, _ in torrent.files],
    }
    whole = {"announce": "udp://tracker.example:80", "info": info}
    return bencode(whole), hashlib.sha1(bencode(info)).hexdigest()


def _magnet_hash(magnet: str) -> str | None:
    for value in parse_qs(urlsplit(magnet).query).get("xt", []):
        if value.lower().startswith("urn:btih:") and len(value) == 49:
            return value[9:].lower()
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    @property
    def fake(self) -> FakeDebrid:
        return self.server.fake  # type: ignore[attr-defined,no-any-return]

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _parse(self) -> tuple[str, dict[str, str], dict[str, bytes], bytes]:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = self.headers.get("Content-Type", "")
        fields: dict[str, bytes] = {}
        if kind.startswith("application/x-www-form-urlencoded"):
            fields = {k: v[0].encode() for k, v in parse_qs(body.decode()).items()}
        elif kind.startswith("multipart/"):
            form = email.message_from_bytes(b"Content-Type: " + kind.encode() + b"\r\n\r\n" + body)
            for part in form.walk():
                if not part.is_multipart():
                    name = part.get_param("name", header="content-disposition")
                    fields[str(name)] = part.get_payload(decode=True)  # type: ignore[assignment]
        path = unquote(parts.path)
        if self.fake.kind == "alldebrid" and path.startswith("/v4.1/"):
            path = "v4.1/" + path.removeprefix("/v4.1/")  # magnet/status's version
        path = path.removeprefix(PREFIX[self.fake.kind]).strip("/")
        return path, query, fields, body

    def _any(self) -> None:
        path, query, fields, body = self._parse()
        fake = self.fake
        fake.calls["/".join(path.split("/")[:2])] += 1
        if fake.throttled > 0:
            fake.throttled -= 1
            said = {"error": "too_many_requests", "error_code": 34}
            self._send(429, said, {"Retry-After": fake.retry_after})
            return
        from tests.support.fakealldebrid import alldebrid  # lazy: it reads this module

        handler = {
            "realdebrid": _realdebrid,
            "alldebrid": alldebrid,
            "premiumize": _premiumize,
            "debridlink": _debridlink,
        }[fake.kind]
        if fake.gate is not None and path in ADDS[fake.kind]:
            fake.gate.hold()  # outside the lock: the service answers other calls meanwhile
        with _LOCK:
            status, answer = handler(fake, self.command, path, query, fields, body, self.headers)
        self._send(status, answer)

    do_GET = do_POST = do_PUT = do_DELETE = _any


_LOCK = threading.Lock()
Answer = tuple[int, Any]


def _added(fake: FakeDebrid, digest: str | None, src: str) -> Item | None:
    if digest is None:
        return None
    fake.calls["add"] += 1
    return fake.add(digest, src)


def _realdebrid(
    fake: FakeDebrid,
    method: str,
    path: str,
    query: dict[str, str],
    fields: dict[str, bytes],
    body: bytes,
    headers: Any,
) -> Answer:
    if headers.get("Authorization") != f"Bearer {KEY}" and query.get("auth_token") != KEY:
        return 401, {"error": "bad_token", "error_code": 8}
    _, _, rest = path.partition("/")
    if path == "torrents":  # newest first, a page at a time (limit 100 by default)
        limit = min(int(query.get("limit") or 100), 5000)
        offset = int(query.get("offset") or 0) or (int(query.get("page") or 1) - 1) * limit
        newest = list(reversed(fake.items.values()))[offset : offset + limit]
        return (200, [_rd_view(fake, i) for i in newest]) if newest else (204, None)
    if path == "torrents/addMagnet":
        item = _added(fake, _magnet_hash(fields.get("magnet", b"").decode()), "magnet")
        if item is None:
            return 400, {"error": "parameter_bad_value", "error_code": 2}
        return 201, {"id": item.id, "uri": f"{fake.api_base}/torrents/info/{item.id}"}
    if path == "torrents/addTorrent" and method == "PUT":
        item = _added(fake, fake.uploads.get(body), "file")
        if item is None:
            return 400, {"error": "torrent_file_invalid", "error_code": 30}
        return 201, {"id": item.id, "uri": f"{fake.api_base}/torrents/info/{item.id}"}
    item = fake.items.get(rest.rpartition("/")[2])
    if path.startswith("torrents/selectFiles/") and item is not None:
        item.selected = True
        return 204, None
    if path.startswith("torrents/info/") and item is not None:
        fake.poll(item)
        return 200, _rd_view(fake, item)
    if path.startswith("torrents/delete/") and item is not None:
        del fake.items[item.id]
        return 204, None
    if path == "unrestrict/link":
        said = fields.get("link", b"").decode().removeprefix(f"{fake.base}/d/").split("/")
        found = fake.items.get(said[0]) if len(said) == 2 else None
        if found is None or not said[1].isdigit() or int(said[1]) >= len(found.paths):
            return 404, {"error": "unknown_ressource", "error_code": 7}
        return 200, {"download": fake.link(found, int(said[1])), "mimeType": "x"}
    return 404, {"error": "unknown_ressource", "error_code": 7}


def _rd_view(fake: FakeDebrid, item: Item) -> dict[str, Any]:
    ready = item.torrent is not None and item.polls_left == 0 and item.selected
    if item.torrent is None:
        status = "magnet_error"
    elif not item.selected:
        status = "waiting_files_selection"
    else:
        status = "downloaded" if ready else "downloading"
    files = item.torrent.files if item.torrent else []
    return {
        "id": item.id,
        "filename": item.torrent.name if item.torrent else item.hash,
        "hash": item.hash,
        "bytes": sum(len(d) for _, d, _ in files),
        "status": status,
        "progress": 100 if ready else 10,
        "files": [
            {"id": n + 1, "path": f"/{p}", "bytes": len(d), "selected": int(item.selected)}
            for n, (p, d, _) in enumerate(files)
        ],
        "links": [f"{fake.base}/d/{item.id}/{n}" for n in range(len(files))] if ready else [],
    }


def _premiumize(
    fake: FakeDebrid,
    method: str,
    path: str,
    query: dict[str, str],
    fields: dict[str, bytes],
    body: bytes,
    headers: Any,
) -> Answer:
    if query.get("apikey") != KEY:
        return 200, {"status": "error", "message": "Not logged in."}
    if path == "transfer/create":
        src = fields.get("src", b"").decode()
        item = _added(
            fake, fake.uploads.get(fields["file"]) if "file" in fields else _magnet_hash(src), src
        )
        if item is None:
            return 200, {"status": "error", "message": "Invalid magnet or torrent file."}
        name = item.torrent.name if item.torrent else item.hash
        return 200, {"status": "success", "id": item.id, "name": name, "type": "torrent"}
    if path == "transfer/list":
        return 200, {
            "status": "success",
            "transfers": [_pm_view(fake, i) for i in fake.items.values()],
        }
    if path == "transfer/delete":
        fake.items.pop(fields.get("id", b"").decode(), None)
        return 200, {"status": "success"}
    item_id, _, rest = query.get("id", "").partition(":")
    item = fake.items.get(item_id)
    if item is None or item.torrent is None:
        return 200, {"status": "error", "message": "Folder or file not found."}
    if path == "folder/list":
        return 200, {"status": "success", "content": _pm_folder(fake, item, rest)}
    if path == "item/details" and rest.isdigit() and int(rest) < len(item.paths):
        n = int(rest)
        p, d, mime = item.torrent.files[n]
        link = fake.link(item, n)
        return 200, {
            "id": f"{item.id}:{n}",
            "name": p.rsplit("/", 1)[-1],
            "type": "file",
            "size": len(d),
            "mime_type": mime,
            "link": link,
        }
    return 200, {"status": "error", "message": "Folder or file not found."}


def _pm_view(fake: FakeDebrid, item: Item) -> dict[str, Any]:
    ready = fake.poll(item)
    status = "error" if item.torrent is None else ("finished" if ready else "running")
    name = item.torrent.name if item.torrent else item.hash
    return {
        "id": item.id,
        "name": name,
        "status": status,
        "progress": 1 if ready else 0.3,
        "message": "No peers" if item.torrent is None else "",
        "src": item.src,
        "folder_id": f"{item.id}:" if ready else None,
        "file_id": None,
    }


def _pm_folder(fake: FakeDebrid, item: Item, folder: str) -> list[dict[str, Any]]:
    assert item.torrent is not None
    inside = f"{folder}/" if folder else ""
    content: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, (p, d, mime) in enumerate(item.torrent.files):
        if not p.startswith(inside):
            continue
        head, sep, _ = p[len(inside) :].partition("/")
        if sep and head not in seen:
            seen.add(head)
            content.append({"id": f"{item.id}:{inside}{head}", "name": head, "type": "folder"})
        elif not sep:
            content.append(
                {
                    "id": f"{item.id}:{n}",
                    "name": head,
                    "type": "file",
                    "size": len(d),
                    "mime_type": mime,
                }
            )
    return content


def _debridlink(
    fake: FakeDebrid,
    method: str,
    path: str,
    query: dict[str, str],
    fields: dict[str, bytes],
    body: bytes,
    headers: Any,
) -> Answer:
    if headers.get("Authorization") != f"Bearer {KEY}":
        return 401, {"success": False, "error": "badToken"}
    if path == "seedbox/add":
        src = fields.get("url", b"").decode()
        item = _added(
            fake, fake.uploads.get(fields["file"]) if "file" in fields else _magnet_hash(src), src
        )
        if item is None:
            return 400, {"success": False, "error": "notAddTorrent"}
        return 200, {"success": True, "value": _dl_view(fake, item, poll=False)}
    if path == "seedbox/list":  # a page at a time: page from 0, perPage 20 to 50
        ids = query.get("ids")
        listed = [i for i in fake.items.values() if ids is None or i.id in ids.split(",")]
        per = max(20, min(int(query.get("perPage") or 20), 50))
        page = int(query.get("page") or 0)
        pages = max(1, -(-len(listed) // per))
        shown = listed[page * per : (page + 1) * per]
        paged = {"page": page, "pages": pages, "next": page + 1 if page + 1 < pages else -1}
        return 200, {
            "success": True,
            "value": [_dl_view(fake, i, poll=ids is not None) for i in shown],
            "pagination": paged | {"previous": page - 1 if page > 0 else -1},
        }
    if method == "DELETE" and path.endswith("/remove"):
        fake.items.pop(path.split("/")[1], None)
        return 200, {"success": True, "value": [path.split("/")[1]]}
    return 404, {"success": False, "error": "unknowR"}


def _dl_view(fake: FakeDebrid, item: Item, *, poll: bool) -> dict[str, Any]:
    ready = fake.poll(item) if poll else item.torrent is not None and item.polls_left == 0
    files = item.torrent.files if item.torrent else []
    return {
        "id": item.id,
        "name": item.torrent.name if item.torrent else item.hash,
        "hashString": item.hash.upper(),
        # Transmission's 4 downloading, then 100 stored; 9, undocumented, its "error"
        "status": 9 if item.torrent is None else (100 if ready else 4),
        "downloadPercent": 100 if ready else 40,
        "files": [
            {
                "id": f"{item.id}-{n}",
                "name": p,
                "size": len(d),
                "downloadPercent": 100 if ready else 40,
                "downloadUrl": fake.link(item, n) if ready else "",
            }
            for n, (p, d, _) in enumerate(files)
        ],
    }


@contextmanager
def debrid_serving(kind: str, cdn: FaultServer) -> Iterator[FakeDebrid]:
    with served(FakeDebrid(kind, cdn), _Handler) as fake:
        yield fake
