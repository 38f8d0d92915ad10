"""A WebDAV folder: its files, new or changed. A file's stable id is its href with its
ETag (else its size and modification time), so a file replaced by a new version is a
new entry. The folder is walked with the WebDAV source's own walk (``sources.webdav``:
its logins, codes and client); files that are neither media nor archives are left out."""

from __future__ import annotations

import urllib.parse

from ferryman.config import Settings
from ferryman.net.own_thread import on_own_thread
from ferryman.sources.listers.base import WatchEntry
from ferryman.sources.webdav import WebdavSource, walk
from ferryman.urls import scheme_of


class DavLister:
    kind = "dav"
    description = "a WebDAV folder (dav:// or davs://): new or changed files"
    changes_in_place = True
    read_oldest_first = False

    def accepts(self, source: str) -> bool:
        return scheme_of(source) in ("dav", "davs")

    def describe(self, source: str) -> str:
        return WebdavSource().describe(source)

    async def entries(self, source: str, settings: Settings) -> list[WatchEntry]:
        return await on_own_thread(list_folder, source, settings)

    async def matches(self, source: str, settings: Settings) -> bool:
        return True


def list_folder(source: str, settings: Settings) -> list[WatchEntry]:
    """The folder's files, newest first (blocking: a thread's work)."""

    parts = urllib.parse.urlsplit(source)
    found = []
    for remote in walk(source, settings.network, settings):
        if remote.skip is not None:
            continue
        href = urllib.parse.quote(urllib.parse.unquote(remote.href), safe="/")
        path = href if href.startswith("/") else f"/{href}"
        link = urllib.parse.urlunsplit(parts._replace(path=path, query="", fragment=""))
        version = remote.validator or f"{remote.size}:{remote.mtime:.0f}"
        found.append(
            WatchEntry(
                id=f"{WebdavSource().describe(link)}#{version}",
                input=link,
                title=remote.path,
                published=remote.mtime or None,
            )
        )
    found.sort(key=lambda e: -(e.published or 0.0))
    return found
