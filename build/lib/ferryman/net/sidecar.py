"""The record beside a ``.part`` file: which bytes it holds, so a restart can resume.

It is written (and fsynced) before the first body byte, so a process killed at any
byte finds a record that describes its ``.part``: the URL, the validators the
server gave (ETag, Last-Modified) and the size. The ``.part``'s length is the
resume offset. Blocking file work; callers run it on a worker thread.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ferryman.fsutil import fsync_dir

PART_SUFFIX = ".part"
SIDECAR_SUFFIX = ".part.json"


@dataclass(frozen=True, slots=True)
class PartRecord:
    """What a ``.part`` file is a prefix of."""

    name: str  # the final file's name (sanitised); the part is ``name + ".part"``
    url: str  # the link last requested (a refreshed link replaces an expired one)
    final_url: str  # after redirects
    etag: str | None
    last_modified: str | None
    size: int | None  # None: the server sent no length (chunked)
    content_type: str | None
    complete: bool = False  # the part was renamed to ``name``

    @property
    def strong_etag(self) -> str | None:
        """Only a strong ETag may go in ``If-Range`` (RFC 9110 13.1.5)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return None

    def if_range(self) -> str | None:
        """The validator to resume against: the strong ETag, else Last-Modified."""
        return self.strong_etag or self.last_modified

    def same_content(self, etag: str | None, last_modified: str | None) -> bool:
        """Whether a response's validators describe the bytes this record describes.

        Only validators both sides have are compared; with none in common there is
        nothing to say the content changed.
        """
        if self.etag and etag:
            return _opaque(self.etag) == _opaque(etag)
        if self.last_modified and last_modified:
            return self.last_modified == last_modified
        return True

    def with_url(self, url: str) -> PartRecord:
        return replace(self, url=url)


def _opaque(etag: str) -> str:
    return etag.removeprefix("W/")


def part_path(folder: Path, name: str) -> Path:
    return folder / (name + PART_SUFFIX)


def sidecar_path(folder: Path, name: str) -> Path:
    return folder / (name + SIDECAR_SUFFIX)


def write_record(folder: Path, record: PartRecord) -> None:
    """Replace the sidecar atomically and durably (temp file, fsync, rename, fsync dir)."""
    target = sidecar_path(folder, record.name)
    temp = target.with_name(target.name + ".tmp")
    data = json.dumps(asdict(record), ensure_ascii=False, indent=1).encode("utf-8")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, target)
    fsync_dir(folder)


def read_record(folder: Path) -> PartRecord | None:
    """The folder's sidecar (one download per folder), or None; an unreadable one is dropped.

    When several are found (a crash while the name changed), the newest wins and the
    others go with their parts.
    """
    found = sorted(folder.glob("*" + SIDECAR_SUFFIX), key=lambda p: p.stat().st_mtime)
    record: PartRecord | None = None
    for path in reversed(found):
        if record is None:
            record = _load(path)
            if record is not None:
                continue
        _discard(path)
    return record


def _load(path: Path) -> PartRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = PartRecord(**data)
    except (OSError, ValueError, TypeError):
        return None
    if path.name != record.name + SIDECAR_SUFFIX:
        return None  # a renamed or hand-made file: not ours to trust
    return record


def _discard(sidecar: Path) -> None:
    name = sidecar.name.removesuffix(SIDECAR_SUFFIX)
    for path in (sidecar, sidecar.with_name(name + PART_SUFFIX)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_part(folder: Path, name: str) -> None:
    """Drop a part and its sidecar (the part first: a record never outlives its meaning)."""
    with contextlib.suppress(FileNotFoundError):
        part_path(folder, name).unlink()
    with contextlib.suppress(FileNotFoundError):
        sidecar_path(folder, name).unlink()
    fsync_dir(folder)
