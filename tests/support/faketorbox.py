"""A fake Torbox API on loopback, as its public docs describe it: ``mylist`` (Bearer
key) and ``requestdl`` (``token`` parameter) for torrents, usenet and web downloads,
``createtorrent`` (a multipart form with ``magnet``, or a ``file`` whose bytes ``uploads``
names: one torrent per info hash and account, an existing one's id answered again) and
``checkcached`` for torrents, answering ``{"success", "error", "detail", "data"}``. A
magnet's torrent is what ``swarm`` says its info hash holds (unknown: refused), cached
or still downloading. At the plan's ``active_limit`` (unfinished torrents) a new one is
queued, as TorBox does when queuing is allowed: ``createtorrent`` answers success with a
``queued_id`` (no ``torrent_id``), and the torrent is in ``queued/getqueued``
(``type=torrent``: ``id``, ``hash``, ``name``, ``magnet``…), not in ``mylist``, until
``start_queued`` starts it under a torrent id of its own. The CDN links it hands out
are served by a ``tests.support.httpserve.FaultServer`` with a token per file, so a test
can make a link expire (``Faults(expire_token_on_cut=True)`` or ``cdn.expire_token``)."""

from __future__ import annotations

import email
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from tests.support.httpserve import Faults, FaultServer

API_KEY = "tb-key-0123456789abcdef"
_KINDS = {
    "torrents": ("torrent_id", "torrent"),
    "usenet": ("usenet_id", "usenet"),
    "webdl": ("web_id", "webdl"),
}


@dataclass
class Item:
    id: int
    name: str
    files: list[dict[str, Any]]
    finished: bool = True
    hash: str = ""


@dataclass
class Torrent:
    """What a swarm would give for an info hash: a name, files, and whether Torbox has
    it cached (else it is ``finished`` only once a test says so)."""

    name: str
    files: list[tuple[str, bytes, str]]
    cached: bool = True


