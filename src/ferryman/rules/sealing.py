"""When ready items become albums, and how a failed album is split: pure rules.

The store (``store/albums``, ``store/memory``) reads the facts (the job's items ready or
still converting, in archive order, since when each is ready, whether its input is
still open) and writes the albums this module decides.

A Live Photo (an iPhone's ``IMG_0001.HEIC`` and ``IMG_0001.MOV``, or ``.JPG`` and
``.MOV``: one folder, one stem) is one unit: its two files are sealed into one album,
never cut apart by an album's boundary (``live_pairs``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import NamedTuple

from ferryman.model import AlbumGroup, MediaKind, Plan, album_group


class ReadyItem(NamedTuple):
    """A ready item (or one still converting: ``pending``) as sealing sees it."""

    id: int
    kind: MediaKind
    plan: Plan | None
    name: str = ""  # its path in the input (``items.source_path``): Live Photo pairs
    since: float = 0.0  # when it became ready (``items.updated_at``): an album's wait
    pending: bool = False  # still converting: it holds its place in its album


# A Live Photo's still and its clip (lower-case suffixes with the dot).
LIVE_STILLS = frozenset({".heic", ".heif", ".jpg", ".jpeg"})
LIVE_CLIPS = frozenset({".mov"})


def live_key(name: str) -> tuple[str, str] | None:
    """``(folder/stem lower-cased, "still" or "clip")`` for a name that may be half of a
    Live Photo, else None."""
    path = name.replace("\\", "/")
    dot = path.rfind(".")
    if dot <= path.rfind("/") + 1:
        return None
    suffix = path[dot:].lower()
    if suffix in LIVE_STILLS:
        return path[:dot].lower(), "still"
    if suffix in LIVE_CLIPS:
        return path[:dot].lower(), "clip"
    return None


def live_pairs(items: Sequence[ReadyItem]) -> dict[int, int]:
    """Each Live Photo's still and clip among ``items``, both ways (id to id): a photo
    and a video of one folder and stem, one of each (two stills of one stem are not a
    pair's)."""
    halves: dict[str, dict[str, list[ReadyItem]]] = {}
    for item in items:
        key = live_key(item.name)
        wanted = MediaKind.PHOTO if key is not None and key[1] == "still" else MediaKind.VIDEO
        if key is not None and item.kind is wanted:
            halves.setdefault(key[0], {}).setdefault(key[1], []).append(item)
    pairs: dict[int, int] = {}
    for found in halves.values():
        stills, clips = found.get("still", []), found.get("clip", [])
        if len(stills) == 1 and len(clips) == 1:
            pairs[stills[0].id] = clips[0].id
            pairs[clips[0].id] = stills[0].id
    return pairs


def _alone_still(chunk: Sequence[ReadyItem], album_size: int, pairs: dict[int, int]) -> bool:
    """Whether a full album's last file may be a Live Photo's still whose clip is not
    read yet: a HEIC, or a JPEG named as an iPhone names it (``IMG_1234.JPG``), with no
    clip yet, in an album that could hold both."""
    item = chunk[-1]
    key = live_key(item.name)
    if album_size < 2 or item.id in pairs or key is None or key[1] != "still":
        return False
    if item.kind is not MediaKind.PHOTO:
        return False
    base = key[0].rsplit("/", 1)[-1]
    return item.name.lower().endswith((".heic", ".heif")) or base.startswith("img_")


def _units(members: Sequence[ReadyItem], pairs: dict[int, int]) -> list[list[ReadyItem]]:
    """``members`` in order, a Live Photo's two files one unit where the first stands."""
    by_id = {it.id: it for it in members}
    units: list[list[ReadyItem]] = []
    placed: set[int] = set()
    for item in members:
        if item.id in placed:
            continue
        unit = [item]
        partner = pairs.get(item.id)
        if partner is not None and partner in by_id and partner not in placed:
            unit.append(by_id[partner])
        placed.update(it.id for it in unit)
        units.append(unit)
    return units


def _chunk(units: Sequence[list[ReadyItem]], album_size: int) -> tuple[list[ReadyItem], bool, int]:
    """The next album's items from the front of ``units``, whether it is closed (full,
    or the next unit does not fit: a pair never crosses a boundary) and how many
    units it took."""
    chunk: list[ReadyItem] = []
    for used, unit in enumerate(units):
        if chunk and len(chunk) + len(unit) > album_size:
            return chunk, True, used
        chunk.extend(unit)
    return chunk, len(chunk) >= album_size, len(units)


def _waived(chunk: Sequence[ReadyItem], *, now: float, wait: float) -> set[int] | None:
    """What an album whose slot holds items still converting does: ``None`` while it
    waits for them (its other items ready for less than ``wait`` seconds), else the ids
    of the items it goes without (each follows in a later album once converted)."""
    pending = {it.id for it in chunk if it.pending}
    if not pending:
        return set()
    ready = [it.since for it in chunk if not it.pending]
    if not ready or now - max(ready) < wait:
        return None
    return pending


def albums_to_seal(
    items: Sequence[ReadyItem],
    album_size: int,
    *,
    read_done: bool,
    blocked: bool,
    now: float,
    wait: float,
) -> list[tuple[AlbumGroup, list[int]]]:
    """The albums to seal now (group, item ids), in order, from ``items``: the job's
    ready items and those still converting (``pending``), in archive order.

    An album's members are decided in archive order among the items that will be
    delivered, so a video being converted keeps its place: 19 files of which some
    convert go as 10 and 9, not as 10, 1 and 8 (the ready ones around a conversion
    once went ahead alone). An album whose slot holds a conversion waits for it, but at
    most ``wait`` seconds after its other items are all ready (``since``): then it goes
    without it, and the item follows in a later album once converted (a conversion
    that fails ends the item, which leaves the slot at once). Full albums are sealed at
    once; a partial one waits for more items while the input is still being read (not
    ``read_done``), unless reading is ``blocked`` (it waits for these very items to
    leave the disk).
    """
    sealed: list[tuple[AlbumGroup, list[int]]] = []
    open_input = not read_done and not blocked
    pairs = live_pairs(items) if album_size > 1 else {}  # an album of one: one by one
    for group in AlbumGroup:
        units = _units([it for it in items if album_group(it.kind, it.plan) is group], pairs)
        while units:
            chunk, closed, used = _chunk(units, album_size)
            if not closed and open_input:
                break  # more items may come to fill it
            if (
                closed
                and used == len(units)
                and open_input
                and _alone_still(chunk, album_size, pairs)
            ):
                break  # its clip may come next: the album waits for one more file
            waived = _waived(chunk, now=now, wait=wait)
            if waived is None:
                break  # it waits for its conversions, and every later album behind it
            if waived:  # chosen again without them: a later item may take their place
                head = ([it for it in unit if it.id not in waived] for unit in units[:used])
                units[:used] = [unit for unit in head if unit]  # only the album's: cheap
                continue
            del units[:used]
            sealed.append((group, [it.id for it in chunk]))
    return sealed


def split_alone(grouped: Sequence[int], ended: Collection[int]) -> list[int]:
    """A failed album's items (ids, in order) that go again, each alone: every one not
    ``ended`` as given (the faulty file, found once alone)."""
    return [item_id for item_id in grouped if item_id not in ended]
