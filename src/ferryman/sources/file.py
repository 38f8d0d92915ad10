"""The ``file:`` source: local files, folders and archives, read in place.

A job's source is ``file:///abs/path`` (percent-encoded, as ``Path.as_uri`` writes it);
what a person types is a path. What a local path is (type, size, magic bytes; its job's
name) is ``sources.local_path``'s, shared with ``local`` and ``sound``; reading it is
``sources.local``'s, which loads the archive backends only when needed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError
from ferryman.sources.base import Access, Inspection, ReadOptions, SourceEntry
from ferryman.sources.local_path import below_of, file_path, inspect_uri, query_of, shown_path

if TYPE_CHECKING:
    from ferryman.links.profile import Profile

_OTHER_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


class FileSource:
    """Local files, folders and archives, read in place: ``file:///abs/path``."""

    schemes: tuple[str, ...] = ("file",)

    description = "a path: a file, a folder or an archive on this machine"
    shown_as = "local files, folders and archives"
    access = Access.IN_PLACE

    def recognise(self, raw: str) -> str | None:
        if "\x00" in raw:  # no file is named so; stat() would raise ValueError
            raise FerrymanError("source.invalid", f"{raw!r}: a path holds no NUL character")
        if raw.lower().startswith("file:"):
            return self.path(raw).as_uri() + query_of(raw)  # a watched file's folder kept
        if _OTHER_SCHEME.match(raw):
            return None  # a URI of another scheme (write ./a:b for a file named so)
        return Path(os.path.abspath(raw)).as_uri()  # no filesystem access

    def path(self, uri: str) -> Path:
        return file_path(uri)

    def describe(self, uri: str) -> str:
        return shown_path(uri)

    def with_profile(self, uri: str, profile: Profile | None, fresh: bool) -> str | None:
        """A file asked as audio becomes its sound (``sources.sound``); any other
        output (a quality, mute, a playlist) is a link's: None."""
        if profile is None or not profile.output.is_audio or profile.playlist:
            return None
        from ferryman.sources.sound import check_sound, sound_uri  # lazy: start-up

        path = self.path(uri)
        check_sound(path)
        return sound_uri(path.as_uri(), profile)

    def local_path(self, uri: str) -> Path | None:
        return self.path(uri)

    def inspect(self, uri: str) -> Inspection:
        return inspect_uri(uri)

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        from ferryman.sources.local import iter_local  # lazy: start-up

        with iter_local(self.path(uri), options, below=below_of(uri)) as entries:
            yield entries
