"""Each debrid service made from the settings, over one HTTP client and its key's call
budget, behind a guard: an answer of a shape its module does not read (a number as
text, a list for an object) is ``debrid.api`` with the service's name, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ferryman.config import Retry, Settings
from ferryman.errors import FerrymanError
from ferryman.sources.debrid.base import Debrid, DebridFile, DebridItem, JsonApi, api_base, key_of

if TYPE_CHECKING:
    import httpx

    from ferryman.sources.torbox import RateLimit

T = TypeVar("T")

SHOWN = {
    "torbox": "TorBox",
    "realdebrid": "Real-Debrid",
    "alldebrid": "AllDebrid",
    "premiumize": "Premiumize",
    "debridlink": "Debrid-Link",
}


def make_service(
    name: str, client: httpx.Client, settings: Settings, limit: RateLimit, retry: Retry
) -> Debrid:
    """The service ``name`` with the account in ``settings`` (``debrid.auth`` when its
    key is not set)."""
    key = key_of(settings, name) if name in SHOWN else ""
    if not key:
        setting = "torbox.api_key" if name == "torbox" else f"debrid.{name}.api_key"
        code = "torbox.auth" if name == "torbox" else "debrid.auth"
        raise FerrymanError(code, f"{SHOWN.get(name, name)} has no key: set {setting}")
    api = JsonApi(client, api_base(settings, name), SHOWN[name], limit, retry)
    return Guarded(_service(name, api, client, settings, limit, retry, key))


def _service(
    name: str,
    api: JsonApi,
    client: httpx.Client,
    settings: Settings,
    limit: RateLimit,
    retry: Retry,
    key: str,
) -> Debrid:
    if name == "torbox":
        from ferryman.sources.debrid.torbox import Torbox  # lazy: start-up
        from ferryman.sources.torbox import TorboxApi  # lazy: start-up

        return Torbox(TorboxApi(client, settings.torbox, limit, retry), api, key)
    if name == "realdebrid":
        from ferryman.sources.debrid.realdebrid import RealDebrid  # lazy: start-up

        return RealDebrid(api, key)
    if name == "alldebrid":
        from ferryman.sources.debrid.alldebrid import AllDebrid  # lazy: start-up

        return AllDebrid(api, key, settings.debrid.alldebrid.agent)
    if name == "premiumize":
        from ferryman.sources.debrid.premiumize import Premiumize  # lazy: start-up

        return Premiumize(api, key)
    from ferryman.sources.debrid.debridlink import DebridLink  # lazy: start-up

    return DebridLink(api, key)


class Guarded:
    """A service whose answers' surprises are ``debrid.api``, not a crash."""

    def __init__(self, inner: Debrid) -> None:
        self._inner = inner
        self.name = inner.name
        self.shown = inner.shown

    def find(self, info_hash: str) -> str | None:
        return self._read(lambda: self._inner.find(info_hash))

    def add_magnet(self, magnet: str) -> str:
        return self._read(lambda: self._inner.add_magnet(magnet))

    def add_torrent(self, data: bytes, filename: str) -> str:
        return self._read(lambda: self._inner.add_torrent(data, filename))

    def status(self, item: str) -> DebridItem:
        return self._read(lambda: self._inner.status(item))

    def unlock(self, item: str, file: DebridFile) -> str:
        return self._read(lambda: self._inner.unlock(item, file))

    def delete(self, item: str) -> None:
        self._read(lambda: self._inner.delete(item))

    def _read(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise FerrymanError(
                "debrid.api",
                f"{self.shown} answered in a shape ferryman does not read ({type(exc).__name__});"
                " it is asked again later",
            ) from None
