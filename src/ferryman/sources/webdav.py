"""The ``dav:`` / ``davs:`` source: a folder or a file on a WebDAV server (Nextcloud, a
NAS, TorBox's WebDAV), the URI GNOME and KDE use (``davs://host/path``; dav is http,
davs is https).

It is fetched (``Access.FETCH``) so the fetch stage's conditions hold (Wi-Fi only,
battery, leases), but nothing is stored there: ``fetch`` asks the server about the
path once (a login, a missing path or a server that speaks no WebDAV fail early, with
their codes) and says "read it where it is". ``open`` then walks the folder with
webdav4 (PROPFIND depth 1, folders in natural name order) and keeps the listing in the
job's source memo: a restart reads the same files at the same indexes, whatever the
server shows meanwhile, so nothing is delivered twice. Each file is read by HTTP Range
as the engine asks for it (``net/rangefile``: If-Range pinned, cut reads resumed, the
stall watchdog), one at a time: a 20 GB folder needs no more disk than an album.
Files that are neither media nor archives (by type or name) are skipped unread.

Logins come from ``[webdav.hosts."host"]`` or the link's own user info, and appear in no
log, report, event or status (``describe`` drops them).
"""

from __future__ import annotations

import json
import mimetypes
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ferryman.archive.suffixes import named_archive, strip_archive_suffixes
from ferryman.config import NetworkSettings, Retry, Settings
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.sources.base import Access, Fetched, FetchPlan, Inspection, ReadOptions, SourceEntry
from ferryman.urls import split_link

if TYPE_CHECKING:  # httpx and webdav4 load when a folder is read, not when it is added
    import httpx

    from ferryman.archive.reader import ArchiveReader
    from ferryman.sources.listing import ListedFile

_SCHEMES = {"dav": "http", "davs": "https"}
_MEMO_KEY = "webdav.listing"
_BLOCK = 4 << 20  # bytes per range request: few round trips, bounded memory
_MEDIA_FAMILIES = ("image/", "video/", "audio/")


@dataclass(frozen=True, slots=True)
class _Remote:
    """One file of the walk, as stored in the memo."""

    path: str  # relative to the input's root, '/'-separated
    href: str  # the server's path for it
    size: int
    mtime: float
    validator: str | None  # for If-Range: a strong ETag, else Last-Modified
    skip: str | None

    def to_json(self) -> list[Any]:
        return [self.path, self.href, self.size, self.mtime, self.validator, self.skip]

    @classmethod
    def from_json(cls, row: list[Any]) -> _Remote:
        path, href, size, mtime, validator, skip = row
        return cls(path, href, int(size), float(mtime), validator, skip)


