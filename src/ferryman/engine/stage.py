"""Staging: one entry's bytes become one file in the work area, hashed on the way.

Runs on the reader's own thread (blocking I/O). The first bytes decide the kind, so
an entry that would only be skipped is counted and hashed but never written.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ferryman.errors import FerrymanError
from ferryman.media.classify import classify
from ferryman.model import MediaKind

HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Staged:
    """What staging learned; ``path`` is None when the entry was not written."""

    path: Path | None
    size: int
    sha256: str
    kind: MediaKind


def stage_entry(
    blocks: Iterator[bytes],
    name: str,
    dest: Path,
    keep: Callable[[MediaKind], bool],
    *,
    unread_size: int | None = None,
    stop_unwanted: bool = False,
) -> Staged:
    """Write the entry to ``dest`` (via ``dest.part`` + fsync + rename) if ``keep(kind)``.

    An unwanted entry is read to its end (hashed, metered by the archive guard), unless
    ``stop_unwanted``: then reading stops after the head (its bytes would cross the
    network for nothing) and its size is ``unread_size`` (as declared), unhashed.
    """
    digest = hashlib.sha256()
    pending: list[bytes] = []
    head = b""
    for block in blocks:
        pending.append(block)
        head += block[: HEAD_BYTES - len(head)]
        if len(head) >= HEAD_BYTES:
            break
    kind = classify(head, name)
    size = 0
    if not keep(kind) and stop_unwanted:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()  # the backend stops reading now
        return Staged(None, unread_size if unread_size is not None else len(head), "", kind)
    if not keep(kind):
        for block in _chain(pending, blocks):
            digest.update(block)
            size += len(block)
        return Staged(None, size, digest.hexdigest(), kind)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with open(tmp, "wb") as out:
            for block in _chain(pending, blocks):
                digest.update(block)
                out.write(block)
                size += len(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise FerrymanError("space.low", f"the disk filled up writing {dest.name}") from exc
        raise FerrymanError("source.io", f"cannot write {dest}: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Staged(dest, size, digest.hexdigest(), kind)


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


def sha256_file(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()
