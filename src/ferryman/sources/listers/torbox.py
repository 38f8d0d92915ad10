"""A Torbox account: its items as they become ready. ``torbox:`` watches torrents,
usenet and web downloads alike; ``torbox:torrent`` (``usenet``, ``webdl``) one kind.
An item still downloading is not listed, so it is new the first time it is ready; it
becomes a ``torbox:KIND/ID`` job, read file by file from Torbox's CDN as ``ferryman
add`` would. The key is ``[torbox] api_key``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.net.own_thread import on_own_thread
from ferryman.sources.listers.base import WatchEntry
from ferryman.sources.torbox import account_items

KINDS = ("torrent", "usenet", "webdl")


def _kinds(source: str) -> tuple[str, ...]:
    scheme, _, rest = source.strip().partition(":")
    word = rest.strip("/").lower().removesuffix("s")
    if scheme.lower() != "torbox":
        raise FerrymanError("watch.source_unsupported", f"{source} is no torbox: watch")
    if word in ("", "all"):
        return KINDS
    if word in KINDS:
        return (word,)
    raise FerrymanError(
        "watch.source_unsupported",
        f"{source}: watch torbox: (every item) or torbox:torrent, torbox:usenet, torbox:webdl",
    )


class TorboxLister:
    kind = "torbox"
    description = "a Torbox account (torbox:, torbox:torrent…): items as they become ready"
    changes_in_place = False
    read_oldest_first = False

    def accepts(self, source: str) -> bool:
        try:
            _kinds(source)
        except FerrymanError:
            return False
        return True

    def describe(self, source: str) -> str:
        return source  # no secret: the key lives in the settings

    async def matches(self, source: str, settings: Settings) -> bool:
        return True

    async def entries(self, source: str, settings: Settings) -> list[WatchEntry]:
        return await on_own_thread(list_account, source, settings)


def list_account(source: str, settings: Settings) -> list[WatchEntry]:
    """The account's finished items, newest first (blocking: a thread's work)."""

    found = []
    for kind in _kinds(source):
        for item in account_items(kind, settings.network, settings):
            if item.get("download_finished") is False or item.get("download_present") is False:
                continue  # not ready yet: new when it is
            if "id" not in item:
                continue
            found.append(
                WatchEntry(
                    id=f"{kind}/{item['id']}",
                    input=f"torbox:{kind}/{item['id']}",
                    title=str(item.get("name") or f"{kind} {item['id']}"),
                    published=_when(item.get("created_at")),
                )
            )
    found.sort(key=lambda e: -(e.published or 0.0))
    return found


def _when(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
