"""Preparation: probe a staged file and pick its plan; remux now, defer transcodes.

Blocking (PyAV, Pillow); the engine runs it on a worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ferryman.engine.stage import Staged, sha256_file
from ferryman.errors import FerrymanError
from ferryman.media.plan import plan_for
from ferryman.media.probe import probe, probe_image
from ferryman.media.remux import remux_to_mp4
from ferryman.model import ItemState, MediaInfo, MediaKind, Plan

log = logging.getLogger(__name__)

VISUAL = frozenset({MediaKind.PHOTO, MediaKind.VIDEO, MediaKind.ANIMATION})


def wanted(kind: MediaKind, send_documents: bool) -> bool:
    """Whether an entry of this kind is delivered (else skipped as ``not_media``)."""
    return kind in VISUAL or send_documents


@dataclass(slots=True)
class Prepared:
    """The item-to-be: its state, plan and file after any cheap fix."""

    kind: MediaKind
    state: ItemState
    plan: Plan | None
    work_path: Path | None
    size: int
    sha256: str
    media: MediaInfo | None = None
    original_path: Path | None = None
    reason: str | None = None
    error: FerrymanError | None = None
    actions: list[str] = field(default_factory=list)


def prepare(staged: Staged, send_documents: bool) -> Prepared:
    """Probe, plan and (for a remux) fix the staged file; never raises for bad media."""
    kind = staged.kind
    if staged.path is None or not wanted(kind, send_documents):
        reason = "not_media"
        return Prepared(
            kind, ItemState.SKIPPED, None, None, staged.size, staged.sha256, reason=reason
        )
    path = staged.path
    base = Prepared(kind, ItemState.READY, Plan.AS_IS, path, staged.size, staged.sha256)
    if kind not in VISUAL and kind is not MediaKind.AUDIO:
        base.plan = Plan.DOCUMENT
        return base
    try:
        info = probe_image(path) if kind is MediaKind.PHOTO else probe(path)
    except FerrymanError as exc:
        if kind is MediaKind.PHOTO:
            try:  # GIF/WebP may be animations that Pillow reads but classify called photos
                info = probe(path)
            except FerrymanError:
                return _broken(base, exc)
        else:
            return _broken(base, exc)
    if kind is MediaKind.PHOTO and (info.frames or 1) > 1:
        kind = base.kind = MediaKind.ANIMATION
    base.media = info
    plan = plan_for(kind, info)
    base.plan = plan
    if plan is Plan.TRANSCODE:
        base.state = ItemState.CONVERT
    elif plan is Plan.REMUX:
        return _remux(base, path)
    return base


def _broken(base: Prepared, exc: FerrymanError) -> Prepared:
    base.state = ItemState.QUARANTINED
    base.error = exc
    base.reason = exc.code
    return base


def _remux(base: Prepared, path: Path) -> Prepared:
    """A container change is cheap: do it now, and fall back to a transcode if it fails."""
    out = path.with_name(path.stem + ".remux.mp4")
    tmp = out.with_name(out.name + ".part.mp4")
    try:
        remux_to_mp4(path, tmp)
        info = probe(tmp)
        if plan_for(MediaKind.VIDEO, info) is not Plan.AS_IS:
            raise FerrymanError(
                "media.convert_failed", f"remux of {path.name} is still not playable"
            )
        tmp.replace(out)
    except FerrymanError as exc:
        tmp.unlink(missing_ok=True)
        log.info("remux of %s failed (%s); it will be transcoded", path.name, exc.message)
        base.plan = Plan.TRANSCODE
        base.state = ItemState.CONVERT
        return base
    size, digest = sha256_file(out)
    base.original_path = path
    base.work_path = out
    base.size = size
    base.sha256 = digest
    base.media = info
    base.actions.append("remux")
    return base
