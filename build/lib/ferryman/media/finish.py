"""The last step for every playable video: a thumbnail, and parts if it is too big.

Shared by the cheap path (as-is, remux) and the deferred one (after a transcode), so
every video leaves with the same attributes whatever made it playable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ferryman.errors import FerrymanError
from ferryman.media.plan import over_limit
from ferryman.media.policy import Policy
from ferryman.media.split import split_at_keyframes
from ferryman.media.thumbnail import make_thumbnail

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FinishedVideo:
    """What a playable video leaves with besides its own file."""

    thumb: Path | None = None
    parts: list[Path] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


def finish_video(path: Path, size: int, policy: Policy) -> FinishedVideo:
    """Thumbnail ``path`` and split it if ``policy`` says it is over the size limit.

    A thumbnail that cannot be made is logged, not fatal (the video still plays);
    a video too big to split raises ``media.over_limit`` and leaves no thumbnail.
    """
    done = FinishedVideo()
    thumb = path.with_name(path.stem + ".thumb.jpg")
    try:
        make_thumbnail(path, thumb, policy.thumb)
        done.thumb = thumb
    except FerrymanError as exc:
        log.warning("no thumbnail for %s: %s", path.name, exc.message)
    if over_limit(size, policy) and policy.max_file_bytes is not None:
        try:
            parts = split_at_keyframes(path, path.parent, path.stem, policy.max_file_bytes)
        except FerrymanError:
            thumb.unlink(missing_ok=True)  # nothing of this attempt stays behind
            raise
        if parts != [path]:
            done.parts = parts
            done.actions.append(f"split:{len(parts)}")
    return done
