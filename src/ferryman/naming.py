"""What people see things called: a job, a delivered file, a member of a job's zip.

One module, so the library's folders and files, the link sink's files and job zip and
Telegram's file names and captions (the caption is the job's name) all agree. The rules:
a title once; a qualifier only where two results would clash (the same video as MP4
and as a 720p mute MP4: ``Sunset over the bay`` and ``Sunset over the bay (720p,
mute)``); a count, ``(2)``, only when two different inputs share a name, and only one
count (``X (2)`` taken → ``X (3)``, never ``X (2) (2)``).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Container, Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ferryman.fsutil import safe_name
from ferryman.model import MediaKind, Plan

if TYPE_CHECKING:
    from ferryman.model import Item

_COUNTED = re.compile(r"^(?P<base>.*\S) \((?P<n>\d+)\)$")
# What a stream's manifest, or the folder holding it, is called by the server that
# makes it: words that say nothing of what is in it.
_STREAM_WORDS = frozenset(
    {
        "stream",
        "master",
        "index",
        "playlist",
        "manifest",
        "chunklist",
        "prog_index",
        "main",
        "media",
        "video",
        "hls",
        "dash",
        "live",
        "output",
        "out",
        "vod",
    }
)


def unique_name(name: str, used: set[str], also: Container[str] = ()) -> str:
    """``name``, or ``name (2).ext``… when a name equal but for case is in ``used``
    (which it joins) or in ``also`` (lower-cased names taken already, not joined): one
    folder or one zip never holds two files a phone would mix up.
    ``name`` may be a path in a zip (``Holiday 2024/a.jpg``): its folders stay."""
    candidate, n = name, 2
    while (lowered := candidate.lower()) in used or lowered in also:
        path = PurePosixPath(name)  # only on a clash: most names are free
        folder = "" if str(path.parent) == "." else f"{path.parent}/"
        candidate = f"{folder}{path.stem} ({n}){path.suffix}"
        n += 1
    used.add(candidate.lower())
    return candidate


def unique_pair(first: str, second: str, used: set[str]) -> tuple[str, str]:
    """Names for two files that share a stem (a Live Photo's ``IMG_1.HEIC`` and
    ``IMG_1.MOV``): both as given when both are free, else one count for both
    (``IMG_1 (2).HEIC``, ``IMG_1 (2).MOV``), so they keep one name; joined to ``used``."""
    stem, one = _split(first)
    two = _split(second)[1]
    candidate, n = stem, 2
    while f"{candidate}{one}".lower() in used or f"{candidate}{two}".lower() in used:
        candidate = f"{stem} ({n})"
        n += 1
    names = f"{candidate}{one}", f"{candidate}{two}"
    used.update(name.lower() for name in names)
    return names


def free_job_name(
    base: str, taken: Iterable[str], variant: str = "", *, siblings: Iterable[str] = ()
) -> str:
    """A job name no name in ``taken`` (the destination's other jobs) equals, case
    aside: ``base``; else ``base (variant)`` when another output of the same input holds
    ``base`` (one of ``siblings``) and this one says how it differs ("720p, mute");
    else one count, ``base (2)``, ``base (3)``… counted on from a count ``base``
    already ends with (never ``X (2) (2)``)."""
    used = {name.casefold() for name in taken}
    if base.casefold() not in used:
        return base
    folded = {name.casefold() for name in siblings}
    if variant and base.casefold() in folded and f"{base} ({variant})".casefold() not in used:
        return f"{base} ({variant})"
    counted = _COUNTED.match(base)
    root, n = (counted["base"], int(counted["n"]) + 1) if counted else (base, 2)
    while f"{root} ({n})".casefold() in used:
        n += 1
    return f"{root} ({n})"


def uncounted(name: str) -> str:
    """``name`` without the count ``free_job_name`` gave it (``Takeout (2)`` →
    ``Takeout``); a name with none as it is."""
    counted = _COUNTED.match(name)
    return counted["base"] if counted else name


def link_title(title: str, ident: str, url: str, *, alone: bool) -> str:
    """A video's title as a person would name it.

    yt-dlp's generic extractor numbers the videos it finds on a page, even one alone
    ("Sunset over the bay (1)", id "page-1"): the number goes when one video is all that
    is delivered. A stream's manifest has no title, so the extractor names it after
    its file ("stream", "master"): then the nearest folder of its address that says
    more, else the site's host."""
    title = title.strip()
    counted = _COUNTED.match(title)
    if alone and counted and ident.endswith(f"-{counted['n']}"):
        title = counted["base"]
    parsed = urllib.parse.urlsplit(url)
    path = PurePosixPath(urllib.parse.unquote(parsed.path))
    if title and title.casefold() not in (path.stem.casefold(), path.name.casefold()):
        return title
    if title and title.casefold() not in _STREAM_WORDS:
        return title
    for folder in reversed(path.parent.parts[1:]):
        if folder.casefold() not in _STREAM_WORDS and not folder.isdigit():
            return folder
    return parsed.hostname or title or "media"


def top_folder(paths: Iterable[str]) -> str | None:
    """The one folder every path lies under (an archive's ``Holiday 2024/``), or None
    when a path lies at the top or two top folders differ."""
    found: str | None = None
    for path in paths:
        first, sep, _ = path.strip("/").partition("/")
        if not sep or (found is not None and first != found):
            return None
        found = first
    return found


def zip_member(source_path: str, name: str) -> str:
    """Where a delivered file goes in its job's zip: under the folders it had in its
    input (an archive's ``Holiday 2024/``), by its delivered name."""
    folder = PurePosixPath(source_path.replace("\\", "/")).parent
    parts = [safe_name(part, "") for part in folder.parts if part not in ("/", ".", "..")]
    return "/".join([*[p for p in parts if p], name])


# What a file with no suffix is called by what its bytes are (the probe's container),
# so a gallery or a player opens it: a photo from a link that named it `IMG_0042`.
_SUFFIX_OF_CONTAINER = {
    "jpeg": ".jpg",
    "mpo": ".jpg",
    "png": ".png",
    "webp": ".webp",
    "gif": ".gif",
    "heif": ".heic",
    "avif": ".avif",
    "tiff": ".tif",
    "bmp": ".bmp",
    "mov": ".mp4",  # ffmpeg's "mov,mp4,m4a,3gp,3g2,mj2"
    "matroska": ".mkv",
    "avi": ".avi",
    "mpegts": ".ts",
    "mp3": ".mp3",
    "ogg": ".ogg",
    "wav": ".wav",
    "flac": ".flac",
}


# The suffixes each picture format is known by: a name with one of its own keeps it
# (``.jpeg`` stays), one with another's gets the format's (a PNG named ``x.jpg``). A
# camera's own names for a JPEG are its own too: an MPO, a stereo JPS, an Insta360 INSP
# (its app knows the file by it; ``IMG_1.insp.jpg`` is lost to it).
_PICTURE_SUFFIXES = {
    "jpeg": frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".jps", ".insp"}),
    "mpo": frozenset({".jpg", ".jpeg", ".jpe", ".mpo", ".jps", ".insp"}),
    "png": frozenset({".png"}),
    "webp": frozenset({".webp"}),
    "gif": frozenset({".gif"}),
    "heif": frozenset({".heic", ".heif", ".hif", ".avif"}),  # pillow-heif reads AVIF too
    "avif": frozenset({".avif"}),
    "tiff": frozenset({".tif", ".tiff"}),
    "bmp": frozenset({".bmp", ".dib"}),
}
# What a suffix to replace looks like; any other stays part of the stem.
_MEDIA_SUFFIXES = frozenset({".heics", ".jxl", *_SUFFIX_OF_CONTAINER.values()}).union(
    *_PICTURE_SUFFIXES.values()
)


