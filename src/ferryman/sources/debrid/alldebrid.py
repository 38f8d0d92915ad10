"""AllDebrid (``api.alldebrid.com/v4``, the key as a Bearer token, every call naming
the ``agent``; forms POSTed): ``magnet/upload`` (``magnets[]``) and
``magnet/upload/file`` (``files[]``, multipart) add a torrent, ``v4.1/magnet/status``
(``id``) says its ``statusCode`` (0-3 on the way, 4 ready, 5 and above given up),
``magnet/files`` (``id[]``) gives a ready magnet's files as a tree (``n`` name, ``s``
size, ``l`` hoster link, ``e`` a folder's entries), each link unlocked by
``link/unlock`` (a link its hoster must first prepare answers ``delayed``: an id that
``link/delayed`` is asked about every 5 s, its ``status`` 1 still processing, 2 ready
with the ``link``, 3 failed; for 2 minutes at most, on the key's clock). Answers are
``{"status": "success", "data"}`` or ``{"status": "error", "error": {"code",
"message"}}``, mostly with HTTP 200: its codes are mapped below. It
allows 12 calls a second and 600 a minute; more answer 429. (The v4 ``magnet/status``
with the files as ``links`` is gone from its docs; such an answer is still read.)"""

from __future__ import annotations

import logging
import re
from typing import Any, NoReturn

from ferryman.errors import FerrymanError, ServerWait
from ferryman.sources.debrid.base import Answer, DebridFile, DebridItem, JsonApi, inner_path

log = logging.getLogger(__name__)

_READY = 4
DELAYED_EVERY = 5.0  # seconds between asks of link/delayed (it says only "still processing")
DELAYED_WITHIN = 120.0  # seconds a delayed link is waited for in place; then a wait
# error.code -> ferryman's code (docs.alldebrid.com, "Errors")
_CODES = {
    "AUTH_MISSING_AGENT": "debrid.auth",
    "AUTH_BAD_AGENT": "debrid.auth",
    "AUTH_MISSING_APIKEY": "debrid.auth",
    "AUTH_BAD_APIKEY": "debrid.auth",
    "AUTH_BLOCKED": "debrid.auth",
    "AUTH_USER_BANNED": "debrid.auth",
    "MAGNET_INVALID_ID": "debrid.not_found",
    "MAGNET_NO_URI": "debrid.refused",
    "MAGNET_INVALID_URI": "debrid.refused",
    "MAGNET_INVALID_FILE": "debrid.refused",
    "MAGNET_FILE_UPLOAD_FAILED": "debrid.refused",
    "MAGNET_TOO_LARGE": "debrid.refused",
    "LINK_IS_MISSING": "debrid.refused",
    "BAD_LINK": "debrid.refused",
    "LINK_HOST_NOT_SUPPORTED": "debrid.refused",
    "LINK_NOT_SUPPORTED": "debrid.refused",
    "LINK_DOWN": "debrid.refused",
    "LINK_PASS_PROTECTED": "debrid.refused",
    "MAGNET_MUST_BE_PREMIUM": "debrid.premium",
    "MUST_BE_PREMIUM": "debrid.premium",
    "FREE_TRIAL_LIMIT_REACHED": "debrid.premium",
    "MAGNET_TOO_MANY_ACTIVE": "debrid.limit",
    "MAGNET_TOO_MANY": "debrid.limit",
    "LINK_HOST_UNAVAILABLE": "debrid.limit",
    "LINK_TEMPORARY_UNAVAILABLE": "debrid.limit",
    "MAGNET_NO_SERVER": "debrid.limit",
    "NO_SERVER": "debrid.limit",
    "LINK_HOST_LIMIT_REACHED": "debrid.limit",
    "LINK_TOO_MANY_DOWNLOADS": "debrid.limit",
    "LINK_HOST_FULL": "debrid.limit",
}