class WebdavSource:
    """Folders and files on WebDAV servers, read where they are, file by file."""

    schemes: tuple[str, ...] = ("dav", "davs")

    description = "davs://host/path/ (dav:// for plain http): a WebDAV folder or file"
    shown_as = "dav(s):// WebDAV folders and files"
    access = Access.FETCH

    def recognise(self, raw: str) -> str | None:
        text = raw.strip().strip("<>")
        scheme, sep, _ = text.partition("://")
        if not sep or scheme.lower() not in _SCHEMES:
            return None
        parts = split_link(text)  # link.invalid: a bad port, host or bracket
        if not parts.hostname:
            raise FerrymanError("link.invalid", f"'{self.describe(text)}' has no host")
        return urllib.parse.urlunsplit(parts._replace(scheme=scheme.lower(), fragment=""))

    def describe(self, uri: str) -> str:
        """The link without its user info (a password may be there)."""
        parts = split_link(uri)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))

    def local_path(self, uri: str) -> None:
        return None

    def inspect(self, uri: str) -> Inspection:
        parts = split_link(uri)
        last = urllib.parse.unquote(PurePosixPath(parts.path).name)
        stripped = strip_archive_suffixes(last)
        if stripped == last and PurePosixPath(last).suffix:  # clip.mp4 → clip
            stripped = PurePosixPath(last).stem
        # The same folder is the same input, whoever logs in.
        return Inspection(safe_name(stripped or parts.hostname or "", "webdav"), self.describe(uri))

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        """Check the path answers (coded errors now, in the fetch stage's retry rules);
        nothing is stored: the read stage reads the files where they are."""
        from ferryman.net.own_thread import on_own_thread  # lazy: start-up

        name = self.inspect(uri).name
        size = await on_own_thread(_check, uri, plan.network, plan.settings)
        return Fetched(None, size, name)

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        import tempfile  # lazy: start-up
        from dataclasses import replace  # lazy: start-up

        from ferryman.sources.listing import listing_entries  # lazy: start-up

        network = options.network or NetworkSettings()  # type: ignore[call-arg]
        with ExitStack() as stack:
            if options.scratch is None:  # a nested archive needs somewhere to be read
                scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="ferryman-"))
                options = replace(options, scratch=Path(scratch))
            client = stack.enter_context(_client(uri, network, options.settings))
            remotes = _listing(client, uri, options)
            files = [_listed(client, uri, remote, options) for remote in remotes]
            yield listing_entries(files, options)

    @contextmanager
    def zip_in_place(self, uri: str, options: ReadOptions) -> Iterator[ArchiveReader | None]:
        """The zip file at ``uri`` read by Range where it lies (not entered), for a look
        at its central directory and small files (a Takeout's sidecars: ``sources/batch``)."""
        network = options.network or NetworkSettings()  # type: ignore[call-arg]
        with _client(uri, network, options.settings) as client:
            remotes = _listing(client, uri, options)
            remote = remotes[0] if len(remotes) == 1 else None
            if remote is None or not remote.path.lower().endswith(".zip") or not remote.size:
                yield None
                return
            with _zip_in_place(client, remote, options) as reader:
                yield reader


def _base(uri: str) -> tuple[str, str]:
    """(the server's root URL without user info, the input's path on it)."""
    parts = split_link(uri)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    root = urllib.parse.urlunsplit((_SCHEMES[parts.scheme.lower()], netloc, "/", "", ""))
    return root, urllib.parse.unquote(parts.path or "/")


def _login(uri: str, settings: Settings | None) -> tuple[str, str] | None:
    parts = split_link(uri)
    if parts.username:
        return urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
    if settings is None:
        return None
    login = settings.webdav.login_for(parts.hostname or "", parts.port)
    return (login.username, login.password) if login else None


@contextmanager
def _client(
    uri: str, network: NetworkSettings, settings: Settings | None
) -> Iterator[httpx.Client]:
    from ferryman.net.http import make_sync_client  # lazy: start-up

    root, _ = _base(uri)
    with make_sync_client(network, base_url=root, auth=_login(uri, settings)) as client:
        yield client


def _check(uri: str, network: NetworkSettings, settings: Settings | None) -> int | None:
    """PROPFIND depth 0 on the input: its size if it is a file, None for a folder."""
    with _client(uri, network, settings) as client:
        info = _call(uri, lambda dav: _stat(dav, _base(uri)[1]), client)
    return None if info.get("type") == "directory" else info.get("content_length")


