"""The face every debrid service shows the ``magnet:`` source: add a magnet or a
``.torrent`` (an item id back), find an item by info hash (a restart never adds twice),
ask an item's state and files, unlock a file (a direct link, read by Range), delete.

``JsonApi`` is what the services share: one call at a time through the key's
``RateLimit`` (``sources.torbox``), a 429 (or 503) waited out by its ``Retry-After``
when short (every caller of that key holds back meanwhile) and handed to the engine as
a wait when long, transport failures as ferryman's codes, the answer's JSON. What a
service's own words mean (its error codes) each service module maps itself.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ferryman.config import NetworkSettings, Retry, Settings
from ferryman.config.debrid import SERVICES
from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    import httpx

    from ferryman.sources.torbox import RateLimit

log = logging.getLogger(__name__)

NOT_READY_WAIT = 60  # seconds before asking again when no recheck is configured


@dataclass(frozen=True, slots=True)
class DebridFile:
    """One file of an item: ``id`` is the service's handle for it (a file number, a
    hoster link to unlock, an item id), ``path`` its path inside the torrent."""

    id: str
    path: str
    size: int
    mime: str | None = None


@dataclass(frozen=True, slots=True)
class DebridItem:
    """An item as the service tells it: ``ready`` once every file can be unlocked;
    ``state`` the service's own word for where it is; ``failed`` its word when it gave
    the torrent up (dead, virus, error); ``queued`` while the account's active limit
    holds it back. ``id`` may differ from the id asked: a queued item started under an
    id of its own, which the job keeps from then on."""

    id: str
    name: str
    ready: bool
    state: str
    files: tuple[DebridFile, ...] = ()
    failed: str | None = None
    hash: str = ""
    queued: bool = False


class Debrid(Protocol):
    """A debrid service's API, blocking (called on the fetch and reading threads)."""

    name: str  # as the settings name it: realdebrid
    shown: str  # as people name it: Real-Debrid

    def find(self, info_hash: str) -> str | None:
        """The account's item of this info hash, if it has one (added before a kill)."""
        ...

    def add_magnet(self, magnet: str) -> str:
        """Add a magnet link; the new (or existing) item's id."""
        ...

    def add_torrent(self, data: bytes, filename: str) -> str:
        """Upload a ``.torrent`` file's bytes; the new (or existing) item's id."""
        ...

    def status(self, item: str) -> DebridItem:
        """The item now (a service that wants its files chosen has all chosen here)."""
        ...

    def unlock(self, item: str, file: DebridFile) -> str:
        """A direct link to one file, fresh (asked again when one expires)."""
        ...

    def delete(self, item: str) -> None:
        """Remove the item from the account."""
        ...


def chosen_service(settings: Settings | None) -> str:
    """The service ``debrid.service`` names, or (auto) the first whose key is set:
    Torbox, Real-Debrid, AllDebrid, Premiumize, Debrid-Link. ``debrid.none`` if none."""
    if settings is None:
        raise FerrymanError("debrid.none", "no debrid service is set up for magnets")
    if settings.debrid.service != "auto":
        return settings.debrid.service
    for name in SERVICES:
        if key_of(settings, name):
            return name
    raise FerrymanError(
        "debrid.none",
        "no debrid service has a key: set one of torbox.api_key, debrid.realdebrid.api_key,"
        " debrid.alldebrid.api_key, debrid.premiumize.api_key, debrid.debridlink.api_key",
    )


def key_of(settings: Settings, name: str) -> str:
    if name == "torbox":
        return settings.torbox.api_key
    account: Any = getattr(settings.debrid, name)
    return str(account.api_key)


def api_base(settings: Settings, name: str) -> str:
    if name == "torbox":
        return settings.torbox.api_base
    account: Any = getattr(settings.debrid, name)
    return str(account.api_base)


def per_minute(settings: Settings, name: str) -> int:
    if name == "torbox":
        return settings.torbox.requests_per_minute
    account: Any = getattr(settings.debrid, name)
    return int(account.requests_per_minute)


@contextmanager
def api_client(network: NetworkSettings, settings: Settings, name: str) -> Iterator[httpx.Client]:
    """The client for a service's API and its download hosts; the API's host, as the
    operator wrote it in the settings, is trusted (``net.egress``)."""
    from ferryman.net.http import make_sync_client  # lazy: start-up

    host = urllib.parse.urlsplit(api_base(settings, name)).hostname or ""
    with make_sync_client(network, trusted=[host]) as client:
        yield client


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any  # the JSON answer (None when it was none)
    text: str


class JsonApi:
    """A service's HTTP calls, within its key's call budget."""

    def __init__(
        self, client: httpx.Client, base: str, shown: str, limit: RateLimit, retry: Retry
    ) -> None:
        self.client = client
        self.base = base.rstrip("/")
        self.shown = shown
        self.limit = limit
        self.retry = retry

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One call (waited for within the budget); a 429 or 503 asked again after its
        ``Retry-After`` (held for every caller of the key), up to the retry settings,
        then handed to the engine as a wait (``HttpWait``)."""
        import httpx  # lazy: start-up

        from ferryman.net.http import HttpWait, transport_error  # lazy: start-up
        from ferryman.net.waits import retry_after_seconds  # lazy: start-up

        absolute = path.startswith(("http://", "https://"))  # another API version's URL
        url = path if absolute else f"{self.base}/{path.lstrip('/')}"
        throttled = 0
        while True:
            self.limit.wait()
            try:
                response = self.client.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    files=files,
                    content=content,
                    headers=headers,
                )
            except httpx.HTTPError as exc:
                raise transport_error(exc, url.split("?", 1)[0]) from exc
            if response.status_code not in (429, 503):
                break
            said = retry_after_seconds(response.headers.get("retry-after"))
            wait = 60.0 if said is None else said
            throttled += 1
            if wait > self.retry.max_seconds or throttled > self.retry.max_attempts:
                raise HttpWait(
                    f"{self.shown}: too many requests (HTTP {response.status_code}); again in"
                    f" {wait:.0f} s",
                    max(wait, 1.0),
                    code="debrid.rate_limited",
                )
            # Said: the fetch (or read) stands still meanwhile, up to retry.max_seconds.
            log.warning(
                "%s: too many requests (HTTP %d); its calls wait %.0f s",
                self.shown,
                response.status_code,
                wait,
            )
            self.limit.hold(wait)
        try:
            body = response.json()
        except ValueError:
            body = None
        return Answer(response.status_code, body, response.text[:300])


def inner_path(name: str, top: str) -> str:
    """A file's path inside the item, '/'-separated, without a leading slash or the
    item's own folder that some services put first."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if len(parts) > 1 and parts[0] == top:
        parts = parts[1:]
    return "/".join(parts) or name


def with_share(state: str, share: Any, whole: float) -> str:
    """The service's word for a torrent on its way with the share it says is done
    ("downloading, 40 %"): the job's wait message moves as the service downloads."""
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= whole:
        return state
    return f"{state}, {share / whole:.0%}".replace("%", " %")


def wait_seconds(network: NetworkSettings | None) -> int:
    return max(1, round(network.recheck_seconds)) if network is not None else NOT_READY_WAIT
