"""The ``torbox:`` source: a torrent, usenet or web download finished on Torbox (a
debrid service), resolved through its API (``torbox:torrent/ID``, ``…/ID/FILE``;
``usenet`` and ``webdl`` alike).

Like a WebDAV folder, it is fetched (the fetch stage's conditions and retries hold) but
nothing is stored. ``fetch`` asks ``mylist`` about the item: a bad key
(``torbox.auth``), an unknown item or file (``torbox.not_found``) fail at once, an item
Torbox is still downloading waits uncounted (``torbox.not_ready``), the API's own words
(``detail``) in every message. ``open`` lists the item's files (kept in the job's source
memo: a restart reads the same files at the same indexes), sorted by path, and reads
each by Range from the CDN link ``requestdl`` gives, asked for only when that file is
read. A CDN link that expires mid-read (403/410) is asked for again and the read goes
on at the same offset. A zip among the files is read in place like a zip link. The API
is called at most ``torbox.requests_per_minute`` times a minute per key (Torbox allows
300), counted by the source instance across every job it reads; a 429 waits its
``Retry-After``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ferryman.clock import SYSTEM
from ferryman.config import NetworkSettings, Retry, Settings, TorboxSettings
from ferryman.errors import FerrymanError, ServerWait
from ferryman.net import abort
from ferryman.sources import ready
from ferryman.sources.base import Access, Fetched, FetchPlan, Inspection, ReadOptions, SourceEntry
from ferryman.sources.torbox_errors import NOT_READY_WAIT as _NOT_READY_WAIT
from ferryman.sources.torbox_errors import torbox_error

if TYPE_CHECKING:  # httpx loads when an item is read, not when it is added
    import httpx

    from ferryman.archive.reader import ArchiveReader
    from ferryman.sources.listing import ListedFile

log = logging.getLogger(__name__)
_REFERENCE = re.compile(r"^torbox:(torrent|usenet|webdl)/(\d+)(?:/(\d+))?/?$", re.IGNORECASE)
_ID_PARAM = {"torrent": "torrent_id", "usenet": "usenet_id", "webdl": "web_id"}
_PATH = {"torrent": "torrents", "usenet": "usenet", "webdl": "webdl"}
_MEMO_KEY = "torbox.files"
_MEDIA_FAMILIES = ("image/", "video/", "audio/")


@dataclass(frozen=True, slots=True)
class Reference:
    """``torbox:KIND/ID[/FILE]``."""

    kind: str
    item: int
    file: int | None

    @classmethod
    def parse(cls, uri: str) -> Reference:
        match = _REFERENCE.match(uri.strip())
        if match is None:
            raise FerrymanError(
                "link.invalid",
                f"'{uri}' is not a Torbox reference: torbox:torrent/ID, torbox:usenet/ID or"
                " torbox:webdl/ID, with /FILE for one file",
            )
        kind, item, file = match.groups()
        return cls(kind.lower(), int(item), int(file) if file else None)

    def __str__(self) -> str:
        tail = f"/{self.file}" if self.file is not None else ""
        return f"torbox:{self.kind}/{self.item}{tail}"


@dataclass(frozen=True, slots=True)
class _File:
    """One file of the item, as the memo keeps it."""

    id: int
    path: str  # inside the item, '/'-separated
    size: int
    mime: str | None


class RateLimit:
    """At most ``per_minute`` calls in any 60 s (a sliding window), and none while a
    server-imposed pause lasts (``hold``); ``wait`` blocks the calling thread until the
    next call may go. ``clock``/``sleep`` are for tests (and a service's own polls keep
    to them)."""

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = SYSTEM.monotonic,
        sleep: Callable[[float], None] = abort.pause,  # a stop ends a wait
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self._not_before = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            while True:
                now = self.clock()
                if now < self._not_before:
                    self.sleep(self._not_before - now)
                    continue
                while self._sent and self._sent[0] <= now - 60:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return
                self.sleep(self._sent[0] + 60 - now)

    def hold(self, seconds: float) -> None:
        """No call for ``seconds`` from now, from any thread (a 429's Retry-After)."""
        with self._lock:
            self._not_before = max(self._not_before, self.clock() + seconds)

    def sent_within(self, seconds: float) -> int:
        """Calls let through in the last ``seconds`` (for status and tests)."""
        with self._lock:
            now = self.clock()
            return sum(1 for t in self._sent if t > now - seconds)


class TorboxApi:
    """The few API calls the source needs, with their failures as ferryman's codes."""

    def __init__(
        self, client: httpx.Client, settings: TorboxSettings, limit: RateLimit, retry: Retry
    ) -> None:
        self._client = client
        self._settings = settings
        self._limit = limit
        self._retry = retry

    def item(self, ref: Reference) -> dict[str, Any]:
        """``mylist`` for one item (bypassing Torbox's 10-minute cache)."""
        found = self._get(
            f"/v1/api/{_PATH[ref.kind]}/mylist",
            {"id": ref.item, "bypass_cache": "true"},
            ref,
            bearer=True,
        )
        if isinstance(found, list):  # some answers wrap the one item in a list
            found = next((x for x in found if x.get("id") == ref.item), None)
        if not isinstance(found, dict):
            raise FerrymanError("torbox.not_found", f"{ref}: Torbox has no such item")
        return found

    def items(self, kind: str) -> list[dict[str, Any]]:
        """``mylist`` for every item of a kind (a watch of the account lists them)."""
        found = self._get(
            f"/v1/api/{_PATH[kind]}/mylist",
            {"bypass_cache": "true"},
            Reference(kind, 0, None),
            bearer=True,
        )
        return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []

    def link(self, ref: Reference, file_id: int) -> str:
        """A fresh CDN link for one file (``requestdl``; valid a few hours)."""
        params = {"token": self._key(), _ID_PARAM[ref.kind]: ref.item, "file_id": file_id}
        found = self._get(
            f"/v1/api/{_PATH[ref.kind]}/requestdl", params | {"zip_link": "false"}, ref
        )
        if not isinstance(found, str) or not found.startswith(("http://", "https://")):
            raise FerrymanError("torbox.api", f"{ref}: requestdl gave no link")
        return found

    def cached(self, info_hash: str) -> bool:
        """``checkcached``: whether Torbox has the torrent whole already (it then needs
        no swarm and is ready at once)."""
        found = self._get(
            "/v1/api/torrents/checkcached",
            {"hash": info_hash, "format": "object"},
            Reference("torrent", 0, None),
            bearer=True,
        )
        return isinstance(found, dict) and bool(found)

    def add_magnet(self, magnet: str) -> dict[str, Any]:
        """``createtorrent`` from a magnet link: its answer's data (the new or existing
        torrent's ``torrent_id``, or a ``queued_id`` at the plan's active limit)."""
        found = self._get(
            "/v1/api/torrents/createtorrent",
            {"magnet": magnet},
            Reference("torrent", 0, None),
            bearer=True,
            post=True,
        )
        return found if isinstance(found, dict) else {}

    def _key(self) -> str:
        if not self._settings.api_key:
            raise FerrymanError("torbox.auth", "torbox.api_key is not set")
        return self._settings.api_key

    def _get(
        self,
        path: str,
        params: dict[str, Any],
        ref: Reference,
        *,
        bearer: bool = False,
        post: bool = False,
    ) -> Any:
        import httpx  # lazy: start-up

        from ferryman.net.http import HttpWait, transport_error  # lazy: start-up
        from ferryman.net.waits import retry_after_seconds  # lazy: start-up

        headers = {"Authorization": f"Bearer {self._key()}"} if bearer else {}
        url = f"{self._settings.api_base.rstrip('/')}{path}"
        throttled = 0
        while True:
            self._limit.wait()
            try:
                if post:  # a form, as Torbox's create calls take it (multipart)
                    form = {k: (None, str(v)) for k, v in params.items()}
                    response = self._client.post(url, files=form, headers=headers)
                else:
                    response = self._client.get(url, params=params, headers=headers)
            except httpx.HTTPError as exc:
                raise transport_error(exc, url) from exc
            try:
                body = response.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict):
                body = {}
            detail = str(body.get("detail") or body.get("error") or f"HTTP {response.status_code}")
            if response.status_code != 429:
                break
            # Torbox counts calls per key: a short Retry-After is waited out here (and
            # by every reader sharing the limit), a long one goes to the engine.
            wait = retry_after_seconds(response.headers.get("retry-after")) or 60.0
            throttled += 1
            if wait > self._retry.max_seconds or throttled > self._retry.max_attempts:
                raise HttpWait(
                    f"Torbox: {detail}; again in {wait:.0f} s", wait, code="debrid.rate_limited"
                )
            log.warning("Torbox: %s (HTTP 429); its calls wait %.0f s", detail, wait)
            self._limit.hold(wait)
        if response.is_success and body.get("success", True) is not False:
            return body.get("data")
        raise torbox_error(response.status_code, body, str(ref))


