"""Premiumize (``www.premiumize.me/api``, the ``apikey`` parameter): ``transfer/create``
(``src``: a magnet, or a multipart ``file``) adds a transfer, ``transfer/list`` says
each one's ``status`` (``finished`` or ``seeding``: ready; ``error``, ``timeout``,
``deleted``, ``banned``: given up) and where it put the files (``file_id`` for one
file, whose ``folder_id`` is the folder it lies in, perhaps the root; else
``folder_id``), ``folder/list`` lists a folder and ``item/details`` gives a
file's direct ``link`` (asked again when one expires). Answers are ``{"status":
"success", …}`` or ``{"status": "error", "message"}``; Premiumize names no error codes,
so its messages' words are mapped below."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NoReturn

from ferryman.errors import FerrymanError
from ferryman.sources.debrid.base import (
    Answer,
    DebridFile,
    DebridItem,
    JsonApi,
    inner_path,
    with_share,
)

_READY = ("finished", "seeding")
_FAILED = ("error", "timeout", "deleted", "banned")
_WORDS = (  # words of its messages -> ferryman's code, first match
    ("logged in", "debrid.auth"),
    ("api key", "debrid.auth"),
    ("apikey", "debrid.auth"),
    ("not found", "debrid.not_found"),
    ("does not exist", "debrid.not_found"),
    ("premium", "debrid.premium"),
    ("limit", "debrid.limit"),
    ("too many", "debrid.limit"),
    ("invalid", "debrid.refused"),
    ("not supported", "debrid.refused"),
)
_DEPTH = 8  # folders inside a transfer's folder, at most


class Premiumize:
    name = "premiumize"
    shown = "Premiumize"

    def __init__(self, api: JsonApi, key: str) -> None:
        self._api = api
        self._key = {"apikey": key}

    def find(self, info_hash: str) -> str | None:
        for transfer in self._transfers():
            if info_hash in str(transfer.get("src", "")).lower():
                return str(transfer["id"])
        return None

    def add_magnet(self, magnet: str) -> str:
        return _id_of(self._ok(self._call("POST", "transfer/create", data={"src": magnet})))

    def add_torrent(self, data: bytes, filename: str) -> str:
        files = {"file": (filename, data, "application/x-bittorrent")}
        return _id_of(self._ok(self._call("POST", "transfer/create", files=files)))

    def status(self, item: str) -> DebridItem:
        found = next((t for t in self._transfers() if str(t.get("id")) == item), None)
        if found is None:
            raise FerrymanError("debrid.not_found", f"Premiumize has no transfer {item}")
        state = str(found.get("status") or "")
        name = str(found.get("name") or item)
        failed = f"{state}: {found.get('message') or ''}" if state in _FAILED else None
        ready = state in _READY
        files: tuple[DebridFile, ...] = ()
        if ready and found.get("file_id"):  # one file: its folder_id is where it lies
            files = (self._item(str(found["file_id"]), name),)
        elif ready and found.get("folder_id"):
            listed = self._folder(str(found["folder_id"]), "", 0)
            files = tuple(replace(f, path=inner_path(f.path, name)) for f in listed)
        shown = state if ready or failed else with_share(state, found.get("progress"), 1)
        return DebridItem(item, name, ready, shown, files, failed)

    def unlock(self, item: str, file: DebridFile) -> str:
        details = self._ok(self._call("GET", "item/details", params={"id": file.id}))
        link = details.get("link")
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            raise FerrymanError("debrid.api", f"Premiumize: no link for {file.path}")
        return link

    def delete(self, item: str) -> None:
        self._ok(self._call("POST", "transfer/delete", data={"id": item}))

    def _transfers(self) -> list[dict[str, Any]]:
        listed = self._ok(self._call("GET", "transfer/list")).get("transfers")
        return [t for t in listed or [] if isinstance(t, dict) and "id" in t]

    def _folder(self, folder: str, prefix: str, depth: int) -> list[DebridFile]:
        if depth > _DEPTH:
            raise FerrymanError("debrid.api", "Premiumize: the transfer's folders nest too deep")
        found = self._ok(self._call("GET", "folder/list", params={"id": folder}))
        files: list[DebridFile] = []
        for entry in found.get("content") or []:
            if not isinstance(entry, dict):
                continue
            path = f"{prefix}{entry.get('name') or entry.get('id')}"
            if entry.get("type") == "folder":
                files += self._folder(str(entry["id"]), f"{path}/", depth + 1)
            else:
                files.append(_file(entry, path))
        return files

    def _item(self, file_id: str, name: str) -> DebridFile:
        details = self._ok(self._call("GET", "item/details", params={"id": file_id}))
        return _file(details, str(details.get("name") or name))

    def _call(self, method: str, path: str, **kwargs: Any) -> Answer:
        params = self._key | dict(kwargs.pop("params", None) or {})
        return self._api.call(method, path, params=params, **kwargs)

    def _ok(self, answer: Answer) -> dict[str, Any]:
        body = answer.body if isinstance(answer.body, dict) else {}
        # item/details answers the item itself, without a status
        if body and body.get("status", "success") == "success" and 200 <= answer.status < 300:
            return body
        _raise(str(body.get("message") or f"HTTP {answer.status}"), answer.status)


def _raise(message: str, status: int) -> NoReturn:
    lowered = message.lower()
    code = next((c for words, c in _WORDS if words in lowered), None)
    if code is None:
        code = "debrid.auth" if status in (401, 403) else "debrid.api"
    raise FerrymanError(code, f"Premiumize says: {message}")


def _id_of(made: dict[str, Any]) -> str:
    if not made.get("id"):
        raise FerrymanError("debrid.api", "Premiumize: transfer/create named no transfer")
    return str(made["id"])


def _file(entry: dict[str, Any], path: str) -> DebridFile:
    mime = entry.get("mime_type")
    return DebridFile(
        str(entry.get("id")),
        inner_path(path, ""),
        int(entry.get("size") or 0),
        mime if isinstance(mime, str) else None,
    )
