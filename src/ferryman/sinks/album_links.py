"""A Google Takeout photo's albums, kept in a laid-out library as folders of relative
symbolic links to its one stored copy (``sinks/flat``): a photo in ``Photos from 2019``
and in the album ``Paris trip`` is stored once, and ``Paris trip/IMG_0001.jpg`` points
at ``../Photos from 2019/IMG_0001.jpg`` (its XMP sidecar too).

An album's folder is where the layout puts the album's copy in the export: the year
folder's place with the album's name (Takeout puts albums beside its year folders), or
``{photo_album}`` given the album's name. A link is a manifest entry with ``link`` (its
target, relative to its folder) and no ``stage``: made after the files are placed,
never over a file (one there is left, and the link not made), and left out where the
filesystem refuses links (exFAT, some shares): the photo is in its own folder still.
"""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ferryman.sinks.layout import input_folders, render
from ferryman.sinks.xmp import SUFFIX as XMP

# A filesystem without symbolic links says so in one of these (exFAT, FAT, SMB shares).
REFUSED = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EACCES})


def album_paths(
    albums: Sequence[str],
    values: dict[str, str],
    source_path: str,
    chosen: str,
    layout: tuple[str, datetime],
    used: set[str],
) -> list[str]:
    """Where each album of ``albums`` shows the photo stored at ``chosen``: the layout
    (its template and the photo's date) rendered with the album's folder as ``{path}``
    and its name as ``{photo_album}``; those that differ from ``chosen`` and no file of
    the album took (``used``: lowered paths, these added), once each."""
    template, when = layout
    folders = source_path.replace("\\", "/").split("/")[:-1]
    found: dict[str, None] = {}
    for album in albums:
        album_copy = "/".join([*folders[:-1], album, "x"])  # beside the year folder
        own = dict(values, path=input_folders(album_copy, values["source"]), photo_album=album)
        rel = str(render(template, own, when))
        if rel.lower() != chosen.lower() and rel.lower() not in used:
            used.add(rel.lower())
            found.setdefault(rel, None)
    return list(found)


def pointed_at(entry: dict[str, Any], rel: str) -> str:
    """What the link ``entry`` at ``rel`` points at, from the library's top (the caller
    refuses it when it leaves the library)."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(rel), str(entry["link"])))


def link_entries(
    chosen: str, paths: list[str], xmp: Callable[[str], str] | None
) -> list[dict[str, Any]]:
    """The manifest entries of links at ``paths`` to ``chosen`` (and of their XMP
    sidecars' links, ``xmp``: a name's sidecar name, when the photo has one)."""
    entries: list[dict[str, Any]] = []
    for path in paths:
        pairs = [(path, chosen)] + ([(xmp(path), xmp(chosen))] if xmp is not None else [])
        for where, to in pairs:
            target = posixpath.relpath(to, posixpath.dirname(where) or ".")
            entries.append({"link": target, "path": where})
    return entries


def item_files(placed: Sequence[Any]) -> list[Any]:
    """A manifest's ``placed`` entries that are its items' files, in their order: not
    an XMP sidecar (``sinks/xmp``), not an album's link."""
    return [
        e for e in placed
        if isinstance(e, dict) and "stage" in e and not str(e["stage"]).endswith(XMP)
    ]  # fmt: skip


def make_link(entry: dict[str, Any], path: str) -> bool:
    """The link ``entry`` names made at ``path`` (its place in the library): False when
    a file is there already (left as it is: never over a file) or the filesystem
    refuses links. The link's target must stay inside the folder it points from's
    tree as the manifest says (a relative path, checked by the caller's ``_inside``)."""
    target = str(entry["link"])
    if os.path.isabs(target):
        return False
    try:
        os.symlink(target, path)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno in REFUSED:
            return False
        raise
    return True
