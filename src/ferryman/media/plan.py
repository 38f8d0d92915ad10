"""Pick the cheapest action that makes a file deliverable under a destination's policy.

Cheapest first: as-is → remux (new container, index first; stream copy) → audio-only
transcode → full transcode → send as a document → quarantine. Never transcode what a
remux fixes. A file over the policy's size limit is split (or scaled down) after its
main action, since only the finished file's size counts; ``over_limit`` tells.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ferryman.media.policy import TELEGRAM, PhotoLimits, Policy, VideoLimits
from ferryman.model import MediaInfo, MediaKind, Plan


@dataclass(frozen=True, slots=True)
class Rule:
    """A requirement for inline playback, and the cheapest fix for a file that misses it."""

    name: str
    check: Callable[[VideoLimits, MediaInfo], bool]
    describe: Callable[[MediaInfo], str]
    fix: Plan


def _even(limits: VideoLimits, info: MediaInfo) -> bool:
    """The stored sides (an encoder's), not the displayed ones of non-square pixels."""
    if not limits.even_dimensions:
        return True
    width, height = info.coded_width or info.width, info.coded_height or info.height
    return (width or 0) % 2 == 0 and (height or 0) % 2 == 0


# The inline-video rules, checked in this order; each names its fix.
VIDEO_RULES: tuple[Rule, ...] = (
    Rule(
        "video_codec",
        lambda lim, i: lim.video_codecs is None or i.video_codec in lim.video_codecs,
        lambda i: f"video_codec={i.video_codec}",
        Plan.TRANSCODE,
    ),
    Rule(
        "pix_fmt",
        lambda lim, i: lim.pix_fmts is None or i.pix_fmt in lim.pix_fmts,
        lambda i: f"pix_fmt={i.pix_fmt}",
        Plan.TRANSCODE,
    ),
    Rule("even_dimensions", _even, lambda i: f"size={i.width}x{i.height}", Plan.TRANSCODE),
    Rule(
        "audio_codec",
        lambda lim, i: lim.audio_codecs is None or i.audio_codec in lim.audio_codecs,
        lambda i: f"audio_codec={i.audio_codec}",
        Plan.AUDIO,
    ),
    Rule(
        "container",
        lambda lim, i: i.container == lim.container or i.container in lim.kept_containers,
        lambda i: f"container={i.container}",
        Plan.REMUX,
    ),
    Rule(
        "faststart",
        # moot in another container: the remux the container rule asks for fixes it too
        lambda lim, i: i.faststart is True or not lim.faststart or i.container != lim.container,
        lambda i: f"faststart={i.faststart}",
        Plan.REMUX,
    ),
)

# Audio codecs copied into an MP4 as they are (its muxer and phones' players take them);
# any other audio track is re-encoded to AAC (``media.tracks``). Opus in MP4 is left
# out: Safari and older Android players refuse it there.
MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3"})

# Kinds whose plan does not depend on the probe.
_FIXED_PLANS: dict[MediaKind, Plan] = {
    MediaKind.ANIMATION: Plan.ANIMATION,
    MediaKind.AUDIO: Plan.AS_IS,
    MediaKind.DOCUMENT: Plan.DOCUMENT,
    MediaKind.ARCHIVE: Plan.DOCUMENT,
    MediaKind.OTHER: Plan.DOCUMENT,
}
_VIDEO_COST = (Plan.AS_IS, Plan.REMUX, Plan.AUDIO, Plan.TRANSCODE)  # cheapest first
_PHOTO_MODES = frozenset({"RGB", "L", "P"})  # what needs no colour conversion
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})  # probe: a colour key too


def plan_for(kind: MediaKind, info: MediaInfo | None, policy: Policy = TELEGRAM) -> Plan:
    """The action for a file of ``kind`` with probe result ``info``."""
    return explain(kind, info, policy)[0]


def explain(
    kind: MediaKind, info: MediaInfo | None, policy: Policy = TELEGRAM
) -> tuple[Plan, str | None]:
    """The plan and why (every requirement missed), for an item's ``reason``."""
    if kind is MediaKind.PHOTO:
        return _photo(info, policy.photo)
    if kind is MediaKind.ANIMATION and not policy.animations_to_video:
        return Plan.AS_IS, None
    if kind is not MediaKind.VIDEO:
        return _FIXED_PLANS[kind], None
    if info is None:
        return Plan.TRANSCODE, "not probed"
    if info.video_codec is None:  # audio in a video container; audio handling is not ours
        return Plan.DOCUMENT, "no video stream"
    missed = [(r.fix, r.describe(info)) for r in VIDEO_RULES if not r.check(policy.video, info)]
    if not missed:
        return Plan.AS_IS, None
    plan = max((fix for fix, _ in missed), key=_VIDEO_COST.index)
    if plan is Plan.REMUX:  # a copy cannot carry a track that needs re-encoding
        for number, codec in enumerate(info.other_audio or (), start=2):
            if codec not in MP4_AUDIO:
                plan = Plan.AUDIO
                missed.append((Plan.AUDIO, f"audio_track{number}={codec}"))
    return plan, ", ".join(why for _, why in missed)


def _photo(info: MediaInfo | None, limits: PhotoLimits) -> tuple[Plan, str | None]:
    if info is None or info.width is None or info.height is None:
        return Plan.DOCUMENT, "not probed"
    if not limits.aspect_ok(info.width, info.height):
        ratio = max(info.width, info.height) / max(1, min(info.width, info.height))
        return Plan.DOCUMENT, f"aspect={ratio:.1f}>{limits.max_aspect:g}"
    fmt = (info.container or "").upper()
    missed = limits.problems(fmt, info.width, info.height, info.size or 0)
    if info.rotation and limits.upright:
        missed.append(f"exif_rotation={info.rotation}")
    elif info.mirrored and limits.upright:
        missed.append("exif_mirrored")
    mode = info.image_mode or "RGB"
    if limits.plain_colour and mode in _ALPHA_MODES:
        missed.append(f"alpha={mode}")
    elif limits.plain_colour and mode not in _PHOTO_MODES:
        missed.append(f"mode={mode}")
    return (Plan.IMAGE, ", ".join(missed)) if missed else (Plan.AS_IS, None)


def over_limit(size: int, policy: Policy) -> bool:
    """Whether a finished file is too big for the destination as one file."""
    return policy.max_file_bytes is not None and size > policy.max_file_bytes


CONTAINER_SHARE = 0.95  # of a size limit left for the streams (the MP4 index, headroom)
MIN_VIDEO_BITRATE = 150_000  # below this a video is unwatchable: split it instead


def scale_bitrate(duration: float | None, limit: int | None, audio_bitrate: int) -> int | None:
    """The video bitrate cap that keeps a re-encode under ``limit`` bytes, or None when
    there is no limit or the cap would be unwatchable (then the video is split)."""
    if not limit or not duration or duration <= 0:
        return None
    # The rate control may spend one buffer (a second at the cap) beyond the cap's
    # average, so the bits are spread over one second more than the video lasts.
    video_bits = limit * 8 * CONTAINER_SHARE - audio_bitrate * duration
    cap = int(video_bits / (duration + 1))
    return cap if cap >= MIN_VIDEO_BITRATE else None
