"""TorBox on the debrid face, through ``sources.torbox``'s API calls: the account's
torrents searched for the info hash (``mylist``), ``checkcached`` asked first as TorBox
asks clients to, ``createtorrent`` with the ``magnet`` or the ``.torrent`` (``file``),
``mylist?id=`` for the state, ``requestdl`` for a file's CDN link, ``controltorrent``
to delete. Its errors keep
their own codes (``torbox.*``)."""

from __future__ import annotations

import json
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.sources.debrid.base import DebridFile, DebridItem, JsonApi, inner_path
from ferryman.sources.debrid.torrent_file import info_hash
from ferryman.sources.torbox import Reference, TorboxApi
from ferryman.sources.torbox_errors import torbox_error


class Torbox:
    name = "torbox"
    shown = "TorBox"

    def __init__(self, api: TorboxApi, upload: JsonApi, key: str) -> None:
        self._api = api
        self._upload = upload  # createtorrent with a file: a multipart upload
        self._key = key

    def find(self, info_hash: str) -> str | None:
        for found in self._api.items("torrent"):
            if str(found.get("hash", "")).lower() == info_hash and "id" in found:
                return str(found["id"])
        return None

    def add_magnet(self, magnet: str) -> str:
        self._api.cached(info_hash(magnet))  # asked first, as TorBox asks clients to
        return str(self._api.add_magnet(magnet))

    def add_torrent(self, data: bytes, filename: str) -> str:
        answer = self._upload.call(
            "POST",
            "/v1/api/torrents/createtorrent",
            files={"file": (filename, data, "application/x-bittorrent")},
            headers={"Authorization": f"Bearer {self._key}"},
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        data_ = body.get("data")
        if answer.status >= 400 or body.get("success") is False:
            raise torbox_error(answer.status, body, f"torbox: {filename}")
        if not isinstance(data_, dict) or data_.get("torrent_id") is None:
            raise FerrymanError("torbox.api", "createtorrent named no torrent")
        return str(data_["torrent_id"])

    def status(self, item: str) -> DebridItem:
        found: dict[str, Any] = self._api.item(Reference("torrent", int(item), None))
        name = str(found.get("name") or f"torbox-torrent-{item}")
        ready = (
            found.get("download_finished") is not False
            and found.get("download_present") is not False
        )
        state = str(found.get("download_state") or ("cached" if ready else "downloading"))
        failed = state if state.lower().startswith(("error", "failed")) else None
        files = tuple(
            DebridFile(
                str(f["id"]),
                inner_path(str(f.get("name") or f.get("short_name") or f["id"]), name),
                int(f.get("size") or 0),
                f.get("mimetype"),
            )
            for f in found.get("files") or []
            if isinstance(f, dict) and "id" in f
        )
        return DebridItem(
            item, name, ready, state, files if ready else (), failed, str(found.get("hash") or "")
        )

    def unlock(self, item: str, file: DebridFile) -> str:
        return self._api.link(Reference("torrent", int(item), None), int(file.id))

    def delete(self, item: str) -> None:
        """``controltorrent`` with ``operation: delete``."""
        answer = self._upload.call(
            "POST",
            "/v1/api/torrents/controltorrent",
            content=json.dumps({"torrent_id": int(item), "operation": "delete"}).encode(),
            headers={"Authorization": f"Bearer {self._key}", "Content-Type": "application/json"},
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status >= 400 or body.get("success") is False:
            raise torbox_error(answer.status, body, f"torbox:torrent/{item}")
