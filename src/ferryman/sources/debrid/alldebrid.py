"""AllDebrid (``api.alldebrid.com/v4``; every call names the ``agent`` and the
``apikey``): ``magnet/upload`` (``magnets[]``) and ``magnet/upload/file`` (``files[]``,
multipart) add a torrent, ``magnet/status`` says its ``statusCode`` (0-3 on the way, 4
ready, 5 and above given up) and its files as hoster ``links``, each unlocked by
``link/unlock``. Answers are ``{"status": "success", "data"}`` or ``{"status": "error",
"error": {"code", "message"}}``, mostly with HTTP 200: its codes are mapped below. It
allows 12 calls a second and 600 a minute; more answer 429."""

from __future__ import annotations

from typing import Any, NoReturn

from ferryman.errors import FerrymanError
from ferryman.sources.debrid.base import Answer, DebridFile, DebridItem, JsonApi, inner_path

_READY = 4
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
    "LINK_DOWN": "debrid.refused",
    "LINK_PASS_PROTECTED": "debrid.refused",
    "MAGNET_MUST_BE_PREMIUM": "debrid.premium",
    "MUST_BE_PREMIUM": "debrid.premium",
    "FREE_TRIAL_LIMIT_REACHED": "debrid.premium",
    "MAGNET_TOO_MANY_ACTIVE": "debrid.limit",
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
        self._who = {"agent": agent, "apikey": key}

    def find(self, info_hash: str) -> str | None:
        data = self._ok(self._call("GET", "magnet/status"))
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
        data = self._ok(self._call("GET", "magnet/status", params={"id": item}))
        magnet = data.get("magnets") if isinstance(data, dict) else None
        if isinstance(magnet, list):  # one magnet asked: some answers list it
            magnet = next((m for m in magnet if str(m.get("id")) == item), None)
        if not isinstance(magnet, dict):
            raise FerrymanError("debrid.not_found", f"AllDebrid: no magnet {item}")
        code = int(magnet.get("statusCode") or 0)
        name = str(magnet.get("filename") or item)
        state = f"{magnet.get('status') or 'unknown'} (statusCode {code})"
        ready = code == _READY
        files = tuple(_file(link, name) for link in magnet.get("links") or []) if ready else ()
        failed = state if code > _READY else None
        return DebridItem(item, name, ready, state, files, failed, str(magnet.get("hash") or ""))

    def unlock(self, item: str, file: DebridFile) -> str:
        data = self._ok(self._call("GET", "link/unlock", params={"link": file.id}))
        link = data.get("link") if isinstance(data, dict) else None
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            raise FerrymanError("debrid.api", f"AllDebrid: no link for {file.path}")
        return link

    def delete(self, item: str) -> None:
        self._ok(self._call("GET", "magnet/delete", params={"id": item}))

    def _added(self, data: Any, key: str) -> str:
        listed = data.get(key) if isinstance(data, dict) else None
        first = listed[0] if isinstance(listed, list) and listed else None
        if isinstance(first, dict) and isinstance(first.get("error"), dict):
            self._raise(first["error"], 200)
        if not isinstance(first, dict) or first.get("id") is None:
            raise FerrymanError("debrid.api", "AllDebrid: the upload named no magnet")
        return str(first["id"])

    def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
        params = self._who | dict(kwargs.pop("params", None) or {})
        return self._api.call(method, path, params=params, **kwargs)

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


def _file(link: Any, top: str) -> DebridFile:
    """A hoster link of a ready magnet; its path from the ``files`` tree when that names
    one file (``{"n": name, "e": [entries]}``), else its file name."""
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
