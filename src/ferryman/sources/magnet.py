"""``magnet:?xt=urn:btih:…`` and ``.torrent`` files: a torrent fetched by a debrid
service, then read file by file where the service keeps it (a zip among them in place,
by Range).

The service is ``debrid.service``'s, or (auto) the first with a key: TorBox, Real-Debrid,
AllDebrid, Premiumize, Debrid-Link (``sources/debrid``: one face for all). A ``.torrent``
(``torrent:///abs/path.torrent``, what a path ending so becomes) is uploaded to it; its
identity is its info hash, as a magnet's is, so the two of one torrent are one input.
The account's items are searched for the info hash first (one added before, by this job
before a kill or by anyone, is never added twice); the item's id (and its service) is
kept in the job's fetch folder (``debrid.json``, written whole and synced) before the
job waits for it, so a restart polls the same item. Two workers fetching one job at once
(a lost lease) add it once: on one machine one at a time (a lock in the fetch folder);
across nodes sharing the store, claimed there first and kept there too (``FetchPlan.once``:
another node waits, ``debrid.adding``, then takes the item kept). While the service
downloads it, the job waits uncounted (``debrid.not_ready``; ``torbox.not_ready`` for TorBox;
``debrid.queued`` while TorBox queues it at the plan's active limit, the queued item kept
as the item until it starts under a torrent id, kept then); once ready,
its files are read as ``sources/debrid/reading`` says. Each key's calls keep within its
``requests_per_minute`` (a sliding minute shared by every job of this source).
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from ferryman.clock import SYSTEM
from ferryman.config import NetworkSettings, Settings
from ferryman.errors import FerrymanError, ServerWait
from ferryman.net import abort
from ferryman.sources.base import Access, Fetched, FetchPlan, Inspection, ReadOptions, SourceEntry
from ferryman.sources.debrid.torrent_file import info_hash
from ferryman.sources.torbox import RateLimit, TorboxSource

_OTHER_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
KEPT = "debrid.json"  # the service and the item's id, in the job's fetch folder
LEGACY = "torbox.json"  # what a ferryman before the debrid face kept (TorBox only)
ITEM = "debrid.item"  # the store's memo of what ``KEPT`` holds (``FetchPlan.once``)


# A magnet refused when added: nothing was recorded, so no job waits for a `retry`.
SET_A_KEY = (
    "Set the API key of the debrid service you use (torbox.api_key,"
    " debrid.realdebrid.api_key, debrid.alldebrid.api_key, debrid.premiumize.api_key or"
    " debrid.debridlink.api_key): `ferryman config set debrid.realdebrid.api_key KEY`;"
    " then add it again (`ferryman docs debrid` says more)."
)


def display_name(magnet: str) -> str | None:
    names = urllib.parse.parse_qs(urllib.parse.urlsplit(magnet).query).get("dn", [])
    return names[0].strip() or None if names else None


def torrent_path(uri: str) -> Path:
    """The local ``.torrent`` file a ``torrent:`` URI names."""
    from ferryman.sources.local_path import file_path  # lazy: start-up

    return file_path("file:" + uri[len("torrent:") :])


class MagnetSource:
    """Magnet links and ``.torrent`` files, through the debrid service set up."""

    schemes: tuple[str, ...] = ("magnet", "torrent")
    description = (
        "magnet:?xt=urn:btih:… or a .torrent file: a torrent, through a debrid service"
        " (TorBox, Real-Debrid, AllDebrid, Premiumize, Debrid-Link)"
    )
    shown_as = "magnet: links and .torrent files (through a debrid service)"
    access = Access.FETCH

    def __init__(
        self,
        torbox: TorboxSource | None = None,
        clock: Callable[[], float] = SYSTEM.monotonic,
        sleep: Callable[[float], None] = abort.pause,  # a stop ends a wait
    ) -> None:
        self.torbox = torbox or TorboxSource(clock, sleep)
        self._clock, self._sleep = clock, sleep
        self._limits: dict[tuple[str, str, int], RateLimit] = {}
        self._guard = threading.Lock()

    def limit(self, settings: Settings, service: str) -> RateLimit:
        """One key's call budget, shared by every fetch and read through this source
        (TorBox's with ``torbox:`` items too)."""
        from ferryman.sources.debrid.base import key_of, per_minute  # lazy: start-up

        if service == "torbox":
            return self.torbox.limit(settings)
        key = (service, key_of(settings, service), per_minute(settings, service))
        with self._guard:
            if key not in self._limits:
                self._limits[key] = RateLimit(key[2], self._clock, self._sleep)
            return self._limits[key]

    def recognise(self, raw: str) -> str | None:
        text = raw.strip().strip("<>")
        if text.lower().startswith("magnet:"):  # `magnet:` alone too: no info hash
            info_hash(text)  # refused now, not when fetched
            return text
        if text.lower().startswith("torrent:"):
            return "torrent:" + torrent_path(text).as_uri()[len("file:") :]
        if text.lower().endswith(".torrent") and not _OTHER_SCHEME.match(text):
            if "\x00" in text:
                raise FerrymanError("source.invalid", f"{text!r}: a path holds no NUL character")
            return "torrent:" + Path(os.path.abspath(text)).as_uri()[len("file:") :]
        return None

    def check_ready(self, settings: Settings, uri: str) -> None:
        """A debrid service with a key, else the input is refused when added."""
        from ferryman.sources.debrid.base import chosen_service, key_of  # lazy: start-up

        try:
            name = chosen_service(settings)
        except FerrymanError as exc:
            raise FerrymanError(
                exc.code,
                f"cannot fetch {self.describe(uri)}: {exc.message}; nothing was added",
                step=SET_A_KEY,
            ) from None
        if not key_of(settings, name):  # debrid.service names one whose key is not set
            setting = "torbox.api_key" if name == "torbox" else f"debrid.{name}.api_key"
            raise FerrymanError(
                "debrid.none",
                f"cannot fetch {self.describe(uri)}: debrid.service is {name}, and {setting}"
                " is not set; nothing was added",
                step=f"Set it: `ferryman config set {setting} KEY` (or debrid.service to a"
                " service whose key is set), then add it again.",
            )

    def describe(self, uri: str) -> str:
        if uri.startswith("torrent:"):
            return str(torrent_path(uri))
        return f"magnet {display_name(uri) or info_hash(uri)}"

    def local_path(self, uri: str) -> Path | None:
        return torrent_path(uri) if uri.startswith("torrent:") else None

    def inspect(self, uri: str) -> Inspection:
        """A magnet offline: named by its ``dn`` (else its hash). A ``.torrent`` read:
        named by its ``info`` name, sized by its files. The same hash, the same input."""
        if uri.startswith("torrent:"):
            torrent = _read_torrent(torrent_path(uri))
            name = torrent.name or torrent_path(uri).stem
            return Inspection(name, f"btih:{torrent.info_hash}", torrent.size or None)
        digest = info_hash(uri)
        return Inspection(display_name(uri) or f"magnet-{digest[:12]}", f"btih:{digest}")

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        from ferryman.net.own_thread import on_own_thread  # lazy: start-up

        return await on_own_thread(self._fetch, uri, plan)

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        import tempfile  # lazy: start-up

        from ferryman.sources.debrid.base import api_client  # lazy: start-up
        from ferryman.sources.debrid.reading import item_files, listed  # lazy: start-up
        from ferryman.sources.listing import listing_entries  # lazy: start-up

        if options.fetched is None:
            raise FerrymanError("engine.internal", f"{uri}: read before it was fetched")
        if options.fetched.name == LEGACY:  # a job a ferryman before this one fetched
            torrent = int(json.loads(options.fetched.read_text())["torrent_id"])
            with self.torbox.open(f"torbox:torrent/{torrent}", options) as entries:
                yield entries
            return
        kept = _kept(options.fetched)
        settings = _settings(options.settings)
        if kept is None:
            raise FerrymanError("engine.internal", f"{uri}: its debrid item was not kept")
        name, item = kept
        network = options.network or NetworkSettings()  # type: ignore[call-arg]
        with ExitStack() as stack:
            if options.scratch is None:  # a copied archive needs somewhere to be read
                scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="ferryman-"))
                options = replace(options, scratch=Path(scratch))
            client = stack.enter_context(api_client(network, settings, name))
            service = self._service(name, client, settings)
            files = item_files(service, item, options)
            yield listing_entries(
                [listed(client, service, item, f, options) for f in files], options
            )

    def _service(self, name: str, client: Any, settings: Settings) -> Any:
        from ferryman.sources.debrid.services import make_service  # lazy: start-up

        return make_service(name, client, settings, self.limit(settings, name), settings.retry)

    def _fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        """On its own thread: the item found or added once, its id kept, then asked
        about (a wait while the service downloads it)."""
        from ferryman.sources.debrid import base  # lazy: start-up

        settings = _settings(plan.settings)
        path = plan.folder / KEPT
        kept = _kept(path)
        if kept is None and (kept := _legacy(plan.folder / LEGACY)) is not None:
            _keep(path, {"service": kept[0], "item": kept[1], "hash": ""})  # carried over
        if kept is None:
            with _one_adder(plan.folder):  # a second worker (a lost lease) waits here
                kept = _kept(path) or self._added(uri, plan, settings)  # and finds it kept
        name, item = kept
        with base.api_client(plan.network, settings, name) as client:
            service = self._service(name, client, settings)
            found = service.status(item)
        if found.id != item:  # a queued item started under an id of its own: kept now
            now_kept = {"service": name, "item": found.id, "hash": found.hash}
            if plan.once is not None:  # for the other nodes too
                plan.once.made(ITEM, json.dumps(now_kept), replace=True)
            _keep(path, now_kept)
        if found.failed is not None:
            raise FerrymanError(
                "debrid.failed", f"{service.shown} gave the torrent up: {found.failed}"
            )
        if not found.ready:
            code = "torbox.not_ready" if name == "torbox" else "debrid.not_ready"
            said = f"{service.shown} has not finished it yet ({found.state})"
            if found.queued:  # held back by the account's active limit
                code, said = "debrid.queued", f"{found.state}; it starts when a slot frees"
            raise ServerWait(code, said, base.wait_seconds(plan.network))
        return Fetched(path, sum(f.size for f in found.files), found.name)

    def _added(self, uri: str, plan: FetchPlan, settings: Settings) -> tuple[str, str]:
        """The job's item found or added, and kept (in the fetch folder, and in the
        store for the other nodes: ``plan.once``). Claimed in the store first, so one
        worker of all the nodes sharing it adds: another's claim that still holds is
        waited for (``debrid.adding``), its item then read from the store; one that
        ran out is taken over, and the service's items are asked first anyway."""
        from ferryman.sources.debrid import base  # lazy: start-up

        path, once = plan.folder / KEPT, plan.once
        claim = once.claim(ITEM) if once is not None else None
        if claim is not None and claim.made is not None:  # another node added it
            said = _said(claim.made)
            _keep(path, said)
            return said["service"], said["item"]
        if claim is not None and not claim.mine:
            raise ServerWait(
                "debrid.adding",
                "another worker is adding this torrent to the debrid service",
                base.wait_seconds(plan.network),
            )
        try:  # from here on the claim is this worker's: made or dropped, never left
            name = base.chosen_service(settings)
            with base.api_client(plan.network, settings, name) as client:
                service = self._service(name, client, settings)
                digest, torrent = _identity(uri)
                item = service.find(digest)
                if item is None and torrent is not None:
                    item = service.add_torrent(torrent.read_bytes(), torrent.name)
                elif item is None:
                    item = service.add_magnet(uri)
        except BaseException as exc:
            if once is not None:  # cut or unanswered, it may be added yet: all wait, then ask
                with suppress(Exception):  # the claim runs out anyway
                    once.dropped(ITEM, unknown=not _answered(exc))
            raise
        said = {"service": name, "item": item, "hash": digest}
        if once is not None:  # the first kept stays (a taken-over claim's add)
            said = _said(once.made(ITEM, json.dumps(said)))
        _keep(path, said)
        return said["service"], said["item"]