def delivered_name(item: Item, part: int | None) -> str:
    """The source's name; a converted file gets its new suffix, a split part its number,
    a name without a suffix the one its bytes call for, and so does a picture whose
    suffix names another format than its bytes (a gallery or phone trusts the suffix).
    A scan's pages, each a photo, are ``scan (page 2).jpg``."""
    base = safe_name(_name(item.source_path), f"item-{item.seq}")
    stem, suffix = _split(base)  # a safe name: no "/", never "." or ""
    if item.work_path and (new := _split(_name(item.work_path))[1]).lower() != suffix.lower():
        base = f"{stem}{new}"  # converted: new container
        stem, suffix = _split(base)
    container = (item.media.container or "") if item.media is not None else ""
    container = container.split(",")[0].lower()
    if not suffix:
        base += _SUFFIX_OF_CONTAINER.get(container, "")
    elif (own := _PICTURE_SUFFIXES.get(container)) and suffix.lower() not in own:
        base = _with_suffix(base, _SUFFIX_OF_CONTAINER[container])
    pages = item.kind is MediaKind.PHOTO and item.plan is not Plan.DOCUMENT  # not pieces
    if part is not None and pages and 0 < part <= len(item.parts):
        stem, suffix = _split(base)
        base = f"{stem} (page {part}){_split(_name(item.parts[part - 1]))[1]}"
    elif part is not None:
        stem, suffix = _split(base)
        base = f"{stem}.part{part}{suffix}"
    return base


def _name(path: str) -> str:
    """``Path(path).name`` without building a ``Path`` (several per delivered file)."""
    tail = path.rpartition("/")[2]
    return tail if tail not in ("", ".") else Path(path).name


def _split(name: str) -> tuple[str, str]:
    """``Path(name).stem`` and ``.suffix`` of a name holding no ``/``, as pathlib splits
    them (a leading or a trailing dot is no suffix)."""
    dot = name.rfind(".")
    if 0 < dot < len(name) - 1:
        return name[:dot], name[dot:]
    return name, ""


def _with_suffix(name: str, suffix: str) -> str:
    """``name`` with a picture's suffix in place of another media suffix (``x.jpg`` →
    ``x.png``), after any other (``scan.2024`` → ``scan.2024.png``): the stem is kept."""
    path = Path(name)
    if path.suffix.lower() in _MEDIA_SUFFIXES:
        return f"{path.stem}{suffix}"
    return f"{name}{suffix}"
