"""What preparing a file needs to know of its destination and the settings (the
policy, limits, ``?as=documents``): shared by the read stage, which prepares entries,
and the convert and deliver stages, which resolve the same destination.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ferryman.config import Settings
from ferryman.media.box.pool import DEFAULT_MEMORY, IN_PROCESS, Decoder
from ferryman.media.budget import DEFAULT_MAX_IMAGE_BYTES
from ferryman.media.policy import PLAYABLE, Policy, policy_named
from ferryman.sinks.base import DeliveryOptions, SinkKind, SinkRegistry


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """What preparation needs from the settings and the job's destination."""

    policy: Policy
    max_image_pixels: int = 150_000_000
    oversize: str = "split"  # or "scale": a video over the size limit is re-encoded smaller
    audio_bitrate: int = 128_000  # what a transcode spends on audio (for "scale")
    # The destination reads every file whole as it delivers it and hashes it then
    # (Telegram's upload): a big entry is staged unhashed (``engine/read/stage.py``).
    hashed_on_delivery: bool = False
    # A multipage TIFF of more pages goes as one document: a 10,000-page file would
    # otherwise make 10,000 photos (a thousand albums) out of one item.
    max_pages: int = 100
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES  # a decode's budget (``media.budget``)
    # The job asked for files (``?as=documents``): photos and videos go unchanged, as
    # documents, unless one is over the size limit even so (then it is fixed as ever).
    as_documents: bool = False
    # Where untrusted media is decoded, and the memory one decode may take there: the
    # engine's box of confined workers (``media.box.pool``; set by ``destination.resolve``),
    # else the calling thread (tests and tools).
    decode_memory: int = DEFAULT_MEMORY
    decoder: Decoder = IN_PROCESS
    # Every file of the input is delivered, as it is where it is not media (a library
    # keeps a camera's RAW, its sidecars, a PDF), as ``send_documents`` does anywhere.
    every_file: bool = False
    # A file over the size limit that is not a video is cut by bytes into pieces that
    # fit (``link:telegram``, whose link joins them again) instead of refused.
    cuts_files: bool = False
    # The destination is a backup (``SinkKind.backup``): a file that cannot be decoded
    # is delivered as it is, its code its reason, never held back in quarantine.
    keeps_undecoded: bool = False


def media_options(settings: Settings, dest: str, sinks: SinkRegistry) -> MediaOptions:
    """The media options of destination ``dest`` (``sink.unknown`` for one no kind
    takes); a stage has its job's already (``engine/plumbing/destination.Route``)."""
    return options_for(settings, sinks.kind(dest), sinks.parse(dest).options)


def options_for(
    settings: Settings, kind: SinkKind, chosen: DeliveryOptions | None = None
) -> MediaOptions:
    """The destination kind's policy, unless the settings name one; ``chosen``: the
    job's delivery options (``?as=documents``, ``?media=only``)."""
    name = settings.media.policy
    policy = kind.policy(settings) if name == "auto" else policy_named(name)
    if chosen is not None and chosen.convert:  # the job asked for media that play anywhere
        policy = PLAYABLE.get(policy.name, policy)
    if settings.media.max_file_bytes is not None:
        policy = replace(policy, max_file_bytes=int(settings.media.max_file_bytes))
    return MediaOptions(
        policy,
        settings.media.max_image_pixels,
        settings.media.oversize,
        settings.convert.audio_bitrate,
        kind.hashes_as_it_reads,
        settings.media.max_pages,
        int(settings.media.max_image_bytes),
        chosen is not None and chosen.as_documents,
        int(settings.media.decode_memory),
        # A kind that takes ``media=only`` (a library) keeps every file unless asked.
        every_file="media" in kind.takes
        and not settings.library_media_only
        and not (chosen is not None and chosen.media_only),
        cuts_files=kind.joins_pieces,
        keeps_undecoded=kind.backup,
    )
