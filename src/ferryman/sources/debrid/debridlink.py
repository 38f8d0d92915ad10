"""Debrid-Link (``debrid-link.com/api/v2``, a Bearer key): ``seedbox/add`` (``url``: a
magnet, or a multipart ``file``) adds a torrent, ``seedbox/list?ids=ID`` says its
``downloadPercent`` (100: ready) and ``status`` (Transmission's 0-6: stopped, checking,
queued, downloading, seeding; 100: stored, done; any other: given up) and lists its
files, each with its own ``downloadUrl`` (no unlock call: the list is asked again for a
fresh one when one expires); the whole list comes a page at a time (``page`` from 0,
``perPage`` up to 50, ``pagination.pages``). Answers are ``{"success": true,
"value"}`` or ``{"success": false, "error"}`` with HTTP 4xx/5xx: its error words are
mapped below (``floodDetected``, its rate limit, is waited out)."""

from __future__ import annotations

from typing import Any, NoReturn

from ferryman.errors import FerrymanError, ServerWait
from ferryman.sources.debrid.base import Answer, DebridFile, DebridItem, JsonApi, inner_path

_KNOWN = frozenset({0, 1, 2, 3, 4, 5, 6, 100})  # its documented statuses; others: given up
_PER_PAGE = 50  # torrents a page of seedbox/list, its most
_PAGES = 100  # pages searched for an info hash, at most
_FLOOD_WAIT = 60
# error -> ferryman's code (debrid-link.com/api_doc/v2, "Errors")
_CODES = {
    "badToken": "debrid.auth",
    "hidedToken": "debrid.auth",
    "badSign": "debrid.auth",
    "accountLocked": "debrid.auth",
    "unknowR": "debrid.not_found",
    "badId": "debrid.not_found",
    "notDebrid": "debrid.refused",
    "badArguments": "debrid.refused",
    "notAddTorrent": "debrid.refused",
    "torrentTooBig": "debrid.refused",
    "badFileUrl": "debrid.refused",
    "notFreeHost": "debrid.premium",
    "fileNotFound": "debrid.not_found",
    "fileNotAvailable": "debrid.refused",
    "maintenanceHost": "debrid.limit",
    "noServerHost": "debrid.limit",
    "disabledServerHost": "debrid.limit",
    "maxTorrent": "debrid.limit",
    "maxData": "debrid.limit",
    "maxLink": "debrid.limit",
    "maxLinkHost": "debrid.limit",
    "serverNotAvailable": "debrid.limit",
}


class DebridLink:
    name = "debridlink"
    shown = "Debrid-Link"

    def __init__(self, api: JsonApi, key: str) -> None:
        self._api = api
        self._auth = {"Authorization": f"Bearer {key}"}

    def find(self, info_hash: str) -> str | None:
        for page in range(_PAGES):
            answer = self._call("GET", "seedbox/list", params={"page": page, "perPage": _PER_PAGE})
            listed = self._ok(answer)
            rows = listed if isinstance(listed, list) else []
            for torrent in rows:
                if (
                    isinstance(torrent, dict)
                    and str(torrent.get("hashString", "")).lower() == info_hash
                ):
                    return str(torrent["id"])
            paged = answer.body.get("pagination") if isinstance(answer.body, dict) else None
            pages = paged.get("pages") if isinstance(paged, dict) else None
            last = page + 1 >= int(pages) if pages is not None else len(rows) < _PER_PAGE
            if last or not rows:
                break
        return None

    def add_magnet(self, magnet: str) -> str:
        made = self._ok(self._call("POST", "seedbox/add", data={"url": magnet, "async": "true"}))
        return _id_of(made)

    def add_torrent(self, data: bytes, filename: str) -> str:
        files = {"file": (filename, data, "application/x-bittorrent")}
        return _id_of(self._ok(self._call("POST", "seedbox/add", files=files)))

    def status(self, item: str) -> DebridItem:
        torrent = self._torrent(item)
        name = str(torrent.get("name") or item)
        percent = float(torrent.get("downloadPercent") or 0)
        code = int(torrent.get("status") or 0)
        state = f"{percent:.0f} % (status {code})"
        raw = [f for f in torrent.get("files") or [] if isinstance(f, dict)]
        ready = percent >= 100 and all(f.get("downloadUrl") for f in raw)
        files = tuple(_file(f, name) for f in raw) if ready else ()
        failed = state if code not in _KNOWN else None
        return DebridItem(item, name, ready, state, files, failed, str(torrent.get("hashString")))

    def unlock(self, item: str, file: DebridFile) -> str:
        for listed in self._torrent(item).get("files") or []:
            if isinstance(listed, dict) and str(listed.get("id")) == file.id:
                link = listed.get("downloadUrl")
                if isinstance(link, str) and link.startswith(("http://", "https://")):
                    return link
        raise FerrymanError("debrid.not_found", f"Debrid-Link: no link for {file.path}")

    def delete(self, item: str) -> None:
        self._ok(self._call("DELETE", f"seedbox/{item}/remove"))

    def _torrent(self, item: str) -> dict[str, Any]:
        listed = self._ok(self._call("GET", "seedbox/list", params={"ids": item}))
        found = next(
            (t for t in listed or [] if isinstance(t, dict) and str(t.get("id")) == item), None
        )
        if found is None:
            raise FerrymanError("debrid.not_found", f"Debrid-Link has no torrent {item}")
        return found

    def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
        return self._api.call(method, path, headers=self._auth, **kwargs)

    def _ok(self, answer: Answer) -> Any:
        body = answer.body if isinstance(answer.body, dict) else {}
        if body.get("success") is True and 200 <= answer.status < 300:
            return body.get("value")
        _raise(str(body.get("error") or f"HTTP {answer.status}"), answer.status)


def _raise(error: str, status: int) -> NoReturn:
    if error == "floodDetected":  # its rate limit: wait, uncounted
        raise ServerWait("debrid.rate_limited", "Debrid-Link says: floodDetected", _FLOOD_WAIT)
    code = _CODES.get(error) or ("debrid.auth" if status in (401, 403) else "debrid.api")
    raise FerrymanError(code, f"Debrid-Link says: {error}")


def _id_of(made: Any) -> str:
    if not isinstance(made, dict) or not made.get("id"):
        raise FerrymanError("debrid.api", "Debrid-Link: seedbox/add named no torrent")
    return str(made["id"])


def _file(entry: dict[str, Any], top: str) -> DebridFile:
    path = inner_path(str(entry.get("name") or entry.get("id")), top)
    return DebridFile(str(entry.get("id")), path, int(entry.get("size") or 0))