def _call(uri: str, work: Any, client: httpx.Client) -> Any:
    """``work(webdav4 client)`` with its failures as ferryman's codes."""
    import httpx  # lazy: start-up
    from webdav4.client import Client, HTTPError, ResourceNotFound  # lazy: start-up

    root, path = _base(uri)
    shown = WebdavSource().describe(uri)
    dav = Client(root, http_client=client, retry=False)
    try:
        return work(dav)
    except ResourceNotFound as exc:
        raise FerrymanError("source.not_found", f"{shown}: no such file or folder") from exc
    except HTTPError as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise _refused(uri, str(status)) from exc
        if status in (405, 501, 400):
            raise FerrymanError(
                "webdav.protocol", f"{shown}: the server does not speak WebDAV ({status})"
            ) from exc
        if status == 404:
            raise FerrymanError("source.not_found", f"{shown}: no such file or folder") from exc
        from ferryman.net.http import status_error  # lazy: start-up

        raise status_error(exc.response) from exc
    except httpx.HTTPError as exc:
        from ferryman.net.http import transport_error  # lazy: start-up

        raise transport_error(exc, f"{root}{path.lstrip('/')}") from exc
    except (ValueError, KeyError) as exc:  # an answer that is no multistatus XML
        raise FerrymanError(
            "webdav.protocol", f"{shown}: the server's answer is not WebDAV: {exc}"
        ) from exc
    except Exception as exc:  # webdav4's parse errors have no common base
        if type(exc).__module__.startswith(("webdav4", "xml")):
            raise FerrymanError(
                "webdav.protocol", f"{shown}: the server's answer is not WebDAV: {exc}"
            ) from exc
        raise


def _listing(client: httpx.Client, uri: str, options: ReadOptions) -> list[_Remote]:
    """The walk, from the memo when an earlier run made it (stable indexes)."""
    memo = options.memo
    kept = memo.get(_MEMO_KEY) if memo is not None else None
    if kept is not None:
        return [_Remote.from_json(row) for row in json.loads(kept)]
    _, root_path = _base(uri)
    found = _call(uri, lambda dav: _walk(dav, root_path), client)
    if memo is not None:
        memo.put(_MEMO_KEY, json.dumps([r.to_json() for r in found]))
    return list(found)


def _walk(dav: Any, root_path: str) -> list[_Remote]:
    from ferryman.sources.local import natural_key  # lazy: start-up

    top = _stat(dav, root_path)
    if top.get("type") != "directory":  # a single file: the input is that file
        return [_remote(top, PurePosixPath(root_path).name)]
    found: list[_Remote] = []
    pending = [(root_path.rstrip("/"), "")]
    while pending:
        folder, prefix = pending.pop()
        children = dav.ls(_quoted(folder or "/"), detail=True)
        children.sort(key=lambda c: natural_key(_leaf(c)))
        subfolders = []
        for child in children:
            leaf = _leaf(child)
            if child.get("type") == "directory":
                subfolders.append((f"{folder}/{leaf}", f"{prefix}{leaf}/"))
            else:
                found.append(_remote(child, f"{prefix}{leaf}"))
        # Depth first, in name order: a folder's files, then its folders one by one.
        pending.extend(reversed(subfolders))
    return found


def _stat(dav: Any, path: str) -> dict[str, Any]:
    """The path's own properties: PROPFIND depth 0 (webdav4's ``info`` asks depth 1,
    which lists a whole folder to say it is one)."""
    answer = dav.propfind(_quoted(path), headers={"Depth": "0"})
    if len(answer.responses) != 1:
        raise ValueError(f"{len(answer.responses)} answers to a depth 0 PROPFIND")
    (response,) = answer.responses.values()
    return {"href": response.href, **response.properties.as_dict()}


def _quoted(path: str) -> str:
    """A path as webdav4 must be given it: percent-encoded. It puts the path into the
    URL as is, so a name with ``#``, ``?`` or ``%`` would otherwise cut the URL short or
    be refused (httpx.InvalidURL); the names it gives back are decoded."""
    return urllib.parse.quote(path, safe="/")


def _leaf(child: dict[str, Any]) -> str:
    return PurePosixPath(str(child.get("name") or "").rstrip("/")).name


def _remote(info: dict[str, Any], path: str) -> _Remote:
    from email.utils import format_datetime  # lazy: start-up

    from ferryman.net.rangefile import strong_validator  # lazy: start-up

    etag = info.get("etag")
    modified = info.get("modified")
    validator = strong_validator(
        str(etag) if etag else None,
        format_datetime(modified, usegmt=True) if modified is not None else None,
    )
    return _Remote(
        path=path,
        href=str(info.get("href") or info.get("name")),
        size=int(info.get("content_length") or 0),
        mtime=modified.timestamp() if modified is not None else 0.0,
        validator=validator,
        skip=_not_media(path, info.get("content_type")),
    )