class AllDebrid:
    name = "alldebrid"
    shown = "AllDebrid"

    def __init__(self, api: JsonApi, key: str, agent: str) -> None:
        self._api = api
        self._auth = {"Authorization": f"Bearer {key}"}  # never in a URL
        self._agent = {"agent": agent}
        # magnet/status lives in v4.1 only; the rest in v4 (the setting names v4)
        self._status = re.sub(r"/v4(\.\d+)?$", "", api.base) + "/v4.1/magnet/status"

    def find(self, info_hash: str) -> str | None:
        data = self._ok(self._call("POST", self._status, data={}))
        magnets = data.get("magnets") if isinstance(data, dict) else None
        for magnet in magnets if isinstance(magnets, list) else []:
            if isinstance(magnet, dict) and str(magnet.get("hash", "")).lower() == info_hash:
                return str(magnet["id"])
        return None

    def add_magnet(self, magnet: str) -> str:
        data = self._ok(self._call("POST", "magnet/upload", data={"magnets[]": magnet}))
        return self._added(data, "magnets")

    def add_torrent(self, data: bytes, filename: str) -> str:
        files = {"files[]": (filename, data, "application/x-bittorrent")}
        got = self._ok(self._call("POST", "magnet/upload/file", files=files))
        return self._added(got, "files")

    def status(self, item: str) -> DebridItem:
        data = self._ok(self._call("POST", self._status, data={"id": item}))
        magnet = _one(data.get("magnets") if isinstance(data, dict) else None, item)
        if magnet is None:
            raise FerrymanError("debrid.not_found", f"AllDebrid: no magnet {item}")
        code = int(magnet.get("statusCode") or 0)
        name = str(magnet.get("filename") or item)
        state = f"{magnet.get('status') or 'unknown'} (statusCode {code})"
        ready = code == _READY
        files = self._files(item, name, magnet) if ready else ()
        failed = state if code > _READY else None
        return DebridItem(item, name, ready, state, files, failed, str(magnet.get("hash") or ""))

    def unlock(self, item: str, file: DebridFile) -> str:
        data = self._ok(self._call("POST", "link/unlock", data={"link": file.id}))
        link = data.get("link") if isinstance(data, dict) else None
        if isinstance(data, dict) and data.get("delayed") and not _is_link(link):
            link = self._delayed(data["delayed"], file)
        if not _is_link(link):
            raise FerrymanError("debrid.api", f"AllDebrid: no link for {file.path}")
        return str(link)

    def _delayed(self, delayed: Any, file: DebridFile) -> Any:
        """``link/delayed`` asked until its ``status`` is 2 (the link) or 3 (failed), on
        the key's clock and for ``DELAYED_WITHIN`` at most: longer, the read waits
        (``debrid.not_ready``) and unlocks it again later."""
        limit = self._api.limit
        deadline = limit.clock() + DELAYED_WITHIN
        # Said: the read stands still meanwhile (up to 2 minutes a file), nothing else is.
        log.warning(
            "AllDebrid prepares the link of %s (delayed): asked every %.0f s, %.0f s at most",
            file.path,
            DELAYED_EVERY,
            DELAYED_WITHIN,
        )
        while True:
            data = self._ok(self._call("POST", "link/delayed", data={"id": delayed}))
            status = int(data.get("status") or 0) if isinstance(data, dict) else 0
            if status == 2:
                return data.get("link")
            if status == 3:
                raise FerrymanError(
                    "debrid.api", f"AllDebrid could not make the link of {file.path} (delayed)"
                )
            if limit.clock() + DELAYED_EVERY > deadline:
                raise ServerWait(
                    "debrid.not_ready",
                    f"AllDebrid is still preparing the link of {file.path} (delayed)",
                    round(DELAYED_WITHIN),
                )
            limit.sleep(DELAYED_EVERY)

    def delete(self, item: str) -> None:
        self._ok(self._call("POST", "magnet/delete", data={"id": item}))

    def _files(self, item: str, name: str, magnet: dict[str, Any]) -> tuple[DebridFile, ...]:
        """A ready magnet's files: from ``magnet/files``, unless the status answer
        carried them (``files``, or the old ``links``)."""
        if magnet.get("links"):
            return tuple(_linked(link, name) for link in magnet["links"])
        tree = magnet.get("files")
        if not tree:
            data = self._ok(self._call("POST", "magnet/files", data={"id[]": item}))
            found = _one(data.get("magnets") if isinstance(data, dict) else None, item)
            if found is None:
                raise FerrymanError("debrid.not_found", f"AllDebrid: no files of magnet {item}")
            if isinstance(found.get("error"), dict):
                self._raise(found["error"], 200)
            tree = found.get("files")
        return tuple(
            DebridFile(link, inner_path(path, name), size) for path, size, link in _leaves(tree)
        )

    def _added(self, data: Any, key: str) -> str:
        listed = data.get(key) if isinstance(data, dict) else None
        first = listed[0] if isinstance(listed, list) and listed else None
        if isinstance(first, dict) and isinstance(first.get("error"), dict):
            self._raise(first["error"], 200)
        if not isinstance(first, dict) or first.get("id") is None:
            raise FerrymanError("debrid.api", "AllDebrid: the upload named no magnet")
        return str(first["id"])

    def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
        return self._api.call(method, path, params=self._agent, headers=self._auth, **kwargs)

    def _ok(self, answer: Answer) -> Any:
        body = answer.body if isinstance(answer.body, dict) else {}
        if body.get("status") == "success" and 200 <= answer.status < 300:
            return body.get("data")
        error = body.get("error")
        self._raise(error if isinstance(error, dict) else {}, answer.status)

    @staticmethod
    def _raise(error: dict[str, Any], status: int) -> NoReturn:
        said = str(error.get("code") or f"HTTP {status}")
        code = _CODES.get(said) or ("debrid.auth" if status in (401, 403) else "debrid.api")
        raise FerrymanError(code, f"AllDebrid says: {said}: {error.get('message') or ''}")


