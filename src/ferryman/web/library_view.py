"""Where a Library job's files went, for the page: the library's root, the folder under
it that holds the job's files, and the files with their kinds, read from what the
library sink wrote (an album folder's ``manifest.json`` in the ``albums`` layout, the
committed ``.ferryman/<job>/NNNN.json`` of a template layout); and a small WebP preview
of a delivered photo or video, made on first ask into ``<data_dir>/cache/
library-previews/`` and served only for a file of that job inside that root.

Blocking (disk, decoding): call from a thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.media.box.pool import IN_PROCESS, Decoder
from ferryman.model import MediaKind
from ferryman.sinks.album_links import item_files
from ferryman.sinks.flat import HIDDEN
from ferryman.sinks.library import MANIFEST
from ferryman.sinks.link import boxed_preview
from ferryman.web.result_files import album_facts

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.model import Job

PREVIEWED = frozenset({"photo", "video"})


@dataclass(frozen=True, slots=True)
class LibraryFile:
    path: str  # under the library's root, POSIX: "clip/clip.mp3"
    name: str
    kind: str  # photo, video, audio or other


def library_root(settings: Settings, dest: str) -> Path | None:
    """The root a ``library:`` destination delivers under; None for another kind."""
    kind, _, target = dest.partition(":")
    if kind != "library":
        return None
    return Path(target) if target else settings.library


def delivered(root: Path, job: Job) -> list[LibraryFile]:
    """The job's delivered files, in album order (what a manifest names and is there)."""
    name = safe_name(job.name, "job")
    found: list[LibraryFile] = []
    flat = root / HIDDEN / name
    if flat.is_dir():
        for manifest in sorted(flat.glob("[0-9][0-9][0-9][0-9].json")):
            found += _placed(root, manifest, job.id)
    albums = root / name
    if not found and albums.is_dir():
        for album in sorted(albums.iterdir()):
            if album.is_dir() and album.name.isdigit():
                found += _in_album(root, album, job.id)
    return [f for f in found if _inside(root, f.path) is not None]


def _read(manifest: Path, job_id: int) -> tuple[dict[str, Any], list[str], dict[str, Any]] | None:
    try:
        data = manifest.read_bytes()
        document = json.loads(data)
        read = album_facts(data)
    except (OSError, ValueError):
        return None
    if read is None or not isinstance(document, dict) or document.get("job") != job_id:
        return None  # another job's of the same name, long removed: not this one's
    return document, read[0], dict(read[1])


def _placed(root: Path, manifest: Path, job_id: int) -> list[LibraryFile]:
    read = _read(manifest, job_id)
    if read is None:
        return []
    document, names, facts = read
    placed = item_files(document.get("placed") or [])  # not an XMP, not an album's link
    if len(placed) != len(names):
        return []
    out = []
    for name, entry in zip(names, placed, strict=True):
        rel = str(entry.get("path") or "") if isinstance(entry, dict) else ""
        kind = facts[name].kind if name in facts else "other"
        out.append(LibraryFile(rel, PurePosixPath(rel).name, kind))
    return out


def _in_album(root: Path, album: Path, job_id: int) -> list[LibraryFile]:
    read = _read(album / MANIFEST, job_id)
    if read is None:
        return []
    _, names, facts = read
    rel = album.relative_to(root).as_posix()
    return [LibraryFile(f"{rel}/{n}", n, facts[n].kind if n in facts else "other") for n in names]


def folder_of(files: list[LibraryFile]) -> str:
    """The folder under the root that holds all the files ("." for the root itself)."""
    parents = [str(PurePosixPath(f.path).parent) for f in files]
    if not parents:
        return ""
    return os.path.commonpath(parents) if len(parents) > 1 else parents[0]


def _inside(root: Path, rel: str) -> Path | None:
    """``root/rel`` as a regular file whose real path is inside the real root (no
    ``..``, no absolute path, no link out of the library); None otherwise."""
    parts = PurePosixPath(rel).parts
    if not rel or PurePosixPath(rel).is_absolute() or ".." in parts:
        return None
    real_root = os.path.realpath(root)
    real = os.path.realpath(root / rel)
    if os.path.commonpath([real_root, real]) != real_root or not os.path.isfile(real):
        return None
    return Path(real)


def preview(settings: Settings, job: Job, rel: str, decoder: Decoder = IN_PROCESS) -> Path:
    """The WebP preview of the job's delivered file ``rel`` (made once, then kept),
    decoded by ``decoder`` (the server's confined workers); ``link.gone`` when it is no
    file of the job's in its library, or has no picture (or its decode met a limit)."""

    root = library_root(settings, job.dest)
    chosen = None
    if root is not None:
        chosen = next((f for f in delivered(root, job) if f.path == rel), None)
    source = _inside(root, rel) if root is not None and chosen is not None else None
    if chosen is None or source is None or chosen.kind not in PREVIEWED:
        raise FerrymanError("link.gone", "no such picture in the job's library folder")
    digest = hashlib.sha256(f"{rel}|{source.stat().st_mtime_ns}".encode()).hexdigest()[:32]
    kept = _previews(settings) / str(job.id) / f"{digest}.webp"
    if kept.is_file():
        return kept
    made = boxed_preview(decoder, source, MediaKind(chosen.kind))
    if made is None:
        raise FerrymanError("link.gone", f"{chosen.name} has no picture to show")
    kept.parent.mkdir(parents=True, exist_ok=True)
    part = kept.with_suffix(f".{os.getpid()}.part")
    part.write_bytes(made)
    os.replace(part, kept)
    return kept


def forget(settings: Settings, job_id: int) -> None:
    """The job's previews, gone with the job (the library's files stay: they are the
    person's)."""

    shutil.rmtree(_previews(settings) / str(job_id), ignore_errors=True)


def _previews(settings: Settings) -> Path:
    return settings.data_dir / "cache" / "library-previews"
