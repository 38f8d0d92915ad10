"""When ready items become albums, and how a failed album is split: pure rules.

The store (``store/albums``, ``store/memory``) reads the facts (the job's ready items
in archive order, whether its input is still open, which groups still convert) and
writes the albums this module decides.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import NamedTuple

from ferryman.model import ENCODED_PLANS, AlbumGroup, MediaKind, Plan, album_group


class ReadyItem(NamedTuple):
    """A ready item as sealing sees it."""

    id: int
    kind: MediaKind
    plan: Plan | None


def albums_to_seal(
    ready: Sequence[ReadyItem],
    album_size: int,
    *,
    read_done: bool,
    blocked: bool,
    converting: Callable[[], Collection[AlbumGroup]],
) -> list[tuple[AlbumGroup, list[int]]]:
    """The albums to seal now (group, item ids), in order, from ``ready`` (archive order).

    Full albums are sealed at once. A partial one waits for more items while the input
    is still being read (not ``read_done``), unless reading is ``blocked`` (it waits for
    these very items to leave the disk). Converted items wait for the other conversions
    of their group, so they travel together instead of one album each. ``converting``
    (the groups with items still converting) is asked only when a partial album may go:
    it costs the store a query.
    """
    sealed: list[tuple[AlbumGroup, list[int]]] = []
    open_input = not read_done and not blocked
    waiting_groups: Collection[AlbumGroup] | None = None
    for group in AlbumGroup:
        members = [it for it in ready if album_group(it.kind, it.plan) is group]
        while members:
            chunk = members[:album_size]
            if len(chunk) < album_size:
                if open_input:
                    break
                if waiting_groups is None:
                    waiting_groups = converting()
                waiting = group in waiting_groups and not blocked
                chunk = [it for it in chunk if not (waiting and it.plan in ENCODED_PLANS)]
                if not chunk:
                    break
            taken = {it.id for it in chunk}
            members = [it for it in members if it.id not in taken]
            sealed.append((group, [it.id for it in chunk]))
    return sealed


def split_alone(grouped: Sequence[int], ended: Collection[int]) -> list[int]:
    """A failed album's items (ids, in order) that go again, each alone: every one not
    ``ended`` as given (the faulty file, found once alone)."""
    return [item_id for item_id in grouped if item_id not in ended]