@dataclass
class FakeTorbox:
    cdn: FaultServer
    items: dict[tuple[str, int], Item] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # "mylist", "requestdl"
    links: Counter[tuple[int, int]] = field(default_factory=Counter)  # (item, file) asked
    base: str = ""
    throttled: int = 0  # the next N API calls answer 429 with Retry-After
    swarm: dict[str, Torrent] = field(default_factory=dict)  # info hash -> torrent
    next_id: int = 1000
    retry_after: str = "1"
    uploads: dict[bytes, str] = field(default_factory=dict)  # .torrent bytes -> info hash
    active_limit: int | None = None  # the plan's active torrents; beyond it, queued
    queued: dict[int, dict[str, Any]] = field(default_factory=dict)  # queued id -> as listed

    def add(
        self,
        kind: str,
        item_id: int,
        name: str,
        files: list[tuple[str, bytes, str]],
        *,
        finished: bool = True,
        faults: dict[str, Faults] | None = None,
    ) -> Item:
        """An item whose files (path inside it, bytes, MIME type) the CDN serves."""
        listed = []
        for n, (path, data, mime) in enumerate(files):
            where = f"/dl/{kind}/{item_id}/{n}/{path.rsplit('/', 1)[-1]}"
            self.cdn.add(where, data, token=f"t{item_id}x{n}", content_type=mime)
            if faults and path in faults:
                self.cdn.resources[where].faults = faults[path]
            listed.append(
                {
                    "id": n,
                    "name": f"{name}/{path}",  # Torbox prefixes the item's folder
                    "short_name": path.rsplit("/", 1)[-1],
                    "size": len(data),
                    "mimetype": mime,
                    "cdn_path": where,
                }
            )
        item = Item(item_id, name, listed, finished)
        self.items[(kind, item_id)] = item
        return item

    def from_magnet(self, magnet: str) -> tuple[Item, bool] | None:
        """``createtorrent``: the account's torrent of the magnet's hash (made now if it
        has none: True), or None when no swarm has that hash."""
        from ferryman.sources.magnet import info_hash

        digest = info_hash(magnet)
        for (kind, _), item in self.items.items():
            if kind == "torrent" and item.hash == digest:
                return item, False
        torrent = self.swarm.get(digest)
        if torrent is None:
            return None
        self.next_id += 1
        item = self.add(
            "torrent", self.next_id, torrent.name, torrent.files, finished=torrent.cached
        )
        item.hash = digest
        return item, True

    def queue(self, magnet: str, from_file: bool) -> dict[str, Any] | None:
        """``createtorrent`` at the active limit: the queued entry of the magnet's hash
        (the one queued before, or made now), None when the account is not at it."""
        from ferryman.sources.magnet import info_hash

        digest = info_hash(magnet)
        for entry in self.queued.values():
            if entry["hash"] == digest:
                return entry
        torrents = [i for (k, _), i in self.items.items() if k == "torrent"]
        if any(i.hash == digest for i in torrents):
            return None  # the account's torrent of that hash is answered
        active = sum(1 for i in torrents if not i.finished)
        if self.active_limit is None or active < self.active_limit or digest not in self.swarm:
            return None
        self.next_id += 1
        entry = {
            "id": self.next_id,
            "auth_id": "fake",
            "created_at": "2026-11-30T04:00:00Z",
            "magnet": None if from_file else magnet,
            "torrent_file": from_file,
            "hash": digest,
            "name": self.swarm[digest].name,
            "type": "torrent",
        }
        self.queued[entry["id"]] = entry
        return entry

    def start_queued(self) -> list[Item]:
        """TorBox starts its queued torrents: each leaves the queue and is in ``mylist``
        under a new torrent id (found there by its hash)."""
        started = []
        for qid in list(self.queued):
            entry = self.queued.pop(qid)
            made = self.from_magnet(f"magnet:?xt=urn:btih:{entry['hash']}")
            if made is not None:
                started.append(made[0])
        return started

    def cdn_path(self, kind: str, item_id: int, file_id: int) -> str:
        return str(self.items[(kind, item_id)].files[file_id]["cdn_path"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    @property
    def fake(self) -> FakeTorbox:
        return self.server.fake  # type: ignore[attr-defined,no-any-return]

    def _answer(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _fail(self, status: int, error: str, detail: str) -> None:
        self._answer(status, {"success": False, "error": error, "detail": detail, "data": None})

    @staticmethod
    def _view(item: Item) -> dict[str, Any]:
        files = [{k: v for k, v in f.items() if k != "cdn_path"} for f in item.files]
        return {
            "id": item.id,
            "name": item.name,
            "size": sum(f["size"] for f in files),
            "download_state": "cached" if item.finished else "downloading",
            "download_finished": item.finished,
            "progress": 1.0 if item.finished else 0.4,  # 0-1, as mylist says it
            "download_present": item.finished,
            "hash": item.hash,
            "files": files,
        }

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if parts.path == "/v1/api/torrents/controltorrent":  # {"torrent_id", "operation"}
            said = json.loads(body or b"{}")
            gone = self.fake.items.pop(("torrent", int(said.get("torrent_id", 0))), None)
            if gone is None or said.get("operation") != "delete":
                self._fail(404, "ITEM_NOT_FOUND", "Item not found in your list.")
                return
            self._answer(200, {"success": True, "error": None, "detail": "Deleted.", "data": None})
            return
        if parts.path != "/v1/api/torrents/createtorrent":
            self._fail(404, "ENDPOINT_NOT_FOUND", "No such endpoint.")
            return
        self.fake.calls["createtorrent"] += 1
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._fail(403, "BAD_TOKEN", "Invalid API token.")
            return
        form = email.message_from_bytes(
            b"Content-Type: " + self.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + body
        )
        fields = {
            part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in form.walk()
            if not part.is_multipart()
        }
        magnet = (fields.get("magnet") or b"").decode()
        if "file" in fields:  # a .torrent upload: known by the bytes a test registered
            digest = self.fake.uploads.get(fields["file"] or b"")
            magnet = f"magnet:?xt=urn:btih:{digest}" if digest else ""
        try:
            queued = self.fake.queue(magnet, "file" in fields)
            made = None if queued is not None else self.fake.from_magnet(magnet)
        except Exception:
            queued, made = None, None
        if queued is not None:  # queuing allowed, at the plan's active limit
            data = {"queued_id": queued["id"], "hash": queued["hash"], "auth_id": "fake"}
            detail = "Torrent queued: you are at your plan's active download limit."
            self._answer(200, {"success": True, "error": None, "detail": detail, "data": data})
            return
        if made is None:
            self._fail(400, "BOZO_TORRENT", "No peers or metadata for this magnet.")
            return
        item, new = made
        detail = "Torrent added." if new else "Found cached torrent. Using cached torrent."
        data = {"torrent_id": item.id, "hash": item.hash, "auth_id": "fake"}
        self._answer(200, {"success": True, "error": None, "detail": detail, "data": data})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = parts.path.strip("/").split("/")  # v1 api KIND CALL
        if segments == ["v1", "api", "queued", "getqueued"]:
            self._queued(query)
            return
        if len(segments) != 4 or segments[:2] != ["v1", "api"] or segments[2] not in _KINDS:
            self._fail(404, "ENDPOINT_NOT_FOUND", "No such endpoint.")
            return
        kind_path, call = segments[2], segments[3]
        id_param, kind = _KINDS[kind_path]
        self.fake.calls[call] += 1
        if self.fake.throttled > 0:  # Torbox: 300 calls a minute per key
            self.fake.throttled -= 1
            body = {"success": False, "error": "RATE_LIMITED", "detail": "Slow down.", "data": None}
            self._answer(429, body, {"Retry-After": self.fake.retry_after})
            return
        if call == "checkcached":
            digest = query.get("hash", "").lower()
            torrent = self.fake.swarm.get(digest)
            data = (
                {digest: {"name": torrent.name, "size": sum(len(f[1]) for f in torrent.files)}}
                if torrent is not None and torrent.cached
                else None
            )
            self._answer(200, {"success": True, "error": None, "detail": "", "data": data})
            return
        if call == "mylist":
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                self._fail(403, "BAD_TOKEN", "Invalid API token. Get yours at torbox.app/settings.")
                return
            if "id" not in query:  # the whole list of that kind
                every = [self._view(i) for (k, _), i in self.fake.items.items() if k == kind]
                self._answer(200, {"success": True, "error": None, "detail": "", "data": every})
                return
            item = self.fake.items.get((kind, int(query.get("id", "0"))))
            if item is None:
                self._fail(404, "ITEM_NOT_FOUND", "Item not found in your list.")
                return
            data = self._view(item)
            self._answer(200, {"success": True, "error": None, "detail": "Found.", "data": data})
        elif call == "requestdl":
            if query.get("token") != API_KEY:
                self._fail(403, "BAD_TOKEN", "Invalid API token.")
                return
            key = (kind, int(query.get(id_param, "0")))
            item = self.fake.items.get(key)
            file_id = int(query.get("file_id", "0"))
            if item is None or file_id >= len(item.files):
                self._fail(404, "ITEM_NOT_FOUND", "Item or file not found.")
                return
            if not item.finished:
                self._fail(400, "DOWNLOAD_NOT_CACHED", "The download is not finished yet.")
                return
            self.fake.links[(item.id, file_id)] += 1
            url = self.fake.cdn.url(str(item.files[file_id]["cdn_path"]))
            self._answer(200, {"success": True, "error": None, "detail": "Link made.", "data": url})
        else:
            self._fail(404, "ENDPOINT_NOT_FOUND", "No such endpoint.")

    def _queued(self, query: dict[str, str]) -> None:
        """``queued/getqueued``: the queued downloads of one ``type`` (a list; with
        ``id``, a list of that one)."""
        self.fake.calls["getqueued"] += 1
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._fail(403, "BAD_TOKEN", "Invalid API token.")
            return
        kind = query.get("type", "torrent")
        listed = [e for e in self.fake.queued.values() if e["type"] == kind]
        if "id" in query:
            listed = [e for e in listed if str(e["id"]) == query["id"]]
        body = {"success": True, "error": None, "detail": "Queued downloads.", "data": listed}
        self._answer(200, body)


@contextmanager
def torbox_serving(cdn: FaultServer) -> Iterator[FakeTorbox]:
    with served(FakeTorbox(cdn), _Handler) as fake:
        yield fake


F = TypeVar("F")


@contextmanager
def served(fake: F, handler: type[BaseHTTPRequestHandler]) -> Iterator[F]:
    """``fake`` answered by ``handler`` on a loopback port (its ``base``), until the end
    of the block (the fake Torbox's and the fake debrid services')."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    httpd.fake = fake  # type: ignore[attr-defined]
    host, port = httpd.server_address[:2]
    fake.base = f"http://{host!s}:{port}"  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
