"""Each debrid service made from the settings, over one HTTP client and its key's call
budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman.config import Retry, Settings
from ferryman.errors import FerrymanError
from ferryman.sources.debrid.base import Debrid, JsonApi, api_base, key_of

if TYPE_CHECKING:
    import httpx

    from ferryman.sources.torbox import RateLimit

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
