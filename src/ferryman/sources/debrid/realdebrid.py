"""Real-Debrid (``api.real-debrid.com/rest/1.0``, a Bearer token): ``torrents/addMagnet``
(a form) and ``torrents/addTorrent`` (the file as the PUT body) add a torrent,
``torrents/selectFiles/ID`` chooses every file when it waits for a choice
(``waiting_files_selection``), ``torrents/info/ID`` says its ``status`` (``downloaded``:
ready; ``magnet_error``, ``error``, ``virus``, ``dead``: given up) and lists its files
and, for the chosen ones in order, hoster links that ``unrestrict/link`` turns into a
direct link. ``GET torrents`` lists the account's torrents a page at a time (100 by
default, newest first; an empty page may be a 204). Errors come as ``{"error",
"error_code"}`` with HTTP 4xx/5xx: its codes are mapped below. It allows 250 calls a
minute; more answer 429 (and ``slow_down``, ``too_many_requests`` are waited out)."""

from __future__ import annotations

from typing import Any

from ferryman.errors import FerrymanError, ServerWait
from ferryman.sources.debrid.base import (
    Answer,
    DebridFile,
    DebridItem,
    JsonApi,
    inner_path,
    with_share,
)

_FAILED = ("magnet_error", "error", "virus", "dead")
_PAGE = 100  # torrents a page of GET torrents (its default)
_PAGES = 50  # pages searched for an info hash, at most
_SLOW_DOWN = (5, 34)  # slow_down, too_many_requests: waited out, uncounted
_SLOW_WAIT = 60
# error_code -> ferryman's code (docs: api.real-debrid.com, "Error codes")
_CODES = {
    8: "debrid.auth",  # bad_token
    9: "debrid.auth",  # permission_denied
    10: "debrid.auth",  # two-factor authentication needed
    11: "debrid.auth",  # two-factor authentication pending
    12: "debrid.auth",  # invalid login
    13: "debrid.auth",  # invalid password
    14: "debrid.auth",  # account_locked
    15: "debrid.auth",  # account_not_activated
    22: "debrid.auth",  # ip_not_allowed
    7: "debrid.not_found",  # unknown_ressource
    20: "debrid.premium",  # hoster_not_free / premium only
    21: "debrid.limit",  # too_many_active_downloads
    23: "debrid.limit",  # traffic_exhausted
    18: "debrid.limit",  # hoster_limit_reached
    17: "debrid.limit",  # hoster_in_maintenance
    19: "debrid.limit",  # hoster_unavailable
    25: "debrid.limit",  # service_unavailable
    36: "debrid.limit",  # fair usage limit
    1: "debrid.refused",  # parameter_missing
    16: "debrid.refused",  # hoster_unsupported
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
        for page in range(1, _PAGES + 1):  # newest first, a page at a time
            listed = self._ok(self._call("GET", "torrents", params={"page": page, "limit": _PAGE}))
            rows = listed if isinstance(listed, list) else []
            for torrent in rows:
                if isinstance(torrent, dict) and str(torrent.get("hash", "")).lower() == info_hash:
                    return str(torrent["id"])
            if len(rows) < _PAGE:
                break
        return None

    def add_magnet(self, magnet: str) -> str:
        made = self._ok(self._call("POST", "torrents/addMagnet", data={"magnet": magnet}))
        return _id_of(made, "addMagnet")

    def add_torrent(self, data: bytes, filename: str) -> str:
        made = self._ok(self._call("PUT", "torrents/addTorrent", content=data))
        return _id_of(made, "addTorrent")

    def status(self, item: str) -> DebridItem:
        info = self._info(item)
        state = str(info.get("status") or "")
        if state == "waiting_files_selection":  # every file: the job's choice comes later
            self._ok(self._call("POST", f"torrents/selectFiles/{item}", data={"files": "all"}))
            # Asked again: a cached torrent is downloaded once chosen, not a recheck later
            # (30 s by default) under a state that was no longer so.
            info = self._info(item)
            state = str(info.get("status") or "")
        name = str(info.get("filename") or info.get("original_filename") or item)
        chosen = sorted(
            (f for f in info.get("files") or [] if isinstance(f, dict) and _on(f.get("selected"))),
            key=lambda f: int(f.get("id") or 0),
        )
        links = [str(x) for x in info.get("links") or []]
        ready = state == "downloaded" and len(links) == len(chosen)
        files = tuple(
            DebridFile(link, inner_path(str(f.get("path") or ""), name), int(f.get("bytes") or 0))
            for f, link in zip(chosen, links, strict=False)
        )
        failed = state if state in _FAILED else None
        shown = state if ready or failed else with_share(state, info.get("progress"), 100)
        return DebridItem(item, name, ready, shown, files if ready else (), failed, _hash(info))

    def _info(self, item: str) -> dict[str, Any]:
        info = self._ok(self._call("GET", f"torrents/info/{item}"))
        if not isinstance(info, dict):
            raise FerrymanError("debrid.api", f"Real-Debrid: torrent {item} has no info")
        return info

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
        if isinstance(number, str) and number.isdigit():  # a number as text: read alike
            number = int(number)
        words = f"{said.get('error') or f'HTTP {answer.status}'} (error_code {number})"
        if number in _SLOW_DOWN:
            raise ServerWait("debrid.rate_limited", f"Real-Debrid says: {words}", _SLOW_WAIT)
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


def _on(selected: Any) -> bool:
    """``selected`` is 0 or 1; read alike as text ("0") or a boolean."""
    return str(selected).strip().lower() not in ("", "0", "false", "none")


def _hash(info: dict[str, Any]) -> str:
    return str(info.get("hash") or "").lower()