@contextmanager
def _one_adder(folder: Path) -> Iterator[None]:
    """The find-or-add of a job's item, one at a time on this machine (``flock``, dropped
    with the process): a worker whose lease was lost mid-add, and the one that took the
    job over, each found nothing and added the magnet twice."""
    import fcntl  # lazy: start-up

    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".adding.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # the lock goes with it


def _settings(settings: Settings | None) -> Settings:
    if settings is None:
        raise FerrymanError("debrid.none", "no settings name a debrid service")
    return settings


def _identity(uri: str) -> tuple[str, Path | None]:
    if uri.startswith("torrent:"):
        path = torrent_path(uri)
        return _read_torrent(path).info_hash, path
    return info_hash(uri), None


def _read_torrent(path: Path) -> Any:
    from ferryman.sources.debrid.torrent_file import MAX_BYTES, read_torrent  # lazy: start-up

    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise FerrymanError("source.not_found", f"{path}: no such .torrent file") from None
    except OSError as exc:
        raise FerrymanError("source.io", f"{path}: {exc.strerror or exc}") from None
    return read_torrent(data)


def _kept(path: Path) -> tuple[str, str] | None:
    try:
        said = json.loads(path.read_text())
        return str(said["service"]), str(said["item"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _answered(exc: BaseException) -> bool:
    """Whether a failed find-or-add's outcome is known: the service answered (a refusal,
    a 429) or nothing was asked (no key, no .torrent); not a call cut mid-way (a lost
    lease or a stop cuts its sockets: ``net.abort``) or left without an answer, which the
    service may still carry out (the CI run's double add: a lease lost mid-add)."""
    import httpx  # lazy: start-up (loaded by the call that failed)

    return isinstance(exc, FerrymanError) and not isinstance(exc.__cause__, httpx.HTTPError)


def _said(value: str) -> dict[str, str]:
    said = json.loads(value)
    return {"service": str(said["service"]), "item": str(said["item"]), "hash": str(said["hash"])}


def _legacy(path: Path) -> tuple[str, str] | None:
    try:
        return "torbox", str(int(json.loads(path.read_text())["torrent_id"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _keep(path: Path, said: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    with part.open("w") as f:
        json.dump(said, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


__all__ = ["MagnetSource", "display_name", "info_hash", "torrent_path"]
