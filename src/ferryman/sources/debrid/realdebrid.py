"""Real-Debrid (``api.real-debrid.com/rest/1.0``, a Bearer token): ``torrents/addMagnet``
(a form) and ``torrents/addTorrent`` (the file as the PUT body) add a torrent,
``torrents/selectFiles/ID`` chooses every file when it waits for a choice
(``waiting_files_selection``), ``torrents/info/ID`` says its ``status`` (``downloaded``:
ready; ``magnet_error``, ``error``, ``virus``, ``dead``: given up) and lists its files
and, for the chosen ones in order, hoster links that ``unrestrict/link`` turns into a
direct link. Errors come as ``{"error", "error_code"}``: its codes are mapped below. It
allows 250 calls a minute; more answer 429."""

from __future__ import annotations

from typing import Any

from ferryman.errors import FerrymanError
from ferryman.sources.debrid.base import Answer, DebridFile, DebridItem, JsonApi, inner_path

_FAILED = ("magnet_error", "error", "virus", "dead")
# error_code -> ferryman's code (docs: api.real-debrid.com, "Error codes")
_CODES = {
    8: "debrid.auth",  # bad_token
    9: "debrid.auth",  # permission_denied
    10: "debrid.auth",  # two-factor authentication needed
    12: "debrid.auth",  # invalid login
    14: "debrid.auth",  # account_locked
    15: "debrid.auth",  # account_not_activated
    22: "debrid.auth",  # ip_not_allowed
    7: "debrid.not_found",  # unknown_ressource
    20: "debrid.premium",  # hoster_not_free / premium only
    21: "debrid.limit",  # too_many_active_downloads
    23: "debrid.limit",  # traffic_exhausted
    18: "debrid.limit",  # hoster_limit_reached
    2: "debrid.refused",  # parameter_bad_value (a magnet it cannot read)
    24: "debrid.refused",  # file_unavailable
    26: "debrid.refused",  # upload_too_big
    28: "debrid.refused",  # file_not_allowed
    29: "debrid.refused",  # torrent_too_big
    30: "debrid.refused",  # torrent_file_invalid
    35: "debrid.refused",  # infringing_file
}


class RealDebrid:
    name = "realdebrid"
    shown = "Real-Debrid"

    def __init__(self, api: JsonApi, key: str) -> None:
        self._api = api
        self._auth = {"Authorization": f"Bearer {key}"}

    def find(self, info_hash: str) -> str | None:
        listed = self._ok(self._call("GET", "torrents", params={"limit": 100}))
        for torrent in listed if isinstance(listed, list) else []:
            if isinstance(torrent, dict) and str(torrent.get("hash", "")).lower() == info_hash:
                return str(torrent["id"])
        return None

    def add_magnet(self, magnet: str) -> str:
        made = self._ok(self._call("POST", "torrents/addMagnet", data={"magnet": magnet}))
        return _id_of(made, "addMagnet")

    def add_torrent(self, data: bytes, filename: str) -> str:
        made = self._ok(self._call("PUT", "torrents/addTorrent", content=data))
        return _id_of(made, "addTorrent")

    def status(self, item: str) -> DebridItem:
        info = self._ok(self._call("GET", f"torrents/info/{item}"))
        if not isinstance(info, dict):
            raise FerrymanError("debrid.api", f"Real-Debrid: torrent {item} has no info")
        state = str(info.get("status") or "")
        if state == "waiting_files_selection":  # every file: the job's choice comes later
            self._ok(self._call("POST", f"torrents/selectFiles/{item}", data={"files": "all"}))
        name = str(info.get("filename") or info.get("original_filename") or item)
        chosen = sorted(
            (f for f in info.get("files") or [] if isinstance(f, dict) and f.get("selected")),
            key=lambda f: int(f.get("id") or 0),
        )
        links = [str(x) for x in info.get("links") or []]
        ready = state == "downloaded" and len(links) == len(chosen)
        files = tuple(
            DebridFile(link, inner_path(str(f.get("path") or ""), name), int(f.get("bytes") or 0))
            for f, link in zip(chosen, links, strict=False)
        )
        failed = state if state in _FAILED else None
        return DebridItem(item, name, ready, state, files if ready else (), failed, _hash(info))

    def unlock(self, item: str, file: DebridFile) -> str:
        got = self._ok(self._call("POST", "unrestrict/link", data={"link": file.id}))
        link = got.get("download") if isinstance(got, dict) else None
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            raise FerrymanError("debrid.api", f"Real-Debrid: no link for {file.path}")
        return link

    def delete(self, item: str) -> None:
        self._ok(self._call("DELETE", f"torrents/delete/{item}"))

    def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
        return self._api.call(method, path, headers=self._auth, **kwargs)

    def _ok(self, answer: Answer) -> Any:
        body = answer.body
        if 200 <= answer.status < 300:
            return body
        said = body if isinstance(body, dict) else {}
        number = said.get("error_code")
        words = f"{said.get('error') or f'HTTP {answer.status}'} (error_code {number})"
        code = _CODES.get(number) if isinstance(number, int) else None
        if code is None:
            code = {401: "debrid.auth", 403: "debrid.auth", 404: "debrid.not_found"}.get(
                answer.status, "debrid.api"
            )
        raise FerrymanError(code, f"Real-Debrid says: {words}")


def _id_of(made: Any, call: str) -> str:
    if not isinstance(made, dict) or not made.get("id"):
        raise FerrymanError("debrid.api", f"Real-Debrid: {call} named no torrent")
    return str(made["id"])


def _hash(info: dict[str, Any]) -> str:
    return str(info.get("hash") or "").lower()
