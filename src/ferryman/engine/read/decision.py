"""What happens to a staged file, decided apart from doing it: a pure table of its kind,
its size, its probe and the destination's options (``MediaOptions``) to one
``Decision``. ``prepare`` carries decisions out (remux, fit, split, defer an encode);
tests/unit/test_read_decision.py holds the table's rows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ferryman.engine.plumbing.media_options import MediaOptions
from ferryman.media.plan import explain, over_limit, scale_bitrate
from ferryman.model import ENCODED_PLANS, MediaInfo, MediaKind, Plan

VISUAL = frozenset({MediaKind.PHOTO, MediaKind.VIDEO, MediaKind.ANIMATION})
# What goes out as media without being asked; other files only with send_documents.
MEDIA = VISUAL | {MediaKind.AUDIO}


class Action(Enum):
    """What is done to the file (``prepare`` does it)."""

    SKIP = "skip"  # not delivered (``reason`` says why)
    DOCUMENT = "document"  # sent as a file, unchanged; quarantined if over the size limit
    PROBE = "probe"  # nothing decided before its probe: ``after_probe`` decides
    CONVERT = "convert"  # an encode deferred to the convert stage (``plan``)
    FIT_IMAGE = "fit image"  # a picture converted or fitted to the photo limits
    PAGES = "pages"  # a multipage picture's pages, each its own photo
    VIDEO = "video"  # remuxed when planned, a thumbnail made, split when too big
    SONG = "song"  # as it is, with its embedded cover as its thumbnail
    AS_IS = "as is"  # as it is


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    kind: MediaKind  # what it goes as (a photo of many frames: an animation)
    plan: Plan | None = None
    reason: str | None = None


def wanted(kind: MediaKind, send_documents: bool) -> bool:
    """Whether an entry of this kind is delivered (else skipped as ``not_media``)."""
    return kind in MEDIA or send_documents


def before_probe(
    kind: MediaKind, size: int, send_documents: bool, options: MediaOptions
) -> Decision:
    """What is decided of a written file before any decode: skipped, a document, or
    to be probed (``Action.PROBE``)."""
    if not wanted(kind, send_documents):
        return Decision(Action.SKIP, kind, None, "not_media")
    if kind not in MEDIA:
        return Decision(Action.DOCUMENT, kind, Plan.DOCUMENT)
    if options.as_documents and kind in VISUAL and not over_limit(size, options.policy):
        return Decision(Action.DOCUMENT, kind, Plan.DOCUMENT, "as=documents")
    return Decision(Action.PROBE, kind, Plan.AS_IS)


def after_probe(kind: MediaKind, info: MediaInfo, size: int, options: MediaOptions) -> Decision:
    """What is done to a probed file of ``kind`` and ``size`` bytes."""
    policy = options.policy
    if kind is MediaKind.PHOTO and (info.frames or 1) > 1:
        kind = MediaKind.ANIMATION
    if kind is MediaKind.VIDEO and info.video_codec is None and info.audio_codec is not None:
        kind = MediaKind.AUDIO  # sound alone in a video's container (.mp4, .mka)
    pages = info.pages or 1
    if kind is MediaKind.PHOTO and pages > options.max_pages:
        return Decision(Action.DOCUMENT, kind, Plan.DOCUMENT, f"pages={pages}>{options.max_pages}")
    if kind is MediaKind.PHOTO and pages > 1 and policy.photo.pages_apart:
        return Decision(Action.PAGES, kind, Plan.IMAGE, f"pages={pages}")
    plan, why = explain(kind, info, policy)
    if plan is Plan.AS_IS and kind is MediaKind.PHOTO and over_limit(size, policy):
        plan, why = Plan.IMAGE, f"size={size}>{policy.max_file_bytes}"
    elif plan is Plan.AS_IS and kind is MediaKind.AUDIO and over_limit(size, policy):
        return Decision(Action.DOCUMENT, kind, Plan.DOCUMENT)  # too big even as a file
    if _scale_instead(kind, plan, info, options):
        limit = f"size={info.size}>{policy.max_file_bytes}"
        plan, why = Plan.TRANSCODE, f"{why}, {limit}" if why else limit
    if plan in ENCODED_PLANS:
        return Decision(Action.CONVERT, kind, plan, why)
    if plan is Plan.DOCUMENT:
        return Decision(Action.DOCUMENT, kind, plan, why)
    if plan is Plan.IMAGE:
        return Decision(Action.FIT_IMAGE, kind, plan, why)
    if kind is MediaKind.VIDEO:
        return Decision(Action.VIDEO, kind, plan, why)
    if kind is MediaKind.AUDIO:
        return Decision(Action.SONG, kind, plan, why)
    return Decision(Action.AS_IS, kind, plan, why)


def _scale_instead(kind: MediaKind, plan: Plan, info: MediaInfo, options: MediaOptions) -> bool:
    """A video over the size limit, when the settings say shrink rather than split and a
    watchable bitrate can fit it (else it is split after its cheap fix)."""
    policy = options.policy
    return (
        kind is MediaKind.VIDEO
        and plan in (Plan.AS_IS, Plan.REMUX, Plan.AUDIO)
        and options.oversize == "scale"
        and over_limit(info.size or 0, policy)
        and scale_bitrate(info.duration, policy.max_file_bytes, options.audio_bitrate) is not None
    )
