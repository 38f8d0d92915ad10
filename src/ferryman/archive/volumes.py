"""Multi-volume sets: which files belong together, which one opens the set, what is missing.

Recognised from names, since a volume's bytes do not say which set it belongs to:
``x.part1.rar`` .. ``x.partN.rar``; ``x.rar`` + ``x.r00`` ..; ``x.7z.001`` / ``x.zip.001``
(any ``name.NNN``); and spanned zips ``x.z01`` .. ``x.zip``. A gap in the numbering is
reported naming the first missing file; a missing *last* volume cannot be seen from
names, so the backend reports it when the data runs out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ferryman.errors import FerrymanError


@dataclass(frozen=True, slots=True)
class VolumeSet:
    """The volumes of one archive in reading order; ``first`` is what a backend opens."""

    first: Path
    parts: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class _Style:
    pattern: re.Pattern[str]  # groups: stem, num
    name: Callable[[str, int, int], str]  # (stem, number, digits) -> file name
    start: int  # the first volume's number
    anchor: Callable[[str], str] | None = None  # a volume outside the numbering (x.rar, x.zip)
    anchor_first: bool = True  # reading order: the anchor before (rar) or after (spanned zip)
    alone_is_set: bool = False  # "x.part1.rar" alone is a set of one; "x.7z.001" is a file


_STYLES: tuple[_Style, ...] = (
    _Style(
        re.compile(r"(?P<stem>.+)\.part(?P<num>\d+)\.rar", re.IGNORECASE),
        lambda stem, n, w: f"{stem}.part{n:0{w}d}.rar",
        1,
        alone_is_set=True,
    ),
    _Style(
        re.compile(r"(?P<stem>.+)\.r(?P<num>\d{2,3})", re.IGNORECASE),
        lambda stem, n, w: f"{stem}.r{n:0{w}d}",
        0,
        anchor=lambda stem: f"{stem}.rar",
    ),
    _Style(
        re.compile(r"(?P<stem>.+)\.z(?P<num>\d{2,3})", re.IGNORECASE),
        lambda stem, n, w: f"{stem}.z{n:0{w}d}",
        1,
        anchor=lambda stem: f"{stem}.zip",
        anchor_first=False,
    ),
    _Style(
        re.compile(r"(?P<stem>.+\.[A-Za-z0-9]+)\.(?P<num>\d{3})"),
        lambda stem, n, w: f"{stem}.{n:0{w}d}",
        1,
    ),
)

# An anchor name (x.rar, x.zip) is a volume only when a numbered sibling exists.
_ANCHORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?P<stem>.+)\.rar", re.IGNORECASE), "{stem}.r00"),
    (re.compile(r"(?P<stem>.+)\.zip", re.IGNORECASE), "{stem}.z01"),
)


def find_volumes(path: Path) -> VolumeSet | None:
    """The set ``path`` belongs to (any of its volumes may be given), or None if it is
    a single file. Raises ``FerrymanError("archive.volume_missing")`` for a gap.
    """
    name = path.name
    if re.fullmatch(r".+\.part\d+\.rar", name, re.IGNORECASE) is None:
        for pattern, sibling in _ANCHORS:
            match = pattern.fullmatch(name)
            if match is None:
                continue
            stem = match.group("stem")
            numbered = _sibling(path, sibling.format(stem=stem))
            if numbered is not None:
                return find_volumes(numbered)
    for style in _STYLES:
        match = style.pattern.fullmatch(name)
        if match is None:
            continue
        return _collect(path, style, match.group("stem"), len(match.group("num")))
    return None


def _collect(path: Path, style: _Style, stem: str, digits: int) -> VolumeSet | None:
    folder = path.parent
    numbers = _numbers_present(folder, style, stem, digits)
    anchor = _sibling(path, style.anchor(stem)) if style.anchor else None
    if style.anchor is not None and anchor is None:
        if style.start == 0:  # x.r00 without x.rar: the set's first volume is missing
            raise _missing(style.anchor(stem), path)
        return None  # x.z01 without x.zip: not a spanned zip after all
    highest = max(numbers, default=style.start - 1)
    for n in range(style.start, highest + 1):
        if n not in numbers:
            raise _missing(style.name(stem, n, digits), path)
    numbered = [folder / style.name(stem, n, digits) for n in range(style.start, highest + 1)]
    if anchor is None and len(numbered) == 1 and not style.alone_is_set:
        return None
    if anchor is None:
        return VolumeSet(numbered[0], tuple(numbered))
    if style.anchor_first:
        return VolumeSet(anchor, (anchor, *numbered))
    return VolumeSet(anchor, (*numbered, anchor))  # 7-Zip opens a spanned zip by its .zip


def _numbers_present(folder: Path, style: _Style, stem: str, digits: int) -> set[int]:
    found: set[int] = set()
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return found
    for name in names:
        match = style.pattern.fullmatch(name)
        if match and match.group("stem") == stem and len(match.group("num")) == digits:
            found.add(int(match.group("num")))
    return found


def _sibling(path: Path, name: str) -> Path | None:
    candidate = path.with_name(name)
    if candidate.is_file():
        return candidate
    # Names differ only in case on some senders (X.RAR + x.r00): match case-insensitively.
    try:
        for other in path.parent.iterdir():
            if other.name.lower() == name.lower() and other.is_file():
                return other
    except OSError:
        pass
    return None


def _missing(name: str, given: Path) -> FerrymanError:
    return FerrymanError(
        "archive.volume_missing",
        f"{given.name}: volume {name} is missing from {given.parent}",
    )


# Which family each style and anchor is of: only a name of the same family and stem is
# another volume (``x.rar`` with ``x.r00``, not with ``x.zip``).
_FAMILIES = ("rar", "rar", "zip", "numbered")
_ANCHOR_FAMILIES = ("rar", "zip")


def _set_keys(name: str) -> set[tuple[str, str]]:
    """(stem, family) of each way ``name`` may be a volume."""
    keys = set()
    for style, family in zip(_STYLES, _FAMILIES, strict=True):
        if (found := style.pattern.fullmatch(name)) is not None:
            keys.add((found.group("stem"), family))
    for (pattern, _), family in zip(_ANCHORS, _ANCHOR_FAMILIES, strict=True):
        if (found := pattern.fullmatch(name)) is not None:
            keys.add((found.group("stem"), family))
    return keys


def volume_names(name: str, names: Iterable[str]) -> list[str]:
    """The names among ``names`` (one folder's files, as a remote lists them) that may be
    volumes of the set the file ``name`` is one of, ``name`` first: by name alone, what
    to fetch beside it so that the set is read whole (``find_volumes`` then says, of the
    fetched files, what the set is). Only ``name`` when it is no volume's."""
    keys = _set_keys(name)
    if not keys:
        return [name]
    return [name, *(n for n in names if n != name and keys & _set_keys(n))]


def may_be_volume(name: str) -> bool:
    """Whether a file of this name may be one volume of a set (``volume_names``)."""
    return bool(_set_keys(name))


def first_volume_name(name: str) -> str:
    """The name of the first volume of the set a file named ``name`` would be of, by
    name alone (``x.7z.002`` → ``x.7z.001``, ``x.part2.rar`` → ``x.part1.rar``,
    ``x.r01`` → ``x.rar``, ``x.z02`` → ``x.zip``: what opens it); ``name`` itself when
    it is no numbered volume's: one input however its set is named."""
    for style in _STYLES:
        found = style.pattern.fullmatch(name)
        if found is None:
            continue
        stem, digits = found.group("stem"), len(found.group("num"))
        if style.anchor is not None:
            return style.anchor(stem)  # x.rar, x.zip: what opens the set
        return style.name(stem, style.start, digits)
    return name