class TorboxSource:
    """Torbox items by reference, read file by file from its CDN where they lie."""

    schemes: tuple[str, ...] = ("torbox",)

    description = "torbox:torrent/ID, torbox:usenet/ID, torbox:webdl/ID (/FILE for one)"
    shown_as = "torbox:torrent/ID (usenet/ID, webdl/ID)"
    access = Access.FETCH
    check_ready = ready.torbox  # a key: refused when added without one

    def __init__(
        self,
        clock: Callable[[], float] = SYSTEM.monotonic,
        sleep: Callable[[float], None] = abort.pause,  # a stop ends a wait
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._limits: dict[tuple[str, int], RateLimit] = {}
        self._guard = threading.Lock()

    def limit(self, settings: Settings | None) -> RateLimit:
        """The call budget of one API key (Torbox limits per key), shared by every
        fetch and reading through this source: jobs in parallel cannot exceed it."""
        torbox = _settings_of(settings)
        with self._guard:
            key = (torbox.api_key, torbox.requests_per_minute)
            if key not in self._limits:
                self._limits[key] = RateLimit(key[1], self._clock, self._sleep)
            return self._limits[key]

    def recognise(self, raw: str) -> str | None:
        text = raw.strip().strip("<>")
        if not text.lower().startswith("torbox:"):
            return None
        return str(Reference.parse(text))

    def describe(self, uri: str) -> str:
        return uri  # a reference holds no secret: the key lives in the settings

    def local_path(self, uri: str) -> None:
        return None

    def inspect(self, uri: str) -> Inspection:
        ref = Reference.parse(uri)  # offline: the item's own name comes with the fetch
        tail = f"-{ref.file}" if ref.file is not None else ""
        return Inspection(f"torbox-{ref.kind}-{ref.item}{tail}", str(ref))

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        """Ask about the item now (codes and waits in the fetch stage's rules); nothing
        is stored: the read stage reads its files where they lie."""
        from ferryman.net.own_thread import on_own_thread  # lazy: start-up

        ref = Reference.parse(uri)
        limit = self.limit(plan.settings)
        return await on_own_thread(_check, ref, plan.network, plan.settings, limit)

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        import tempfile  # lazy: start-up

        from ferryman.sources.listing import listing_entries  # lazy: start-up

        ref = Reference.parse(uri)
        network = options.network or NetworkSettings()  # type: ignore[call-arg]
        with ExitStack() as stack:
            if options.scratch is None:  # a copied archive needs somewhere to be read
                scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="ferryman-"))
                options = replace(options, scratch=Path(scratch))
            client = stack.enter_context(_client(network, options.settings))
            api = _api(client, options.settings, self.limit(options.settings))
            files = _files(api, ref, options)
            listed = [_listed(client, api, ref, f, options) for f in files]
            yield listing_entries(listed, options)


