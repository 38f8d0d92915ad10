"""A caption's photo fields (``caption_template.PHOTO_FIELDS``) from its album's items:
``{taken}`` (when the first photo that says was taken), ``{place}`` (the first place a
sidecar told, ``lat, lon``) and ``{description}`` (each description told, in order, one
a line). Only those not empty are given: the rest are filled with "" where rendered."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ferryman.model import Item, MediaInfo


def photo_fields(items: Iterable[Item]) -> dict[str, str]:
    """The album's photo fields that say something."""
    medias = [item.media for item in items if item.media is not None]
    fields: dict[str, str] = {}
    taken = next((m.taken for m in medias if m.taken is not None), None)
    if taken is not None and (when := _local(taken)) is not None:
        fields["taken"] = when
    place = next((m for m in medias if m.latitude is not None), None)
    if place is not None:
        fields["place"] = _place(place)
    said = list(dict.fromkeys(m.description for m in medias if m.description))
    if said:
        fields["description"] = "\n".join(d for d in said if d)
    return fields


def _local(seconds: float) -> str | None:
    try:
        return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return None


def _place(media: MediaInfo) -> str:
    return f"{media.latitude:.5f}, {media.longitude:.5f}"
