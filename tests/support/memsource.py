"""An in-memory source (``mem:NAME``): the proof that a source is one module.

It touches nothing of ferryman but the source seam: a test registers it with
``default_sources().with_source(MemSource(...))`` and hands the registry to the
engine and to intake.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ferryman.archive.reader import EntryInfo, EntryType
from ferryman.errors import FerrymanError
from ferryman.sources.base import Access, Inspection, ReadOptions, SourceEntry


class MemSource:
    """Inputs held in memory: ``mem:NAME`` names a mapping of relative path → bytes."""

    schemes: tuple[str, ...] = ("mem",)

    description = "mem:NAME (in memory)"
    access = Access.IN_PLACE
    shown_as: str | None = None  # its scheme says it

    def __init__(self, inputs: Mapping[str, Mapping[str, bytes]]) -> None:
        self.inputs = inputs
        self.opened = 0  # how often an input was opened (a restart opens it again)

    def recognise(self, raw: str) -> str | None:
        return raw if raw.startswith("mem:") else None

    def describe(self, uri: str) -> str:
        return uri

    def local_path(self, uri: str) -> Path | None:
        return None

    def _files(self, uri: str) -> Mapping[str, bytes]:
        name = uri.removeprefix("mem:")
        if name not in self.inputs:
            raise FerrymanError("source.not_found", f"{uri}: no such input in memory")
        return self.inputs[name]

    def inspect(self, uri: str) -> Inspection:
        files = self._files(uri)
        digest = hashlib.sha256()
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
        size = sum(len(data) for data in files.values())
        return Inspection(uri.removeprefix("mem:"), f"{uri}|{digest.hexdigest()}", size)

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        files = self._files(uri)
        self.opened += 1
        now = time.time()
        # The listing is remembered, as a network walk's would be: a later run reads the
        # same entries under the same indexes, whatever was added meanwhile.
        remembered = options.memo.get("listing") if options.memo is not None else None
        listing = json.loads(remembered) if remembered is not None else sorted(files)
        if remembered is None and options.memo is not None:
            options.memo.put("listing", json.dumps(listing))

        def entries() -> Iterator[SourceEntry]:
            for index, path in enumerate(listing):
                data = files[path]
                info = EntryInfo(index, path, len(data), now, EntryType.FILE)
                yield SourceEntry(info, lambda data=data: iter([data]))  # type: ignore[misc]

        yield entries()