def _settings_of(settings: Settings | None) -> TorboxSettings:
    return settings.torbox if settings is not None else TorboxSettings()  # type: ignore[call-arg]


def _api(client: httpx.Client, settings: Settings | None, limit: RateLimit) -> TorboxApi:
    return TorboxApi(client, _settings_of(settings), limit, _retry(settings))


@contextmanager
def _client(network: NetworkSettings, settings: Settings | None) -> Iterator[httpx.Client]:
    """The client for the API and the CDN; the API's host, written by the operator in
    ``torbox.api_base``, is trusted as written (``net.egress``)."""
    from ferryman.net.http import make_sync_client  # lazy: start-up

    api_host = urllib.parse.urlsplit(_settings_of(settings).api_base).hostname or ""
    with make_sync_client(network, trusted=[api_host]) as client:
        yield client


def _check(
    ref: Reference, network: NetworkSettings, settings: Settings | None, limit: RateLimit
) -> Fetched:
    with _client(network, settings) as client:
        item = _api(client, settings, limit).item(ref)
    files = _item_files(item, ref, wait=network.recheck_seconds)
    name = str(item.get("name") or f"torbox-{ref.kind}-{ref.item}")
    return Fetched(None, sum(f.size for f in files), name)


def _item_files(item: dict[str, Any], ref: Reference, *, wait: float) -> list[_File]:
    """The item's files, sorted by path; ``ref.file`` picks one. An unfinished item is
    a wait of ``wait`` seconds (uncounted), not a failure."""
    finished = item.get("download_finished")
    present = item.get("download_present")
    if finished is False or present is False:
        state = item.get("download_state") or "downloading"
        raise ServerWait(
            "torbox.not_ready",
            f"{ref}: Torbox has not finished it yet ({state})",
            max(1, round(wait)),
        )
    files = [
        _File(
            int(f["id"]),
            _inner_path(str(f.get("name") or f.get("short_name") or f["id"]), item),
            int(f.get("size") or 0),
            f.get("mimetype"),
        )
        for f in item.get("files") or []
    ]
    if ref.file is not None:
        files = [f for f in files if f.id == ref.file]
        if not files:
            raise FerrymanError("torbox.not_found", f"{ref}: the item has no file {ref.file}")
    if not files:
        raise FerrymanError("torbox.not_found", f"{ref}: the item holds no files")
    from ferryman.sources.local import natural_key  # lazy: start-up

    return sorted(files, key=lambda f: natural_key(f.path))


