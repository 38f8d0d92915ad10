"""Pick the cheapest action that makes a file play inline on phones (and Telegram).

A video plays inline when it is H.264 8-bit 4:2:0 with AAC (or no) audio in an MP4
whose index comes first. Streams that already qualify only need a new container
(remux, seconds); anything else must be re-encoded (transcode, minutes). The rules are
data in ``VIDEO_RULES`` so the whole policy reads in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferryman.media.probe import MP4_FAMILY
from ferryman.model import MediaInfo, MediaKind, Plan


@dataclass(frozen=True, slots=True)
class Rule:
    """A requirement for inline playback, and what fixes a file that misses it."""

    field: str  # a MediaInfo attribute
    allowed: frozenset[object]
    fix: Plan  # REMUX if a new container fixes it, TRANSCODE if the streams must change

    def missed(self, info: MediaInfo) -> str | None:
        value = getattr(info, self.field)
        return None if value in self.allowed else f"{self.field}={value}"


VIDEO_RULES: tuple[Rule, ...] = (
    Rule("video_codec", frozenset({"h264"}), Plan.TRANSCODE),
    Rule("pix_fmt", frozenset({"yuv420p", "yuvj420p"}), Plan.TRANSCODE),  # 8-bit 4:2:0
    Rule("audio_codec", frozenset({"aac", None}), Plan.TRANSCODE),  # None: no audio
    Rule("container", frozenset({MP4_FAMILY}), Plan.REMUX),
    Rule("faststart", frozenset({True}), Plan.REMUX),
)

# Kinds whose plan does not depend on the probe.
_FIXED_PLANS: dict[MediaKind, Plan] = {
    MediaKind.PHOTO: Plan.AS_IS,
    MediaKind.ANIMATION: Plan.AS_IS,
    MediaKind.AUDIO: Plan.AS_IS,
    MediaKind.DOCUMENT: Plan.DOCUMENT,
    MediaKind.ARCHIVE: Plan.DOCUMENT,
    MediaKind.OTHER: Plan.DOCUMENT,
}
_COST = (Plan.AS_IS, Plan.REMUX, Plan.TRANSCODE)  # cheapest first


def plan_for(kind: MediaKind, info: MediaInfo | None) -> Plan:
    """The action for a file of ``kind`` with probe result ``info``."""
    return explain(kind, info)[0]


def explain(kind: MediaKind, info: MediaInfo | None) -> tuple[Plan, str | None]:
    """The plan and why (the requirements missed), for an item's ``reason``."""
    if kind is not MediaKind.VIDEO:
        return _FIXED_PLANS[kind], None
    if info is None:
        return Plan.TRANSCODE, "not probed"
    if info.video_codec is None:  # audio in a video container; audio handling is not ours
        return Plan.DOCUMENT, "no video stream"
    missed = [(rule.fix, why) for rule in VIDEO_RULES if (why := rule.missed(info))]
    if not missed:
        return Plan.AS_IS, None
    plan = max((fix for fix, _ in missed), key=_COST.index)
    return plan, ", ".join(why for _, why in missed)
