"""TorBox on the debrid face, through ``sources.torbox``'s API calls: the account's
torrents searched for the info hash (``mylist``), ``checkcached`` asked first as TorBox
asks clients to, ``createtorrent`` with the ``magnet`` or the ``.torrent`` (``file``),
``mylist?id=`` for the state, ``requestdl`` for a file's CDN link, ``controltorrent``
to delete. Its errors keep their own codes (``torbox.*``).

At the plan's active limit, when queuing is allowed, ``createtorrent`` answers success
with a ``queued_id`` and no ``torrent_id``: the torrent waits in ``queued/getqueued``
(``type=torrent``), not in ``mylist``. Its item id is then ``queued:ID:HASH`` (kept in
the job like a torrent id, so a restart never adds it again); while queued it is not
ready (``queued``), and once TorBox starts it, it is found in ``mylist`` by its hash and
its status carries the torrent's own id, which the job keeps from then on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.sources.debrid.base import DebridFile, DebridItem, JsonApi, inner_path, with_share
from ferryman.sources.debrid.torrent_file import info_hash, read_torrent
from ferryman.sources.torbox import Reference, TorboxApi
from ferryman.sources.torbox_errors import torbox_error

QUEUED = "queued:"  # an item TorBox queued: queued:ID:HASH
QUEUED_STATE = "queued at TorBox: your plan's active limit"


class Torbox:
    name = "torbox"
    shown = "TorBox"

    def __init__(self, api: TorboxApi, upload: JsonApi, key: str) -> None:
        self._api = api
        self._upload = upload  # createtorrent with a file: a multipart upload
        self._key = key

    def find(self, info_hash: str) -> str | None:
        """The account's torrent of this hash, or its queued one (``queued:ID:HASH``)."""
        started = self._started(info_hash)
        if started is not None:
            return started
        for queued in self._queued():
            if str(queued.get("hash", "")).lower() == info_hash and "id" in queued:
                return f"{QUEUED}{int(queued['id'])}:{info_hash}"
        return None

    def add_magnet(self, magnet: str) -> str:
        digest = info_hash(magnet)
        self._api.cached(digest)  # asked first, as TorBox asks clients to
        return _created(self._api.add_magnet(magnet), lambda: digest)

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
        return _created(data_, lambda: read_torrent(data).info_hash)

    def status(self, item: str) -> DebridItem:
        if item.startswith(QUEUED):
            return self._queued_status(item)
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
        shown = state if ready or failed else with_share(state, found.get("progress"), 1)
        return DebridItem(
            item, name, ready, shown, files if ready else (), failed, str(found.get("hash") or "")
        )

    def _queued_status(self, item: str) -> DebridItem:
        """A queued torrent: still in the queue (not ready), or started (its torrent's
        status, under its own id), or neither (deleted at TorBox: ``torbox.not_found``).
        The queue is read first: one that left it is in ``mylist`` by then."""
        queued_id, _, digest = item[len(QUEUED) :].partition(":")
        for queued in self._queued():
            if str(queued.get("id")) == queued_id:
                name = str(queued.get("name") or f"torbox-queued-{queued_id}")
                return DebridItem(item, name, False, QUEUED_STATE, hash=digest, queued=True)
        started = self._started(digest)
        if started is None:
            raise FerrymanError(
                "torbox.not_found",
                f"TorBox: the torrent it queued ({queued_id}) is neither queued nor in the"
                " account's list any more (deleted there?)",
            )
        return self.status(started)

    def _started(self, digest: str) -> str | None:
        for found in self._api.items("torrent"):
            if str(found.get("hash", "")).lower() == digest and "id" in found:
                return str(found["id"])
        return None

    def _queued(self) -> list[dict[str, Any]]:
        """``queued/getqueued`` for torrents (an empty queue may answer 404)."""
        answer = self._upload.call(
            "GET",
            "/v1/api/queued/getqueued",
            params={"type": "torrent", "bypass_cache": "true"},
            headers={"Authorization": f"Bearer {self._key}"},
        )
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 404 or str(body.get("error") or "").upper() == "ITEM_NOT_FOUND":
            return []
        if answer.status >= 400 or body.get("success") is False:
            raise torbox_error(answer.status, body, "torbox: the queued torrents")
        listed = body.get("data")
        listed = [listed] if isinstance(listed, dict) else listed
        return [q for q in listed if isinstance(q, dict)] if isinstance(listed, list) else []

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


def _created(data: Any, digest: Callable[[], str]) -> str:
    """The item ``createtorrent`` made: its torrent id, or ``queued:ID:HASH`` when TorBox
    queued it (the plan's active limit)."""
    if isinstance(data, dict) and data.get("torrent_id") is not None:
        return str(int(data["torrent_id"]))
    if isinstance(data, dict) and data.get("queued_id") is not None:
        return f"{QUEUED}{int(data['queued_id'])}:{digest()}"
    raise FerrymanError("torbox.api", "createtorrent named no torrent and no queued one")
