"""What the Telegram sink decodes of a file before sending it, done by the engine's media
box (``media/box``), never in the engine's own process.

A split part is probed again for its own duration, and the picture a chat user chose as
their documents' thumbnail is fitted to Telegram's limits: both decode bytes (the part
is our output, but cut from an untrusted input; the picture is a person's upload), so a
decoder's hang or a gigabyte index ends that call in a worker, not the engine. A
``decoder`` of None runs them in this process (tools, tests).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError
from ferryman.model import MediaInfo
from ferryman.telegram.outgoing import Outgoing, VideoFacts

if TYPE_CHECKING:
    from ferryman.media.box.pool import Decoder

log = logging.getLogger(__name__)


def video_facts(out: Outgoing, decoder: Decoder | None = None) -> VideoFacts:
    """A video's duration, size and sound as Telegram shows them (blocking): a split part
    has its own duration, so it is probed (by ``decoder``); a whole file uses the item's
    probe. A probe missing them, or failing in the box, is ``media.unreadable`` or the
    box's limit (the video would show as a 00:00 square)."""
    from ferryman.media.box.pool import IN_PROCESS, DecodeLimits, DecoderBug  # lazy: start-up
    from ferryman.media.thumbnail import video_attributes  # ``TelegramKind.uses``

    info = out.item.media
    if out.item.parts or info is None:
        try:
            probed = (decoder or IN_PROCESS).run(
                "ferryman.media.probe:probe",
                out.path,
                limits=DecodeLimits.for_size(_size(out.path)),
            )
        except DecoderBug as exc:
            raise FerrymanError("media.unreadable", f"{out.name}: {exc}") from exc
        if not isinstance(probed, MediaInfo):
            raise FerrymanError("media.unreadable", f"{out.name}: no media facts")
        info = probed
    attrs = video_attributes(info)
    return VideoFacts(
        attrs.duration,
        attrs.width,
        attrs.height,
        attrs.supports_streaming,
        info.audio_codec is None,
    )


def fitted_thumb(chosen: Path, decoder: Decoder | None = None) -> Path | None:
    """``chosen`` as a JPEG within the thumbnail limits, in a folder of its own (the
    caller removes it), fitted by ``decoder``; None when it cannot be read or fitted,
    a limit of the box included (the documents then go without it; blocking)."""
    from ferryman.media.box.pool import IN_PROCESS, DecodeLimits, DecoderBug  # lazy: start-up
    from ferryman.media.policy import ThumbLimits

    try:
        data = chosen.read_bytes()
    except OSError as exc:
        log.warning("the documents' thumbnail %s is not used: %s", chosen, exc)
        return None
    folder = Path(tempfile.mkdtemp(prefix="ferryman-thumb-"))
    try:
        made = (decoder or IN_PROCESS).run(
            "ferryman.media.cover:picture_thumbnail",
            data,
            chosen,
            folder / "thumb.jpg",
            ThumbLimits(),
            limits=DecodeLimits.for_size(len(data)),
        )
    except (FerrymanError, DecoderBug) as exc:
        log.warning("the documents' thumbnail %s is not used: %s", chosen, exc)
        made = None
    if not isinstance(made, Path):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return made


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