def _not_media(path: str, content_type: str | None) -> str | None:
    """Why a file is not read, or None: media or an archive by its type or its name."""
    if named_archive(path):
        return None
    from ferryman.net.kinds import LinkKind, kind_of  # lazy: start-up

    if kind_of(content_type) in (LinkKind.ARCHIVE,) or (content_type or "").startswith(
        _MEDIA_FAMILIES
    ):
        return None
    guessed, _ = mimetypes.guess_type(path)
    if guessed and guessed.startswith(_MEDIA_FAMILIES):
        return None
    mime = (content_type or "unknown type").split(";")[0]
    return f"not media or an archive ({mime})"


def _listed(client: httpx.Client, uri: str, remote: _Remote, options: ReadOptions) -> ListedFile:
    from ferryman.sources.listing import ListedFile  # lazy: start-up

    zipped = remote.path.lower().endswith(".zip") and remote.size > 0
    return ListedFile(
        remote.path,
        remote.size,
        remote.mtime,
        lambda: _read(client, uri, remote, _retry(options.settings)),
        remote.skip,
        in_place=(lambda: _zip_in_place(client, remote, options)) if zipped else None,
    )


def _url(client: httpx.Client, remote: _Remote) -> str:
    return str(client.base_url.join(remote.href))  # an href is already percent-encoded


@contextmanager
def _zip_in_place(
    client: httpx.Client, remote: _Remote, options: ReadOptions
) -> Iterator[ArchiveReader | None]:
    """A zip of the folder read by Range where it lies, or None (WinZip AES, a method
    the in-place backend lacks, not a zip after all): then it is copied and opened."""
    from ferryman.archive.zipfile_backend import reader_in_place  # lazy: start-up
    from ferryman.net.rangefile import open_range_file  # lazy: start-up

    url = _url(client, remote)
    retry = _retry(options.settings)
    with open_range_file(client, url, remote.size, remote.validator, retry) as remote_file:
        yield reader_in_place(remote_file, PurePosixPath(remote.path).name, options.archive)


def _read(client: httpx.Client, uri: str, remote: _Remote, retry: Retry) -> Iterator[bytes]:
    """The file's bytes by Range, ``_BLOCK`` at a time (``net.rangefile.remote_blocks``:
    cut reads resume; a file changed since the listing is read as it is now, one gone
    since fails alone); a refused login names the setting, as the walk does."""
    from ferryman.net.rangefile import remote_blocks  # lazy: start-up

    try:
        yield from remote_blocks(
            client, _url(client, remote), remote.size, remote.validator, retry, block=_BLOCK
        )
    except FerrymanError as exc:
        if exc.code != "source.auth":
            raise
        raise _refused(uri, exc.message) from exc


def _refused(uri: str, why: str) -> FerrymanError:
    host = urllib.parse.urlsplit(uri).hostname
    return FerrymanError(
        "source.auth",
        f"{WebdavSource().describe(uri)}: the server refused the login ({why}); set it in"
        f' [webdav.hosts."{host}"] or in the link',
    )


def _retry(settings: Settings | None) -> Retry:
    """The engine's retry settings when it gave them, else the defaults."""
    return settings.retry if settings is not None else Retry.model_validate({})


def walk(uri: str, network: NetworkSettings, settings: Settings | None) -> list[_Remote]:
    """The folder's files as the source would read them now (a watch lists a folder
    with it: ``sources/listers/dav``). Blocking."""
    with _client(uri, network, settings) as client:
        _, root_path = _base(uri)
        found: list[_Remote] = _call(uri, lambda dav: _walk(dav, root_path), client)
        return found
