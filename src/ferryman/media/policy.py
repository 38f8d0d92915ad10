"""What a destination accepts, as data in one place: the plan and every fixer read it here.

Telegram's rules are the reference (a photo shows inline only as JPEG/PNG within its
limits; a video plays inline only as H.264 8-bit 4:2:0 with AAC, in an MP4 whose index
comes first). A sink brings its own ``Policy``. A library (``LIBRARY``) keeps originals
byte for byte as media servers play them (Jellyfin, Plex and Immich read HEVC, 10-bit,
HDR, 4K, HEIC, WebP, AVIF, and an MP4 or a camera's MOV whose index comes last, from a
disk): it remuxes only a container none opens (to MP4), and has no size limits. Converted
for playing anywhere (``LIBRARY_PLAYABLE``, asked for with ``convert``): Telegram's
playback rules, still without its size limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

MIB = 1024 * 1024
MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"  # PyAV's name for the ISO/QuickTime demuxer


@dataclass(frozen=True, slots=True)
class PhotoLimits:
    """When a picture is shown as a photo; ``None`` means no limit."""

    # Pillow's format names shown as they are; None: any format Pillow reads
    formats: frozenset[str] | None = frozenset({"JPEG", "PNG"})
    max_bytes: int | None = 10_000_000
    max_side_sum: int | None = 10_000  # width + height
    max_aspect: float | None = 20.0  # long side / short side
    upright: bool = True  # EXIF orientation applied to the pixels (not left to the viewer)
    plain_colour: bool = True  # 8-bit RGB or grey only: CMYK, alpha, 16-bit are converted
    pages_apart: bool = True  # each image of a multi-image file (a burst, a scan) a photo

    def problems(self, fmt: str | None, width: int, height: int, size: int) -> list[str]:
        """Every limit the picture misses, worded for a report; empty when it fits."""
        found = []
        if self.formats is not None and (fmt or "").upper() not in self.formats:
            found.append(f"format={fmt}")
        if self.max_bytes is not None and size > self.max_bytes:
            found.append(f"size={size}>{self.max_bytes}")
        if self.max_side_sum is not None and width + height > self.max_side_sum:
            found.append(f"width+height={width + height}>{self.max_side_sum}")
        if not self.aspect_ok(width, height):
            found.append(f"aspect={max(width, height) / max(1, min(width, height)):.1f}")
        return found

    def aspect_ok(self, width: int, height: int) -> bool:
        """Whether no scaling can help: an over-long strip stays over-long at any size."""
        if self.max_aspect is None:
            return True
        return max(width, height) <= self.max_aspect * max(1, min(width, height))


@dataclass(frozen=True, slots=True)
class VideoLimits:
    """When a video plays inline (streams, container, index position); a set that is
    None takes anything."""

    container: str = MP4_FAMILY  # what a remux makes
    kept_containers: frozenset[str] = frozenset()  # taken as they are besides ``container``
    video_codecs: frozenset[str] | None = frozenset({"h264"})
    pix_fmts: frozenset[str] | None = frozenset({"yuv420p", "yuvj420p"})  # 8-bit 4:2:0
    audio_codecs: frozenset[str | None] | None = frozenset({"aac", None})  # None: no audio
    even_dimensions: bool = True
    faststart: bool = True


@dataclass(frozen=True, slots=True)
class ThumbLimits:
    """A video's thumbnail: JPEG, long side and bytes bounded."""

    max_side: int = 320
    max_bytes: int = 200_000


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything one destination accepts."""

    name: str
    photo: PhotoLimits = field(default_factory=PhotoLimits)
    video: VideoLimits = field(default_factory=VideoLimits)
    thumb: ThumbLimits = field(default_factory=ThumbLimits)
    max_file_bytes: int | None = 2000 * MIB  # per file; None: no limit
    caption_chars: int = 1024
    animations_to_video: bool = True  # a GIF, APNG or animated WebP made a looping MP4


TELEGRAM = Policy("telegram")
TELEGRAM_PREMIUM = replace(TELEGRAM, name="telegram_premium", max_file_bytes=4000 * MIB,
                           caption_chars=2048)  # fmt: skip
TELEGRAM_BOT_API = replace(TELEGRAM, name="telegram_bot_api", max_file_bytes=50 * 1000 * 1000)
# Containers media servers open and play from (PyAV's demuxer names): kept as they are.
# "mov": a QuickTime file (``probe.QUICKTIME``), an iPhone's or a camera's: Apple's own.
SERVER_CONTAINERS = frozenset(
    {"mov", "matroska,webm", "avi", "mpegts", "mpeg", "asf", "flv", "ogg", "dv"}
)
_NO_PHOTO_LIMITS = PhotoLimits(
    max_bytes=None, max_side_sum=None, max_aspect=None, upright=False, plain_colour=False
)
LIBRARY = Policy(
    "library",
    photo=replace(_NO_PHOTO_LIMITS, formats=None, pages_apart=False),
    video=VideoLimits(
        kept_containers=SERVER_CONTAINERS,
        video_codecs=None,
        pix_fmts=None,
        audio_codecs=None,
        even_dimensions=False,
        faststart=False,  # a server seeks in a file on disk: a camera's MOV stays as it is
    ),
    max_file_bytes=None,
    animations_to_video=False,
)
LIBRARY_PLAYABLE = Policy("library_playable", photo=_NO_PHOTO_LIMITS, max_file_bytes=None)

# A policy that keeps originals -> its variant made to play anywhere (``convert``).
PLAYABLE: dict[str, Policy] = {LIBRARY.name: LIBRARY_PLAYABLE}
POLICIES: dict[str, Policy] = {
    p.name: p for p in (TELEGRAM, TELEGRAM_PREMIUM, TELEGRAM_BOT_API, LIBRARY, LIBRARY_PLAYABLE)
}


def policy_named(name: str) -> Policy:
    """The named policy; raises ``KeyError`` listing the known names."""
    try:
        return POLICIES[name]
    except KeyError:
        raise KeyError(f"unknown media policy {name!r}; known: {', '.join(POLICIES)}") from None