def _is_link(link: Any) -> bool:
    return isinstance(link, str) and link.startswith(("http://", "https://"))


def _one(magnets: Any, item: str) -> dict[str, Any] | None:
    """The magnet ``item`` of an answer that gives one as an object or in a list."""
    if isinstance(magnets, list):
        magnets = next(
            (m for m in magnets if isinstance(m, dict) and str(m.get("id")) == item), None
        )
    return magnets if isinstance(magnets, dict) else None


def _leaves(tree: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, int, str]]:
    """Each file of a ``files`` tree: its path, size and hoster link (``l``)."""
    if not isinstance(tree, list) or depth > 32:
        raise FerrymanError("debrid.api", "AllDebrid: a magnet's files are no tree")
    found: list[tuple[str, int, str]] = []
    for entry in tree:
        if not isinstance(entry, dict):
            continue
        path = f"{prefix}{entry.get('n') or ''}"
        if "e" in entry:
            found += _leaves(entry["e"], f"{path}/", depth + 1)
        elif isinstance(entry.get("l"), str):
            found.append((path, int(entry.get("s") or 0), entry["l"]))
    return found


def _linked(link: Any, top: str) -> DebridFile:
    """A hoster link as the v4 ``magnet/status`` gave it; its path from its ``files``
    tree when that names one file, else its file name."""
    if not isinstance(link, dict):
        raise FerrymanError("debrid.api", "AllDebrid: a link of the magnet is no object")
    path = _one_path(link.get("files")) or str(link.get("filename") or "file")
    return DebridFile(str(link.get("link")), inner_path(path, top), int(link.get("size") or 0))


def _one_path(tree: Any) -> str | None:
    parts: list[str] = []
    while isinstance(tree, list) and len(tree) == 1 and isinstance(tree[0], dict):
        parts.append(str(tree[0].get("n") or ""))
        tree = tree[0].get("e")
    return "/".join(p for p in parts if p) or None if tree is None else None
