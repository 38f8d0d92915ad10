"""A ready debrid item read file by file: its files kept in the job's source memo (a
restart reads the same files at the same indexes), each unlocked only when read (a file
not chosen is never unlocked), read by Range from its direct link, a zip among them in
place; a link that stops working mid-read (403, 404, 410) is unlocked again and the read
goes on at the same offset."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ferryman.config import Retry
from ferryman.errors import FerrymanError
from ferryman.sources.base import ReadOptions
from ferryman.sources.debrid.base import Debrid, DebridFile

if TYPE_CHECKING:
    import httpx

    from ferryman.archive.reader import ArchiveReader
    from ferryman.sources.listing import ListedFile

MEMO_KEY = "debrid.files"


def item_files(service: Debrid, item: str, options: ReadOptions) -> list[DebridFile]:
    """The item's files, sorted by path, as first read (the memo) or asked now."""
    memo = options.memo
    kept = memo.get(MEMO_KEY) if memo is not None else None
    if kept is not None:
        return [DebridFile(*row) for row in json.loads(kept)]
    found = service.status(item)
    if not found.ready or not found.files:
        raise FerrymanError(
            "debrid.not_found", f"{service.shown}: item {item} has no files ({found.state})"
        )
    from ferryman.sources.local import natural_key  # lazy: start-up

    files = sorted(found.files, key=lambda f: natural_key(f.path))
    if memo is not None:
        memo.put(MEMO_KEY, json.dumps([[f.id, f.path, f.size, f.mime] for f in files]))
    return files


class Link:
    """A file's direct link, unlocked when first needed and again when it expires."""

    def __init__(self, service: Debrid, item: str, file: DebridFile) -> None:
        self._service, self._item, self._file = service, item, file
        self._url: str | None = None
        self.unlocked = 0

    def current(self) -> str:
        if self._url is None:
            self._url = self._service.unlock(self._item, self._file)
            self.unlocked += 1
        return self._url

    def renew(self) -> str:
        self._url = None
        return self.current()


def listed(
    client: httpx.Client, service: Debrid, item: str, file: DebridFile, options: ReadOptions
) -> ListedFile:
    from ferryman.sources.listing import ListedFile  # lazy: start-up
    from ferryman.sources.torbox import not_media  # lazy: start-up

    link = Link(service, item, file)
    retry = _retry(options)
    zipped = file.path.lower().endswith(".zip") and file.size > 0
    return ListedFile(
        file.path,
        file.size,
        0.0,
        lambda: _read(client, link, file, retry),
        not_media(file.path, file.mime),
        in_place=(lambda: _zip_in_place(client, link, file, options)) if zipped else None,
    )


def _read(client: httpx.Client, link: Link, file: DebridFile, retry: Retry) -> Iterator[bytes]:
    """The file by Range, pinned by its size alone (download hosts differ in ETags)."""
    from ferryman.net.rangefile import remote_blocks  # lazy: start-up

    if file.size > 0:  # a generator: the file is unlocked only when bytes are wanted
        yield from remote_blocks(client, link.current(), file.size, None, retry, renew=link.renew)


@contextmanager
def _zip_in_place(
    client: httpx.Client, link: Link, file: DebridFile, options: ReadOptions
) -> Iterator[ArchiveReader | None]:
    from ferryman.archive.zipfile_backend import reader_in_place  # lazy: start-up
    from ferryman.net.rangefile import open_range_file  # lazy: start-up

    retry = _retry(options)
    with open_range_file(client, link.current(), file.size, None, retry, link.renew) as remote:
        yield reader_in_place(remote, PurePosixPath(file.path).name, options.archive)


def _retry(options: ReadOptions) -> Retry:
    return options.settings.retry if options.settings is not None else Retry.model_validate({})
