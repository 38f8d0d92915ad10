"""The fake AllDebrid of ``tests.support.fakedebrid``, as its docs describe it: ``/v4``
``magnet/upload`` (``magnets[]``), ``magnet/upload/file`` (``files[]``),
``/v4.1/magnet/status`` (POST ``id``; no links), ``magnet/files`` (``id[]``: each
magnet's files as a tree of ``{"n", "e"}`` folders and ``{"n", "s", "l"}`` files),
``link/unlock`` (with ``delay_unlocks`` set, a link its hoster must prepare: ``delayed``,
an id for ``link/delayed``, whose ``status`` is 1 while it is processed, then 2 with the
``link``, or 3 when it failed), ``magnet/delete``; ``agent`` on every call and the key as a Bearer
token or ``apikey``; ``{"status": "success", "data"}`` or ``{"status": "error",
"error": {"code", "message"}}`` with HTTP 200."""

from __future__ import annotations

from typing import Any

from tests.support.fakedebrid import KEY, Answer, FakeDebrid, Item, _added, _magnet_hash


def _ad_error(code: str, message: str) -> Answer:
    return 200, {"status": "error", "error": {"code": code, "message": message}}


def alldebrid(
    fake: FakeDebrid,
    method: str,
    path: str,
    query: dict[str, str],
    fields: dict[str, bytes],
    body: bytes,
    headers: Any,
) -> Answer:
    said = query | {k: v.decode(errors="replace") for k, v in fields.items() if k != "files[]"}
    key = str(headers.get("Authorization") or "").removeprefix("Bearer ") or said.get("apikey")
    if not said.get("agent"):
        return _ad_error("AUTH_MISSING_AGENT", "You must send a meaningful agent parameter")
    if not key:
        return _ad_error("AUTH_MISSING_APIKEY", "The auth apikey was not sent")
    if key != KEY:
        return _ad_error("AUTH_BAD_APIKEY", "The auth apikey is invalid")
    ok = {"status": "success"}
    if path == "magnet/upload":
        magnet = said.get("magnets[]", "")
        item = _added(fake, _magnet_hash(magnet), magnet)
        if item is None:
            error = {"code": "MAGNET_INVALID_URI", "message": "This magnet is not valid"}
            return 200, ok | {"data": {"magnets": [{"magnet": magnet, "error": error}]}}
        return 200, ok | {"data": {"magnets": [_ad_added(fake, item) | {"magnet": magnet}]}}
    if path == "magnet/upload/file" and method == "POST":
        item = _added(fake, fake.uploads.get(fields.get("files[]", b"")), "file")
        if item is None:
            error = {"code": "MAGNET_INVALID_FILE", "message": "File is not a valid torrent"}
            return 200, ok | {"data": {"files": [{"file": "x.torrent", "error": error}]}}
        return 200, ok | {"data": {"files": [_ad_added(fake, item) | {"file": "x.torrent"}]}}
    if path == "v4.1/magnet/status" and method == "POST" and "id" not in said:
        listed = [_ad_view(fake, i, poll=False) for i in fake.items.values()]
        return 200, ok | {"data": {"magnets": listed}}
    item = fake.items.get(said.get("id", said.get("id[]", "")))
    if path == "v4.1/magnet/status" and method == "POST":
        if item is None:
            return _ad_error("MAGNET_INVALID_ID", "This magnet ID does not exists or is invalid")
        return 200, ok | {"data": {"magnets": _ad_view(fake, item, poll=True)}}
    if path == "magnet/files" and method == "POST":
        if item is None:
            error = {"code": "MAGNET_INVALID_ID", "message": "This magnet ID does not exists"}
            return 200, ok | {"data": {"magnets": [{"id": said.get("id[]"), "error": error}]}}
        return 200, ok | {"data": {"magnets": [{"id": item.id, "files": _ad_files(fake, item)}]}}
    if path == "magnet/delete" and item is not None:
        del fake.items[item.id]
        return 200, ok | {"data": {"message": "Magnet was successfully deleted"}}
    if path == "link/unlock":
        where = said.get("link", "").removeprefix(f"{fake.base}/f/").split("/")
        found = fake.items.get(where[0]) if len(where) == 2 else None
        if found is None or not where[1].isdigit() or int(where[1]) >= len(found.paths):
            return _ad_error("LINK_DOWN", "This link is not available on the file hoster website")
        link = fake.link(found, int(where[1]))
        if fake.delay_unlocks is not None:  # the hoster prepares it first
            delayed = str(len(fake.delayed) + 7001)
            fake.delayed[delayed] = [fake.delay_unlocks, link]
            return 200, ok | {"data": {"delayed": int(delayed), "host": "fake"}}
        return 200, ok | {"data": {"link": link, "host": "fake"}}
    if path == "link/delayed" and method == "POST":
        fake.calls["delayed"] += 1
        entry = fake.delayed.get(said.get("id", ""))
        if entry is None:
            return _ad_error("DELAYED_INVALID_ID", "This delayed ID is not valid")
        if entry[0] < 0:
            return 200, ok | {"data": {"status": 3, "time_left": 0}}
        if entry[0] > 0:
            entry[0] -= 1
            return 200, ok | {"data": {"status": 1, "time_left": 5 * entry[0] + 5}}
        return 200, ok | {"data": {"status": 2, "time_left": 0, "link": entry[1]}}
    if path.startswith("magnet/"):
        return _ad_error("MAGNET_INVALID_ID", "This magnet ID does not exists or is invalid")
    return 404, {"status": "error", "error": {"code": "404", "message": "Endpoint doesn't exist"}}


def _ad_added(fake: FakeDebrid, item: Item) -> dict[str, Any]:
    name = item.torrent.name if item.torrent else item.hash
    ready = item.torrent is not None and item.polls_left == 0
    return {"id": int(item.id), "hash": item.hash, "name": name, "size": 0, "ready": ready}


def _ad_view(fake: FakeDebrid, item: Item, *, poll: bool) -> dict[str, Any]:
    """A magnet as v4.1 ``magnet/status`` tells it: no links (``magnet/files`` has them)."""
    ready = fake.poll(item) if poll else item.torrent is not None and item.polls_left == 0
    code = 15 if item.torrent is None else (4 if ready else 1)
    words = {15: "File not available - no peer", 4: "Ready", 1: "Downloading"}[code]
    files = item.torrent.files if item.torrent else []
    return {
        "id": int(item.id),
        "filename": item.torrent.name if item.torrent else item.hash,
        "size": sum(len(d) for _, d, _ in files),
        "hash": item.hash,
        "status": words,
        "statusCode": code,
        "uploadDate": 1700000000,
        "nbLinks": len(files) if ready else 0,
    }


def _ad_files(fake: FakeDebrid, item: Item) -> list[dict[str, Any]]:
    """The torrent's files as ``magnet/files`` trees them: folders ``{"n", "e"}``, files
    ``{"n", "s", "l"}`` (a hoster link to unlock)."""
    root: list[dict[str, Any]] = []
    for n, (p, d, _) in enumerate(item.torrent.files if item.torrent else []):
        level = root
        *folders, leaf = p.split("/")
        for folder in folders:
            entry = next((e for e in level if e["n"] == folder and "e" in e), None)
            if entry is None:
                entry = {"n": folder, "e": []}
                level.append(entry)
            level = entry["e"]
        level.append({"n": leaf, "s": len(d), "l": f"{fake.base}/f/{item.id}/{n}"})
    return root