def _inner_path(name: str, item: dict[str, Any]) -> str:
    """A file's path inside the item: Torbox prefixes the item's folder; drop it."""
    top = str(item.get("name") or "")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if len(parts) > 1 and parts[0] == top:
        parts = parts[1:]
    return "/".join(parts) or name


def _files(api: TorboxApi, ref: Reference, options: ReadOptions) -> list[_File]:
    memo = options.memo
    kept = memo.get(_MEMO_KEY) if memo is not None else None
    if kept is not None:
        return [_File(*row) for row in json.loads(kept)]
    recheck = options.network.recheck_seconds if options.network else _NOT_READY_WAIT
    files = _item_files(api.item(ref), ref, wait=recheck)
    if memo is not None:
        memo.put(_MEMO_KEY, json.dumps([[f.id, f.path, f.size, f.mime] for f in files]))
    return files


class _Link:
    """A file's CDN link, asked for when first needed and again when it expires."""

    def __init__(self, api: TorboxApi, ref: Reference, file_id: int) -> None:
        self._api, self._ref, self._file_id = api, ref, file_id
        self._url: str | None = None

    def current(self) -> str:
        if self._url is None:
            self._url = self._api.link(self._ref, self._file_id)
        return self._url

    def renew(self) -> str:
        self._url = None
        return self.current()


def _listed(
    client: httpx.Client, api: TorboxApi, ref: Reference, file: _File, options: ReadOptions
) -> ListedFile:
    from ferryman.sources.listing import ListedFile  # lazy: start-up

    link = _Link(api, ref, file.id)
    zipped = file.path.lower().endswith(".zip") and file.size > 0
    return ListedFile(
        file.path,
        file.size,
        0.0,
        lambda: _read(client, link, file, _retry(options.settings)),
        not_media(file.path, file.mime),
        in_place=(lambda: _zip_in_place(client, link, file, options)) if zipped else None,
    )


def not_media(path: str, mime: str | None) -> str | None:
    """Why a remote file (a Torbox or debrid item's) is left unread: neither media nor an
    archive by its type or its name; None when it is read."""
    import mimetypes  # lazy: start-up

    from ferryman.archive.suffixes import named_archive  # lazy: start-up

    if named_archive(path) or (mime or "").startswith(_MEDIA_FAMILIES):
        return None
    guessed, _ = mimetypes.guess_type(path)
    if guessed and guessed.startswith(_MEDIA_FAMILIES):
        return None
    return f"not media or an archive ({mime or 'unknown type'})"


def _read(client: httpx.Client, link: _Link, file: _File, retry: Retry) -> Iterator[bytes]:
    """The file by Range; an expired link renewed mid-read. Pinned by its size alone
    (CDN stores differ in ETags for the same file)."""
    from ferryman.net.rangefile import remote_blocks  # lazy: start-up

    if file.size > 0:  # a generator: the link is asked for only when bytes are wanted
        yield from remote_blocks(client, link.current(), file.size, None, retry, renew=link.renew)


@contextmanager
def _zip_in_place(
    client: httpx.Client, link: _Link, file: _File, options: ReadOptions
) -> Iterator[ArchiveReader | None]:
    from ferryman.archive.zipfile_backend import reader_in_place  # lazy: start-up
    from ferryman.net.rangefile import open_range_file  # lazy: start-up

    retry = _retry(options.settings)
    with open_range_file(client, link.current(), file.size, None, retry, link.renew) as remote:
        yield reader_in_place(remote, PurePosixPath(file.path).name, options.archive)


def _retry(settings: Settings | None) -> Retry:
    """The engine's retry settings when it gave them, else the defaults."""
    return settings.retry if settings is not None else Retry.model_validate({})


def account_items(kind: str, network: NetworkSettings, settings: Settings) -> list[dict[str, Any]]:
    """Every item of ``kind`` (torrent, usenet, webdl) on the account, as ``mylist``
    gives them (a watch of the account: ``sources/listers/torbox``). Blocking."""
    limit = RateLimit(_settings_of(settings).requests_per_minute)
    with _client(network, settings) as client:
        return _api(client, settings, limit).items(kind)
