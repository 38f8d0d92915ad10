"""``magnet:?xt=urn:btih:…``: a torrent fetched by a debrid service, then read file by
file where the service keeps it (a zip among them in place, by Range).

The service is Torbox (``torbox.api_key``), asked as its API says: the account's
torrents are searched for the info hash first (a magnet added before, by this job before
a kill or by anyone, is never added twice), ``checkcached`` says whether it is ready at
once, ``createtorrent`` adds it. The torrent's id is kept in the job's fetch folder
(``torbox.json``, written whole and synced) before the job waits for the torrent, so a
restart polls the same torrent. While Torbox downloads it, the job waits uncounted
(``torbox.not_ready``); once it has it, the files are read as ``torbox:torrent/ID``'s
are (``sources/torbox``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ferryman.errors import FerrymanError
from ferryman.sources.base import (
    Access,
    Fetched,
    FetchPlan,
    Inspection,
    ReadOptions,
    SourceEntry,
)
from ferryman.sources.torbox import RateLimit, TorboxApi, TorboxSource

_HEX = re.compile(r"^[0-9a-fA-F]{40}$")
_BASE32 = re.compile(r"^[A-Za-z2-7]{32}$")
KEPT = "torbox.json"  # the torrent's id, in the job's fetch folder


def info_hash(magnet: str) -> str:
    """The magnet's BitTorrent info hash as 40 lowercase hex digits (a base32 one
    converted); ``source.invalid`` when it has none."""
    query = urllib.parse.urlsplit(magnet.strip()).query
    for value in urllib.parse.parse_qs(query).get("xt", []):
        if not value.lower().startswith("urn:btih:"):
            continue
        digest = value[len("urn:btih:") :]
        if _HEX.fullmatch(digest):
            return digest.lower()
        if _BASE32.fullmatch(digest):
            return base64.b32decode(digest.upper()).hex()
    raise FerrymanError(
        "source.invalid",
        "the magnet link names no BitTorrent info hash (xt=urn:btih: with 40 hex or 32"
        " base32 characters)",
    )


def display_name(magnet: str) -> str | None:
    names = urllib.parse.parse_qs(urllib.parse.urlsplit(magnet).query).get("dn", [])
    return names[0].strip() or None if names else None


class MagnetSource:
    """Magnet links, through the debrid service that has a key (Torbox)."""

    schemes: tuple[str, ...] = ("magnet",)
    description = "magnet:?xt=urn:btih:…: a torrent, through Torbox (torbox.api_key)"
    shown_as = "magnet: links (through Torbox)"
    access = Access.FETCH

    def __init__(self, torbox: TorboxSource | None = None) -> None:
        self.torbox = torbox or TorboxSource()

    def recognise(self, raw: str) -> str | None:
        text = raw.strip().strip("<>")
        if not text.lower().startswith("magnet:?"):
            return None
        info_hash(text)  # refused now, not when fetched
        return text

    def describe(self, uri: str) -> str:
        return f"magnet {display_name(uri) or info_hash(uri)}"

    def local_path(self, uri: str) -> None:
        return None

    def inspect(self, uri: str) -> Inspection:
        """Offline: named by its ``dn`` (else its hash); the same hash, the same input."""
        digest = info_hash(uri)
        return Inspection(display_name(uri) or f"magnet-{digest[:12]}", f"btih:{digest}")

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        from ferryman.net.own_thread import on_own_thread  # lazy: start-up

        limit = self.torbox.limit(plan.settings)
        return await on_own_thread(_fetch, uri, plan, limit)

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        if options.fetched is None:
            raise FerrymanError("engine.internal", f"{uri}: read before it was fetched")
        torrent = int(json.loads(options.fetched.read_text())["torrent_id"])
        with self.torbox.open(f"torbox:torrent/{torrent}", options) as entries:
            yield entries


def _fetch(uri: str, plan: FetchPlan, limit: RateLimit) -> Fetched:
    """On its own thread: the torrent found or added once, its id kept, then asked about
    as a ``torbox:`` item is (a wait while Torbox downloads it)."""
    from ferryman.sources.torbox import Reference, _api, _check, _client

    kept = plan.folder / KEPT
    digest = info_hash(uri)
    torrent = _kept(kept)
    if torrent is None:
        with _client(plan.network, plan.settings) as client:
            api = _api(client, plan.settings, limit)
            torrent = _torrent_with_hash(api, digest)
            if torrent is None:
                api.cached(digest)  # asked first, as Torbox asks clients to
                torrent = api.add_magnet(uri)
        _keep(kept, torrent, digest)
    checked = _check(Reference("torrent", torrent, None), plan.network, plan.settings, limit)
    return Fetched(kept, checked.size, checked.name)


def _torrent_with_hash(api: TorboxApi, digest: str) -> int | None:
    """The account's torrent of this info hash, if it has one (a magnet added before:
    Torbox keeps one torrent per hash and account)."""
    for found in api.items("torrent"):
        if str(found.get("hash", "")).lower() == digest and "id" in found:
            return int(found["id"])
    return None


def _kept(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_text())["torrent_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _keep(path: Path, torrent: int, digest: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    with part.open("w") as f:
        json.dump({"torrent_id": torrent, "hash": digest}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


__all__ = ["MagnetSource", "display_name", "info_hash"]
